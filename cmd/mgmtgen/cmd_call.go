package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mgmtgen/mgmtgen/internal/exitcode"
	"github.com/mgmtgen/mgmtgen/internal/msgjson"
	"github.com/mgmtgen/mgmtgen/internal/schema"
	"github.com/mgmtgen/mgmtgen/internal/sshdial"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// Exit codes of "mgmtgen call" (documented in the package doc).
const (
	callRemote      = exitcode.Failed      // the server answered with an error without a code
	callSchema      = 3                    // the schema (-schema or the server's) is unreadable or invalid
	callConn        = 4                    // no connection, or it broke, or an answer that does not fit the schema
	callTimeout     = 5                    // -timeout expired
	callInterrupted = exitcode.Interrupted // SIGINT or SIGTERM
	// An error with a status code N (from a server speaking the protocol
	// extensions) exits exitcode.ForCode(N): 64+N, as grpcurl does.
)

// maxRequestJSON bounds a request read from a file or stdin: more JSON than
// this cannot encode into one frame's payload.
const maxRequestJSON = 4 * int(ipc.MaxPayloadSize)

type callFlags struct {
	schema, data string
	text, seq    bool
	timeout      time.Duration
}

// runCall is "mgmtgen call [flags] SOCKET CALL [JSON]".
func runCall(env *cmdEnv, args []string) int {
	fset := env.newFlags("call")
	var cf callFlags
	fset.StringVar(&cf.schema, "schema", "", "the server's schema `file` (without it: the server's own, by Describe; required for legacy servers)")
	fset.StringVar(&cf.data, "d", "", "request `JSON`; @FILE reads it from FILE, @- from stdin")
	fset.BoolVar(&cf.text, "text", false, "bytes fields as text instead of base64, in the request and the answer")
	fset.BoolVar(&cf.seq, "seq", false, "print stream frames as JSON text sequences (RFC 7464) instead of JSON lines")
	fset.DurationVar(&cf.timeout, "timeout", 0, "give up after this `duration` (0: never), exit 5")
	var hostFlags hostList
	fset.Var(&hostFlags, "host", "call the server at ssh://[user@]host[:port][/socket] (repeatable) instead of SOCKET")
	hostsFile := fset.String("hosts", "", "call the servers listed in `file` (one ssh:// address a line)")
	pos, code := parseInterspersed(fset, args)
	if code >= 0 {
		return code
	}
	hosts, err := sshdial.ParseHosts("-host", hostFlags, *hostsFile)
	if err != nil {
		return env.usageError(fset, "%v", err)
	}
	if len(hosts) == 0 && len(pos) > 0 && strings.HasPrefix(pos[0], "ssh://") {
		t, err := sshdial.Parse(pos[0])
		if err != nil {
			return env.usageError(fset, "%v", err)
		}
		hosts = []sshdial.Target{t}
	}
	if len(hostFlags) > 0 || *hostsFile != "" {
		pos = append([]string{""}, pos...) // no SOCKET
	}
	switch {
	case len(pos) < 2 && len(hosts) > 0:
		return env.usageError(fset, "want CALL")
	case len(pos) < 2:
		return env.usageError(fset, "want SOCKET and CALL")
	case len(pos) > 3:
		return env.usageError(fset, "unexpected argument %q", pos[3])
	case len(pos) == 3 && cf.data != "":
		return env.usageError(fset, "give the request as an argument or with -d, not both")
	}
	if len(pos) == 3 {
		cf.data = pos[2]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	k := &caller{env: env, cf: cf, sig: ctx}
	from := cf.schema
	switch {
	case cf.schema == "" && len(hosts) > 0:
		return env.usageError(fset, "-schema is required with a remote host (ssh): describing a server through ssh is not supported")
	case cf.schema == "":
		server, code := k.describe(pos[0])
		if code >= 0 {
			return code
		}
		k.f, k.conn, from = server.f, server.conn, "the server's schema"
		defer server.conn.Close()
	default:
		if k.f = env.loadSchema(cf.schema); k.f == nil {
			return callSchema
		}
	}
	if k.c = k.f.Call(pos[1]); k.c == nil {
		fmt.Fprintf(env.stderr, "mgmtgen: %s has no call %q (calls: %s)\n", from, pos[1], callNames(k.f))
		return exitUsage
	}
	c := k.c
	src, err := env.requestJSON(cf.data)
	if err != nil {
		fmt.Fprintf(env.stderr, "mgmtgen: %v\n", err)
		return exitUsage
	}
	payload, code := env.encodeRequest(c, src, cf)
	if code >= 0 {
		return code
	}
	if len(hosts) > 0 {
		return k.runHosts(hosts, payload)
	}
	return k.run(pos[0], payload)
}

// hostList collects repeated -host values.
type hostList []string

func (h *hostList) String() string     { return strings.Join(*h, ",") }
func (h *hostList) Set(v string) error { *h = append(*h, v); return nil }

// parseInterspersed parses flags before, between and after the positional
// arguments, which it returns; after "--" every argument is positional.
func parseInterspersed(fset *flag.FlagSet, args []string) ([]string, int) {
	var pos []string
	for {
		if code := parse(fset, args); code >= 0 {
			return nil, code
		}
		rest := fset.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), -1
		}
		if len(rest) == 0 {
			return pos, -1
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

func callNames(f *schema.File) string {
	var names []string
	for _, c := range f.Calls {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}

// requestJSON returns the request text: data itself, or @FILE's or stdin's.
func (env *cmdEnv) requestJSON(data string) ([]byte, error) {
	name, ok := strings.CutPrefix(data, "@")
	if !ok {
		return []byte(data), nil
	}
	var r io.Reader
	if name == "-" {
		r = env.stdin
	} else {
		file, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		r = file
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(maxRequestJSON)+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request: %w", err)
	}
	if len(b) > maxRequestJSON {
		return nil, fmt.Errorf("request: more than %d bytes of JSON", maxRequestJSON)
	}
	return b, nil
}

// encodeRequest checks the request JSON against the call's request and
// returns its payload (nil for a message without one).
func (env *cmdEnv) encodeRequest(c *schema.Call, src []byte, cf callFlags) ([]byte, int) {
	req := c.Request
	blank := len(bytes.TrimSpace(src)) == 0
	if req.Payload == nil {
		if s := string(bytes.TrimSpace(src)); !blank && s != "{}" && s != "null" {
			fmt.Fprintf(env.stderr, "mgmtgen: request: %s (0x%02x) has no payload; give no JSON or {}\n", req.Name, req.ID)
			return nil, exitUsage
		}
		return nil, -1
	}
	if blank {
		src = []byte("{}")
	}
	payload, err := msgjson.Encode(req.Payload, src, msgjson.Options{BytesAsText: cf.text})
	if err != nil {
		var list msgjson.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				fmt.Fprintf(env.stderr, "mgmtgen: request:%v\n", e)
			}
		} else {
			fmt.Fprintf(env.stderr, "mgmtgen: request: %v\n", err)
		}
		see := "-schema " + cf.schema
		if cf.schema == "" {
			see = "SOCKET"
		}
		fmt.Fprintf(env.stderr, "mgmtgen: the request does not fit %s (see: mgmtgen describe %s %s)\n",
			req.Payload.Name, see, c.Name)
		return nil, exitUsage
	}
	if len(payload) > int(ipc.MaxPayloadSize) {
		fmt.Fprintf(env.stderr, "mgmtgen: request: %d bytes encoded, more than a frame's %d\n", len(payload), ipc.MaxPayloadSize)
		return nil, exitUsage
	}
	return payload, -1
}
