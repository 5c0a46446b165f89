package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/mgmtgen/mgmtgen/internal/exitcode"
	"github.com/mgmtgen/mgmtgen/internal/msgjson"
	"github.com/mgmtgen/mgmtgen/internal/schema"
	"github.com/mgmtgen/mgmtgen/internal/sshdial"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// caller makes one call: dial, send, print the answer or the stream.
type caller struct {
	env  *cmdEnv
	f    *schema.File
	c    *schema.Call
	cf   callFlags
	sig  context.Context // ends on SIGINT/SIGTERM
	ctx  context.Context // sig, bounded by -timeout
	conn *client.Conn    // the connection Describe used, if any

	target *sshdial.Target // the server's host; nil: socket is local (call_fleet.go)
}

// describe asks the server on socket for its schema, within -timeout (or
// describeTimeout) and until a signal.
func (k *caller) describe(socket string) (*live, int) {
	limit := k.cf.timeout
	if limit <= 0 {
		limit = describeTimeout
	}
	ctx, cancel := context.WithTimeout(k.sig, limit)
	defer cancel()
	server, code := k.env.describeServer(ctx, socket)
	if code >= 0 && k.sig.Err() != nil {
		return nil, callInterrupted
	}
	return server, code
}

func (k *caller) run(socket string, payload []byte) int {
	k.ctx = k.sig
	if k.cf.timeout > 0 {
		var cancel context.CancelFunc
		k.ctx, cancel = context.WithTimeout(k.sig, k.cf.timeout)
		defer cancel()
	}
	conn := k.conn
	if conn == nil {
		// Negotiate: a server that speaks the extensions answers errors
		// with their codes; a legacy one is detected and spoken to as is.
		opts := k.dialOptions()
		opts.Negotiate = true
		var err error
		if conn, err = client.DialContext(k.ctx, socket, opts); err != nil {
			return k.failed(err)
		}
		defer conn.Close()
	}
	// The untyped API takes no context: ending it closes the connection,
	// which wakes whatever is blocked on it.
	stop := context.AfterFunc(k.ctx, func() { conn.Close() })
	defer stop()
	var body any
	if payload != nil {
		body = payload
	}
	if k.c.IsStream() {
		return k.stream(conn, body)
	}
	return k.unary(conn, body)
}

// failed reports a transport error, or the timeout or signal behind it.
func (k *caller) failed(err error) int {
	switch {
	case k.sig.Err() != nil:
		fmt.Fprintf(k.env.stderr, "mgmtgen: %s: interrupted\n", k.c.Name)
		return callInterrupted
	case k.ctx.Err() != nil:
		fmt.Fprintf(k.env.stderr, "mgmtgen: %s: timed out after %v\n", k.c.Name, k.cf.timeout)
		return callTimeout
	}
	fmt.Fprintf(k.env.stderr, "mgmtgen: %s: %v\n", k.c.Name, err)
	return callConn
}

func (k *caller) unary(conn *client.Conn, body any) int {
	h, resp, err := conn.Call(ipc.MsgType(k.c.Request.ID), body)
	if err != nil {
		return k.failed(err)
	}
	if h.MsgType == ipc.MsgError {
		return k.remoteStatus(resp)
	}
	if h.MsgType != ipc.MsgType(k.c.Response.ID) {
		return k.unexpected(h.MsgType, resp)
	}
	if ef := k.c.ErrorField; ef != nil {
		text, err := msgjson.String(resp, ef)
		if err != nil {
			return k.badAnswer(k.c.Response, err)
		}
		if text != "" {
			fmt.Fprintf(k.env.stderr, "mgmtgen: %s: remote error: %s\n", k.c.Name, text)
			return callRemote
		}
	}
	js, code := k.decode(k.c.Response, resp)
	if code >= 0 {
		return code
	}
	var out bytes.Buffer
	json.Indent(&out, js, "", "  ") // js is valid JSON
	out.WriteByte('\n')
	k.env.stdout.Write(out.Bytes())
	return exitOK
}

