package codegen

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// msgpOutput is msgp's raw output for model f, before any adjustment.
func msgpOutput(t *testing.T, f *schema.File) []byte {
	t.Helper()
	n, err := newNames(f)
	if err != nil {
		t.Fatal(err)
	}
	jf, err := emitTypes(f, n)
	if err != nil {
		t.Fatal(err)
	}
	src, err := render(n.FileName(".go"), jf)
	if err != nil {
		t.Fatal(err)
	}
	body, err := runMsgp(n.FileName(".go"), src)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// generatedMsgp is the P_msgp.go generated for f.
func generatedMsgp(t *testing.T, f *schema.File) string {
	t.Helper()
	files, err := Generate(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range files {
		if strings.HasSuffix(o.Name, msgpSuffix) {
			return string(o.Content)
		}
	}
	t.Fatal("no _msgp.go generated")
	return ""
}

// methodSource is the source of method recv.name in src, "" if absent.
func methodSource(t *testing.T, src, recv, name string) string {
	t.Helper()
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range file.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == name && receiverType(fd) == recv {
			var b bytes.Buffer
			if err := printer.Fprint(&b, fset, fd); err != nil {
				t.Fatal(err)
			}
			return b.String()
		}
	}
	return ""
}

// rewriteMethod runs the rewrite of one method (msgp-shaped source) of
// struct recv of f and returns the printed result and the shape errors.
func rewriteMethod(t *testing.T, f *schema.File, recv, src string) (string, []string) {
	t.Helper()
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "", "package p\n\n"+src, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, err := newNames(f)
	if err != nil {
		t.Fatal(err)
	}
	rw := &rewriter{structs: map[string]*schema.Struct{}, arenas: arenaStructs(f), n: n}
	for _, s := range f.Structs {
		rw.structs[s.Name] = s
	}
	fd := file.Decls[0].(*ast.FuncDecl)
	rw.method(fd, rw.structs[recv])
	var b bytes.Buffer
	if err := printer.Fprint(&b, fset, fd); err != nil {
		t.Fatal(err)
	}
	return b.String(), rw.errs
}

// TestLimitStrings checks that every string read is routed to msgpx with its
// field's MaxLen, in the shapes msgp emits: a plain field, a list element, a
// map key (limited by the map field's MaxLen), both decoders; an enum's own
// method is left alone.
func TestLimitStrings(t *testing.T) {
	out := generatedMsgp(t, kvModel())
	for _, tc := range []struct{ recv, method, want string }{
		{"Item", "unmarshalMsgArena", "z.Key, bts, err = a.ReadStringBytes(bts, 1024, z.Key)"},
		{"Item", "DecodeMsg", "z.Key, err = msgpx.ReadString(dc, 1024)"},
		{"GetRequestPayload", "DecodeMsg", "z.Keys[za0001], err = msgpx.ReadString(dc, 1024)"},
		{"GetResponsePayload", "unmarshalMsgArena", "za0001, bts, err = a.ReadStringBytes(bts, 16777216, za0001)"},
		{"GetResponsePayload", "DecodeMsg", "za0001, err = msgpx.ReadString(dc, 16777216)"},
		{"Consistency", "DecodeMsg", "zb0001, err = dc.ReadString()"},
	} {
		if src := methodSource(t, out, tc.recv, tc.method); !strings.Contains(src, tc.want) {
			t.Errorf("%s.%s: missing %q in\n%s", tc.recv, tc.method, tc.want, src)
		}
	}
	for _, bad := range []string{"msgp.ReadStringBytes(", "dc.ReadString()\n\t\tif"} {
		for _, s := range kvModel().Structs {
			for _, m := range []string{"UnmarshalMsg", "DecodeMsg", "unmarshalMsgArena"} {
				if src := methodSource(t, out, s.Name, m); strings.Contains(src, bad) {
					t.Errorf("%s.%s still calls %q:\n%s", s.Name, m, bad, src)
				}
			}
		}
	}
}

// TestLimitStringsInlined: a string read of a struct msgp inlined into its
// parent is attributed through the path of field names of msgp.WrapError.
func TestLimitStringsInlined(t *testing.T) {
	got, errs := rewriteMethod(t, kvModel(), "ChangePayload", `func (z *ChangePayload) DecodeMsg(dc *msgp.Reader) (err error) {
	var zb0001 uint32
	zb0001, err = dc.ReadMapHeader()
	if err != nil {
		err = msgp.WrapError(err)
		return
	}
	var zb0002 uint32
	zb0002, err = dc.ReadMapHeader()
	if err != nil {
		err = msgp.WrapError(err, "Item")
		return
	}
	z.Item.Key, err = dc.ReadString()
	if err != nil {
		err = msgp.WrapError(err, "Item", "Key")
		return
	}
	z.Item.Value, err = dc.ReadBytesLimit(z.Item.Value, 1048576)
	if err != nil {
		err = msgp.WrapError(err, "Item", "Value")
		return
	}
	return
}`)
	if len(errs) != 0 {
		t.Errorf("shape errors: %q", errs)
	}
	for _, want := range []string{
		"zb0001, err = msgpx.ReadMapHeader(dc)",
		"zb0002, err = msgpx.ReadMapHeader(dc)",
		"z.Item.Key, err = msgpx.ReadString(dc, 1024)",
		"z.Item.Value, err = msgpx.ReadBytesLimit(dc, z.Item.Value, 1048576)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

// TestUseArenas checks the arena rewrite on the shapes msgp emits: the
// UnmarshalMsg of an arena struct becomes a wrapper, its strings come from
// the arena with their limits, nested arena structs share the arena (by
// value, in lists and behind pointers, in maps), bytes are allocated from
// it; a struct without strings or bytes keeps msgp's UnmarshalMsg, and
// DecodeMsg never takes an arena.
func TestUseArenas(t *testing.T) {
	out := generatedMsgp(t, everyModel())
	texts := methodSource(t, out, "Texts", "unmarshalMsgArena")
	for _, want := range []string{
		"func (z *Texts) unmarshalMsgArena(bts []byte, a *msgpx.Arena) (o []byte, err error) {",
		"z.Str, bts, err = a.ReadStringBytes(bts, 16777216, z.Str)", // keeps an equal old value
		"], bts, err = a.ReadStringBytes(bts, 8, z.",
		".unmarshalMsgArena(bts, a)", // InnerMap, PtrMap, Inner, Inners, PtrInner
	} {
		if !strings.Contains(texts, want) {
			t.Errorf("Texts: missing %q in\n%s", want, texts)
		}
	}
	if n := strings.Count(texts, ".unmarshalMsgArena(bts, a)"); n != 5 {
		t.Errorf("Texts: %d nested arena calls, want 5 (InnerMap, PtrMap, Inner, Inners, PtrInner)", n)
	}
	if strings.Contains(texts, ".UnmarshalMsg(bts)") || strings.Contains(texts, "msgpx.ReadStringBytes") {
		t.Errorf("Texts: a nested struct or string outside the arena:\n%s", texts)
	}
	wrapper := methodSource(t, out, "Texts", "UnmarshalMsg")
	if !strings.Contains(wrapper, "var a msgpx.Arena\n\to, err = z.unmarshalMsgArena(bts, &a)\n\ta.Release()\n\treturn\n") {
		t.Errorf("Texts.UnmarshalMsg is not the arena wrapper (decode, then release the arena):\n%s", wrapper)
	}
	// Composites holds bytes in every shape: each allocation of bytes comes
	// from the arena, and its nested structs share it.
	comp := methodSource(t, out, "Composites", "unmarshalMsgArena")
	if n, want := strings.Count(comp, "= a.Bytes(bts, zb"), strings.Count(comp, "msgpx.ReadBytesHeader(bts)"); n == 0 || n != want {
		t.Errorf("Composites: %d a.Bytes allocations for %d bytes reads:\n%s", n, want, comp)
	}
	if strings.Contains(comp, "make([]byte") || strings.Contains(comp, ".UnmarshalMsg(bts)") || !strings.Contains(comp, ".unmarshalMsgArena(bts, a)") {
		t.Errorf("Composites: bytes or a nested struct outside the arena:\n%s", comp)
	}
	if dec := methodSource(t, out, "Texts", "DecodeMsg"); strings.Contains(dec, "Arena") || dec == "" {
		t.Errorf("Texts.DecodeMsg uses the arena:\n%s", dec)
	}
	if methodSource(t, out, "Nothing", "unmarshalMsgArena") != "" || methodSource(t, out, "Nothing", "UnmarshalMsg") == "" {
		t.Error("Nothing (no strings, no bytes) has an arena method, or no UnmarshalMsg")
	}
}

// TestNilTolerant: no list, map or bytes read of msgp's is left in any
// decoder of any golden case; each went to msgpx.
func TestNilTolerant(t *testing.T) {
	for _, tc := range testCases {
		out := generatedMsgp(t, tc.model())
		for _, call := range []string{"msgp.ReadArrayHeaderBytes(", "msgp.ReadMapHeaderBytes(", "msgp.ReadBytesHeader(",
			"msgp.ReadBytesBytes(", "dc.ReadArrayHeader()", "dc.ReadMapHeader()", "dc.ReadBytesLimit(", "dc.ReadBytes("} {
			if strings.Contains(out, call) {
				t.Errorf("%s: %s left in the output", tc.name, call)
			}
		}
		if !strings.Contains(out, "msgpx.ReadMapHeaderBytes(bts)") || !strings.Contains(out, "msgpx.ReadMapHeader(dc)") {
			t.Errorf("%s: struct map headers not nil-tolerant", tc.name)
		}
	}
}

// TestMsgpShapeChange proves that a msgp output whose decoders, or whose
// MarshalMsg (copied into MarshalMsgRefs), are spelled differently is a
// generator error naming the struct and field, not a generated package that
// silently stops enforcing limits, accepting nil or sending large bytes
// values by reference.
// Each case alters the real msgp output for a schema the way a msgp release
// could.
func TestMsgpShapeChange(t *testing.T) {
	for _, tc := range []struct {
		name     string
		model    func() *schema.File
		from, to string // text replaced in msgp's output (all occurrences)
		want     string // in the error
	}{
		{"renamed string read", mgmtModel, "msgp.ReadStringBytes(bts)", "msgp.ReadStringBytesZ(bts)",
			"ListEntry.UnmarshalMsg: field ID: found 0 string reads, the model predicts 1"},
		{"string read by a method", mgmtModel, "z.ID, err = dc.ReadString()", "z.ID, err = msgp.DecodeString(dc)",
			"StatusRequestPayload.DecodeMsg: field ID: found 0 string reads, the model predicts 1"},
		{"renamed header read", mgmtModel, "msgp.ReadArrayHeaderBytes(", "msgp.ReadArrayHeaderBytesV2(",
			"ListResponsePayload.UnmarshalMsg: field Entries: found 1 list/map/bytes/struct reads, the model predicts 2"},
		{"renamed bytes read", mgmtModel, "dc.ReadBytesLimit(", "dc.ReadBinLimit(",
			"LogsStreamPayload.DecodeMsg: field Data: found 0 list/map/bytes/struct reads, the model predicts 1"},
		{"error wrapping renamed", mgmtModel, "msgp.WrapError(err, \"Err\")", "msgp.Wrap(err, \"Err\")",
			"StatusResponsePayload.UnmarshalMsg: msgp.ReadStringBytes is not followed by msgp.WrapError"},
		{"error path renamed", mgmtModel, "msgp.WrapError(err, \"State\")", "msgp.WrapError(err, \"state\")",
			`ListEntry.DecodeMsg: field state: msgp.WrapError names ["state"], not a field path of the struct`},
		{"method renamed", mgmtModel, "func (z *StopRequestPayload) DecodeMsg(", "func (z *StopRequestPayload) Decode(",
			"StopRequestPayload.DecodeMsg: no such method in msgp's output"},
		{"bytes allocated differently", mgmtModel, "z.Data = make([]byte, zb0002)", "z.Data = msgp.MakeBytes(zb0002)",
			"LogsStreamPayload.UnmarshalMsg: found 0 allocations of bytes (make([]byte, n)) for 1 bytes reads (msgp.ReadBytesHeader)"},
		{"renamed key read", mgmtModel, "msgp.ReadMapKeyZC(bts)", "msgp.ReadMapKey(bts)",
			"StopRequestPayload.UnmarshalMsg: found 0 field-key reads (msgp.ReadMapKeyZC), the model predicts 1"},
		{"nested decode changed", everyModel, "bts, err = z.Inner.UnmarshalMsg(bts)", "bts, err = msgp.Decode(bts, &z.Inner)",
			"Scalars.UnmarshalMsg: field Inner: found 0 list/map/bytes/struct reads, the model predicts 1"},
		// MarshalMsgRefs, a rewritten copy of MarshalMsg (refs.go)
		{"renamed bytes append", mgmtModel, "msgp.AppendBytes(o, z.Data)", "msgp.AppendBin(o, z.Data)",
			"LogsStreamPayload.MarshalMsg: found 0 msgp.AppendBytes calls, the model predicts 1"},
		{"room reserved differently", mgmtModel, "o = msgp.Require(b, z.Msgsize())", "o = msgp.Grow(b, z.Msgsize())",
			"LogsStreamPayload.MarshalMsg: found 0 msgp.Require calls, expected 1"},
		{"nested encode unnamed", everyModel, "z.PtrInner.MarshalMsg(o)\nif err != nil {\nerr = msgp.WrapError(err, \"PtrInner\")",
			"z.PtrInner.MarshalMsg(o)\nif err != nil {\nerr = msgp.WrapError(err, \"ptrInner\")",
			`Composites.MarshalMsg: field ptrInner: msgp.WrapError names ["ptrInner"], not a field of the struct`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.model()
			raw := msgpOutput(t, f)
			if !bytes.Contains(raw, []byte(tc.from)) {
				t.Fatalf("msgp's output has no %q to alter", tc.from)
			}
			n, err := newNames(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := adjustMsgp(raw, f, n); err != nil {
				t.Fatalf("unaltered output: %v", err)
			}
			_, err = adjustMsgp(bytes.ReplaceAll(raw, []byte(tc.from), []byte(tc.to)), f, n)
			if err == nil {
				t.Fatal("altered output accepted")
			}
			if !strings.Contains(err.Error(), "codegen: msgp output changed shape: "+tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}
