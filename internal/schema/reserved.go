package schema

import (
	"slices"

	"gopkg.in/yaml.v3"
)

// The reserved section retires message ids and msgpack keys: a schema that
// deletes a message or a field lists its id or key here, so that no later
// message or field reuses it (which old peers would misread), and
// "mgmtgen breaking" accepts the deletion.
//
//	reserved:
//	  ids: [0xAA]
//	  keys:
//	    LogsRequestPayload: [tail]

// Reserved is what a schema retired.
type Reserved struct {
	IDs   []uint8        // message ids, in schema order
	IDPos []Pos          // IDPos[i] is where IDs[i] is listed
	Keys  []ReservedKeys // per struct (which may itself be gone), in schema order
}

// ReservedKeys are the retired msgpack keys of one struct.
type ReservedKeys struct {
	Struct string
	Keys   []string
	KeyPos []Pos // KeyPos[i] is where Keys[i] is listed
	Pos    Pos
}

// HasID reports whether id is retired.
func (r Reserved) HasID(id uint8) bool { return slices.Contains(r.IDs, id) }

// HasKey reports whether key is retired in the struct named strct.
func (r Reserved) HasKey(strct, key string) bool {
	for _, rk := range r.Keys {
		if rk.Struct == strct && slices.Contains(rk.Keys, key) {
			return true
		}
	}
	return false
}

type rawReserved struct {
	Pos  Pos
	IDs  []rawInt
	Keys []rawReservedKeys
}

type rawReservedKeys struct {
	Struct rawStr
	Keys   []rawStr
}

var reservedKeys = []string{"ids", "keys"}

func (d *decoder) reserved(n *yaml.Node) *rawReserved {
	r := &rawReserved{Pos: d.pos(n)}
	d.mapping(n, "reserved", reservedKeys, func(key string, _, v *yaml.Node) {
		if key == "ids" {
			d.list(v, "reserved.ids", func(item *yaml.Node) { r.IDs = append(r.IDs, d.integer(item, "reserved id")) })
			return
		}
		d.decls(v, "reserved.keys", func(name rawStr, v *yaml.Node) {
			rk := rawReservedKeys{Struct: name}
			d.list(v, "reserved keys of "+name.V, func(item *yaml.Node) { rk.Keys = append(rk.Keys, d.str(item, "reserved key")) })
			r.Keys = append(r.Keys, rk)
		})
	})
	return r
}

// list calls fn for each item of the sequence n; empty is no items.
func (d *decoder) list(n *yaml.Node, what string, fn func(item *yaml.Node)) {
	if isNull(n) || !d.isKind(n, yaml.SequenceNode, what+" must be a list") {
		return
	}
	for _, item := range n.Content {
		fn(item)
	}
}

// reserved resolves the reserved section and refuses messages and fields
// that reuse what it retires.
func (rs *resolver) reserved(raw *rawReserved) {
	if raw == nil {
		return
	}
	res := &rs.f.Reserved
	for _, id := range raw.IDs {
		if !id.Set || !rs.checkByte(id, "reserved id") {
			continue
		}
		v := uint8(id.V)
		switch {
		case res.HasID(v):
			rs.r.errorf(id.Pos, "reserved id 0x%02x listed twice", v)
		case rs.idsOK && (v < rs.f.IDs.Min || v > rs.f.IDs.Max):
			rs.r.errorf(id.Pos, "reserved id 0x%02x is outside the declared range 0x%02x..0x%02x", v, rs.f.IDs.Min, rs.f.IDs.Max)
		default:
			res.IDs = append(res.IDs, v)
			res.IDPos = append(res.IDPos, id.Pos)
		}
	}
	for _, rk := range raw.Keys {
		keys := ReservedKeys{Struct: rk.Struct.V, Pos: rk.Struct.Pos}
		for _, k := range rk.Keys {
			switch {
			case !k.Set:
			case keyProblem(k.V) != "":
				rs.r.errorf(k.Pos, "reserved key %q %s", k.V, keyProblem(k.V))
			case slices.Contains(keys.Keys, k.V):
				rs.r.errorf(k.Pos, "reserved key %q of %s listed twice", k.V, keys.Struct)
			default:
				keys.Keys = append(keys.Keys, k.V)
				keys.KeyPos = append(keys.KeyPos, k.Pos)
			}
		}
		res.Keys = append(res.Keys, keys)
	}
	for _, m := range rs.f.Messages {
		if res.HasID(m.ID) && rs.byID[m.ID] == m {
			rs.r.errorf(m.Pos, "message %q uses id 0x%02x, which reserved.ids retires: old peers know it as another message; pick a new id", m.Name, m.ID)
		}
	}
	for _, s := range rs.f.Structs {
		for _, f := range s.Fields {
			if res.HasKey(s.Name, f.Key) {
				rs.r.errorf(f.Pos, "field %q of %s uses key %q, which reserved.keys retires: old peers read it as another field; pick a new key", f.Name, s.Name, f.Key)
			}
		}
	}
}
