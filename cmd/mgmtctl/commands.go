package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
)

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// unary runs one call with the --timeout deadline on a fresh connection.
func (e *env) unary(call func(ctx context.Context, c *mgmt.Client) error) error {
	c, err := e.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(e.ctx, e.timeout)
	defer cancel()
	return call(ctx, c)
}

func (e *env) list(args []string) error {
	pos, err := parseInterleaved(newFlags("list"), args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("list takes no arguments")
	}
	return e.unary(func(ctx context.Context, c *mgmt.Client) error {
		resp, err := c.List(ctx)
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		if e.json {
			return e.printJSON(entriesJSON(resp.Entries))
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSTATE\tPID\tRSS")
		for _, en := range resp.Entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", en.ID, en.Name, en.State, pidText(en.ChildPID), humanBytes(en.RSS))
		}
		return tw.Flush()
	})
}

func (e *env) status(args []string) error {
	pos, err := parseInterleaved(newFlags("status"), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("status takes exactly one process id")
	}
	return e.unary(func(ctx context.Context, c *mgmt.Client) error {
		resp, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: pos[0]})
		if err != nil {
			return fmt.Errorf("status %s: %w", pos[0], remoteText(err))
		}
		return e.printEntry(resp.Entry)
	})
}

func (e *env) startStop(cmd string, args []string) error {
	ids, err := parseInterleaved(newFlags(cmd), args)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return usagef("%s needs at least one process id", cmd)
	}
	var failed []error
	for _, id := range ids {
		err := e.unary(func(ctx context.Context, c *mgmt.Client) error {
			var resp *mgmt.StatusResponsePayload
			var err error
			if cmd == "start" {
				resp, err = c.Start(ctx, &mgmt.StartRequestPayload{ID: id})
			} else {
				resp, err = c.Stop(ctx, &mgmt.StopRequestPayload{ID: id})
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", cmd, id, remoteText(err))
			}
			return e.printEntry(resp.Entry)
		})
		if err != nil {
			fmt.Fprintln(e.stderr, "mgmtctl:", err)
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s: %d of %d failed", cmd, len(failed), len(ids))
	}
	return nil
}

func (e *env) printEntry(en mgmt.ListEntry) error {
	if e.json {
		return e.printJSON(entryJSON(en))
	}
	_, err := fmt.Fprintf(e.stdout, "%s\t%s\t%s\tpid %s\trss %s\n", en.ID, en.Name, en.State, pidText(en.ChildPID), humanBytes(en.RSS))
	return err
}

// remoteText strips the method prefix of a remote error: the command line
// already names the operation.
func remoteText(err error) error {
	if r := asRemote(err); r != "" {
		return errors.New(r)
	}
	return err
}

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

func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	return enc.Encode(v)
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
