package server

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// method is a Table method with the server's interceptor chains bound to
// its CallInfo, which the server builds from the Table.
type method struct {
	Method
	info       CallInfo
	icptUnary  UnaryInterceptor  // nil without interceptors
	icptStream StreamInterceptor // nil without interceptors

	// fast counts, up to inlineSettled, this method's latest calls in a
	// row whose handler time was at most MaxInlineCall (see conn.go,
	// "Inline calls"); shared by all connections.
	fast atomic.Int32
}

// inlineStreak is how many calls in a row of a method must each have taken
// at most MaxInlineCall before the reader serves its calls itself.
const inlineStreak = 8

// inlineSettled is the run of fast calls after which one slow call is
// taken for a hiccup (the OS descheduling the reader's thread, a GC
// pause): it disqualifies the method, and one fast call qualifies it
// again, instead of inlineStreak (see conn.go, "Inline calls").
const inlineSettled = 64

// inlineable reports whether m's latest calls qualify it for inline serving.
func (m *method) inlineable() bool { return m.fast.Load() >= inlineStreak }

// observe records the handler time d of one of m's calls against limit.
func (m *method) observe(d, limit time.Duration) {
	switch n := m.fast.Load(); {
	case d > limit && n >= inlineSettled:
		m.fast.Store(inlineStreak - 1)
	case d > limit:
		if n != 0 {
			m.fast.Store(0)
		}
	case n < inlineSettled:
		m.fast.Add(1)
	}
}

func newMethod(m *Method, protocol string, unary UnaryInterceptor, stream StreamInterceptor) *method {
	return &method{
		Method:     *m,
		info:       CallInfo{Protocol: protocol, Method: m.Name, Request: m.Request, Access: m.Access},
		icptUnary:  unary,
		icptStream: stream,
	}
}

// chainUnary folds interceptors, outermost first, into one; nil for none.
func chainUnary(ints []UnaryInterceptor) UnaryInterceptor {
	ints = append([]UnaryInterceptor(nil), ints...)
	switch len(ints) {
	case 0:
		return nil
	case 1:
		return ints[0]
	}
	return func(ctx context.Context, req any, info *CallInfo, final UnaryHandler) (any, error) {
		return ints[0](ctx, req, info, unaryNext(ints[1:], info, final))
	}
}

func unaryNext(ints []UnaryInterceptor, info *CallInfo, final UnaryHandler) UnaryHandler {
	if len(ints) == 0 {
		return final
	}
	return func(ctx context.Context, req any) (any, error) {
		return ints[0](ctx, req, info, unaryNext(ints[1:], info, final))
	}
}

// chainStream folds interceptors, outermost first, into one; nil for none.
func chainStream(ints []StreamInterceptor) StreamInterceptor {
	ints = append([]StreamInterceptor(nil), ints...)
	switch len(ints) {
	case 0:
		return nil
	case 1:
		return ints[0]
	}
	return func(ctx context.Context, req any, s *Stream, info *CallInfo, final StreamHandler) error {
		return ints[0](ctx, req, s, info, streamNext(ints[1:], info, final))
	}
}

func streamNext(ints []StreamInterceptor, info *CallInfo, final StreamHandler) StreamHandler {
	if len(ints) == 0 {
		return final
	}
	return func(ctx context.Context, req any, s *Stream) error {
		return ints[0](ctx, req, s, info, streamNext(ints[1:], info, final))
	}
}

// panicError is the error a recovered handler panic becomes; its text is
// what the client reads in the error response.
type panicError struct{ method string }

func (e *panicError) Error() string { return "server: panic in " + e.method + " handler" }

// recovered logs a recovered handler panic with its stack.
func (s *Server) recovered(m *method, v any) error {
	s.log.Error("server: handler panic", "protocol", s.table.Protocol, "method", m.Name,
		"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	return &panicError{method: m.Name}
}

// unknownType is the error that answers a request type no method serves.
type unknownType ipc.MsgType

func (t unknownType) Error() string { return "unknown request type " + ipc.MsgType(t).String() }

// tooManyStreams answers a stream request over Options.MaxStreams.
type tooManyStreams int

func (n tooManyStreams) Error() string {
	return fmt.Sprintf("server: too many streams (limit %d); try again later", int(n))
}

// Request body buffers: pooled, and dropped after use when they grew past
// keepBuf so that one large request does not pin memory.
const (
	initBuf = 4 << 10
	keepBuf = 64 << 10
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, initBuf); return &b }}

// getBuf returns a pooled buffer of length 0 and capacity at least n.
func getBuf(n int) *[]byte {
	bp := bufPool.Get().(*[]byte)
	if cap(*bp) < n {
		*bp = make([]byte, 0, n)
	}
	return bp
}

// putBuf recycles bp (nil is fine).
func putBuf(bp *[]byte) {
	if bp == nil || cap(*bp) > keepBuf {
		return
	}
	*bp = (*bp)[:0]
	bufPool.Put(bp)
}
