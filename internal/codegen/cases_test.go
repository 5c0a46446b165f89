package codegen

import "github.com/mgmtgen/mgmtgen/internal/schema"

// testCases are the golden cases under testdata/<name>/.
var testCases = []struct {
	name  string
	model func() *schema.File
}{
	{"mgmt", mgmtModel},
	{"kvstore", kvModel},
	{"every", everyModel},
}

// mgmtModel is schema/mgmt.yaml: the cliwrap management protocol (docs/wire.md).
func mgmtModel() *schema.File {
	b := newBuilder("schema/mgmt.yaml", "mgmt",
		"Package mgmt defines the control-socket protocol between cliwrap managers and\ntheir management clients.", 0xA0, 0xAF)
	b.enum("LogStream", "LogStream selects the output stream of a process.", schema.KindUint8,
		evd(ev("StreamStdout", 0), "StreamStdout is the standard output."),
		evd(ev("StreamStderr", 1), "StreamStderr is the standard error."))

	le := b.structDecl("ListEntry", "ListEntry is one row in a list response.")
	b.field(le, "ID", "id", "string")
	b.field(le, "Name", "name", "string")
	b.field(le, "State", "state", "string")
	b.field(le, "ChildPID", "pid", "int")
	b.field(le, "RSS", "rss", "uint64")
	lr := b.structDecl("ListResponsePayload", "")
	b.field(lr, "Entries", "entries", "[]ListEntry")
	sr := b.structDecl("StatusRequestPayload", "")
	b.field(sr, "ID", "id", "string")
	sp := b.structDecl("StatusResponsePayload", "")
	b.field(sp, "Entry", "entry", "ListEntry")
	b.field(sp, "Err", "err", "string", doc("holds the error text; empty on success."))
	st := b.structDecl("StartRequestPayload", "")
	b.field(st, "ID", "id", "string")
	sq := b.structDecl("StopRequestPayload", "")
	b.field(sq, "ID", "id", "string")
	lq := b.structDecl("LogsRequestPayload", "")
	b.field(lq, "ID", "id", "string")
	b.field(lq, "Stream", "s", "uint8", doc("is 0 for stdout, 1 for stderr."))
	b.field(lq, "Follow", "f", "bool")
	b.field(lq, "SinceUnixNano", "sn", "int64", omit,
		doc("keeps only chunks that arrived at or after this instant (initial snapshot only)."))
	b.field(lq, "Lines", "ln", "int", omit, doc("keeps only the last N lines (initial snapshot only)."))
	ls := b.structDecl("LogsStreamPayload", "")
	b.field(ls, "ID", "id", "string")
	b.field(ls, "Stream", "s", "uint8")
	b.field(ls, "Data", "d", "bytes")
	b.field(ls, "EOF", "eof", "bool")
	es := b.structDecl("EventsSubscribePayload", "")
	b.field(es, "ProcessIDs", "pids", "[]string", doc("filters by process; empty: every process."))
	b.field(es, "Types", "types", "[]string", omit, doc("filters by event type; empty: every type."))
	ep := b.structDecl("EventsStreamPayload", "")
	b.field(ep, "ProcessID", "pid", "string")
	b.field(ep, "Type", "t", "string")
	b.field(ep, "Timestamp", "ts", "int64", doc("is in Unix nanoseconds."))
	b.field(ep, "Summary", "sum", "string")

	b.msg("ListRequest", 0xA0, "", "ListRequest asks for every process.")
	b.msg("ListResponse", 0xA1, "ListResponsePayload", "")
	b.msg("StatusRequest", 0xA2, "StatusRequestPayload", "")
	b.msg("StatusResponse", 0xA3, "StatusResponsePayload", "")
	b.msg("LogsRequest", 0xA4, "LogsRequestPayload", "")
	b.msg("LogsStream", 0xA5, "LogsStreamPayload", "")
	b.msg("EventsSubscribe", 0xA6, "EventsSubscribePayload", "")
	b.msg("EventsStream", 0xA7, "EventsStreamPayload", "")
	b.msg("StartRequest", 0xA8, "StartRequestPayload", "")
	b.msg("StopRequest", 0xA9, "StopRequestPayload", "")

	b.unary("List", "ListRequest", "ListResponse", "", "List returns every process.")
	b.unary("Status", "StatusRequest", "StatusResponse", "Err", "")
	b.unary("Start", "StartRequest", "StatusResponse", "Err", "")
	b.unary("Stop", "StopRequest", "StatusResponse", "Err", "")
	b.stream("Logs", "LogsRequest", "LogsStream", "EOF", "")
	b.stream("Events", "EventsSubscribe", "EventsStream", "", "")
	b.f.Errors = &schema.ErrorConv{Message: b.msgs["StatusResponse"], Field: b.fieldOf("StatusResponse", "Err")}
	return b.f
}

