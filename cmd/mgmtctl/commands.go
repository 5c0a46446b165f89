package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"sync"
	"text/tabwriter"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// newFlags is the flag set of a command; --json may also follow the command.
func (e *env) newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&e.json, "json", e.json, "JSON output")
	return fs
}

// unary runs one call, named what, with the --timeout deadline on a fresh
// connection; the deadline holds even against a stalled response.
func (e *env) unary(what string, call func(ctx context.Context, c *mgmt.Client) error) error {
	c, err := e.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(e.ctx, e.timeout)
	defer cancel()
	defer bound(ctx, c)()
	return e.timedOut(ctx, what, call(ctx, c))
}

func (e *env) list(args []string) error {
	pos, err := parseInterleaved(e.newFlags("list"), args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("list takes no arguments")
	}
	return e.unary("list", func(ctx context.Context, c *mgmt.Client) error {
		resp, err := c.List(ctx)
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		if e.json {
			return e.printJSON(entriesJSON(resp.Entries))
		}
		if e.listRows != nil { // one host of a fleet: printed with the others
			e.listRows(resp.Entries)
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSTATE\tPID\tRSS")
		for _, en := range resp.Entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", esc(en.ID), esc(en.Name), esc(en.State), pidText(en.ChildPID), humanBytes(en.RSS))
		}
		return tw.Flush()
	})
}

func (e *env) status(args []string) error {
	pos, err := parseInterleaved(e.newFlags("status"), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("status takes exactly one process id")
	}
	return e.unary("status "+pos[0], func(ctx context.Context, c *mgmt.Client) error {
		resp, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: pos[0]})
		if err != nil {
			return fmt.Errorf("status %s: %w", pos[0], remoteText(err))
		}
		return e.printEntry(resp.Entry)
	})
}

// startStop starts or stops every id at once, on one connection, and
// reports each result in the order given. Stopping waits for the processes
// to end (up to their stop timeouts), so start and stop have no deadline
// unless --timeout is given; Ctrl-C gives up waiting.
func (e *env) startStop(cmd string, args []string) error {
	ids, err := parseInterleaved(e.newFlags(cmd), args)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return usagef("%s needs at least one process id", cmd)
	}
	c, err := e.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := e.ctx, context.CancelFunc(func() {})
	if e.timeoutSet {
		ctx, cancel = context.WithTimeout(e.ctx, e.timeout)
	}
	defer cancel()
	defer bound(ctx, c)()
	entries := make([]mgmt.ListEntry, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			entries[i], errs[i] = e.startStopOne(ctx, c, cmd, id)
			errs[i] = e.timedOut(ctx, "", errs[i])
		})
	}
	wg.Wait()
	return e.reportStartStop(cmd, ids, entries, errs)
}

// startStopOne starts or stops one process and returns its entry. A cliwrap
// manager answers a successful Stop with an empty entry (only Err is
// promised): the entry is then asked for with Status, and when even that
// fails, it is the id with the state the call has reached. A manager that
// never served Start (cliwrap's) is named as such.
func (e *env) startStopOne(ctx context.Context, c *mgmt.Client, cmd, id string) (mgmt.ListEntry, error) {
	var resp *mgmt.StatusResponsePayload
	var err error
	if cmd == "start" {
		resp, err = c.Start(ctx, &mgmt.StartRequestPayload{ID: id})
		if asRemote(err) == "unknown request type "+mgmt.MsgStartRequest.String() {
			return mgmt.ListEntry{}, fmt.Errorf("the manager does not support start (it answered %q)", asRemote(err))
		}
	} else {
		resp, err = c.Stop(ctx, &mgmt.StopRequestPayload{ID: id})
	}
	if err != nil {
		return mgmt.ListEntry{}, err
	}
	if resp.Entry.ID != "" {
		return resp.Entry, nil
	}
	if st, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: id}); err == nil && st.Entry.ID != "" {
		return st.Entry, nil
	}
	state := "stopped"
	if cmd == "start" {
		state = "started"
	}
	return mgmt.ListEntry{ID: id, State: state}, nil
}

