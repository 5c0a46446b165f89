package mgmt_test

// docs/wire.md's byte examples are what the generated encoders and the framing write.

import (
	"bytes"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// hexBlock is a fenced block of docs/wire.md holding only hex bytes.
var hexBlock = regexp.MustCompile("(?m)^```\n((?:[0-9a-f]{2}(?: +|\n))+)```")

// TestWireDocExamples: the frames docs/wire.md shows byte by byte are what
// the generated encoder and the framing write.
func TestWireDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/wire.md")
	if err != nil {
		t.Fatal(err)
	}
	status, err := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: mgmt.MsgStatusRequest, SeqNo: 2}, &mgmt.StatusRequestPayload{ID: "web"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := ipc.AppendFrame(nil, ipc.Header{MsgType: mgmt.MsgListRequest, SeqNo: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"the List request": list, "the Status request": status}
	blocks := hexBlock.FindAllSubmatch(doc, -1)
	if len(blocks) != len(want) {
		t.Fatalf("docs/wire.md has %d hex examples, want %d", len(blocks), len(want))
	}
	for _, b := range blocks {
		got, err := hex.DecodeString(strings.Join(strings.Fields(string(b[1])), ""))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for name, w := range want {
			if bytes.Equal(got, w) {
				found = true
				delete(want, name)
			}
		}
		if !found {
			t.Errorf("docs/wire.md shows % x, which is none of the frames we write", got)
		}
	}
	for name, w := range want {
		t.Errorf("docs/wire.md does not show %s: % x", name, w)
	}
}
