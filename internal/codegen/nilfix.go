package codegen

import (
	"bytes"
	"strings"
)

// msgp's allownil tag makes a field accept msgpack nil, but not the lists,
// maps and bytes inside it: for map[string][]string, [][]int or []bytes,
// msgp rejects the nil element that vmihailenco/msgpack writes for a nil
// inner slice. WIRE.md asks decoders to accept nil wherever a list, map or
// bytes is expected, so the header reads of msgp's output are routed through
// the helpers below, which read nil as an empty header (0 items) and defer to
// msgp otherwise. Fields tagged allownil check for nil before these calls, so
// a nil field still decodes as nil; a nil element decodes as nil or empty.
// A nil where a struct is expected decodes as the zero struct, as it does
// with vmihailenco/msgpack.

// nilRewrites maps a msgp call in generated decoders to its nil-accepting
// helper.
var nilRewrites = []struct{ from, to, helper string }{
	{"msgp.ReadArrayHeaderBytes(", "readArrayHeaderBytes(", helperArrayHeaderBytes},
	{"msgp.ReadMapHeaderBytes(", "readMapHeaderBytes(", helperMapHeaderBytes},
	{"msgp.ReadBytesHeader(", "readBytesHeader(", helperBytesHeader},
	{"msgp.ReadBytesBytes(", "readBytesBytes(", helperBytesBytes},
	{"dc.ReadArrayHeader()", "readArrayHeader(dc)", helperArrayHeader},
	{"dc.ReadMapHeader()", "readMapHeader(dc)", helperMapHeader},
	{"dc.ReadBytesLimit(", "readBytesLimit(dc, ", helperBytesLimit},
	{"dc.ReadBytes(", "readBytes(dc, ", helperBytes},
}

// acceptNil rewrites msgp's decoder calls in body and appends the helpers
// the rewritten body uses, in table order.
func acceptNil(body []byte) []byte {
	s := string(body)
	var helpers []string
	for _, r := range nilRewrites {
		if strings.Contains(s, r.from) {
			s = strings.ReplaceAll(s, r.from, r.to)
			helpers = append(helpers, r.helper)
		}
	}
	var b bytes.Buffer
	b.WriteString(s)
	for _, h := range helpers {
		b.WriteString("\n")
		b.WriteString(h)
	}
	return b.Bytes()
}

const helperArrayHeaderBytes = `// readArrayHeaderBytes is msgp.ReadArrayHeaderBytes reading nil as 0 items
// and refusing, before the caller allocates, a count the input cannot hold
// (every item takes at least one byte).
func readArrayHeaderBytes(b []byte) (uint32, []byte, error) {
	if msgp.IsNil(b) {
		return 0, b[1:], nil
	}
	sz, o, err := msgp.ReadArrayHeaderBytes(b)
	if err == nil && uint64(sz) > uint64(len(o)) {
		return 0, b, msgp.ErrShortBytes
	}
	return sz, o, err
}
`

const helperMapHeaderBytes = `// readMapHeaderBytes is msgp.ReadMapHeaderBytes reading nil as 0 pairs and
// refusing, before the caller allocates, a count the input cannot hold
// (every pair takes at least two bytes).
func readMapHeaderBytes(b []byte) (uint32, []byte, error) {
	if msgp.IsNil(b) {
		return 0, b[1:], nil
	}
	sz, o, err := msgp.ReadMapHeaderBytes(b)
	if err == nil && 2*uint64(sz) > uint64(len(o)) {
		return 0, b, msgp.ErrShortBytes
	}
	return sz, o, err
}
`

const helperBytesHeader = `// readBytesHeader is msgp.ReadBytesHeader reading nil as 0 bytes.
func readBytesHeader(b []byte) (uint32, []byte, error) {
	if msgp.IsNil(b) {
		return 0, b[1:], nil
	}
	return msgp.ReadBytesHeader(b)
}
`

const helperBytesBytes = `// readBytesBytes is msgp.ReadBytesBytes reading nil as nil.
func readBytesBytes(b []byte, scratch []byte) ([]byte, []byte, error) {
	if msgp.IsNil(b) {
		return nil, b[1:], nil
	}
	return msgp.ReadBytesBytes(b, scratch)
}
`

const helperArrayHeader = `// readArrayHeader is (*msgp.Reader).ReadArrayHeader reading nil as 0 items.
func readArrayHeader(dc *msgp.Reader) (uint32, error) {
	if dc.IsNil() {
		return 0, dc.ReadNil()
	}
	return dc.ReadArrayHeader()
}
`

const helperMapHeader = `// readMapHeader is (*msgp.Reader).ReadMapHeader reading nil as 0 pairs.
func readMapHeader(dc *msgp.Reader) (uint32, error) {
	if dc.IsNil() {
		return 0, dc.ReadNil()
	}
	return dc.ReadMapHeader()
}
`

const helperBytesLimit = `// readBytesLimit is (*msgp.Reader).ReadBytesLimit reading nil as nil.
func readBytesLimit(dc *msgp.Reader, scratch []byte, n int64) ([]byte, error) {
	if dc.IsNil() {
		return nil, dc.ReadNil()
	}
	return dc.ReadBytesLimit(scratch, n)
}
`

const helperBytes = `// readBytes is (*msgp.Reader).ReadBytes reading nil as nil.
func readBytes(dc *msgp.Reader, scratch []byte) ([]byte, error) {
	if dc.IsNil() {
		return nil, dc.ReadNil()
	}
	return dc.ReadBytes(scratch)
}
`
