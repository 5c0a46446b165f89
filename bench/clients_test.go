package bench

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/vmihailenco/msgpack/v5"
)

// rawClient is the floor's client: a pre-encoded request frame (seq patched
// in), one write per frame, the response read through a buffered reader
// into a reused buffer, nothing decoded.
type rawClient struct {
	nc  net.Conn
	fr  *ipc.FrameReader
	buf []byte
	seq uint64
}

func dialRaw(tb testing.TB, path string) *rawClient {
	nc, err := net.Dial("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	return &rawClient{nc: nc, fr: ipc.NewFrameReader(nc, 0), buf: make([]byte, 0, 4096)}
}

func (c *rawClient) call(frame []byte) error {
	c.seq++
	putSeq(frame, c.seq)
	if _, err := c.nc.Write(frame); err != nil {
		return err
	}
	h, body, err := c.fr.ReadFrameInto(c.buf)
	if err != nil {
		return err
	}
	c.buf = body[:0]
	if h.SeqNo != c.seq {
		return fmt.Errorf("raw: seq %d, want %d", h.SeqNo, c.seq)
	}
	return nil
}

// rawMux is the multiplexed floor: callers share one connection, each
// write under a mutex (one write per frame), one reader goroutine hands
// each response's header to the caller waiting on its seq. No decoding.
type rawMux struct {
	nc      net.Conn
	wmu     sync.Mutex
	seq     uint64
	mu      sync.Mutex
	pending map[uint64]chan error
	err     error
	done    chan struct{}
}

func dialRawMux(tb testing.TB, path string) *rawMux {
	nc, err := net.Dial("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	m := &rawMux{nc: nc, pending: make(map[uint64]chan error), done: make(chan struct{})}
	go m.read()
	tb.Cleanup(func() { nc.Close(); <-m.done })
	return m
}

func (m *rawMux) read() {
	defer close(m.done)
	fr := ipc.NewFrameReader(m.nc, 0)
	buf := make([]byte, 0, 4096)
	for {
		h, body, err := fr.ReadFrameInto(buf)
		if err != nil {
			m.mu.Lock()
			m.err = err
			for seq, ch := range m.pending {
				ch <- err
				delete(m.pending, seq)
			}
			m.mu.Unlock()
			return
		}
		buf = body[:0]
		m.mu.Lock()
		ch := m.pending[h.SeqNo]
		delete(m.pending, h.SeqNo)
		m.mu.Unlock()
		if ch != nil {
			ch <- nil
		}
	}
}

// call sends frame (the caller's own copy) and waits for its response on
// ch, the caller's own channel.
func (m *rawMux) call(frame []byte, ch chan error) error {
	m.wmu.Lock()
	m.seq++
	seq := m.seq
	putSeq(frame, seq)
	m.mu.Lock()
	if m.err != nil {
		m.mu.Unlock()
		m.wmu.Unlock()
		return m.err
	}
	m.pending[seq] = ch
	m.mu.Unlock()
	_, err := m.nc.Write(frame)
	m.wmu.Unlock()
	if err != nil {
		return err
	}
	return <-ch
}

// reflClient is how cliwrap's client talks: vmihailenco/msgpack encodes the
// request struct by reflection, ipc frames carry it, and the response is
// read into a fresh buffer and decoded by reflection.
type reflClient struct {
	nc  net.Conn
	fw  *ipc.FrameWriter
	fr  *ipc.FrameReader
	seq uint64
}

func dialRefl(tb testing.TB, path string) *reflClient {
	nc, err := net.Dial("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	return &reflClient{nc: nc, fw: ipc.NewFrameWriter(nc), fr: ipc.NewFrameReader(nc, 0)}
}

func (c *reflClient) call(t ipc.MsgType, req any, resp any) error {
	var body []byte
	if req != nil {
		var err error
		if body, err = msgpack.Marshal(req); err != nil {
			return err
		}
	}
	c.seq++
	if _, err := c.fw.WriteFrame(ipc.Header{MsgType: t, SeqNo: c.seq, Length: uint32(len(body))}, body); err != nil {
		return err
	}
	h, data, err := c.fr.ReadFrame()
	if err != nil {
		return err
	}
	if h.SeqNo != c.seq {
		return fmt.Errorf("refl: seq %d, want %d", h.SeqNo, c.seq)
	}
	return msgpack.Unmarshal(data, resp)
}

func (c *reflClient) list() (*RListResponse, error) {
	var r RListResponse
	return &r, c.call(mgmt.MsgListRequest, nil, &r)
}

func (c *reflClient) status(req *RStatusRequest) (*RStatusResponse, error) {
	var r RStatusResponse
	if err := c.call(mgmt.MsgStatusRequest, req, &r); err != nil {
		return nil, err
	}
	if r.Err != "" {
		return nil, errors.New(r.Err)
	}
	return &r, nil
}

// inlineClient prototypes the fix proposed for runtime/client (README,
// "Hot spots"): the generated codec and ipc framing as the typed client
// uses them, but the calling goroutine reads its own response instead of
// waiting for a reader goroutine to hand it over. Single caller only.
type inlineClient struct {
	nc  net.Conn
	fr  *ipc.FrameReader
	out []byte
	in  []byte
	seq uint64
}

func dialInline(tb testing.TB, path string) *inlineClient {
	nc, err := net.Dial("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	return &inlineClient{nc: nc, fr: ipc.NewFrameReader(nc, 0), out: make([]byte, 0, 4096), in: make([]byte, 0, 4096)}
}

func (c *inlineClient) call(t ipc.MsgType, req msgpMarshaler, resp msgpUnmarshaler) error {
	c.seq++
	var err error
	if c.out, err = ipc.AppendMsgFrame(c.out[:0], ipc.Header{MsgType: t, SeqNo: c.seq}, req); err != nil {
		return err
	}
	if _, err := c.nc.Write(c.out); err != nil {
		return err
	}
	h, body, err := c.fr.ReadFrameInto(c.in)
	if err != nil {
		return err
	}
	c.in = body[:0]
	if h.SeqNo != c.seq {
		return fmt.Errorf("inline: seq %d, want %d", h.SeqNo, c.seq)
	}
	return ipc.DecodePayload(body, resp)
}
