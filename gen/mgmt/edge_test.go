package mgmt_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/server"
)

// emptyError is an error whose text is empty.
type emptyError struct{}

func (emptyError) Error() string { return "" }

// A handler error must reach the client as an error even when its text is
// empty; it must never be served as success.
func TestEmptyErrorText(t *testing.T) {
	noLeaks(t)
	h := &handler{
		status: func(context.Context, *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
			return nil, emptyError{}
		},
		list: func(context.Context) (*mgmt.ListResponsePayload, error) {
			return nil, emptyError{}
		},
	}
	_, path, _ := startServer(t, h)
	c := dial(t, path)
	ctx := testCtx(t)
	resp, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "x"})
	var re *client.RemoteError
	if !errors.As(err, &re) || re.Text == "" {
		t.Fatalf("Status whose handler failed with an empty text: %+v, %v; want a RemoteError with a text", resp, err)
	}
	var le *client.RemoteError
	if _, err := c.List(ctx); !errors.As(err, &le) || le.Text == "" {
		t.Errorf("List whose handler failed with an empty text: %v; want a RemoteError with a text", err)
	}
}

// An interceptor returning a response of the wrong type must not make the
// call succeed with a zero response.
func TestInterceptorWrongResponseType(t *testing.T) {
	noLeaks(t)
	wrong := func(ctx context.Context, req any, info *server.CallInfo, next server.UnaryHandler) (any, error) {
		if _, err := next(ctx, req); err != nil {
			return nil, err
		}
		return "not a response", nil
	}
	_, path, _ := startServer(t, fullHandler(nil), func(o *mgmt.ServerOptions) {
		o.UnaryInterceptors = []server.UnaryInterceptor{wrong}
	})
	c := dial(t, path)
	resp, err := c.Status(testCtx(t), &mgmt.StatusRequestPayload{ID: "web"})
	var re *client.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Text, "interceptor returned a string") {
		t.Logf("response: %+v", resp)
		t.Errorf("Status = %v, want a RemoteError naming the interceptor's mistake", err)
	}
}
