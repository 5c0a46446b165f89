package schema

// The raw declarations are what decode produces: the schema exactly as
// written, every value with the position of its YAML node, nothing resolved.
// resolve turns them into the model; nothing outside this package sees them.

// rawStr is a string value; Set reports whether the key was present.
type rawStr struct {
	V   string
	Pos Pos
	Set bool
}

// rawInt is an integer value.
type rawInt struct {
	V   int64
	Pos Pos
	Set bool
}

// rawBool is a bool value.
type rawBool struct {
	V   bool
	Pos Pos
	Set bool
}

// rawDoc is the documentation keys every declaration accepts.
type rawDoc struct {
	Doc        rawStr
	Deprecated rawStr
}

// doc returns the model's Doc, texts trimmed of surrounding blank space.
func (d rawDoc) doc() Doc {
	return Doc{Text: trimDoc(d.Doc.V), Deprecated: trimDoc(d.Deprecated.V)}
}

type rawFile struct {
	Pos      Pos // the top-level mapping
	Version  rawInt
	Package  rawStr
	Doc      rawStr
	IDs      *rawIDs
	Limits   *rawLimits
	Enums    []*rawEnum
	Structs  []*rawStruct
	Messages []*rawMessage
	Calls    []*rawCall
	Errors   *rawErrors
	Reserved *rawReserved
	Access   []*rawAccess
}

type rawAccess struct {
	Name rawStr
	rawDoc
}

type rawIDs struct {
	Pos      Pos
	Min, Max rawInt
}

type rawLimits struct {
	Pos      Pos
	MaxLen   rawInt
	MaxItems rawInt
}

type rawEnum struct {
	Name rawStr // the key in the enums mapping
	rawDoc
	Type   rawStr
	Values []*rawEnumValue
	Bad    bool // the enum or its values list was unreadable (and reported)
}

type rawEnumValue struct {
	Pos  Pos // the value's mapping
	Name rawStr
	rawDoc
	Value rawValue
}

// rawValue is an enum value: a string or an integer, checked against the
// enum's type by resolve.
type rawValue struct {
	Pos   Pos
	Set   bool
	IsStr bool // Str is meaningful; otherwise Int
	Str   string
	Int   int64
}

type rawStruct struct {
	Name rawStr
	rawDoc
	Fields []*rawField
}

type rawField struct {
	Pos  Pos // the field's mapping
	Name rawStr
	Key  rawStr
	Type rawStr
	rawDoc
	OmitEmpty rawBool
	MaxLen    rawInt
	MaxItems  rawInt
}

type rawMessage struct {
	Name rawStr
	ID   rawInt
	rawDoc
	Payload rawStr
}

type rawCall struct {
	Name rawStr
	Bad  bool // not a mapping, or response/stream misspelt (reported)
	rawDoc
	Request    rawStr
	Response   rawStr
	Stream     rawStr
	LastWhen   rawStr
	ErrorField rawStr
	Access     rawStr
}

type rawErrors struct {
	Pos     Pos
	Message rawStr
	Field   rawStr
}
