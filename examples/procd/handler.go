package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/mgmtgen/mgmtgen/examples/procd/supervisor"
	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/server"
)

// handler serves the management protocol from a supervisor: each method maps
// onto one supervisor call. Errors carry a status code (coded: NotFound for
// an unknown process id, InvalidArgument for a bad stream or filter, ...):
// on an extended connection they travel as error frames with it; on a
// legacy one their text travels in the response's Err field (the generated
// glue puts it there), as a cliwrap manager answers.
type handler struct {
	sup *supervisor.Supervisor
	log *slog.Logger // nil: slog.Default()

	// ready is closed once procd has started its processes; Start and Stop
	// wait for it, so a stop that arrives during startup is not undone by
	// the startup (nil: ready at once).
	ready chan struct{}

	// subscribers counts the Events streams being served.
	subscribers atomic.Int64
}

var _ mgmt.Handler = (*handler)(nil)

func (h *handler) logger() *slog.Logger {
	if h.log == nil {
		return slog.Default()
	}
	return h.log
}

func entry(e supervisor.Entry) mgmt.ListEntry {
	return mgmt.ListEntry{ID: e.ID, Name: e.Name, State: string(e.State), ChildPID: e.ChildPID, RSS: e.RSS}
}

func (h *handler) List(context.Context) (*mgmt.ListResponsePayload, error) {
	list := h.sup.List()
	resp := &mgmt.ListResponsePayload{Entries: make([]mgmt.ListEntry, len(list))}
	for i, e := range list {
		resp.Entries[i] = entry(e)
	}
	return resp, nil
}

func (h *handler) Status(_ context.Context, req *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
	e, err := h.sup.Status(req.ID)
	if err != nil {
		return nil, coded(err)
	}
	return &mgmt.StatusResponsePayload{Entry: entry(e)}, nil
}

// waitReady waits until procd has started its processes.
func (h *handler) waitReady(ctx context.Context) error {
	if h.ready == nil {
		return nil
	}
	select {
	case <-h.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *handler) Start(ctx context.Context, req *mgmt.StartRequestPayload) (*mgmt.StatusResponsePayload, error) {
	if err := h.waitReady(ctx); err != nil {
		return nil, err
	}
	if err := h.sup.Start(req.ID); err != nil {
		return nil, coded(err)
	}
	return h.Status(ctx, &mgmt.StatusRequestPayload{ID: req.ID})
}

func (h *handler) Stop(ctx context.Context, req *mgmt.StopRequestPayload) (*mgmt.StatusResponsePayload, error) {
	if err := h.waitReady(ctx); err != nil {
		return nil, err
	}
	if err := h.sup.Stop(ctx, req.ID); err != nil {
		if ctx.Err() != nil && !errors.Is(err, supervisor.ErrUnknownProcess) {
			// The client gave up (Ctrl-C, its deadline) or went away: the
			// stop it asked for goes on without it.
			h.logger().Info("stop: the client stopped waiting; the process goes on stopping", "id", req.ID, "reason", ctx.Err())
		}
		return nil, coded(err)
	}
	return h.Status(ctx, &mgmt.StatusRequestPayload{ID: req.ID})
}

// Logs sends a snapshot (one frame, EOF true) or, with Follow, the snapshot
// (EOF false) and then every new chunk until the client goes away. On an
// extended connection an unknown process ends the stream with NotFound and
// a stream other than 0 or 1 with InvalidArgument. On a legacy one those
// cases answer as the cliwrap manager does (docs/wire.md, "Logs"):
// a snapshot of an unknown process or of a stream other than stdout/stderr
// is empty; a follow of an unknown process gets one empty frame and then
// nothing until the client goes or procd shuts down; a follow of another
// stream gets one frame with EOF true and the error text in Data.
func (h *handler) Logs(ctx context.Context, req *mgmt.LogsRequestPayload, out mgmt.LogsSender) error {
	// The stream keeps its own copy of the id, not the decoded request (whose
	// strings may share one allocation with everything the request held).
	id, stream := strings.Clone(req.ID), req.Stream
	frame := func(data []byte, eof bool) *mgmt.LogsStreamPayload {
		return &mgmt.LogsStreamPayload{ID: id, Stream: stream, Data: data, EOF: eof}
	}
	if server.Extended(ctx) {
		// An extended client learns why with a code (the stream's end
		// carries it); a legacy one gets the cliwrap answers below.
		if _, err := h.sup.Status(req.ID); err != nil {
			return coded(err)
		}
		if req.Stream != supervisor.StreamStdout && req.Stream != supervisor.StreamStderr {
			return coded(fmt.Errorf("%w %d (want 0 for stdout or 1 for stderr)", supervisor.ErrInvalidStream, req.Stream))
		}
	}
	if !req.Follow {
		data, err := h.sup.Snapshot(req.ID, int(req.Stream), req.SinceUnixNano, req.Lines)
		if err != nil {
			data = nil // unknown process or stream: an empty snapshot
		}
		return out.Send(frame(data, true))
	}
	if req.Stream != supervisor.StreamStdout && req.Stream != supervisor.StreamStderr {
		err := fmt.Errorf("%w %d (want 0 for stdout or 1 for stderr)", supervisor.ErrInvalidStream, req.Stream)
		return out.Send(frame([]byte(err.Error()), true))
	}
	snap, f, err := h.sup.Follow(ctx, req.ID, int(req.Stream), req.SinceUnixNano, req.Lines)
	if errors.Is(err, supervisor.ErrUnknownProcess) {
		if err := out.Send(frame(nil, false)); err != nil {
			return err
		}
		<-ctx.Done() // the client went away or procd is shutting down
		return nil
	}
	if err != nil {
		return out.Send(frame([]byte(err.Error()), true))
	}
	defer f.Close()
	if err := out.Send(frame(snap, false)); err != nil {
		return err
	}
	for {
		chunk, err := f.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, supervisor.ErrClosed) {
				return nil // the client went away or procd is shutting down
			}
			h.logger().Warn("logs follower dropped", "id", id, "stream", stream, "reason", err)
			return coded(fmt.Errorf("logs %q: %w", id, err))
		}
		if err := out.Send(frame(chunk, false)); err != nil {
			return err
		}
	}
}

// Events streams lifecycle events matching the request's filters until the
// client goes away. A subscriber too slow for its queue loses events (counted
// by the supervisor); it never slows the supervisor down.
func (h *handler) Events(ctx context.Context, req *mgmt.EventsSubscribePayload, out mgmt.EventsSender) error {
	sub, err := h.sup.Subscribe(req.ProcessIDs, req.Types, 0)
	if err != nil {
		return coded(err)
	}
	defer sub.Close()
	h.subscribers.Add(1)
	defer h.subscribers.Add(-1)
	// Subscribed: on an extended connection the client's Events returns
	// now, so every event from here on reaches it.
	if err := out.Ready(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.C():
			if !ok {
				return nil // supervisor shut down
			}
			err := out.Send(&mgmt.EventsStreamPayload{ProcessID: ev.ProcessID, Type: ev.Type, Timestamp: ev.Timestamp, Summary: ev.Summary})
			if err != nil {
				return err
			}
		}
	}
}
