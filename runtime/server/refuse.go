package server

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// FullText starts the error text that answers a connection the server
// refuses because MaxConns connections are open; clients can recognise it.
const FullText = "server full"

// Bounds of the "server full" answer.
const (
	maxRefusing = 16               // connections being answered at once; more are closed unanswered
	refuseBody  = uint32(64 << 10) // largest first request read (and discarded) before answering
)

// refuseTimeout is the time a refused peer has to send its first request (a
// variable for tests).
var refuseTimeout = time.Second

// refuser answers connections over the MaxConns limit: it reads the first
// request and answers it with Table.ErrorResponse saying the server is full,
// then closes the connection, so that a client learns why instead of seeing
// a reset. At most maxRefusing are answered at once, each within
// refuseTimeout; Close ends them at once.
type refuser struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// refuse answers nc "server full" in the background, or closes it when the
// protocol has no error response or enough refusals are under way.
func (r *refuser) refuse(s *Server, nc net.Conn) {
	r.mu.Lock()
	if r.closed || s.table.ErrorResponse == nil || len(r.conns) >= maxRefusing {
		r.mu.Unlock()
		nc.Close()
		return
	}
	if r.conns == nil {
		r.conns = make(map[net.Conn]struct{})
	}
	r.conns[nc] = struct{}{}
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		answerFull(s, nc)
		r.mu.Lock()
		delete(r.conns, nc)
		r.mu.Unlock()
		nc.Close()
	}()
}

// answerFull reads one request header (and up to refuseBody bytes of its
// body) and answers it with the error response.
func answerFull(s *Server, nc net.Conn) {
	h, ok := readFirstHeader(s, nc)
	if !ok {
		return
	}
	text := fmt.Sprintf("%s: %d connections open, the most this server accepts; try again later", FullText, s.cfg.maxConns)
	if frame := refusalFrame(s, h, status.ResourceExhausted, text); frame != nil {
		nc.Write(frame)
		return
	}
	t, m := s.table.ErrorResponse(text)
	frame, err := ipc.AppendMsgFrame(nil, ipc.Header{MsgType: t, SeqNo: h.SeqNo}, m)
	if err != nil {
		return
	}
	nc.Write(frame)
}

// closeAll closes the connections being refused and waits for their
// goroutines; later refusals close at once.
func (r *refuser) closeAll() {
	r.mu.Lock()
	r.closed = true
	for nc := range r.conns {
		nc.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
