package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/mgmtgen/mgmtgen/internal/sshdial"
	"github.com/mgmtgen/mgmtgen/runtime/client"
)

// Calls on other hosts: SOCKET may be ssh://[user@]host[:port][/socket],
// and -host (repeatable) or -hosts FILE name several; the connection runs
// through the system ssh (internal/sshdial). With several hosts a unary
// call is made on all at once; each answer is printed as one line
// {"host": ADDRESS, "answer": ...} in the order the hosts were given, a
// host's errors go to stderr prefixed "mgmtgen: ADDRESS: ", and the exit
// status is that of the first host (in that order) that failed, 0 when
// none did. A stream follows one server: it takes one host.

// dialOptions are the client options reaching k's server: through ssh for
// an ssh:// target.
func (k *caller) dialOptions() client.Options {
	if k.target == nil {
		return client.Options{}
	}
	t, d := *k.target, &sshdial.Dialer{}
	return client.Options{Dial: func(ctx context.Context, _ string) (net.Conn, error) { return d.Dial(ctx, t) }}
}

// runHosts makes the call on every host.
func (k *caller) runHosts(hosts []sshdial.Target, payload []byte) int {
	if len(hosts) == 1 {
		k.target = &hosts[0]
		return k.run(hosts[0].Raw, payload)
	}
	if k.c.IsStream() {
		fmt.Fprintf(k.env.stderr, "mgmtgen: %s is a stream: it follows one server, give one host\n", k.c.Name)
		return exitUsage
	}
	type hostRun struct {
		out, errOut bytes.Buffer
		code        int
	}
	runs := make([]hostRun, len(hosts))
	var wg sync.WaitGroup
	for i := range hosts {
		wg.Go(func() {
			r := &runs[i]
			env := *k.env
			env.stdout, env.stderr = &r.out, &r.errOut
			kk := *k
			kk.env, kk.target = &env, &hosts[i]
			r.code = kk.run(hosts[i].Raw, payload)
		})
	}
	wg.Wait()
	code := exitOK
	for i, r := range runs {
		host, _ := json.Marshal(hosts[i].Raw)
		if r.code == exitOK {
			var answer bytes.Buffer
			if err := json.Compact(&answer, r.out.Bytes()); err == nil {
				fmt.Fprintf(k.env.stdout, "{\"host\":%s,\"answer\":%s}\n", host, answer.Bytes())
			}
		}
		for _, line := range strings.Split(strings.TrimRight(r.errOut.String(), "\n"), "\n") {
			if line != "" {
				fmt.Fprintf(k.env.stderr, "mgmtgen: %s: %s\n", hosts[i].Raw, strings.TrimPrefix(line, "mgmtgen: "))
			}
		}
		if code == exitOK {
			code = r.code
		}
	}
	return code
}
