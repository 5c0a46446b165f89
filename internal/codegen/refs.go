package codegen

import (
	"fmt"
	"go/ast"
	"strings"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// A stream frame carrying a 64 KiB chunk would be copied into the
// connection's write queue by MarshalMsg. For every struct whose value
// holds bytes (refStructs), the generated package also has
//
//	// MarshalMsgRefs is MarshalMsg leaving every bytes value of msgpx.RefMin bytes or more
//	// out of o: [...]
//	func (z *T) MarshalMsgRefs(b []byte, r *msgpx.Refs) (o []byte, err error) {
//		o = b // not msgp.Require(b, z.Msgsize()): room for values it leaves out
//		... msgp's MarshalMsg body, with msgpx.AppendBytesRef(o, v, r) for every
//		... msgp.AppendBytes(o, v) and x.MarshalMsgRefs(o, r) for the
//		... MarshalMsg of nested structs that hold bytes
//	}
//
// which runtime/ipc's BatchWriter uses (ipc.RefMarshaler) to write those
// values with writev instead of copying them. It is a copy of msgp's
// MarshalMsg changed on its syntax tree, so that both write the same
// bytes: msgpx.Splice(nil, out, r) is MarshalMsg's encoding. The changes
// are counted against the model like the decoders' (msgprewrite.go): one
// Require, and one bytes append per field whose type holds bytes, those of
// the structs msgp inlined included (wantBytes); every nested MarshalMsg
// call of a struct in refStructs becomes its MarshalMsgRefs. MarshalMsg
// itself is unchanged.

// refsParam is the name of MarshalMsgRefs's *msgpx.Refs parameter.
const refsParam = "r"

// refStructs returns the names of the structs that get a MarshalMsgRefs:
// those whose value, through nested structs, lists, maps and pointers,
// holds bytes.
func refStructs(f *schema.File) map[string]bool {
	return structsHolding(f, func(c contents) bool { return c.bytes })
}

// holdsBytes reports whether t's chain (lists, maps, pointers) ends in bytes.
func holdsBytes(t *schema.Type) bool {
	for ; t != nil; t = t.Elem {
		if t.Kind == schema.KindBytes {
			return true
		}
	}
	return false
}

// refEncoder turns a copy of struct s's MarshalMsg into its MarshalMsgRefs.
type refEncoder struct {
	s       *schema.Struct
	refs    map[string]bool
	n       *names
	errs    []string
	bytes   int             // msgp.AppendBytes calls rewritten
	require int             // msgp.Require(b, z.Msgsize()) calls dropped
	called  map[string]bool // field paths ("A.B") encoded by a nested MarshalMsg call
}

// wantBytes is how many msgp.AppendBytes calls the model predicts in the
// MarshalMsg of s for the fields below path prefix: one per field whose
// type holds bytes, and for a field holding a struct with bytes that is
// not encoded by a call of its own MarshalMsg, that struct's (msgp inlines
// small structs into their parent's method).
func (e *refEncoder) wantBytes(s *schema.Struct, prefix string, depth int) int {
	n := 0
	for _, fl := range s.Fields {
		if holdsBytes(fl.Type) {
			n++
		}
		inner := innerStruct(fl.Type)
		if inner != nil && e.refs[inner.Name] && !e.called[prefix+fl.Name] && depth < maxInlineDepth {
			n += e.wantBytes(inner, prefix+fl.Name+".", depth+1)
		}
	}
	return n
}

// maxInlineDepth bounds wantBytes for a recursive struct (which msgp does
// not inline).
const maxInlineDepth = 8

// marshalRefs rewrites fd, a copy of the MarshalMsg of s (a struct in
// refs), into its MarshalMsgRefs in place and checks the rewrites against
// the model.
func marshalRefs(fd *ast.FuncDecl, s *schema.Struct, refs map[string]bool, n *names) error {
	e := &refEncoder{s: s, refs: refs, n: n, called: make(map[string]bool)}
	fd.Name.Name = n.marshalRefs
	fd.Type.Params.List = append(fd.Type.Params.List, &ast.Field{
		Names: []*ast.Ident{ast.NewIdent(refsParam)},
		Type:  &ast.StarExpr{X: msgpxSel("Refs")},
	})
	fd.Doc = nil
	eachStmtList(fd.Body, e.stmts)
	if e.require != 1 {
		e.errs = append(e.errs, shapeError(s.Name, "MarshalMsg", "", "found %d msgp.Require calls, expected 1", e.require))
	}
	if want := e.wantBytes(s, "", 0); e.bytes != want {
		e.errs = append(e.errs, shapeError(s.Name, "MarshalMsg", "", "found %d msgp.AppendBytes calls, the model predicts %d", e.bytes, want))
	}
	if len(e.errs) > 0 {
		return joinErrors(e.errs)
	}
	return nil
}

// stmts rewrites the encoding calls among a list of statements:
// "o = msgp.AppendBytes(o, v)" and "o, err = x.MarshalMsg(o)" followed by
// the if statement wrapping its error, which names the field.
func (e *refEncoder) stmts(list []ast.Stmt) {
	for i, st := range list {
		as, call := assignedCall(st)
		if call == nil {
			continue
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			continue
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == "msgp" && sel.Sel.Name == "Require" && len(call.Args) == 2 {
			as.Rhs[0] = call.Args[0] // o = b: no room for the values left out
			e.require++
			continue
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == "msgp" && sel.Sel.Name == "AppendBytes" {
			call.Fun = msgpxSel("AppendBytesRef")
			call.Args = append(call.Args, ast.NewIdent(refsParam))
			e.bytes++
			continue
		}
		if sel.Sel.Name != "MarshalMsg" {
			continue
		}
		path, ok := wrapErrorPath(list[i+1 : min(i+1+wrapDistance, len(list))])
		if !ok || len(path) == 0 {
			e.errs = append(e.errs, shapeError(e.s.Name, "MarshalMsg", "", "a nested MarshalMsg call is not followed by msgp.WrapError naming its field"))
			continue
		}
		fl := fieldAt(e.s, path) // a path of several fields: a struct msgp inlined
		if fl == nil {
			e.errs = append(e.errs, shapeError(e.s.Name, "MarshalMsg", path[0], "msgp.WrapError names %q, not a field of the struct", path))
			continue
		}
		e.called[strings.Join(path, ".")] = true
		if inner := innerStruct(fl.Type); inner != nil && e.refs[inner.Name] {
			sel.Sel.Name = e.n.marshalRefs
			call.Args = append(call.Args, ast.NewIdent(refsParam))
		}
	}
}

// refsDoc is the doc comment of MarshalMsgRefs.
func refsDoc(n *names) string {
	return comment(fmt.Sprintf("%s is MarshalMsg leaving every bytes value of msgpx.RefMin bytes or more out of o: "+
		"its bin header is appended and the value recorded in %s (r nil: every value is copied, as by MarshalMsg). "+
		"msgpx.Splice(nil, o, %s) is MarshalMsg's encoding. runtime/ipc writes the values recorded with writev "+
		"(ipc.RefMarshaler); they must not change until the write is done.", n.marshalRefs, refsParam, refsParam))
}
