package codegen

import (
	"bytes"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// TestPeerEncoding pins what the generated code's wire choices rest on: how
// vmihailenco/msgpack v5 (the codec of cliwrap peers) encodes with its
// defaults. It also keeps the module in go.mod for the generated-code tests.
func TestPeerEncoding(t *testing.T) {
	type payload struct {
		L  []string          `msgpack:"l"`
		B  []byte            `msgpack:"b"`
		M  map[string]string `msgpack:"m"`
		T  time.Time         `msgpack:"t"`
		D  time.Duration     `msgpack:"d"`
		U8 uint8             `msgpack:"u"`
	}
	b, err := msgpack.Marshal(&payload{T: time.Unix(1, 0), D: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x86,
		0xa1, 'l', 0xc0, // nil slice: nil
		0xa1, 'b', 0xc0, // nil bytes: nil
		0xa1, 'm', 0xc0, // nil map: nil
		0xa1, 't', 0xd6, 0xff, 0, 0, 0, 1, // time: timestamp extension -1 (fixext4)
		0xa1, 'd', 0xd3, 0, 0, 0, 0, 0, 0, 0, 1, // duration: int64 nanoseconds
		0xa1, 'u', 0xcc, 0, // uint8: always the uint8 form
	}
	if !bytes.Equal(b, want) {
		t.Errorf("vmihailenco encoding changed:\n got  % x\n want % x", b, want)
	}
}
