package server

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// method is a Table method with its interceptor chains bound to its CallInfo.
type method struct {
	Method
	info   CallInfo
	unary  UnaryInterceptor  // nil without interceptors
	stream StreamInterceptor // nil without interceptors
}

// newMethod binds the server-wide chains to m. The CallInfo an interceptor
// sees is always the server's, built from the Table, whatever the generated
// glue passes.
func newMethod(m *Method, protocol string, unary UnaryInterceptor, stream StreamInterceptor) *method {
	md := &method{Method: *m, info: CallInfo{Protocol: protocol, Method: m.Name, Request: m.Request}}
	if unary != nil {
		md.unary = func(ctx context.Context, req any, _ *CallInfo, next UnaryHandler) (any, error) {
			return unary(ctx, req, &md.info, next)
		}
	}
	if stream != nil {
		md.stream = func(ctx context.Context, req any, s *Stream, _ *CallInfo, next StreamHandler) error {
			return stream(ctx, req, s, &md.info, next)
		}
	}
	return md
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

// Frame buffers: pooled, and dropped after use when they grew past keepBuf so
// that one large frame does not pin memory.
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
