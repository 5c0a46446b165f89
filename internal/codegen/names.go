package codegen

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dave/jennifer/jen"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// Import paths the generated code refers to. jennifer's Qual owns the import
// blocks, so these are the only place the paths are spelled.
const (
	ipcPkg    = "github.com/mgmtgen/mgmtgen/runtime/ipc"
	serverPkg = "github.com/mgmtgen/mgmtgen/runtime/server"
	clientPkg = "github.com/mgmtgen/mgmtgen/runtime/client"
	msgpPkg   = "github.com/tinylib/msgp/msgp"
	msgpxPkg  = "github.com/mgmtgen/mgmtgen/runtime/msgpx"
	statusPkg = "github.com/mgmtgen/mgmtgen/runtime/status"
)

// names derives every identifier and file name of one generated package.
// Emitters ask it instead of concatenating strings themselves, so a naming
// rule lives in exactly one place. Schema names are valid exported Go
// identifiers already (the parser checks); names adds the generated ones and
// checks that none of them collides with a schema name.
type names struct {
	Package string // Go package name, e.g. "mgmt"

	// Fixed identifiers of the typed client and server (issue-pinned).
	Handler              string
	UnimplementedHandler string
	Client               string
	ClientOptions        string
	Server               string
	ServerOptions        string
	NewServer            string
	Dial                 string
	DialContext          string
	DialOptions          string
	ErrNotImplemented    string
	Schema               string // the embedded schema text (schematext.go)

	// MessageName is the exported func naming a message type; messageNames
	// its unexported lookup table.
	MessageName  string
	messageNames string

	// unmarshalArena is the unexported method of arena structs that
	// UnmarshalMsg wraps (arena.go).
	unmarshalArena string

	// marshalRefs is the method of structs holding bytes that encodes
	// leaving large bytes values out of the buffer (refs.go).
	marshalRefs string

	// Unexported package-level identifiers of the server and client files.
	serverTable string // the dispatch table constructor, "serverTable"
	errorText   string // the client's error-response reader, "errorText"

	// Untyped are the methods Client has besides one per call (cliwrap's
	// untyped API and access to the runtime connection): no call may be named
	// like them. StructMethods are the methods msgp declares on every payload
	// struct: no field may be named like them.
	Untyped       untypedMethods
	StructMethods []string
}

// untypedMethods are the names of Client's own methods.
type untypedMethods struct {
	Call, CallContext, Close, Conn, ReadFrame, Stream string
	Describe, Ping                                    string // the runtime's introspection and health calls
}

// ClientMethods lists Client's own methods (Untyped), sorted.
func (n *names) ClientMethods() []string {
	u := n.Untyped
	return []string{u.Call, u.CallContext, u.Close, u.Conn, u.Describe, u.Ping, u.ReadFrame, u.Stream}
}

// newNames derives the names of f's generated package and reports the first
// collision between a generated identifier and a schema name.
func newNames(f *schema.File) (*names, error) {
	n := &names{
		Package:              f.Package,
		Handler:              "Handler",
		UnimplementedHandler: "UnimplementedHandler",
		Client:               "Client",
		ClientOptions:        "ClientOptions",
		Server:               "Server",
		ServerOptions:        "ServerOptions",
		NewServer:            "NewServer",
		Dial:                 "Dial",
		DialContext:          "DialContext",
		DialOptions:          "DialOptions",
		ErrNotImplemented:    "ErrNotImplemented",
		Schema:               "Schema",
		MessageName:          "MessageName",
		messageNames:         "messageNames",
		unmarshalArena:       "unmarshalMsgArena",
		marshalRefs:          "MarshalMsgRefs",
		serverTable:          "serverTable",
		errorText:            "errorText",
		Untyped: untypedMethods{Call: "Call", CallContext: "CallContext", Close: "Close", Conn: "Conn",
			ReadFrame: "ReadFrame", Stream: "Stream", Describe: "Describe", Ping: "Ping"},
		StructMethods: []string{"DecodeMsg", "EncodeMsg", "MarshalMsg", "MarshalMsgRefs", "Msgsize", "UnmarshalMsg"},
	}
	if err := n.checkCollisions(f); err != nil {
		return nil, err
	}
	return n, nil
}

// FileName is the output file of the emitter with the given suffix, e.g.
// "mgmt.go", "mgmt_msgp.go", "mgmt_client.go".
func (n *names) FileName(suffix string) string { return n.Package + suffix }

