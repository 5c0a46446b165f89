package schema

import "fmt"

// This file is the resolved, validated model of a schema: what the emitters in
// internal/codegen see. Emitters never see YAML nodes; every name here is
// already a valid, non-keyword Go identifier and every reference is resolved.
//
// For the sample schema
//
//	structs:
//	  StatusRequestPayload:
//	    fields:
//	      - {name: ID, key: id, type: string}
//	messages:
//	  StatusRequest:  {id: 0xA2, payload: StatusRequestPayload}
//	  StatusResponse: {id: 0xA3, payload: StatusResponsePayload}
//	calls:
//	  Status: {request: StatusRequest, response: StatusResponse, error_field: Err}
//
// the model is
//
//	File{Package: "mgmt", IDs: {0xA0, 0xAF},
//	  Structs:  [&Struct{Name: "StatusRequestPayload",
//	              Fields: [&Field{Name: "ID", Key: "id", Type: &Type{Kind: KindString}}]}, ...],
//	  Messages: [&Message{Name: "StatusRequest", ID: 0xA2, Payload: <StatusRequestPayload>}, ...],
//	  Calls:    [&Call{Name: "Status", Request: <StatusRequest>, Response: <StatusResponse>,
//	              ErrorField: <StatusResponsePayload.Err>}]}
//
// Slices keep schema order; lookups by name go through File.Struct, File.Message
// and friends (lookup.go).

// ReservedMin is the first message id of the block 0xF0..0xFF that the
// runtime keeps for its own control messages (runtime/ipc.ReservedMin: the
// extensions' hello, error frames, Describe, Ping...). No schema's ids range
// and no message id may reach into it.
const ReservedMin = 0xF0

// Pos is a position in a schema file. Line and Col are 1-based.
type Pos struct {
	File string // the path as given by the user
	Line int
	Col  int
}

// String formats p as file:line:col, the prefix of every schema error.
func (p Pos) String() string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// File is one validated schema.
type File struct {
	Path    string // as given on the command line; goes into "// source:" lines
	Source  []byte // the schema text parsed, verbatim (generated packages embed it)
	Version int    // schema language version, currently 1
	Package string // Go package name of the generated code
	Doc     string // package doc comment

	IDs IDRange // the range every message id must fall into

	Enums    []*Enum
	Structs  []*Struct
	Messages []*Message
	Calls    []*Call

	// Errors is the protocol's error convention: the response sent for unknown
	// and malformed requests, with the string field that carries the text. Nil
	// when the schema declares none (the server then closes the connection).
	Errors *ErrorConv

	// Reserved lists the message ids and msgpack keys the schema retired
	// (reserved.go): none of its messages or fields uses them.
	Reserved Reserved

	// Limits are the defaults applied to every string, bytes, list and map
	// field that sets no limit of its own.
	Limits Limits

	// Access lists the access levels calls can need (the schema's access:
	// section), in schema order. When it is not empty every call names one.
	Access []*AccessLevel
}

// AccessLevel is one access level a call can need; a server maps the
// peers it serves to the levels they hold (server.Options.Access).
type AccessLevel struct {
	Name string // e.g. "read": lowercase letters, digits, '_' and '-'
	Doc
	Pos Pos
}

// IDRange is an inclusive range of message ids.
type IDRange struct {
	Min, Max uint8
}

// Limits bound what a decoder accepts before allocating. Zero means "no
// schema-level default" (the generator then uses its own defaults).
type Limits struct {
	MaxLen   uint32 // strings and bytes, in bytes
	MaxItems uint32 // lists and maps, in elements
}

// Doc carries the documentation every declaration may have.
type Doc struct {
	Text       string // doc comment, without the leading name
	Deprecated string // non-empty: emitted as a "Deprecated: ..." paragraph
}

// Enum is a named string or integer type with a fixed set of constants.
type Enum struct {
	Name string
	Doc
	Base   Kind // KindString or one of the integer kinds
	Values []*EnumValue
	Pos    Pos
}

// EnumValue is one constant of an enum. Exactly one of Str and Int is
// meaningful, depending on the enum's Base.
type EnumValue struct {
	Name string // the Go constant name, e.g. "StreamStdout"
	Doc
	Str string
	Int int64
	Pos Pos
}

// Struct is a payload or helper struct.
type Struct struct {
	Name string
	Doc
	Fields []*Field
	Pos    Pos
}

// Field is one struct field.
type Field struct {
	Name string // Go field name
	Key  string // msgpack map key
	Type *Type
	Doc
	OmitEmpty bool
	// MaxLen and MaxItems are the effective limits after defaults were
	// applied: MaxLen for string and bytes (and list/map elements of those),
	// MaxItems for lists and maps. Zero for kinds that take no limit.
	MaxLen   uint32
	MaxItems uint32
	Pos      Pos
}

// Kind is the shape of a Type.
type Kind int

const (
	KindBool Kind = iota + 1
	KindString
	KindBytes
	KindInt
	KindInt8
	KindInt16
	KindInt32
	KindInt64
	KindUint
	KindUint8
	KindUint16
	KindUint32
	KindUint64
	KindFloat32
	KindFloat64
	KindTime     // time.Time
	KindDuration // time.Duration
	KindStruct   // Type.Struct
	KindEnum     // Type.Enum
	KindList     // []Elem
	KindMap      // map[string]Elem
	KindPointer  // *Elem
)

// Type is a resolved field type.
type Type struct {
	Kind   Kind
	Elem   *Type   // KindList, KindMap, KindPointer
	Struct *Struct // KindStruct
	Enum   *Enum   // KindEnum
}

// Message is one message id with its optional payload.
type Message struct {
	Name string // e.g. "ListRequest"; constants are named Msg + Name
	ID   uint8
	Doc
	Payload *Struct // nil: the message has no body
	Pos     Pos
}

// Call is a request answered by one response (unary) or by a stream.
// Exactly one of Response and Stream is set.
type Call struct {
	Name string // method name on Handler and Client, e.g. "Status"
	Doc
	Request  *Message
	Response *Message // unary calls
	Stream   *Message // streaming calls

	// LastWhen, for streams, is the bool field of Stream.Payload whose true
	// value marks the last frame; after it the connection returns to
	// request/response mode. Nil: the stream runs until either side closes.
	LastWhen *Field

	// ErrorField, for unary calls, is the string field of Response.Payload
	// that carries a handler error's text. Nil: handler errors are answered
	// with the file's error convention.
	ErrorField *Field
	// Access is the access level a peer needs to make the call; nil when
	// the schema declares none.
	Access *AccessLevel
	Pos    Pos
}

// ErrorConv is the response used for unknown and malformed requests.
type ErrorConv struct {
	Message *Message
	Field   *Field // a string field of Message.Payload
	Pos     Pos    // where errors.message names the message
}
