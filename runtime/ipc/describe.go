package ipc

import (
	"fmt"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/msgpx"
)

// Description answers Describe (MsgDescribeResult): what the server speaks.
// {"schema": the text of the schema its table was generated from, "sha256":
// that text's SHA-256 (bin, 32 bytes), "rt": the runtime's version, "f": the
// extension features the server speaks}.
type Description struct {
	Schema   string
	SHA256   [32]byte
	Runtime  string
	Features []string
}

// MaxSchemaLen bounds Description.Schema: whatever fits in one frame.
const MaxSchemaLen = uint64(MaxPayloadSize)

func (d *Description) MarshalMsg(b []byte) ([]byte, error) {
	b = msgp.AppendMapHeader(b, 4)
	b = msgp.AppendString(b, "schema")
	b = msgp.AppendString(b, d.Schema)
	b = msgp.AppendString(b, "sha256")
	b = msgp.AppendBytes(b, d.SHA256[:])
	b = msgp.AppendString(b, "rt")
	b = msgp.AppendString(b, d.Runtime)
	b = msgp.AppendString(b, "f")
	return appendFeatures(b, d.Features), nil
}

func (d *Description) UnmarshalMsg(b []byte) ([]byte, error) {
	*d = Description{}
	return decodeMap(b, "description", func(key string, b []byte) ([]byte, error) {
		var err error
		switch key {
		case "schema":
			d.Schema, b, err = msgpx.ReadStringBytes(b, MaxSchemaLen)
		case "sha256":
			var sum []byte
			if sum, b, err = msgp.ReadBytesZC(b); err == nil && len(sum) != len(d.SHA256) {
				err = fmt.Errorf("%d bytes, want %d", len(sum), len(d.SHA256))
			}
			copy(d.SHA256[:], sum)
		case "rt":
			d.Runtime, b, err = msgpx.ReadStringBytes(b, MaxRuntimeNameLen)
		case "f":
			d.Features, b, err = readFeatures(b)
		default:
			b, err = msgp.Skip(b)
		}
		return b, err
	})
}