// MsgConst is the ipc.MsgType constant of m, e.g. "MsgListRequest".
func (n *names) MsgConst(m *schema.Message) string { return "Msg" + m.Name }

// Sender is the server-side stream sender interface of a streaming call,
// e.g. "LogsSender".
func (n *names) Sender(c *schema.Call) string { return c.Name + "Sender" }

// ClientStream is the client-side stream type of a streaming call, e.g.
// "LogsClientStream": the client's end of the Logs stream, as Sender is the
// server's ("LogsSender"). Not "LogsStream", which names the frames
// (MsgLogsStream, LogsStreamPayload) in the cliwrap schema.
func (n *names) ClientStream(c *schema.Call) string { return c.Name + "ClientStream" }

// decl is one package-level identifier of the generated package: what
// declares it, and where in the schema (zero Pos for fixed names).
type decl struct {
	name, what string
	pos        schema.Pos
	fixed      bool // a fixed generated name, not derived from the schema
}

// declared lists every package-level identifier of the generated package,
// schema names first.
func (n *names) declared(f *schema.File) []decl {
	var d []decl
	add := func(name, what string, pos schema.Pos) { d = append(d, decl{name, what, pos, false}) }
	for _, e := range f.Enums {
		add(e.Name, "enum", e.Pos)
		for _, v := range e.Values {
			add(v.Name, "enum value of "+e.Name, v.Pos)
		}
	}
	for _, s := range f.Structs {
		add(s.Name, "struct", s.Pos)
	}
	for _, m := range f.Messages {
		add(n.MsgConst(m), "message constant of "+m.Name, m.Pos)
	}
	for _, c := range f.Calls {
		if c.Stream != nil {
			add(n.Sender(c), "stream sender of call "+c.Name, c.Pos)
			add(n.ClientStream(c), "client stream of call "+c.Name, c.Pos)
		}
	}
	for _, g := range n.Fixed() {
		d = append(d, decl{g, "generated declaration", schema.Pos{}, true})
	}
	return d
}

// Fixed are the package-level names every generated package declares,
// whatever the schema.
func (n *names) Fixed() []string {
	return []string{n.Handler, n.UnimplementedHandler, n.Client, n.ClientOptions, n.Server,
		n.ServerOptions, n.NewServer, n.Dial, n.DialContext, n.DialOptions, n.ErrNotImplemented,
		n.MessageName, n.Schema}
}

// reservedMembers reports the calls named like a method Client has anyway
// and the fields named like a method msgp generates, at their positions.
func (n *names) reservedMembers(f *schema.File) []string {
	var errs []string
	at := func(pos schema.Pos, msg string) {
		errs = append(errs, posOr(pos, "codegen")+": "+msg)
	}
	for _, c := range f.Calls {
		if slices.Contains(n.ClientMethods(), c.Name) {
			at(c.Pos, fmt.Sprintf("call name %q is reserved: the generated %s has a method of that name", c.Name, n.Client))
		}
	}
	for _, s := range f.Structs {
		for _, fl := range s.Fields {
			if slices.Contains(n.StructMethods, fl.Name) {
				at(fl.Pos, fmt.Sprintf("field name %q of struct %q is reserved: msgp generates a method of that name", fl.Name, s.Name))
			}
		}
	}
	return errs
}

// checkCollisions reports identifiers declared twice in the generated
// package, e.g. a struct named "MsgStatus" next to a message "Status", and
// calls or fields named like a method the generated code declares anyway
// (reservedMembers): one line per collision, at the schema position of the
// later declaration (file:line:col: like a schema error) when it has one,
// sorted by position.
func (n *names) checkCollisions(f *schema.File) error {
	seen := make(map[string]decl)
	errs := n.reservedMembers(f)
	for _, d := range n.declared(f) {
		prev, ok := seen[d.name]
		if !ok {
			seen[d.name] = d
			continue
		}
		at, pos := d, prev
		if d.fixed { // report at the schema's side
			at, pos = prev, d
		}
		msg := fmt.Sprintf("name %q of %s collides with %s", d.name, at.what, pos.what)
		if pos.pos.File != "" {
			msg += " at " + pos.pos.String()
		}
		if at.pos.File != "" {
			errs = append(errs, at.pos.String()+": "+msg)
		} else {
			errs = append(errs, "codegen: "+msg)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sortByPos(errs)
	return errors.New(strings.Join(errs, "\n"))
}

// sortByPos sorts "file:line:col: message" lines by file, then line and
// column as numbers, as schema errors are; other lines go last, by text.
func sortByPos(errs []string) {
	type key struct {
		file      string
		line, col int
		ok        bool
	}
	keyOf := func(e string) key {
		parts := strings.SplitN(e, ":", 4)
		if len(parts) < 4 {
			return key{}
		}
		line, err1 := strconv.Atoi(parts[1])
		col, err2 := strconv.Atoi(parts[2])
		return key{parts[0], line, col, err1 == nil && err2 == nil}
	}
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := keyOf(errs[i]), keyOf(errs[j])
		switch {
		case a.ok != b.ok:
			return a.ok
		case !a.ok:
			return errs[i] < errs[j]
		case a.file != b.file:
			return a.file < b.file
		case a.line != b.line:
			return a.line < b.line
		case a.col != b.col:
			return a.col < b.col
		}
		return errs[i] < errs[j]
	})
}

