package codegen

import (
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"sort"
	"strconv"
	"strings"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// msgp's decoders are adjusted on their syntax tree, never as text, in three
// ways:
//
//   - nil-tolerance: every list, map and bytes read goes through its msgpx
//     counterpart, which reads a msgpack nil as empty (docs/wire.md: decoders
//     accept nil wherever a list, map or bytes is expected; vmihailenco/msgpack
//     writes nil for a nil inner slice). msgp's allownil tag covers only the
//     field itself. Fields tagged allownil check for nil first, so a nil field
//     still decodes as nil.
//   - string limits: msgp's limit= tag bounds list, map and bin headers but
//     not strings, so every string read is routed to msgpx.ReadStringBytes or
//     msgpx.ReadString with its field's MaxLen, checked before allocating.
//   - the arena (arena.go): in the UnmarshalMsg of an arena struct, strings
//     and bytes come from a *msgpx.Arena (a.ReadStringBytes, given the
//     value the string replaces, which it keeps when equal; a.Bytes for
//     msgp's make([]byte, n) after a bytes header), and nested arena structs
//     decode into the same arena.
//
// Every read is attributed to its field from the msgp.WrapError call that
// follows it ("if err != nil { err = msgp.WrapError(err, "Field", i,
// "Inner") }": the Go field names from the receiver). What each method must
// contain is computed from the model (expect), and what was found is
// counted: any difference, an unattributable read or a missing method is a
// generator error saying "msgp output changed shape", naming the struct and
// field, so a msgp release that spells its decoders differently cannot
// silently drop a limit.

// readKind is what a msgp read call reads, for the shape count.
type readKind int

const (
	readContainer readKind = iota // a list, map or bytes header, a struct's map header, or a nested struct's decode call
	readString                    // a string (a field, an element, a map key, a string enum)
	numReadKinds
)

var readKindNames = [numReadKinds]string{"list/map/bytes/struct reads", "string reads"}

// msgpReads are msgp's read calls in decoders, spelled "msgp.Func" for
// package functions and "dc.Method" for methods of the DecodeMsg reader, and
// the msgpx function that replaces each ("" for none: string reads are
// replaced by field, nested decode calls are only counted).
var msgpReads = map[string]struct {
	kind readKind
	to   string
}{
	"msgp.ReadArrayHeaderBytes": {readContainer, "ReadArrayHeaderBytes"},
	"msgp.ReadMapHeaderBytes":   {readContainer, "ReadMapHeaderBytes"},
	"msgp.ReadBytesHeader":      {readContainer, "ReadBytesHeader"},
	"msgp.ReadBytesBytes":       {readContainer, "ReadBytesBytes"},
	"dc.ReadArrayHeader":        {readContainer, "ReadArrayHeader"},
	"dc.ReadMapHeader":          {readContainer, "ReadMapHeader"},
	"dc.ReadBytesLimit":         {readContainer, "ReadBytesLimit"},
	"dc.ReadBytes":              {readContainer, "ReadBytes"},
	"msgp.ReadStringBytes":      {readString, ""},
	"dc.ReadString":             {readString, ""},
	"nested.UnmarshalMsg":       {readContainer, ""},
	"nested.DecodeMsg":          {readContainer, ""},
}

// msgpFast are msgp's readers that msgpx reads faster, with the same
// signature and results (runtime/msgpx/fast.go), spelled as in msgpReads:
// every call in an UnmarshalMsg is routed to msgpx. They only make decoding
// faster, so only the one that every UnmarshalMsg makes is counted: its
// field-key read at the top level (keyRead).
var msgpFast = map[string]string{
	"msgp.ReadMapKeyZC":      "ReadMapKeyZC",
	"msgp.ReadBoolBytes":     "ReadBoolBytes",
	"msgp.ReadIntBytes":      "ReadIntBytes",
	"msgp.ReadInt8Bytes":     "ReadInt8Bytes",
	"msgp.ReadInt16Bytes":    "ReadInt16Bytes",
	"msgp.ReadInt32Bytes":    "ReadInt32Bytes",
	"msgp.ReadInt64Bytes":    "ReadInt64Bytes",
	"msgp.ReadDurationBytes": "ReadDurationBytes",
	"msgp.ReadUintBytes":     "ReadUintBytes",
	"msgp.ReadUint8Bytes":    "ReadUint8Bytes",
	"msgp.ReadUint16Bytes":   "ReadUint16Bytes",
	"msgp.ReadUint32Bytes":   "ReadUint32Bytes",
	"msgp.ReadUint64Bytes":   "ReadUint64Bytes",
}

// keyRead is the read of a struct's field keys in UnmarshalMsg.
const keyRead = "msgp.ReadMapKeyZC"

// shapeError is a difference between msgp's output and what the model
// predicts.
func shapeError(recv, method, field, format string, args ...any) string {
	where := recv + "." + method
	if field != "" {
		where += ": field " + field
	}
	return fmt.Sprintf("codegen: msgp output changed shape: %s: %s", where, fmt.Sprintf(format, args...))
}

// rewriter adjusts the decoders of one msgp output file.
type rewriter struct {
	structs map[string]*schema.Struct
	arenas  map[string]bool
	n       *names
	errs    []string
}

// rewriteDecoders applies the adjustments to the decoders in file (msgp's
// method declarations) in place and checks their shape against f.
func rewriteDecoders(file *ast.File, f *schema.File, n *names, arenas map[string]bool) error {
	rw := &rewriter{structs: make(map[string]*schema.Struct, len(f.Structs)), arenas: arenas, n: n}
	for _, s := range f.Structs {
		rw.structs[s.Name] = s
	}
	found := make(map[string]bool)
	for _, d := range file.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		recv := receiverType(fd)
		s := rw.structs[recv]
		if s == nil || (fd.Name.Name != "DecodeMsg" && fd.Name.Name != "UnmarshalMsg") {
			continue
		}
		found[recv+"."+fd.Name.Name] = true
		rw.method(fd, s)
	}
	for _, s := range f.Structs {
		for _, m := range []string{"DecodeMsg", "UnmarshalMsg"} {
			if !found[s.Name+"."+m] {
				rw.errs = append(rw.errs, shapeError(s.Name, m, "", "no such method in msgp's output"))
			}
		}
	}
	if len(rw.errs) > 0 {
		return joinErrors(rw.errs)
	}
	return nil
}

