package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mgmtgen/mgmtgen/internal/exitcode"
	"github.com/mgmtgen/mgmtgen/internal/schema"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// describeTimeout bounds dialling a server and asking it for its schema
// when no -timeout says otherwise.
const describeTimeout = 10 * time.Second

// errBaseOnly is what a server that cannot describe itself gets.
const errBaseOnly = "server speaks only the base protocol; pass -schema FILE"

// live is a server that described itself: its connection (extended), its
// description and its schema, parsed.
type live struct {
	socket string
	conn   *client.Conn
	desc   *client.Description
	f      *schema.File
}

// describeServer dials socket with the extensions, asks it for its schema
// (Describe, whose SHA-256 the client checks) and parses it; the schema's
// positions name it "SOCKET (Describe)". On failure it has printed why and
// returns the exit status: Unimplemented (76) for a server that speaks only
// the base protocol, 4 for no connection, 3 for a schema that does not parse.
func (env *cmdEnv) describeServer(ctx context.Context, socket string) (*live, int) {
	conn, err := client.DialContext(ctx, socket, client.Options{Negotiate: true})
	if err != nil {
		fmt.Fprintf(env.stderr, "mgmtgen: %v\n", err)
		return nil, callConn
	}
	d, err := conn.Describe(ctx)
	if err != nil {
		conn.Close()
		if status.CodeOf(err) == status.Unimplemented {
			fmt.Fprintf(env.stderr, "mgmtgen: %s: %s\n", socket, errBaseOnly)
			return nil, exitcode.ForCode(status.Unimplemented)
		}
		fmt.Fprintf(env.stderr, "mgmtgen: %s: Describe: %v\n", socket, err)
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, callTimeout
		}
		return nil, callConn
	}
	f, err := schema.Parse(socket+" (Describe)", []byte(d.Schema))
	if err != nil {
		conn.Close()
		printSchemaErrorsOnly(env.stderr, err)
		fmt.Fprintf(env.stderr, "mgmtgen: the schema the server at %s describes has errors\n", socket)
		return nil, callSchema
	}
	return &live{socket: socket, conn: conn, desc: d, f: f}, -1
}