// GoType is the Go type expression of a schema type, e.g. "[]*ListEntry" or
// "map[string]time.Duration".
func (n *names) GoType(t *schema.Type) *jen.Statement {
	switch t.Kind {
	case schema.KindList:
		return jen.Index().Add(n.GoType(t.Elem))
	case schema.KindMap:
		return jen.Map(jen.String()).Add(n.GoType(t.Elem))
	case schema.KindPointer:
		return jen.Op("*").Add(n.GoType(t.Elem))
	case schema.KindStruct:
		return jen.Id(t.Struct.Name)
	case schema.KindEnum:
		return jen.Id(t.Enum.Name)
	case schema.KindTime:
		return jen.Qual("time", "Time")
	case schema.KindDuration:
		return jen.Qual("time", "Duration")
	case schema.KindBytes:
		return jen.Index().Byte()
	}
	return jen.Id(basicName(t.Kind))
}

// basicName is the Go spelling of a scalar kind; "" for composite kinds.
func basicName(k schema.Kind) string {
	switch k {
	case schema.KindBool:
		return "bool"
	case schema.KindString:
		return "string"
	case schema.KindInt:
		return "int"
	case schema.KindInt8:
		return "int8"
	case schema.KindInt16:
		return "int16"
	case schema.KindInt32:
		return "int32"
	case schema.KindInt64:
		return "int64"
	case schema.KindUint:
		return "uint"
	case schema.KindUint8:
		return "uint8"
	case schema.KindUint16:
		return "uint16"
	case schema.KindUint32:
		return "uint32"
	case schema.KindUint64:
		return "uint64"
	case schema.KindFloat32:
		return "float32"
	case schema.KindFloat64:
		return "float64"
	}
	return ""
}

// callNames holds every identifier generated for one call.
type callNames struct {
	Method      string // Handler and Client method, e.g. "Logs"
	Sender      string // exported server stream sender interface, "LogsSender"
	senderImpl  string // its unexported implementation, "logsSender"
	Stream      string // exported client stream type, "LogsClientStream"
	clientInfo  string // *client.CallInfo variable, "clientInfoLogs"
	ReqType     string // request payload type, "" when the request has none
	RespType    string // unary response payload type, "" when none
	FrameType   string // stream frame payload type, "" when none
	MsgRequest  string // request message constant, "MsgLogsRequest"
	MsgResponse string // response or stream message constant
}

// Call derives the names generated for c.
func (n *names) Call(c *schema.Call) callNames {
	cn := callNames{
		Method:     c.Name,
		Sender:     n.Sender(c),
		senderImpl: lowerFirst(n.Sender(c)),
		Stream:     n.ClientStream(c),
		clientInfo: "clientInfo" + c.Name,
		MsgRequest: n.MsgConst(c.Request),
		ReqType:    payloadName(c.Request),
	}
	if c.Response != nil {
		cn.RespType = payloadName(c.Response)
		cn.MsgResponse = n.MsgConst(c.Response)
	} else {
		cn.FrameType = payloadName(c.Stream)
		cn.MsgResponse = n.MsgConst(c.Stream)
	}
	return cn
}

func payloadName(m *schema.Message) string {
	if m.Payload == nil {
		return ""
	}
	return m.Payload.Name
}

func lowerFirst(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[size:]
}

// ptr is *T for a named type.
func ptr(name string) *jen.Statement { return jen.Op("*").Id(name) }