// receiverType is the T of a method with receiver *T, "" otherwise.
func receiverType(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) != 1 {
		return ""
	}
	if star, ok := fd.Recv.List[0].Type.(*ast.StarExpr); ok {
		if id, ok := star.X.(*ast.Ident); ok {
			return id.Name
		}
	}
	return ""
}

// method rewrites one DecodeMsg or UnmarshalMsg of struct s and checks its
// read counts against the model.
func (rw *rewriter) method(fd *ast.FuncDecl, s *schema.Struct) {
	m := &decoder{rw: rw, fd: fd, s: s, name: fd.Name.Name, reader: readerParam(fd),
		arena: fd.Name.Name == "UnmarshalMsg" && rw.arenas[s.Name],
		count: make(map[string]*[numReadKinds]int)}
	eachStmtList(fd.Body, m.stmts)
	m.check()
}

// eachStmtList calls f with every list of statements in body: blocks and
// the bodies of switch cases.
func eachStmtList(body *ast.BlockStmt, f func([]ast.Stmt)) {
	ast.Inspect(body, func(node ast.Node) bool {
		switch b := node.(type) {
		case *ast.BlockStmt:
			f(b.List)
		case *ast.CaseClause:
			f(b.Body)
		}
		return true
	})
}

// readerParam is the name of DecodeMsg's *msgp.Reader parameter, "" for
// other methods.
func readerParam(fd *ast.FuncDecl) string {
	if fd.Name.Name != "DecodeMsg" || len(fd.Type.Params.List) != 1 || len(fd.Type.Params.List[0].Names) != 1 {
		return ""
	}
	return fd.Type.Params.List[0].Names[0].Name
}

