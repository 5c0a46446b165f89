package mgmt

import (
	"bytes"
	"fmt"
	"math"
	"testing"
)

// TestRoundTrip sends a zero and a full value of every payload through the
// generated methods and vmihailenco/msgpack (what cliwrap peers use).
func TestRoundTrip(t *testing.T) {
	entry := ListEntry{ID: "web-1", Name: "wéb", State: "running", ChildPID: math.MaxInt32, RSS: math.MaxUint64}
	roundTrip(t, "ListEntry", &entry, false)
	roundTrip(t, "zero ListResponsePayload", &ListResponsePayload{}, false)
	roundTrip(t, "empty ListResponsePayload", &ListResponsePayload{Entries: []ListEntry{}}, false)
	roundTrip(t, "ListResponsePayload", &ListResponsePayload{Entries: []ListEntry{entry, {}}}, false)
	roundTrip(t, "StatusRequestPayload", &StatusRequestPayload{ID: "x"}, false)
	roundTrip(t, "StatusResponsePayload", &StatusResponsePayload{Entry: entry, Err: "not found"}, false)
	roundTrip(t, "StartRequestPayload", &StartRequestPayload{ID: "x"}, false)
	roundTrip(t, "StopRequestPayload", &StopRequestPayload{}, false)
	roundTrip(t, "LogsRequestPayload", &LogsRequestPayload{ID: "x", Stream: 1, Follow: true,
		SinceUnixNano: math.MinInt64, Lines: -1}, false)
	roundTrip(t, "zero LogsRequestPayload", &LogsRequestPayload{}, false)
	roundTrip(t, "LogsStreamPayload", &LogsStreamPayload{ID: "x", Stream: 1, Data: bytes.Repeat([]byte("z"), 1<<20), EOF: true}, false)
	for _, n := range refSizes {
		roundTrip(t, fmt.Sprintf("LogsStreamPayload %d", n), &LogsStreamPayload{ID: "x", Data: refBytes(n)}, false)
		out := leftOut(n)
		exactRefs(t, fmt.Sprintf("LogsStreamPayload %d", n), &LogsStreamPayload{ID: "x", Data: refBytes(n), EOF: true}, out)
	}
	roundTrip(t, "nil LogsStreamPayload", &LogsStreamPayload{}, false)
	roundTrip(t, "empty LogsStreamPayload", &LogsStreamPayload{Data: []byte{}}, false)
	roundTrip(t, "EventsSubscribePayload", &EventsSubscribePayload{ProcessIDs: []string{"a", ""}, Types: []string{"process.started"}}, false)
	roundTrip(t, "zero EventsSubscribePayload", &EventsSubscribePayload{}, false)
	roundTrip(t, "EventsStreamPayload", &EventsStreamPayload{ProcessID: "p", Type: "process.crashed", Timestamp: 1, Summary: "exit 1"}, false)
}

// TestBytesAsCliwrap: for payloads of strings, bools, lists and bytes our
// encoding is byte for byte what vmihailenco/msgpack writes. Integers differ
// in form only: msgp writes the smallest form, vmihailenco a fixed one per
// Go kind (uint8 as 0xcc, uint64 as 0xcf); each side reads every form.
func TestBytesAsCliwrap(t *testing.T) {
	for name, v := range map[string]interface {
		MarshalMsg([]byte) ([]byte, error)
	}{
		"status":     &StatusRequestPayload{ID: "web-1"},
		"nil list":   &ListResponsePayload{},
		"empty list": &ListResponsePayload{Entries: []ListEntry{}},
		"subscribe":  &EventsSubscribePayload{},
		"start":      &StartRequestPayload{ID: "ünï"},
	} {
		ours, err := v.MarshalMsg(nil)
		if err != nil {
			t.Fatal(err)
		}
		if theirs := vm(t, v); !bytes.Equal(ours, theirs) {
			t.Errorf("%s:\n ours   % x\n theirs % x", name, ours, theirs)
		}
	}
	if MessageName(MsgStatusResponse) != "StatusResponse" || MsgStopRequest != 0xA9 {
		t.Error("message table")
	}
}
