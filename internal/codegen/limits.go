package codegen

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// Outgoing limit checks. A decoder rejects a value over the schema's limits
// (msgp's limit= tags for list, map and bin headers, strlimit.go for
// strings), so a server that sent one would only make every client fail.
// For each struct a server sends (unary responses and stream frames, and
// the structs inside them) that has a limit anywhere, the generator emits
//
//	// checkListResponsePayload reports the first field of z over the schema's limits.
//	func checkListResponsePayload(z *ListResponsePayload) error {
//		if len(z.Entries) > 65536 {
//			return server.OverMaxItems("Entries", len(z.Entries), 65536)
//		}
//		for i0 := range z.Entries {
//			if err := checkListEntry(&z.Entries[i0]); err != nil {
//				return server.LimitInElem(err, "Entries", i0)
//			}
//		}
//		return nil
//	}
//
// and the table passes it as the call's Check. The limits checked are the
// decoder's: a field's MaxLen on strings and bytes, its MaxItems on lists
// and maps, and, as msgp's one limit= per field, the larger of the two on
// every header of a field holding both containers and bytes.

// limitChecks decides which structs get a check function.
type limitChecks struct {
	has  map[*schema.Struct]bool // the struct has a limit somewhere
	seen map[*schema.Struct]bool // being or been computed (recursion by pointer)
}

func newLimitChecks(f *schema.File) *limitChecks {
	lc := &limitChecks{has: map[*schema.Struct]bool{}, seen: map[*schema.Struct]bool{}}
	for _, s := range f.Structs {
		lc.structHas(s)
	}
	return lc
}

func (lc *limitChecks) structHas(s *schema.Struct) bool {
	if lc.seen[s] {
		return lc.has[s]
	}
	lc.seen[s] = true
	for _, fl := range s.Fields {
		if lc.typeHas(fl.Type, fl) {
			lc.has[s] = true
		}
	}
	return lc.has[s]
}

func (lc *limitChecks) typeHas(t *schema.Type, fl *schema.Field) bool {
	switch t.Kind {
	case schema.KindString, schema.KindBytes:
		return fl.MaxLen > 0
	case schema.KindList, schema.KindMap:
		return headerLimit(fl) > 0 || lc.typeHas(t.Elem, fl)
	case schema.KindPointer:
		return lc.typeHas(t.Elem, fl)
	case schema.KindStruct:
		return lc.structHas(t.Struct)
	}
	return false
}

// headerLimit is the limit on a field's list, map and bin headers (msgp's
// limit= tag), 0 for none.
func headerLimit(fl *schema.Field) uint32 { return fieldLimit(fl) }

// checkFunc is the name of s's check function, "" when it has none.
func (lc *limitChecks) checkFunc(s *schema.Struct) string {
	if s == nil || !lc.has[s] {
		return ""
	}
	return "check" + s.Name
}

// outgoing lists the structs a server sends, directly or nested, in schema
// order.
func outgoing(f *schema.File) []*schema.Struct {
	want := map[*schema.Struct]bool{}
	var visit func(t *schema.Type)
	var add func(s *schema.Struct)
	add = func(s *schema.Struct) {
		if s == nil || want[s] {
			return
		}
		want[s] = true
		for _, fl := range s.Fields {
			visit(fl.Type)
		}
	}
	visit = func(t *schema.Type) {
		for ; t != nil; t = t.Elem {
			if t.Kind == schema.KindStruct {
				add(t.Struct)
			}
		}
	}
	for _, c := range f.Calls {
		if c.Response != nil {
			add(c.Response.Payload)
		}
		if c.Stream != nil {
			add(c.Stream.Payload)
		}
	}
	var out []*schema.Struct
	for _, s := range f.Structs {
		if want[s] {
			out = append(out, s)
		}
	}
	return out
}

// genLimitChecks emits the check functions of every outgoing struct with a
// limit.
func genLimitChecks(f *schema.File, lc *limitChecks, file *jen.File) {
	for _, s := range outgoing(f) {
		name := lc.checkFunc(s)
		if name == "" {
			continue
		}
		var body []jen.Code
		for _, fl := range s.Fields {
			e := &limitEmitter{lc: lc, fl: fl}
			body = append(body, e.check(fl.Type, jen.Id("z").Dot(fl.Name), fl.Name, func(err jen.Code) jen.Code { return err }, 0)...)
		}
		body = append(body, jen.Return(jen.Nil()))
		file.Comment(name + " reports the first field of z over the schema's limits.")
		file.Func().Id(name).Params(jen.Id("z").Op("*").Id(s.Name)).Error().Block(body...).Line()
	}
}