// decoder is the state of one method being rewritten.
type decoder struct {
	rw     *rewriter
	fd     *ast.FuncDecl
	s      *schema.Struct
	name   string // DecodeMsg or UnmarshalMsg
	reader string // DecodeMsg's reader parameter
	arena  bool   // an arena struct's UnmarshalMsg

	// count holds what was found per top-level field ("" for the struct's own
	// map header).
	count map[string]*[numReadKinds]int
	keys  int // top-level field-key reads routed to msgpx (UnmarshalMsg)

	// In an arena UnmarshalMsg, every bytes header read (msgp.ReadBytesHeader)
	// is followed by the allocation of its bytes, make([]byte, n), which
	// becomes a.Bytes(bts, n).
	bytesReads, bytesMakes int
}

func (m *decoder) errorf(field, format string, args ...any) {
	m.rw.errs = append(m.rw.errs, shapeError(m.s.Name, m.name, field, format, args...))
}

func (m *decoder) add(field string, k readKind) {
	c := m.count[field]
	if c == nil {
		c = new([numReadKinds]int)
		m.count[field] = c
	}
	c[k]++
}

// stmts handles the read calls among a list of statements: an assignment
// from a call, followed by the if statement wrapping its error.
func (m *decoder) stmts(list []ast.Stmt) {
	for i, st := range list {
		as, call := assignedCall(st)
		if call == nil {
			continue
		}
		if m.arena && isBytesMake(call) { // make([]byte, n) -> a.Bytes(bts, n)
			call.Fun = &ast.SelectorExpr{X: ast.NewIdent(arenaParam), Sel: ast.NewIdent("Bytes")}
			call.Args = []ast.Expr{ast.NewIdent("bts"), call.Args[1]}
			m.bytesMakes++
			continue
		}
		key, recv := m.callKey(call)
		if key == "msgp.ReadBytesHeader" && m.arena {
			m.bytesReads++
		}
		if to, ok := msgpFast[key]; ok && m.name == "UnmarshalMsg" {
			call.Fun = msgpxSel(to)
			if path, ok := wrapErrorPath(list[i+1 : min(i+1+wrapDistance, len(list))]); key == keyRead && ok && len(path) == 0 {
				m.keys++
			}
			continue
		}
		r, ok := msgpReads[key]
		if !ok {
			continue
		}
		path, ok := wrapErrorPath(list[i+1 : min(i+1+wrapDistance, len(list))])
		if !ok {
			m.errorf("", "%s is not followed by msgp.WrapError", key)
			continue
		}
		var top string
		var fl *schema.Field
		if len(path) > 0 {
			top = path[0]
			if fl = fieldAt(m.s, path); fl == nil {
				m.errorf(path[0], "msgp.WrapError names %q, not a field path of the struct", path)
				continue
			}
		}
		if len(path) <= 1 {
			m.add(top, r.kind)
		}
		switch {
		case r.to != "":
			if recv != nil { // dc.Method(args) -> msgpx.Method(dc, args)
				call.Args = append([]ast.Expr{recv}, call.Args...)
			}
			call.Fun = msgpxSel(r.to)
		case r.kind == readString:
			m.limitString(call, recv, fl, as)
		case key == "nested.UnmarshalMsg" && m.arena && fl != nil:
			if inner := innerStruct(fl.Type); inner != nil && m.rw.arenas[inner.Name] {
				call.Fun.(*ast.SelectorExpr).Sel.Name = m.rw.n.unmarshalArena
				call.Args = append(call.Args, ast.NewIdent(arenaParam))
			}
		}
	}
}

// assignedCall is st's call when st assigns the result of one call
// ("x, y = f(...)"), nil otherwise.
func assignedCall(st ast.Stmt) (*ast.AssignStmt, *ast.CallExpr) {
	as, ok := st.(*ast.AssignStmt)
	if !ok || len(as.Rhs) != 1 {
		return nil, nil
	}
	call, _ := as.Rhs[0].(*ast.CallExpr)
	return as, call
}

