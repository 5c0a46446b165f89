package bench

import (
	"reflect"
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/tinylib/msgp/msgp"
)

// decodeListArena prototypes the decode fix proposed for internal/codegen
// (README, "Hot spots"): the body is copied once into a string and every
// string field is a substring of it, so a message costs one backing
// allocation for all its strings (plus its slices) instead of one per
// string field. Offsets come from capacities: a view v that
// msgp.ReadStringZC returns from inside bts starts at cap(bts)-cap(v).
func decodeListArena(z *mgmt.ListResponsePayload, bts []byte) error {
	arena := string(bts)
	str := func(v []byte) string {
		off := cap(bts) - cap(v)
		return arena[off : off+len(v)]
	}
	b := bts
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return err
	}
	for ; n > 0; n-- {
		var key []byte
		if key, b, err = msgp.ReadMapKeyZC(b); err != nil {
			return err
		}
		if string(key) != "entries" {
			if b, err = msgp.Skip(b); err != nil {
				return err
			}
			continue
		}
		if msgp.IsNil(b) {
			z.Entries, b = nil, b[1:]
			continue
		}
		var cnt uint32
		if cnt, b, err = msgp.ReadArrayHeaderBytes(b); err != nil {
			return err
		}
		z.Entries = make([]mgmt.ListEntry, cnt)
		for i := range z.Entries {
			if b, err = decodeEntryArena(&z.Entries[i], b, str); err != nil {
				return err
			}
		}
	}
	return nil
}

func decodeEntryArena(e *mgmt.ListEntry, b []byte, str func([]byte) string) ([]byte, error) {
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return b, err
	}
	for ; n > 0; n-- {
		var key, v []byte
		if key, b, err = msgp.ReadMapKeyZC(b); err != nil {
			return b, err
		}
		switch string(key) {
		case "id", "name", "state":
			if v, b, err = msgp.ReadStringZC(b); err != nil {
				return b, err
			}
			switch key[0] {
			case 'i':
				e.ID = str(v)
			case 'n':
				e.Name = str(v)
			default:
				e.State = str(v)
			}
		case "pid":
			e.ChildPID, b, err = msgp.ReadIntBytes(b)
		case "rss":
			e.RSS, b, err = msgp.ReadUint64Bytes(b)
		default:
			b, err = msgp.Skip(b)
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

func TestDecodeArena(t *testing.T) {
	for _, n := range []int{0, 1, 10, 1000} {
		want := ListResponse(n)
		var got mgmt.ListResponsePayload
		if err := decodeListArena(&got, must(want.MarshalMsg(nil))); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&got, want) {
			t.Fatalf("%d entries: got %+v", n, got.Entries)
		}
	}
}

// BenchmarkDecodeArena is the prototype against the same payloads as
// BenchmarkDecode (compare with its impl=reflect and impl=mgmtgen-fresh).
func BenchmarkDecodeArena(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		data := must(ListResponse(n).MarshalMsg(nil))
		b.Run("ListResponse"+itoa(n)+"/impl=arena-proto", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := decodeListArena(new(mgmt.ListResponsePayload), data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
