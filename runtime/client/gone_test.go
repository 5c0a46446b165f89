package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// A connection the server closed (as its idle timeout or its shutdown does)
// fails with an error that names the path the caller gave, never the
// private name the server bound, and says what happened.
func TestServerClosedNamesPath(t *testing.T) {
	leakCheck(t)
	srv, path := start(t, nil)
	c := dial(t, path, client.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := echo(ctx, c, &servertest.EchoRequest{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(ctx); err != nil { // closes the idle connection at once
		t.Fatal(err)
	}
	var err error
	for err == nil && ctx.Err() == nil { // a write into the closed socket may succeed once
		_, err = echo(ctx, c, &servertest.EchoRequest{ID: "b"})
	}
	var ge *client.GoneError
	if !errors.Is(err, client.ErrClosed) || !errors.As(err, &ge) || ge.Path != path {
		t.Fatalf("call after the server closed: %v", err)
	}
	if strings.Contains(err.Error(), ".bind-") || !strings.Contains(err.Error(), "the server at "+path+" closed the connection (") {
		t.Errorf("error: %v", err)
	}
	t.Logf("after the server closed: %v", err)
}