// callKey is call's key in msgpReads, and for a method of the reader the
// reader expression.
func (m *decoder) callKey(call *ast.CallExpr) (string, ast.Expr) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", nil
	}
	if id, ok := sel.X.(*ast.Ident); ok {
		switch {
		case id.Name == "msgp":
			return "msgp." + sel.Sel.Name, nil
		case m.reader != "" && id.Name == m.reader:
			return "dc." + sel.Sel.Name, sel.X
		}
	}
	switch sel.Sel.Name {
	case "UnmarshalMsg", "DecodeMsg":
		return "nested." + sel.Sel.Name, nil
	}
	return "", nil
}

// limitString routes a string read of field fl, assigned by as, to msgpx
// with fl's MaxLen (the arena's reader in an arena UnmarshalMsg, given the
// value it replaces). A read of a field without MaxLen outside an arena
// stays msgp's.
func (m *decoder) limitString(call *ast.CallExpr, recv ast.Expr, fl *schema.Field, as *ast.AssignStmt) {
	limit := uint64(1<<32 - 1) // msgpack's longest string
	if fl != nil && fl.MaxLen > 0 {
		limit = uint64(fl.MaxLen)
	} else if !m.arena {
		return
	}
	lit := &ast.BasicLit{Kind: token.INT, Value: strconv.FormatUint(limit, 10)}
	switch {
	case recv != nil: // dc.ReadString() -> msgpx.ReadString(dc, N)
		call.Fun, call.Args = msgpxSel("ReadString"), []ast.Expr{recv, lit}
	case m.arena: // x, bts, err = msgp.ReadStringBytes(bts) -> x, bts, err = a.ReadStringBytes(bts, N, x)
		var old ast.Expr = &ast.BasicLit{Kind: token.STRING, Value: `""`}
		if as.Tok == token.ASSIGN {
			old = as.Lhs[0]
		}
		call.Fun = &ast.SelectorExpr{X: ast.NewIdent(arenaParam), Sel: ast.NewIdent("ReadStringBytes")}
		call.Args = append(call.Args, lit, old)
	default: // msgp.ReadStringBytes(bts) -> msgpx.ReadStringBytes(bts, N)
		call.Fun = msgpxSel("ReadStringBytes")
		call.Args = append(call.Args, lit)
	}
}

// isBytesMake reports whether call is make([]byte, n) for an identifier n,
// the allocation msgp makes for a bytes value once its header is read.
func isBytesMake(call *ast.CallExpr) bool {
	fn, ok := call.Fun.(*ast.Ident)
	if !ok || fn.Name != "make" || len(call.Args) != 2 {
		return false
	}
	at, ok := call.Args[0].(*ast.ArrayType)
	if !ok || at.Len != nil {
		return false
	}
	elt, ok := at.Elt.(*ast.Ident)
	_, isIdent := call.Args[1].(*ast.Ident)
	return ok && elt.Name == "byte" && isIdent
}

// msgpxSel is the expression msgpx.name.
func msgpxSel(name string) *ast.SelectorExpr {
	return &ast.SelectorExpr{X: ast.NewIdent("msgpx"), Sel: ast.NewIdent(name)}
}

// wrapDistance is how many statements after a read its error check may come:
// msgp puts "if err == nil && x == nil { x = []byte{} }" between a bytes
// read and its check.
const wrapDistance = 2

// wrapErrorPath returns the string arguments of the msgp.WrapError call in
// the first statement of next that is "if err != nil { err =
// msgp.WrapError(err, ...) ... }".
func wrapErrorPath(next []ast.Stmt) ([]string, bool) {
	for _, st := range next {
		if path, ok := wrapErrorCheck(st); ok {
			return path, true
		}
	}
	return nil, false
}

