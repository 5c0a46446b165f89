package codegen

import (
	"bytes"
	"fmt"
	"go/ast"

	"github.com/dave/jennifer/jen"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// msgp's UnmarshalMsg allocates one string per string and one slice per
// bytes value it decodes: a ListResponse of 1000 entries costs 3000
// allocations for its strings alone. For the structs chosen by arenaStructs,
// the strings and bytes of a whole message are instead packed into the
// chunks of one msgpx.Arena (runtime/msgpx), which bounds what a retained
// string or bytes keeps alive to max(its own length, msgpx.ChunkSize):
//
//	// UnmarshalMsg implements msgp.Unmarshaler. [...]
//	func (z *T) UnmarshalMsg(bts []byte) (o []byte, err error) {
//		var a msgpx.Arena
//		o, err = z.unmarshalMsgArena(bts, &a)
//		a.Release()
//		return
//	}
//
//	// unmarshalMsgArena is UnmarshalMsg taking its strings and bytes from a.
//	func (z *T) unmarshalMsgArena(bts []byte, a *msgpx.Arena) (o []byte, err error) {
//		... msgp's body, with a.ReadStringBytes(bts, MaxLen, z.Field) for every string
//		... (keeping z.Field when the string read equals it),
//		... a.Bytes(bts, n) for msgp's make([]byte, n) of every bytes value
//		... and x.unmarshalMsgArena(bts, a) for nested arena structs
//	}
//
// The reads, allocations and nested calls are rewritten on msgp's syntax
// tree (msgprewrite.go); this file chooses the structs and writes the
// wrappers. A struct that holds neither strings nor bytes keeps msgp's
// UnmarshalMsg; every struct that holds a struct with strings or bytes is
// an arena struct itself, so a nested struct always shares its parent's
// arena. DecodeMsg (msgp.Reader) is unchanged.

// arenaParam is the name of the arena parameter of unmarshalMsgArena.
const arenaParam = "a"

// arenaStructs returns the names of the structs whose UnmarshalMsg uses an
// arena: those whose value, through nested structs, lists, maps and
// pointers, holds a string (a string, a string enum or a map key) or bytes.
func arenaStructs(f *schema.File) map[string]bool {
	return structsHolding(f, func(c contents) bool { return c.strings || c.bytes })
}

// structsHolding returns the names of the structs whose contents (through
// nested structs, lists, maps and pointers) satisfy want.
func structsHolding(f *schema.File, want func(contents) bool) map[string]bool {
	set := make(map[string]bool)
	for _, s := range f.Structs {
		var c contents
		c.addStruct(s, make(map[*schema.Struct]bool))
		if want(c) {
			set[s.Name] = true
		}
	}
	return set
}

// contents records which kinds of variable-length data a value holds.
type contents struct{ strings, bytes bool }

func (c *contents) addStruct(s *schema.Struct, seen map[*schema.Struct]bool) {
	if seen[s] {
		return
	}
	seen[s] = true
	for _, fl := range s.Fields {
		c.addType(fl.Type, seen)
	}
}

func (c *contents) addType(t *schema.Type, seen map[*schema.Struct]bool) {
	for ; t != nil; t = t.Elem {
		switch t.Kind {
		case schema.KindString, schema.KindMap: // maps have string keys
			c.strings = true
		case schema.KindBytes:
			c.bytes = true
		case schema.KindEnum:
			c.strings = c.strings || t.Enum.Base == schema.KindString
		case schema.KindStruct:
			c.addStruct(t.Struct, seen)
		}
	}
}

// useArena turns fd, the UnmarshalMsg of arena struct recv, into its
// unmarshalMsgArena (its string reads already rewritten) and returns the
// UnmarshalMsg wrapper to print before it.
func useArena(fd *ast.FuncDecl, recv string, n *names) ([]byte, error) {
	fd.Name.Name = n.unmarshalArena
	fd.Type.Params.List = append(fd.Type.Params.List, &ast.Field{
		Names: []*ast.Ident{ast.NewIdent(arenaParam)},
		Type:  &ast.StarExpr{X: msgpxSel("Arena")},
	})
	doc := fmt.Sprintf("// %s is UnmarshalMsg taking its strings and bytes from %s.", n.unmarshalArena, arenaParam)
	if fd.Doc == nil || len(fd.Doc.List) == 0 {
		return nil, fmt.Errorf("%s", shapeError(recv, "UnmarshalMsg", "", "no doc comment"))
	}
	// A new group: msgp's stays in the file's comment list, where a longer
	// text would reach into the method and be printed twice.
	fd.Doc = &ast.CommentGroup{List: []*ast.Comment{{Slash: fd.Doc.Pos(), Text: doc}}}

	wrapper := jen.Comment(comment(fmt.Sprintf("UnmarshalMsg implements msgp.Unmarshaler. The strings and bytes of the message "+
		"come from a msgpx.Arena, packed in chunks that successive messages share: see msgpx.Arena for what a retained string or bytes keeps alive."))).Line().
		Func().Params(jen.Id("z").Op("*").Id(recv)).Id("UnmarshalMsg").
		Params(jen.Id("bts").Index().Byte()).Params(jen.Id("o").Index().Byte(), jen.Err().Error()).Block(
		jen.Var().Id(arenaParam).Qual(msgpxPkg, "Arena"),
		jen.List(jen.Id("o"), jen.Err()).Op("=").Id("z").Dot(n.unmarshalArena).Call(jen.Id("bts"), jen.Op("&").Id(arenaParam)),
		jen.Id(arenaParam).Dot("Release").Call(),
		jen.Return(),
	)
	var b bytes.Buffer
	if err := wrapper.Render(&b); err != nil {
		return nil, fmt.Errorf("codegen: rendering the UnmarshalMsg of %s: %w", recv, err)
	}
	return b.Bytes(), nil
}
