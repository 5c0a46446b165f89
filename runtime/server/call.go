package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// serveUnary answers one unary (or unknown) request and accounts for it.
func (c *conn) serveUnary(r request) {
	defer c.callDone()
	m := c.s.methods[r.h.MsgType]
	var (
		t    ipc.MsgType
		resp msgp.Marshaler
		err  error
	)
	if m == nil {
		err = unknownType(r.h.MsgType)
	} else {
		t = m.Response
		resp, err = c.callUnary(m, r.body())
	}
	putBuf(r.buf)
	if err != nil {
		c.answerError(m, r.h.SeqNo, err)
		return
	}
	if werr := c.write(t, r.h.SeqNo, resp); werr != nil && !errors.Is(werr, errWrite) {
		c.s.log.Error("server: cannot encode response", "protocol", c.s.table.Protocol, "method", m.Name, "err", werr)
		c.answerError(m, r.h.SeqNo, werr)
	}
}

func (c *conn) callUnary(m *method, body []byte) (resp msgp.Marshaler, err error) {
	defer func() {
		if v := recover(); v != nil {
			resp, err = nil, c.s.recovered(m, v)
		}
	}()
	return m.Unary(c.ctx, c.s.impl, body, m.unary)
}

// ErrorText is the text sent for a handler error: err's message, or, when
// that is empty, one naming the method and the error's type, so that an
// error never reads as success on the wire (an empty error field means
// success). Generated glue uses it to fill error fields.
func ErrorText(method string, err error) string {
	if text := err.Error(); text != "" {
		return text
	}
	return fmt.Sprintf("%s failed (%T with an empty message)", method, err)
}

// answerError answers the request seq with Table.ErrorResponse carrying
// err's text, or closes the connection when the table has none. It reports
// whether the answer was written.
func (c *conn) answerError(m *method, seq uint64, err error) bool {
	name := ""
	if m != nil {
		name = m.Name
	}
	var de *DecodeError
	if errors.As(err, &de) {
		c.s.log.Debug("server: malformed request", "protocol", c.s.table.Protocol, "method", name, "err", err)
	}
	if c.s.table.ErrorResponse == nil {
		c.s.log.Warn("server: no error response in table; closing connection", "protocol", c.s.table.Protocol, "err", err)
		c.drop()
		return false
	}
	t, resp := c.s.table.ErrorResponse(ErrorText(name, err))
	if werr := c.write(t, seq, resp); werr != nil {
		if !errors.Is(werr, errWrite) {
			c.s.log.Error("server: cannot encode error response", "protocol", c.s.table.Protocol, "err", werr)
			c.drop()
		}
		return false
	}
	return true
}

// errWrite marks a failed write (the connection is then dropped), as opposed
// to a response that could not be encoded.
var errWrite = errors.New("server: write failed")

// write sends one response frame with a single Write; a write error drops
// the connection.
func (c *conn) write(t ipc.MsgType, seq uint64, m msgp.Marshaler) error {
	bp := getBuf(0)
	frame, err := encodeFrame((*bp)[:0], ipc.Header{MsgType: t, SeqNo: seq}, m)
	if err != nil {
		putBuf(bp)
		return err
	}
	c.armWrite()
	_, err = c.fw.WriteRaw(frame)
	*bp = frame
	putBuf(bp)
	if err != nil {
		c.s.log.Debug("server: write failed; closing connection", "protocol", c.s.table.Protocol, "err", err)
		c.drop()
		return errWrite
	}
	return nil
}

// encodeFrame is ipc.AppendMsgFrame turning a panicking MarshalMsg (such as
// a handler's nil response pointer) into an error.
func encodeFrame(dst []byte, h ipc.Header, m msgp.Marshaler) (frame []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			frame, err = dst, fmt.Errorf("server: encode %s response: panic: %v", h.MsgType, v)
		}
	}()
	return ipc.AppendMsgFrame(dst, h, m)
}

// armWrite bounds unary response writes by WriteTimeout. Setting a deadline
// costs a timer update, so one is kept while more than half of it remains:
// a write blocked on a client that does not read fails after between half
// and all of WriteTimeout.
func (c *conn) armWrite() {
	wt := c.s.opts.WriteTimeout
	if wt <= 0 {
		return
	}
	now := time.Now()
	if d := c.wdl.Load(); d != 0 && d-now.UnixNano() > int64(wt/2) {
		return
	}
	deadline := now.Add(wt)
	c.nc.SetWriteDeadline(deadline)
	c.wdl.Store(deadline.UnixNano())
}

// setWriteDeadline sets a deadline for stream writes, after which unary
// writes set their own again.
func (c *conn) setWriteDeadline(t time.Time) {
	c.wdl.Store(0)
	c.nc.SetWriteDeadline(t)
}
