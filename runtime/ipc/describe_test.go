package ipc_test

import (
	"crypto/sha256"
	"errors"
	"reflect"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

func TestDescriptionRoundTrip(t *testing.T) {
	in := &ipc.Description{Schema: "version: 1\n", SHA256: sha256.Sum256([]byte("version: 1\n")),
		Runtime: ipc.RuntimeVersion, Features: []string{"errors", "describe"}}
	b, err := in.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	var out ipc.Description
	if err := ipc.DecodePayload(b, &out); err != nil || !reflect.DeepEqual(&out, in) {
		t.Fatalf("round trip: %+v, %v; want %+v", out, err, in)
	}
	// Unknown keys are skipped; an absent key is zero.
	extra := msgp.AppendMapHeader(nil, 2)
	extra = msgp.AppendString(extra, "rt")
	extra = msgp.AppendString(extra, "x")
	extra = msgp.AppendString(extra, "new")
	extra = msgp.AppendInt(extra, 1)
	if err := ipc.DecodePayload(extra, &out); err != nil || out.Runtime != "x" || out.Schema != "" {
		t.Errorf("with an unknown key: %+v, %v", out, err)
	}
}

// A sum of another length than 32 bytes, and a runtime name over its
// bound, are malformed control payloads.
func TestDescriptionBounds(t *testing.T) {
	short := msgp.AppendMapHeader(nil, 1)
	short = msgp.AppendString(short, "sha256")
	short = msgp.AppendBytes(short, make([]byte, 31))
	long := msgp.AppendMapHeader(nil, 1)
	long = msgp.AppendString(long, "rt")
	long = msgp.AppendString(long, string(make([]byte, ipc.MaxRuntimeNameLen+1)))
	for name, b := range map[string][]byte{"short sum": short, "long runtime": long} {
		var d ipc.Description
		if err := ipc.DecodePayload(b, &d); !errors.Is(err, ipc.ErrControl) {
			t.Errorf("%s: %v, want ErrControl", name, err)
		}
	}
}