// limitEmitter emits the checks of one field.
type limitEmitter struct {
	lc *limitChecks
	fl *schema.Field
}

// check returns the statements checking expr, of type t, whose error path
// is path ("" inside a list or map: the element's wrap adds it); wrap turns
// an error for this value into the one the function returns.
func (e *limitEmitter) check(t *schema.Type, expr *jen.Statement, path string, wrap func(jen.Code) jen.Code, depth int) []jen.Code {
	switch t.Kind {
	case schema.KindString, schema.KindBytes:
		limit := e.fl.MaxLen
		if t.Kind == schema.KindBytes {
			limit = headerLimit(e.fl)
		}
		if limit == 0 {
			return nil
		}
		return []jen.Code{overLimit(expr, limit, "OverMaxLen", path, wrap)}
	case schema.KindList, schema.KindMap:
		return e.container(t, expr, path, wrap, depth)
	case schema.KindPointer:
		var inner []jen.Code
		if t.Elem.Kind == schema.KindStruct {
			inner = e.structCheck(t.Elem.Struct, expr.Clone(), path, wrap)
		} else {
			inner = e.check(t.Elem, jen.Parens(jen.Op("*").Add(expr.Clone())), path, wrap, depth)
		}
		if len(inner) == 0 {
			return nil
		}
		return []jen.Code{jen.If(expr.Clone().Op("!=").Nil()).Block(inner...)}
	case schema.KindStruct:
		return e.structCheck(t.Struct, jen.Op("&").Add(expr.Clone()), path, wrap)
	}
	return nil
}

// structCheck calls s's check function on ptr, a pointer to the value.
func (e *limitEmitter) structCheck(s *schema.Struct, ptr *jen.Statement, path string, wrap func(jen.Code) jen.Code) []jen.Code {
	name := e.lc.checkFunc(s)
	if name == "" {
		return nil
	}
	errExpr := jen.Err()
	if path != "" {
		errExpr = jen.Qual(serverPkg, "LimitInField").Call(jen.Err(), jen.Lit(path))
	}
	return []jen.Code{jen.If(jen.Err().Op(":=").Id(name).Call(ptr), jen.Err().Op("!=").Nil()).Block(jen.Return(wrap(errExpr)))}
}

func overLimit(expr *jen.Statement, limit uint32, fn, path string, wrap func(jen.Code) jen.Code) jen.Code {
	n := jen.Len(expr.Clone())
	return jen.If(n.Clone().Op(">").Lit(int(limit))).Block(
		jen.Return(wrap(jen.Qual(serverPkg, fn).Call(jen.Lit(path), n, jen.Lit(int(limit))))),
	)
}

func (e *limitEmitter) container(t *schema.Type, expr *jen.Statement, path string, wrap func(jen.Code) jen.Code, depth int) []jen.Code {
	var out []jen.Code
	if limit := headerLimit(e.fl); limit > 0 {
		out = append(out, overLimit(expr, limit, "OverMaxItems", path, wrap))
	}
	if t.Kind == schema.KindList {
		i := fmt.Sprintf("i%d", depth)
		inner := e.check(t.Elem, expr.Clone().Index(jen.Id(i)), "", func(err jen.Code) jen.Code {
			return wrap(jen.Qual(serverPkg, "LimitInElem").Call(err, jen.Lit(path), jen.Id(i)))
		}, depth+1)
		if len(inner) > 0 {
			out = append(out, jen.For(jen.Id(i).Op(":=").Range().Add(expr.Clone())).Block(inner...))
		}
		return out
	}
	k, v := fmt.Sprintf("k%d", depth), fmt.Sprintf("v%d", depth)
	inner := e.check(t.Elem, jen.Id(v), "", func(err jen.Code) jen.Code {
		return wrap(jen.Qual(serverPkg, "LimitInKey").Call(err, jen.Lit(path), jen.Id(k)))
	}, depth+1)
	if len(inner) > 0 {
		out = append(out, jen.For(jen.List(jen.Id(k), jen.Id(v)).Op(":=").Range().Add(expr.Clone())).Block(inner...))
	}
	return out
}
