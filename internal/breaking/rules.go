// Package breaking finds the changes between two versions of a schema that
// break peers or code built from the old one: "mgmtgen breaking". Wire rules
// catch what an old peer would misread or fail on; source rules catch what
// changes the generated Go API, so code written against it stops compiling.
// The rules, each with an example, are documented in schema/README.md.
//
// Identity follows the wire: messages are matched by id, fields by msgpack
// key, calls and enums by name; structs are compared where the same message
// or field carries them.
package breaking

// Level is a rule set.
type Level int

const (
	Wire   Level = iota + 1 // an old peer breaks
	Source                  // generated Go code changes; includes Wire
)

func (l Level) String() string {
	if l == Wire {
		return "wire"
	}
	return "source"
}

// Rule is one kind of incompatible change.
type Rule struct {
	Name  string
	Level Level
	Doc   string // what it catches, one line
}

// Rules are every rule, wire ones first, in documentation order.
var Rules = []Rule{
	{"MESSAGE_REMOVED", Wire, "a message id is gone and not listed in reserved.ids"},
	{"MESSAGE_ID_CHANGED", Wire, "a message kept its name but got another id"},
	{"MESSAGE_ID_REUSED", Wire, "an id now names another message, or a reserved id is in use again"},
	{"FIELD_REMOVED", Wire, "a field's key is gone and not listed in reserved.keys"},
	{"FIELD_KEY_CHANGED", Wire, "a field kept its name but got another key"},
	{"FIELD_KEY_REUSED", Wire, "a key reserved in the old schema is in use again"},
	{"FIELD_TYPE_CHANGED", Wire, "a field's type changed incompatibly (e.g. string to int, int32 to int64, T to *T)"},
	{"FIELD_LIST_CHANGED", Wire, "a field changed between a list and a single value"},
	{"ENUM_VALUE_REMOVED", Wire, "an enum value is gone"},
	{"ENUM_VALUE_CHANGED", Wire, "an enum constant kept its name but got another value"},
	{"ENUM_TYPE_CHANGED", Wire, "an enum's base type changed"},
	{"CALL_REMOVED", Wire, "a call is gone (and no call took its request)"},
	{"CALL_KIND_CHANGED", Wire, "a call changed between unary and stream"},
	{"CALL_REQUEST_CHANGED", Wire, "a call sends another request message"},
	{"CALL_RESPONSE_CHANGED", Wire, "a call is answered by another response or stream message"},
	{"LAST_WHEN_CHANGED", Wire, "a stream's last_when field changed, was added or was removed"},
	{"ERROR_FIELD_CHANGED", Wire, "a call's error_field changed, was added or was removed"},
	{"ERRORS_CHANGED", Wire, "the error response (errors: message or field) changed"},
	{"LIMIT_TIGHTENED", Wire, "a field's max_len or max_items is smaller"},
	{"RESERVATION_REMOVED", Wire, "an id or key reserved in the old schema is no longer reserved"},
	{"MESSAGE_RENAMED", Source, "a message id kept its meaning under another name (its Msg constant is renamed)"},
	{"FIELD_RENAMED", Source, "a field key kept its meaning under another Go name"},
	{"FIELD_GO_TYPE_CHANGED", Source, "a field's Go type changed in a way the wire does not see (int and int64, an enum and its base type)"},
	{"STRUCT_RENAMED", Source, "a struct carried by the same message or field has another name"},
	{"STRUCT_REMOVED", Source, "a struct no message or field carries any more is gone"},
	{"PAYLOAD_CHANGED", Source, "a message gained or lost its payload (a call's request gains or loses its argument)"},
	{"CALL_RENAMED", Source, "a call's request is served by a call of another name"},
	{"ENUM_CONSTANT_RENAMED", Source, "an enum value kept its value under another constant name"},
	{"ENUM_REMOVED", Source, "an enum is gone"},
}

// level returns the level of the rule named name.
func level(name string) Level {
	for _, r := range Rules {
		if r.Name == name {
			return r.Level
		}
	}
	panic("breaking: unknown rule " + name)
}
