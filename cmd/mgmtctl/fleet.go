package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/internal/sshdial"
)

// Fleets: --host ssh://... (repeatable) and --hosts FILE name managers on
// other hosts, reached through the system ssh (internal/sshdial). With one
// host a command runs as it does on a local socket. With several, it runs
// on every host at once (at most maxParallelHosts at a time), and the
// results are printed in the order the hosts were given: list as one table
// with a HOST column, status, start and stop with each line prefixed by
// its host; with --json every object gains a "host" field (list, start and
// stop print one array for all hosts, status an array of objects). A host
// that fails is reported on stderr as "mgmtctl: HOST: ..." and does not
// stop the others; the exit status is 1 if any host failed. logs and
// events follow one manager: they take one host.

// maxParallelHosts bounds the hosts a command talks to at once.
const maxParallelHosts = 32

// hostsFlag collects repeated --host values.
type hostsFlag []string

func (h *hostsFlag) String() string     { return strings.Join(*h, ",") }
func (h *hostsFlag) Set(v string) error { *h = append(*h, v); return nil }

// parseHosts parses --host and --hosts (sshdial.ParseHosts); its errors
// are usage errors.
func parseHosts(flags []string, file string) ([]sshdial.Target, error) {
	hosts, err := sshdial.ParseHosts("--host", flags, file)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return hosts, nil
}

// hostName is how a host is shown in text: its address without "ssh://".
func hostName(t sshdial.Target) string { return strings.TrimPrefix(t.Raw, "ssh://") }

// hostRun is one host's part of a fleet command.
type hostRun struct {
	target  sshdial.Target
	stdout  bytes.Buffer
	stderr  bytes.Buffer
	err     error
	entries []mgmt.ListEntry // list, text: the rows
}

// forHost is e for one host of a fleet, writing into r's buffers.
func (e *env) forHost(r *hostRun) *env {
	h := *e
	h.hosts = nil
	h.target = &r.target
	h.socket = r.target.Raw
	h.stdout, h.stderr = &r.stdout, &r.stderr
	if !e.json {
		h.listRows = func(en []mgmt.ListEntry) { r.entries = en }
	}
	return &h
}

// fleet runs cmd on every host and prints the results.
func (e *env) fleet(cmd string, args []string) error {
	switch cmd {
	case "logs", "events", "dial-stdio":
		return usagef("%s works with one manager: give one --host", cmd)
	case "help":
		return errHelp
	}
	runs := make([]*hostRun, len(e.hosts))
	sem := make(chan struct{}, maxParallelHosts)
	var wg sync.WaitGroup
	for i, t := range e.hosts {
		runs[i] = &hostRun{target: t}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			h := e.forHost(runs[i])
			runs[i].err = h.explain(h.command(cmd, args))
		})
	}
	wg.Wait()
	var ue *usageError
	if errors.As(runs[0].err, &ue) || errors.Is(runs[0].err, errHelp) {
		return runs[0].err // the same for every host
	}
	if err := e.printFleet(cmd, runs); err != nil {
		return err
	}
	failed := 0
	for _, r := range runs {
		// What the host's command reported itself, then its error.
		for _, line := range strings.Split(strings.TrimRight(r.stderr.String(), "\n"), "\n") {
			if line != "" {
				fmt.Fprintf(e.stderr, "mgmtctl: %s: %s\n", esc(hostName(r.target)), strings.TrimPrefix(line, "mgmtctl: "))
			}
		}
		if r.err == nil {
			continue
		}
		failed++
		if errors.Is(r.err, errSilent) {
			continue
		}
		for _, line := range strings.Split(r.err.Error(), "\n") {
			fmt.Fprintf(e.stderr, "mgmtctl: %s: %s\n", esc(hostName(r.target)), esc(line))
		}
	}
	if failed > 0 {
		fmt.Fprintf(e.stderr, "mgmtctl: %s: %d of %d hosts failed\n", cmd, failed, len(runs))
		return errSilent
	}
	return nil
}

// printFleet prints the hosts' results in order.
func (e *env) printFleet(cmd string, runs []*hostRun) error {
	if e.json {
		return e.printFleetJSON(runs)
	}
	if cmd == "list" {
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HOST\tID\tNAME\tSTATE\tPID\tRSS")
		for _, r := range runs {
			for _, en := range r.entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", esc(hostName(r.target)), esc(en.ID), esc(en.Name), esc(en.State),
					pidText(en.ChildPID), humanBytes(en.RSS))
			}
		}
		return tw.Flush()
	}
	for _, r := range runs {
		for _, line := range strings.SplitAfter(r.stdout.String(), "\n") {
			if line != "" {
				fmt.Fprintf(e.stdout, "%s: %s", esc(hostName(r.target)), line)
			}
		}
	}
	return nil
}

// printFleetJSON prints one array holding every host's objects, each with
// a "host" field first.
func (e *env) printFleetJSON(runs []*hostRun) error {
	all := []json.RawMessage{}
	for _, r := range runs {
		host, _ := json.Marshal(r.target.Raw)
		dec := json.NewDecoder(&r.stdout)
		for dec.More() {
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return fmt.Errorf("%s: %v", hostName(r.target), err)
			}
			var objs []json.RawMessage
			if len(v) > 0 && v[0] == '[' {
				if err := json.Unmarshal(v, &objs); err != nil {
					return err
				}
			} else {
				objs = []json.RawMessage{v}
			}
			for _, o := range objs {
				all = append(all, withHost(o, host))
			}
		}
	}
	return e.printJSON(all)
}

// withHost puts "host": host first in the JSON object o.
func withHost(o json.RawMessage, host []byte) json.RawMessage {
	o = bytes.TrimSpace(o)
	out := append([]byte(`{"host":`), host...)
	if rest := bytes.TrimSpace(o[1:]); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, o[1:]...)
}