// wrapErrorCheck returns the path of st when st is "if err != nil { err =
// msgp.WrapError(err, ...) ... }".
func wrapErrorCheck(st ast.Stmt) ([]string, bool) {
	ifs, ok := st.(*ast.IfStmt)
	if !ok || len(ifs.Body.List) == 0 || !isErrNotNil(ifs.Cond) {
		return nil, false
	}
	as, ok := ifs.Body.List[0].(*ast.AssignStmt)
	if !ok || len(as.Rhs) != 1 {
		return nil, false
	}
	call, ok := as.Rhs[0].(*ast.CallExpr)
	if !ok {
		return nil, false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "WrapError" {
		return nil, false
	}
	if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "msgp" {
		return nil, false
	}
	var path []string
	for _, arg := range call.Args[min(1, len(call.Args)):] {
		if lit, ok := arg.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return nil, false
			}
			path = append(path, s)
		}
	}
	return path, true
}

// isErrNotNil reports whether e is "err != nil".
func isErrNotNil(e ast.Expr) bool {
	b, ok := e.(*ast.BinaryExpr)
	if !ok || b.Op != token.NEQ {
		return false
	}
	x, ok1 := b.X.(*ast.Ident)
	y, ok2 := b.Y.(*ast.Ident)
	return ok1 && ok2 && x.Name == "err" && y.Name == "nil"
}

// check compares the counts with what the model predicts for each field.
func (m *decoder) check() {
	want := map[string][numReadKinds]int{"": {readContainer: 1}} // the struct's own map header
	for _, fl := range m.s.Fields {
		want[fl.Name] = expect(fl)
	}
	for field, w := range want {
		var got [numReadKinds]int
		if c := m.count[field]; c != nil {
			got = *c
		}
		for k := range numReadKinds {
			if got[k] != w[k] {
				m.errorf(field, "found %d %s, the model predicts %d", got[k], readKindNames[k], w[k])
			}
		}
	}
	for field := range m.count {
		if _, ok := want[field]; !ok {
			m.errorf(field, "reads of a field the struct does not have")
		}
	}
	if m.bytesMakes != m.bytesReads {
		m.errorf("", "found %d allocations of bytes (make([]byte, n)) for %d bytes reads (msgp.ReadBytesHeader)", m.bytesMakes, m.bytesReads)
	}
	if m.name == "UnmarshalMsg" && m.keys != 1 {
		m.errorf("", "found %d field-key reads (%s), the model predicts 1", m.keys, keyRead)
	}
}

// expect is what msgp's DecodeMsg or UnmarshalMsg reads for field fl at its
// top level: one container read per list, map, bytes and struct in its type
// (a struct is decoded by a call of its method, or inlined, starting with
// its map header), one string read per string, string enum and map key.
// (Pointers to lists, maps and bytes, which msgp v1.6.5 decodes into code
// that does not compile, are not in the schema language.)
func expect(fl *schema.Field) [numReadKinds]int {
	var w [numReadKinds]int
	for t := fl.Type; t != nil; t = t.Elem {
		switch t.Kind {
		case schema.KindList, schema.KindBytes, schema.KindStruct:
			w[readContainer]++
		case schema.KindMap:
			w[readContainer]++
			w[readString]++ // the key
		case schema.KindString:
			w[readString]++
		case schema.KindEnum:
			if t.Enum.Base == schema.KindString {
				w[readString]++
			}
		}
	}
	return w
}

// fieldAt follows a path of Go field names from s through struct-typed
// fields (by value, in lists, maps or pointers) and returns the last field,
// nil if the path does not name one.
func fieldAt(s *schema.Struct, path []string) *schema.Field {
	var fl *schema.Field
	for _, name := range path {
		if s == nil {
			return nil
		}
		fl = nil
		for _, c := range s.Fields {
			if c.Name == name {
				fl = c
			}
		}
		if fl == nil {
			return nil
		}
		s = innerStruct(fl.Type)
	}
	return fl
}

// innerStruct is the struct t holds, through lists, maps and pointers.
func innerStruct(t *schema.Type) *schema.Struct {
	for ; t != nil; t = t.Elem {
		if t.Kind == schema.KindStruct {
			return t.Struct
		}
	}
	return nil
}

// joinErrors is one error listing errs, sorted.
func joinErrors(errs []string) error {
	sort.Strings(errs)
	return errors.New(strings.Join(errs, "\n"))
}