// kvModel is a key-value store's control protocol: string enum, maps of
// bytes, durations, pointers and a file-wide limit.
func kvModel() *schema.File {
	b := newBuilder("schema/kv.yaml", "kvctl",
		"Package kvctl is the control protocol of a key-value store.", 0x10, 0x1F)
	b.enum("Consistency", "is the read consistency level.", schema.KindString,
		evs("ConsistencyAny", "any"), evs("ConsistencyQuorum", "quorum"), evs("ConsistencyAll", "all"))
	item := b.structDecl("Item", "Item is one stored value.")
	b.field(item, "Key", "k", "string", maxLen(1024))
	b.field(item, "Value", "v", "bytes", maxLen(1<<20))
	b.field(item, "TTL", "ttl", "duration", omit)
	b.field(item, "Version", "ver", "uint64")
	get := b.structDecl("GetRequestPayload", "")
	b.field(get, "Keys", "keys", "[]string", maxItems(1000), maxLen(1024))
	b.field(get, "Consistency", "c", "Consistency")
	got := b.structDecl("GetResponsePayload", "")
	b.field(got, "Items", "items", "map[string]*Item", maxItems(1000))
	b.field(got, "Err", "err", "string")
	put := b.structDecl("PutRequestPayload", "")
	b.field(put, "Items", "items", "[]Item", maxItems(1000))
	b.field(put, "IfVersion", "if", "*uint64", doc("makes the put conditional on the current version."))
	b.field(put, "Legacy", "lg", "bool", omit, deprecated("ignored since v2."))
	ack := b.structDecl("PutResponsePayload", "")
	b.field(ack, "Written", "n", "int")
	b.field(ack, "Err", "err", "string")
	watch := b.structDecl("WatchRequestPayload", "")
	b.field(watch, "Prefix", "p", "string")
	ch := b.structDecl("ChangePayload", "")
	b.field(ch, "Item", "item", "Item")
	b.field(ch, "Deleted", "del", "bool")
	b.field(ch, "Done", "done", "bool")

	b.msg("GetRequest", 0x10, "GetRequestPayload", "")
	b.msg("GetResponse", 0x11, "GetResponsePayload", "")
	b.msg("PutRequest", 0x12, "PutRequestPayload", "")
	b.msg("PutResponse", 0x13, "PutResponsePayload", "")
	b.msg("WatchRequest", 0x14, "WatchRequestPayload", "")
	b.msg("Change", 0x15, "ChangePayload", "")
	b.msg("Ping", 0x16, "", "")
	b.unary("Get", "GetRequest", "GetResponse", "Err", "")
	b.unary("Put", "PutRequest", "PutResponse", "Err", "")
	b.stream("Watch", "WatchRequest", "Change", "Done", "")
	b.f.Errors = &schema.ErrorConv{Message: b.msgs["PutResponse"], Field: b.fieldOf("PutResponse", "Err")}
	return b.f
}