func (k *caller) stream(conn *client.Conn, body any) int {
	if err := conn.Stream(ipc.MsgType(k.c.Request.ID), body); err != nil {
		return k.failed(err)
	}
	for {
		h, frame, err := conn.ReadFrame()
		switch {
		case errors.Is(err, io.EOF) && k.ctx.Err() == nil:
			if k.c.LastWhen != nil {
				fmt.Fprintf(k.env.stderr, "mgmtgen: %s: the server closed the connection before the last frame (%s true)\n",
					k.c.Name, k.c.LastWhen.Name)
				return callConn
			}
			return exitOK // a stream that runs until either side closes ended
		case err != nil:
			return k.failed(err)
		case h.MsgType == ipc.MsgError, h.MsgType == ipc.MsgStreamEnd:
			return k.remoteStatus(frame)
		case h.MsgType != ipc.MsgType(k.c.Stream.ID):
			return k.unexpected(h.MsgType, frame)
		}
		js, code := k.decode(k.c.Stream, frame)
		if code >= 0 {
			return code
		}
		if k.cf.seq {
			k.env.stdout.Write([]byte{0x1e}) // RFC 7464 record separator
		}
		k.env.stdout.Write(append(js, '\n'))
		if k.c.LastWhen != nil {
			if last, _ := msgjson.Bool(frame, k.c.LastWhen); last {
				return exitOK
			}
		}
	}
}

// unexpected reports an answer of another type than the call's: the
// schema's error response (a remote error) or a protocol violation.
func (k *caller) unexpected(t ipc.MsgType, body []byte) int {
	if ec := k.f.Errors; ec != nil && t == ipc.MsgType(ec.Message.ID) {
		text, err := msgjson.String(body, ec.Field)
		if err != nil {
			return k.badAnswer(ec.Message, err)
		}
		fmt.Fprintf(k.env.stderr, "mgmtgen: %s: remote error: %s\n", k.c.Name, text)
		return callRemote
	}
	name := fmt.Sprintf("0x%02x", uint8(t))
	if m := k.f.MessageByID(uint8(t)); m != nil {
		name = fmt.Sprintf("%s (0x%02x)", m.Name, m.ID)
	}
	fmt.Fprintf(k.env.stderr, "mgmtgen: %s: the server answered %s, want %s (0x%02x)\n",
		k.c.Name, name, k.c.Answer().Name, k.c.Answer().ID)
	return callConn
}

// decode converts an answer's payload to JSON ({} for a message without one).
func (k *caller) decode(m *schema.Message, body []byte) ([]byte, int) {
	if m.Payload == nil {
		if len(body) > 0 {
			return nil, k.badAnswer(m, fmt.Errorf("%d payload bytes in a message without payload", len(body)))
		}
		return []byte("{}"), -1
	}
	js, err := msgjson.Decode(m.Payload, body, msgjson.Options{BytesAsText: k.cf.text})
	if err != nil {
		return nil, k.badAnswer(m, err)
	}
	return js, -1
}

func (k *caller) badAnswer(m *schema.Message, err error) int {
	fmt.Fprintf(k.env.stderr, "mgmtgen: %s: the server's %s does not fit the schema: %v\n", k.c.Name, m.Name, err)
	return callConn
}

// remoteStatus reports an error frame (or a stream's end) of an extended
// connection: its code and message on stderr, exit status by the code (0
// for a stream that ended complete).
func (k *caller) remoteStatus(body []byte) int {
	var st ipc.Status
	if err := ipc.DecodePayload(body, &st); err != nil {
		fmt.Fprintf(k.env.stderr, "mgmtgen: %s: a malformed status from the server: %v\n", k.c.Name, err)
		return callConn
	}
	code := status.Code(st.Code)
	if code == status.OK {
		return exitOK
	}
	fmt.Fprintf(k.env.stderr, "mgmtgen: %s: remote error: %v: %s\n", k.c.Name, code, st.Message)
	return exitcode.ForCode(code)
}
