package ipc

import "github.com/tinylib/msgp/msgp"

// testMsg is a hand-written msgp type: a map {"n": int, "name": str}.
type testMsg struct {
	Name string
	N    int
}

func (m *testMsg) MarshalMsg(b []byte) ([]byte, error) {
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "name")
	b = msgp.AppendString(b, m.Name)
	b = msgp.AppendString(b, "n")
	return msgp.AppendInt(b, m.N), nil
}

func (m *testMsg) UnmarshalMsg(b []byte) ([]byte, error) {
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return b, err
	}
	for ; n > 0; n-- {
		var key []byte
		if key, b, err = msgp.ReadMapKeyZC(b); err != nil {
			return b, err
		}
		switch string(key) {
		case "name":
			m.Name, b, err = msgp.ReadStringBytes(b)
		case "n":
			m.N, b, err = msgp.ReadIntBytes(b)
		default:
			b, err = msgp.Skip(b)
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}