func (e *env) reportStartStop(cmd string, ids []string, entries []mgmt.ListEntry, errs []error) error {
	failed := 0
	var ok []entryOut
	for i, id := range ids {
		if errs[i] != nil {
			failed++
			fmt.Fprintf(e.stderr, "mgmtctl: %s\n", esc(fmt.Sprintf("%s %s: %v", cmd, id, e.explain(remoteText(errs[i])))))
			continue
		}
		if e.json {
			ok = append(ok, entryJSON(entries[i]))
			continue
		}
		fmt.Fprintf(e.stdout, "%s: %s\n", esc(id), stateText(entries[i]))
	}
	if e.json && ok != nil {
		if err := e.printJSON(ok); err != nil {
			return err
		}
	}
	switch {
	case failed == 0:
		return nil
	case len(ids) == 1:
		return silently(errs[0]) // the one failure is reported above
	}
	msg := fmt.Sprintf("%s: %d of %d failed", cmd, failed, len(ids))
	if c, same := commonCode(errs); same {
		return status.Errorf(c, "%s", msg)
	}
	return errors.New(msg)
}

// commonCode is the status code every failure in errs (nil: success)
// shares, if they share one.
func commonCode(errs []error) (status.Code, bool) {
	var code status.Code
	for _, err := range errs {
		if err == nil {
			continue
		}
		c := status.CodeOf(err)
		if code != status.OK && c != code {
			return status.OK, false
		}
		code = c
	}
	return code, code != status.OK
}

// stateText is a process's state for humans: "running (pid 42, rss 1.5MiB)".
func stateText(en mgmt.ListEntry) string {
	state := esc(en.State)
	if en.ChildPID <= 0 {
		return state
	}
	if en.RSS == 0 {
		return fmt.Sprintf("%s (pid %d)", state, en.ChildPID)
	}
	return fmt.Sprintf("%s (pid %d, rss %s)", state, en.ChildPID, humanBytes(en.RSS))
}

// printEntry prints one process as a block of "key: value" lines.
func (e *env) printEntry(en mgmt.ListEntry) error {
	if e.json {
		return e.printJSON(entryJSON(en))
	}
	_, err := fmt.Fprintf(e.stdout, "id:     %s\nname:   %s\nstate:  %s\npid:    %s\nrss:    %s\n",
		esc(en.ID), esc(en.Name), esc(en.State), pidText(en.ChildPID), humanBytes(en.RSS))
	return err
}

// remoteText strips the method prefix of a remote error: the command line
// already names the operation.
func remoteText(err error) error {
	if r := asRemote(err); r != "" {
		return &remoteTextError{text: r, err: err}
	}
	return err
}

// remoteTextError is a remote error's text alone; it unwraps to the error.
type remoteTextError struct {
	text string
	err  error
}

func (e *remoteTextError) Error() string { return e.text }
func (e *remoteTextError) Unwrap() error { return e.err }

type entryOut struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
	PID   int    `json:"pid"`
	RSS   uint64 `json:"rss"`
}

func entryJSON(en mgmt.ListEntry) entryOut {
	return entryOut{ID: en.ID, Name: en.Name, State: en.State, PID: en.ChildPID, RSS: en.RSS}
}

func entriesJSON(ens []mgmt.ListEntry) []entryOut {
	out := make([]entryOut, len(ens))
	for i, en := range ens {
		out[i] = entryJSON(en)
	}
	return out
}

// printJSON prints v as one line of JSON. encoding/json escapes C0
// controls but leaves C1 controls and other non-printable runes (a CSI
// U+009B, bidi overrides) as they are: those are escaped as \uXXXX too, so
// that JSON on a terminal is as safe as text.
func (e *env) printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(append(jsonSafe(b), '\n'))
	return err
}

func pidText(pid int) string {
	if pid <= 0 {
		return "-"
	}
	return strconv.Itoa(pid)
}

// humanBytes formats n in binary units: 512B, 1.5KiB, 23.4MiB.
func humanBytes(n uint64) string {
	if n == 0 {
		return "-"
	}
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + "B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
