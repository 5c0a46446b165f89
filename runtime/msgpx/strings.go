package msgpx

import "github.com/tinylib/msgp/msgp"

// ReadStringBytes is msgp.ReadStringBytes refusing, before allocating, a
// string longer than n bytes (msgp.ErrLimitExceeded).
func ReadStringBytes(b []byte, n uint64) (string, []byte, error) {
	v, o, err := readStringZC(b, n)
	if err != nil {
		return "", b, err
	}
	return string(v), o, nil
}

// ReadString is (*msgp.Reader).ReadString refusing, before allocating, a
// string longer than n bytes (msgp.ErrLimitExceeded). The reader's own
// maximum string length still applies when it is smaller.
func ReadString(dc *msgp.Reader, n uint64) (string, error) {
	limit := dc.GetMaxStringLength()
	dc.SetMaxStringLength(min(limit, n))
	defer dc.SetMaxStringLength(limit)
	return dc.ReadString()
}

// readStringZC is msgp.ReadStringZC refusing a string longer than n bytes.
func readStringZC(b []byte, n uint64) (v, o []byte, err error) {
	v, o, err = msgp.ReadStringZC(b)
	if err != nil {
		return nil, b, err
	}
	if uint64(len(v)) > n {
		return nil, b, msgp.ErrLimitExceeded
	}
	return v, o, nil
}
