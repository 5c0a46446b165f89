package server_test

// Server interceptors: their order, and what they may not do.

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

func TestInterceptorsOutermostFirst(t *testing.T) {
	leakCheck(t)
	var mu sync.Mutex
	var trace []string
	mark := func(s string) {
		mu.Lock()
		trace = append(trace, s)
		mu.Unlock()
	}
	unary := func(name string) server.UnaryInterceptor {
		return func(ctx context.Context, req any, info *server.CallInfo, next server.UnaryHandler) (any, error) {
			mark(name + ">" + info.Protocol + "." + info.Method + "/" + info.Request.String())
			resp, err := next(ctx, req)
			mark(name + "<")
			return resp, err
		}
	}
	stream := func(name string) server.StreamInterceptor {
		return func(ctx context.Context, req any, s *server.Stream, info *server.CallInfo, next server.StreamHandler) error {
			mark(name + ">" + info.Method)
			return next(ctx, req, s)
		}
	}
	_, path := startServer(t, server.Options{
		UnaryInterceptors:  []server.UnaryInterceptor{unary("a"), unary("b")},
		StreamInterceptors: []server.StreamInterceptor{stream("c"), stream("d")},
	}, nil)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "i"})
	c.echo(1)
	c.sendMsg(servertest.MsgTail, 2, &servertest.TailRequest{N: 1})
	if h, _ := c.next(); h.MsgType != servertest.MsgTailFrame {
		t.Fatalf("got %s", h.MsgType)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "a>test.Echo/0xa0 b>test.Echo/0xa0 b< a< c>Tail d>Tail"
	if got := strings.Join(trace, " "); got != want {
		t.Fatalf("trace %q, want %q", got, want)
	}
}

// An interceptor returning a response of the wrong type must not make the
// call succeed with a zero response: the answer names the mistake.
func TestInterceptorWrongResponseType(t *testing.T) {
	leakCheck(t)
	wrong := func(ctx context.Context, req any, info *server.CallInfo, next server.UnaryHandler) (any, error) {
		if _, err := next(ctx, req); err != nil {
			return nil, err
		}
		return "not a response", nil
	}
	_, path := startServer(t, server.Options{UnaryInterceptors: []server.UnaryInterceptor{wrong}}, nil)
	c := dialRaw(t, path)
	c.sendMsg(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "x"})
	if text := c.status(1); !strings.Contains(text, "interceptor returned a string") {
		t.Errorf("answer %q, want one naming the interceptor's mistake", text)
	}
}
