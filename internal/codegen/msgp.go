package codegen

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tinylib/msgp/gen"
	"github.com/tinylib/msgp/parse"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// msgpDirectives are the file-wide msgp options of every generated package,
// as if written as //msgp: comments:
//
//   - newtime: time.Time travels as the msgpack timestamp extension (-1), the
//     form vmihailenco/msgpack writes; msgp reads both it and its own ext 5.
//   - timezone utc: decoded times are in UTC, so output does not depend on the
//     host's zone and the zero time decodes to time.Time{}.
//
// Per-field options (allownil, limit=N) are struct tags; see fieldTags.
var msgpDirectives = []string{"newtime", "timezone utc"}

// msgpMethods are the methods msgp writes for every type: io (Encode/Decode),
// in-memory (Marshal/Unmarshal) and Msgsize; no tests.
const msgpMethods = gen.Decode | gen.Encode | gen.Marshal | gen.Unmarshal | gen.Size

// msgpMu serializes runs of msgp's generator, which keeps its identifier
// counters and log context in package variables.
var msgpMu sync.Mutex

// emitMsgp builds P_msgp.go: msgp's parse and gen packages, run in process
// over types (the formatted P.go), produce the MarshalMsg, UnmarshalMsg,
// EncodeMsg, DecodeMsg and Msgsize methods of every struct and enum. msgp's
// printer package is not used: it only writes to disk and runs goimports;
// the header and imports are written here instead (the same steps). The
// decoders are then adjusted on their syntax tree, their shape checked
// against the model (msgprewrite.go), and the UnmarshalMsg of arena structs
// wrapped (arena.go).
func emitMsgp(f *schema.File, n *names, types []byte) ([]byte, error) {
	name := n.FileName(msgpSuffix)
	if len(f.Structs) == 0 && len(f.Enums) == 0 {
		return nil, nil // nothing to serialize: no file
	}
	body, err := runMsgp(n.FileName(".go"), types)
	if err != nil {
		return nil, err
	}
	body, err = adjustMsgp(body, f, n)
	if err != nil {
		return nil, err
	}
	return renderMsgpFile(f, n, name, body)
}

// adjustMsgp parses msgp's method declarations, rewrites their decoders and
// prints them again, each arena struct's UnmarshalMsg wrapper in front of
// the method it wraps.
func adjustMsgp(body []byte, f *schema.File, n *names) ([]byte, error) {
	fset := token.NewFileSet()
	src := append([]byte("package p\n\n"), body...)
	file, err := parser.ParseFile(fset, "msgp output", src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("codegen: msgp output does not parse: %w", err)
	}
	arenas := arenaStructs(f)
	if err := rewriteDecoders(file, f, n, arenas); err != nil {
		return nil, err
	}
	copies, copiesFset, err := refEncoders(src, f, n)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, d := range file.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "UnmarshalMsg" && arenas[receiverType(fd)] {
			wrapper, err := useArena(fd, receiverType(fd), n)
			if err != nil {
				return nil, err
			}
			out.Write(wrapper)
			out.WriteString("\n\n")
		}
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Doc != nil { // msgp's doc, wrapped as ours are
			out.WriteString(comment(strings.TrimSpace(fd.Doc.Text())) + "\n")
			fd.Doc = nil
		}
		if err := printer.Fprint(&out, fset, &printer.CommentedNode{Node: d, Comments: file.Comments}); err != nil {
			return nil, fmt.Errorf("codegen: printing msgp output: %w", err)
		}
		out.WriteString("\n\n")
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "MarshalMsg" && copies.fds[receiverType(fd)] != nil {
			out.WriteString(refsDoc(n) + "\n")
			if err := printer.Fprint(&out, copiesFset, &printer.CommentedNode{Node: copies.fds[receiverType(fd)], Comments: copies.comments}); err != nil {
				return nil, fmt.Errorf("codegen: printing MarshalMsgRefs: %w", err)
			}
			out.WriteString("\n\n")
		}
	}
	return out.Bytes(), nil
}

// refCopies are the MarshalMsgRefs methods by receiver type (with the
// comments of the file they were parsed from).
type refCopies struct {
	fds      map[string]*ast.FuncDecl
	comments []*ast.CommentGroup
}