// everyModel uses every type feature of the schema language.
func everyModel() *schema.File {
	b := newBuilder("testdata/every.yaml", "every", "", 0x00, 0xFF)
	b.enum("Level", "", schema.KindInt16, ev("LevelLow", -1), ev("LevelMid", 0), ev("LevelHigh", 300),
		ev("LevelDefault", 0))
	color := b.enum("Color", "", schema.KindString, evs("ColorRed", "red"), evs("ColorBlue", "blue"))
	color.Deprecated = "use Level."
	color.Values[1].Deprecated = "blue is gone."
	b.enum("Empty", "", schema.KindUint64)
	inner := b.structDecl("Inner", "Inner is nested in Scalars.")
	b.field(inner, "Name", "n", "string")
	b.field(inner, "Next", "next", "*Inner")
	b.field(inner, "Kids", "kids", "[]Inner", omit)
	sc := b.structDecl("Scalars", "")
	for _, k := range []string{"bool", "string", "bytes", "int", "int8", "int16", "int32", "int64",
		"uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64", "time", "duration"} {
		b.field(sc, "F"+k, k, k)
	}
	b.field(sc, "Level", "lvl", "Level")
	b.field(sc, "Color", "col", "Color")
	b.field(sc, "Inner", "in", "Inner", doc("Inner is a nested struct by value."))
	co := b.structDecl("Composites", "")
	for _, t := range [][2]string{
		{"Strings", "[]string"}, {"Bytes", "[]bytes"}, {"Ints", "[]int64"}, {"Inners", "[]Inner"},
		{"InnerPtrs", "[]*Inner"}, {"Levels", "[]Level"}, {"Times", "[]time"},
		{"StrMap", "map[string]string"}, {"ByteMap", "map[string]bytes"}, {"InnerMap", "map[string]Inner"},
		{"PtrMap", "map[string]*Inner"}, {"ListMap", "map[string][]string"}, {"DurMap", "map[string]duration"},
		{"PtrInt", "*int"}, {"PtrStr", "*string"}, {"PtrTime", "*time"}, {"PtrInner", "*Inner"},
		{"Matrix", "[][]int"}, {"PtrList", "*[]string"}, {"ListPtrBytes", "[]*bytes"},
		{"TimePtrMap", "map[string]*time"}, {"PtrDur", "*duration"}, {"BytesListMap", "map[string][]bytes"},
		{"MapList", "[]map[string]int"}, {"PtrLevel", "*Level"}, {"Colors", "[]Color"}, {"LevelMap", "map[string]Level"},
		{"F32s", "[]float32"}, {"Bools", "map[string]bool"},
		{"MapMap", "map[string]map[string]int"}, {"ListListBytes", "[][]bytes"},
		{"PtrBytes", "*bytes"}, {"TimePtrs", "[]*time"}, {"Durs", "[]duration"}, {"MapPtrList", "map[string]*[]int"},
	} {
		b.field(co, t[0], t[0], t[1])
	}
	b.field(co, "Small", "small", "[]string", maxItems(3), maxLen(8))
	b.field(co, "Blob", "blob", "bytes", maxLen(16))
	om := b.structDecl("Omitted", "")
	b.field(om, "S", "s", "string", omit)
	b.field(om, "L", "l", "[]string", omit)
	b.field(om, "M", "m", "map[string]int", omit)
	b.field(om, "B", "b", "bytes", omit)
	b.field(om, "P", "p", "*Inner", omit)
	b.field(om, "N", "n", "int", omit)
	b.structDecl("Nothing", "Nothing has no fields.").Deprecated = "send Bare instead."
	tx := b.structDecl("Texts", "Texts holds strings in every shape and no bytes: it decodes with a string arena.")
	for _, t := range [][2]string{
		{"Str", "string"}, {"Strs", "[]string"}, {"StrMap", "map[string]string"}, {"ListMap", "map[string][]string"},
		{"InnerMap", "map[string]Inner"}, {"PtrMap", "map[string]*Inner"}, {"PtrStr", "*string"},
		{"PtrList", "*[]string"}, {"Color", "Color"}, {"Colors", "[]Color"}, {"Inner", "Inner"},
		{"Inners", "[]Inner"}, {"PtrInner", "*Inner"}, {"Counts", "map[string]int"}, {"N", "int"},
	} {
		b.field(tx, t[0], t[0], t[1])
	}
	b.field(tx, "Short", "short", "[]string", maxItems(3), maxLen(8))

	b.msg("Min", 0x00, "Scalars", "")
	b.msg("Mid", 0x7F, "Composites", "")
	b.msg("Max", 0xFF, "Omitted", "")
	b.msg("Bare", 0x01, "", "")
	b.msg("Void", 0x02, "Nothing", "carries an empty payload, a long doc comment that goes past the ninety-seven column limit so that it has to be wrapped onto a second line.\n\nIndented lines stay:\n\n\tcode block\n- and list items\n- stay too").Deprecated = "use Bare."
	b.unary("Do", "Min", "Mid", "", "")
	b.stream("Watch", "Bare", "Max", "", "")
	return b.f
}
