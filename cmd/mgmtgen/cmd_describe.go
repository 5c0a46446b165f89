package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mgmtgen/mgmtgen/internal/schema"
	"github.com/mgmtgen/mgmtgen/internal/schemadoc"
)

// runDescribe is "mgmtgen describe [-json] (SOCKET | -schema FILE) [NAME]".
func runDescribe(env *cmdEnv, args []string) int {
	fset := env.newFlags("describe")
	schemaPath := fset.String("schema", "", "schema `file` to describe (without it: ask the server on SOCKET)")
	asJSON := fset.Bool("json", false, "print JSON instead of text")
	pos, code := parseInterspersed(fset, args)
	if code >= 0 {
		return code
	}
	var (
		server *live
		f      *schema.File
	)
	switch {
	case *schemaPath != "" && len(pos) > 1:
		return env.usageError(fset, "unexpected argument %q", pos[1])
	case *schemaPath == "" && len(pos) == 0:
		return env.usageError(fset, "want SOCKET (a server to ask) or -schema FILE")
	case *schemaPath == "" && len(pos) > 2:
		return env.usageError(fset, "unexpected argument %q", pos[2])
	case *schemaPath == "":
		ctx, cancel := context.WithTimeout(context.Background(), describeTimeout)
		defer cancel()
		if server, code = env.describeServer(ctx, pos[0]); code >= 0 {
			return code
		}
		server.conn.Close()
		f, pos = server.f, pos[1:]
	default:
		if f = env.loadSchema(*schemaPath); f == nil {
			return exitFail
		}
	}
	p := schemadoc.Describe(f)
	var part any = p
	if len(pos) == 1 {
		var err error
		if part, err = p.Lookup(pos[0]); err != nil {
			fmt.Fprintf(env.stderr, "mgmtgen: %v\n", err)
			return exitFail
		}
	}
	var err error
	enc := json.NewEncoder(env.stdout)
	enc.SetIndent("", "  ")
	switch {
	case *asJSON && server != nil && part == any(p):
		err = enc.Encode(struct {
			Server serverJSON `json:"server"`
			*schemadoc.Protocol
		}{server.json(), p})
	case *asJSON:
		err = enc.Encode(part)
	case part == any(p):
		if server != nil {
			server.writeHeader(env)
		}
		err = schemadoc.WriteText(env.stdout, p)
	default:
		err = schemadoc.WriteTextOne(env.stdout, p, part)
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "mgmtgen: %v\n", err)
		return exitFail
	}
	return exitOK
}

// serverJSON is what "describe -json SOCKET" says of the server itself.
type serverJSON struct {
	Socket   string   `json:"socket"`
	Runtime  string   `json:"runtime"`
	Features []string `json:"features"`
	SHA256   string   `json:"schema_sha256"`
}

func (l *live) json() serverJSON {
	return serverJSON{Socket: l.socket, Runtime: l.desc.Runtime, Features: l.desc.Features,
		SHA256: hex.EncodeToString(l.desc.SHA256[:])}
}

// writeHeader says who answered, before the protocol's description.
func (l *live) writeHeader(env *cmdEnv) {
	fmt.Fprintf(env.stdout, "server %s: %s, features %s\nschema sha256 %x (%d bytes)\n\n",
		l.socket, l.desc.Runtime, strings.Join(l.desc.Features, ", "), l.desc.SHA256, len(l.desc.Schema))
}