// refEncoders parses src (msgp's output) again for copies of the MarshalMsg
// of every struct in refStructs and turns them into MarshalMsgRefs (refs.go).
func refEncoders(src []byte, f *schema.File, n *names) (refCopies, *token.FileSet, error) {
	refs := refStructs(f)
	if len(refs) == 0 {
		return refCopies{}, nil, nil
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "msgp output", src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return refCopies{}, nil, fmt.Errorf("codegen: msgp output does not parse: %w", err)
	}
	structs := make(map[string]*schema.Struct, len(f.Structs))
	for _, s := range f.Structs {
		structs[s.Name] = s
	}
	copies := refCopies{fds: make(map[string]*ast.FuncDecl), comments: file.Comments}
	var errs []string
	for _, d := range file.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != "MarshalMsg" || !refs[receiverType(fd)] {
			continue
		}
		if err := marshalRefs(fd, structs[receiverType(fd)], refs, n); err != nil {
			errs = append(errs, err.Error())
		}
		copies.fds[receiverType(fd)] = fd
	}
	for name := range refs {
		if copies.fds[name] == nil {
			errs = append(errs, shapeError(name, "MarshalMsg", "", "no such method in msgp's output"))
		}
	}
	if len(errs) > 0 {
		return refCopies{}, nil, joinErrors(errs)
	}
	return copies, fset, nil
}

// runMsgp runs msgp's generator over src, which it reads from a temporary
// file (msgp's parser takes a path), and returns the method declarations.
// msgp warnings (types it cannot serialize) are errors.
func runMsgp(fileName string, src []byte) ([]byte, error) {
	dir, err := os.MkdirTemp("", "mgmtgen-msgp-")
	if err != nil {
		return nil, fmt.Errorf("codegen: msgp: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, fileName)
	if err := os.WriteFile(path, src, 0o600); err != nil {
		return nil, fmt.Errorf("codegen: msgp: %w", err)
	}

	msgpMu.Lock()
	defer msgpMu.Unlock()
	var warnings []string
	parse.Logf = func(format string, args ...any) {
		if msg := fmt.Sprintf(format, args...); strings.HasPrefix(msg, "warn:") {
			warnings = append(warnings, strings.TrimSpace(msg))
		}
	}
	defer func() { parse.Logf = nil }()

	fs, err := parse.File(path, false, msgpDirectives)
	if err != nil {
		return nil, fmt.Errorf("codegen: msgp: %w", err)
	}
	var body bytes.Buffer
	if err := fs.PrintTo(gen.NewPrinter(msgpMethods, &body, nil)); err != nil {
		return nil, fmt.Errorf("codegen: msgp: %w", err)
	}
	if len(warnings) > 0 {
		return nil, fmt.Errorf("codegen: msgp: %s", strings.Join(warnings, "; "))
	}
	return body.Bytes(), nil
}

// renderMsgpFile puts the header, package clause and imports in front of
// msgp's method declarations and formats the result. "time" is imported only
// when the methods use it.
func renderMsgpFile(f *schema.File, n *names, name string, body []byte) ([]byte, error) {
	imports := []string{msgpPkg}
	if usesPackage(body, "time") {
		imports = append(imports, "time")
	}
	if usesPackage(body, "msgpx") {
		imports = append(imports, msgpxPkg)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "// %s\n// source: %s\n\npackage %s\n\n", generatedLine, schema.SourcePath(f.Path), n.Package)
	b.WriteString("import (\n")
	for _, imp := range imports {
		fmt.Fprintf(&b, "\t%q\n", imp)
	}
	b.WriteString(")\n\n")
	b.Write(body)
	return formatSource(name, b.Bytes())
}

// usesPackage reports whether the declarations in body refer to pkg as a
// qualifier (pkg.Name). Unparseable input reports true, so that formatting
// later reports the real error.
func usesPackage(body []byte, pkg string) bool {
	if len(body) == 0 {
		return false
	}
	src := append([]byte("package p\n"), body...)
	file, err := parser.ParseFile(token.NewFileSet(), "", src, parser.SkipObjectResolution)
	if err != nil {
		return true
	}
	used := false
	ast.Inspect(file, func(node ast.Node) bool {
		if sel, ok := node.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == pkg {
				used = true
			}
		}
		return !used
	})
	return used
}
