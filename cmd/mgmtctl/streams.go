package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

func asRemote(err error) string {
	var re *client.RemoteError
	if errors.As(err, &re) {
		return re.Text
	}
	return ""
}

func (e *env) logs(args []string) error {
	fs := e.newFlags("logs")
	stream := fs.String("stream", "all", "stdout, stderr or all")
	follow := fs.Bool("f", false, "follow new output")
	fs.BoolVar(follow, "follow", false, "follow new output")
	since := fs.Duration("since", 0, "only output from the last `DUR`")
	lines := fs.Int("n", 0, "only the last `N` lines")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("logs takes exactly one process id")
	}
	if *since < 0 || *lines < 0 {
		return usagef("logs: --since and -n must not be negative")
	}
	var streams []uint8
	switch *stream {
	case "stdout":
		streams = []uint8{0}
	case "stderr":
		streams = []uint8{1}
	case "all":
		streams = []uint8{0, 1}
	default:
		return usagef("logs: --stream must be stdout, stderr or all, not %q", *stream)
	}
	req := mgmt.LogsRequestPayload{ID: pos[0], Follow: *follow, Lines: *lines}
	if *since > 0 {
		req.SinceUnixNano = time.Now().Add(-*since).UnixNano()
	}
	return e.copyLogs(req, streams)
}

// copyLogs reads each stream (on the client's connection, or on one of its
// own against a server without mux), stdout data to stdout
// and stderr data to stderr, until every stream ends or Ctrl-C. It asks for
// the process's status first: on the wire a manager's error text and a
// snapshot look alike, so an unknown id is caught here with a clear message.
func (e *env) copyLogs(req mgmt.LogsRequestPayload, streams []uint8) error {
	c, err := e.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(e.ctx, e.timeout)
	stop := bound(ctx, c)
	_, err = c.Status(ctx, &mgmt.StatusRequestPayload{ID: req.ID})
	stop()
	err = e.timedOut(ctx, "", err)
	cancel()
	if err != nil {
		return fmt.Errorf("logs %s: %w", req.ID, remoteText(err))
	}
	errs := make([]error, len(streams))
	var wg sync.WaitGroup
	for i, s := range streams {
		r := req
		r.Stream = s
		out := e.stdout
		if s == 1 {
			out = e.stderr
		}
		if !req.Follow { // snapshots in order: stdout, then stderr
			if err := e.copyLogStream(c, &r, out); err != nil {
				return err
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.copyLogStream(c, &r, out)
		}()
	}
	wg.Wait()
	if len(errs) == 2 && errs[0] != nil && errs[1] != nil && errs[0].Error() == errs[1].Error() {
		return errs[0] // both streams met the same end: say it once
	}
	return errors.Join(errs...)
}

// copyLogStream copies one stream's data, as it is, to out. --timeout bounds
// a snapshot as a whole, and a follow's first frame (the snapshot, which a
// manager sends at once); a follow then waits for output indefinitely.
// Ctrl-C cancels e.ctx, which ends the stream (and Recv).
func (e *env) copyLogStream(c *mgmt.Client, req *mgmt.LogsRequestPayload, out io.Writer) error {
	ctx, cancel := context.WithCancelCause(e.ctx)
	defer cancel(nil)
	timer := time.AfterFunc(e.timeout, func() { cancel(errNoSnapshot) })
	defer timer.Stop()
	first := req.Follow // a follow stops the timer at its first frame
	st, err := c.Logs(ctx, req)
	if err != nil {
		return e.logsErr(ctx, req, err)
	}
	defer st.Close()
	var p mgmt.LogsStreamPayload // one buffer for every chunk
	for {
		err := st.RecvInto(&p)
		if first {
			timer.Stop()
			first = false
		}
		if err == io.EOF {
			if req.Follow && e.ctx.Err() == nil {
				return fmt.Errorf("logs %s: the manager ended the stream (shutting down?)", req.ID)
			}
			return nil
		}
		if err != nil {
			return e.logsErr(ctx, req, err)
		}
		if p.EOF && req.Follow { // a follow ends with an EOF frame only on an error
			return fmt.Errorf("logs %s: %s", req.ID, p.Data)
		}
		if _, err := out.Write(p.Data); err != nil {
			return err
		}
	}
}

// errNoSnapshot is the cause of a logs stream ended by --timeout.
var errNoSnapshot = errors.New("no snapshot")

// logsErr reports a logs stream failure, naming --timeout when it ended it.
func (e *env) logsErr(ctx context.Context, req *mgmt.LogsRequestPayload, err error) error {
	if errors.Is(context.Cause(ctx), errNoSnapshot) && e.ctx.Err() == nil {
		return status.Errorf(status.DeadlineExceeded, "logs %s: the manager at %s sent no snapshot within %v (--timeout)", req.ID, e.socket, e.timeout)
	}
	return e.streamErr("logs "+req.ID, err)
}

// streamErr reports a stream failure, or nothing when Ctrl-C ended it.
func (e *env) streamErr(what string, err error) error {
	if e.ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (e *env) events(args []string) error {
	fs := e.newFlags("events")
	procs := fs.String("process", "", "only these process `IDS` (comma-separated)")
	types := fs.String("type", "", "only these event `TYPES`, e.g. process.started,process.crashed")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("events takes no arguments (use --process)")
	}
	c, err := e.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	pids := splitList(*procs)
	if err := e.checkIDs(c, pids); err != nil {
		return err
	}
	st, err := c.Events(e.ctx, &mgmt.EventsSubscribePayload{ProcessIDs: pids, Types: splitList(*types)})
	if err != nil {
		return e.streamErr("events", err)
	}
	for ev, err := range st.All() { // Ctrl-C cancels e.ctx, ending the stream
		if err != nil {
			return e.streamErr("events", err)
		}
		if err := e.printEvent(ev); err != nil {
			return err
		}
	}
	if e.ctx.Err() == nil {
		return errors.New("events: the manager ended the stream (shutting down?)")
	}
	return nil
}

// checkIDs fails on the first id the manager does not know: a mistyped
// --process would otherwise match nothing, silently.
func (e *env) checkIDs(c *mgmt.Client, ids []string) error {
	ctx, cancel := context.WithTimeout(e.ctx, e.timeout)
	defer cancel()
	defer bound(ctx, c)()
	for _, id := range ids {
		if _, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: id}); err != nil {
			return fmt.Errorf("events --process %s: %w", id, remoteText(e.timedOut(ctx, "", err)))
		}
	}
	return nil
}

func (e *env) printEvent(ev *mgmt.EventsStreamPayload) error {
	ts := time.Unix(0, ev.Timestamp)
	if e.json {
		return e.printJSON(struct {
			Time    time.Time `json:"time"`
			Process string    `json:"process"`
			Type    string    `json:"type"`
			Summary string    `json:"summary"`
		}{ts, ev.ProcessID, ev.Type, ev.Summary})
	}
	_, err := fmt.Fprintf(e.stdout, "%s  %-10s %-18s %s\n", ts.Format("15:04:05.000"), esc(ev.ProcessID), esc(ev.Type), esc(ev.Summary))
	return err
}
