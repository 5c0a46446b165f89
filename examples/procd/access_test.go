package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/examples/procd/supervisor"
	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/internal/schema"
	"github.com/mgmtgen/mgmtgen/internal/seconduser"
	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// TestAccessLevelsMatchSchema: procd's list of the protocol's access
// levels is schema/mgmt.yaml's.
func TestAccessLevelsMatchSchema(t *testing.T) {
	f, err := schema.Load("../../schema/mgmt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var levels []string
	for _, a := range f.Access {
		levels = append(levels, a.Name)
	}
	if !slices.Equal(levels, accessLevels) {
		t.Errorf("schema's access levels %v, procd's %v", levels, accessLevels)
	}
}

// TestAccessConfig: users and groups by name or id; unknown ones and
// unknown levels are errors naming them.
func TestAccessConfig(t *testing.T) {
	cfg, err := supervisor.ParseConfig("a.yaml", []byte("socket: /run/x.sock\naccess:\n  read: {users: [root, 65534], groups: [root]}\n  admin: {users: [0]}\nprocesses:\n"+shProc("p", "exec sleep 1", "")))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Access["read"]; !slices.Equal(r.UIDs, []uint32{0, 65534}) || !slices.Equal(r.GIDs, []uint32{0}) {
		t.Errorf("read: %+v", r)
	}
	if _, err := accessPolicy(cfg.Access); err != nil {
		t.Errorf("accessPolicy: %v", err)
	}
	_, err = supervisor.ParseConfig("a.yaml", []byte("socket: /run/x.sock\naccess:\n  read: {users: [no-such-user-s15], groups: [no-such-group-s15]}\nprocesses:\n"+shProc("p", "exec sleep 1", "")))
	if err == nil || !strings.Contains(err.Error(), `a.yaml:3:18: access level "read": unknown user "no-such-user-s15"`) ||
		!strings.Contains(err.Error(), `unknown group "no-such-group-s15"`) {
		t.Errorf("unknown names: %v", err)
	}
	if _, err := accessPolicy(map[string]supervisor.AccessGrant{"write": {}}); err == nil ||
		err.Error() != `access: unknown access level "write" (the protocol's are read, admin)` {
		t.Errorf("unknown level: %v", err)
	}
}

// TestAccessRefusedCall runs procd with "read" granted to uid 65534: that
// user lists and asks for status, and its Stop is refused with an error
// naming the call, the level and the uid, on the same connection, which
// goes on serving it: on an extended connection with PermissionDenied, on
// a legacy one as text alone. The refusal is in procd's log.
func TestAccessRefusedCall(t *testing.T) {
	dir := shortDir(t)
	var logs syncLog
	yaml := "runtime_dir: " + filepath.Join(dir, "run") + "\naccess:\n  read: {users: [" + fmt.Sprint(seconduser.UID) + "]}\nprocesses:\n" +
		shProc("web", "exec sleep 30", "")
	cfg, err := supervisor.ParseConfig("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDaemon(cfg, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx, 10*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("procd: %v", err)
		}
	})
	c := dialWait(t, cfg.Socket, nil)
	defer c.Close()
	p := &procd{client: c}
	p.waitState(t, "web", "running")
	seconduser.OpenDirs(t, cfg.Socket)
	if err := os.Chmod(cfg.Socket, 0o666); err != nil { // the test lets the other user connect
		t.Fatal(err)
	}
	out, err := seconduser.Command(t, "TestSecondUserHelper", "access", "SOCK="+cfg.Socket).CombinedOutput()
	if err != nil {
		t.Fatalf("second user: %v\n%s", err, out)
	}
	// Once on an extended connection (the refusal carries PermissionDenied),
	// once on a legacy one (the text alone, as a cliwrap client sees it).
	refused := "permission denied: Stop needs admin access, which uid 65534 (gid 65534) does not have\n"
	want := "list: web\n" + "stop: PermissionDenied " + refused + "status: web running\n" +
		"list: web\n" + "stop: Unknown " + refused + "status: web running\n"
	var got strings.Builder
	for _, l := range strings.SplitAfter(string(out), "\n") {
		if strings.HasPrefix(l, "list: ") || strings.HasPrefix(l, "stop: ") || strings.HasPrefix(l, "status: ") || strings.HasPrefix(l, "dial: ") {
			got.WriteString(l)
		}
	}
	if got.String() != want {
		t.Errorf("second user saw\n%s\nwant\n%s", got.String(), want)
	}
	if l := logs.String(); !strings.Contains(l, `msg="server: call refused: no access" protocol=mgmt method=Stop access=admin uid=65534`) {
		t.Errorf("refusal not in procd's log:\n%s", l)
	}
	p.waitState(t, "web", "running") // the refused Stop stopped nothing
}

// TestSecondUserHelper is the second user's part of the tests above.
func TestSecondUserHelper(t *testing.T) {
	switch seconduser.Mode() {
	case "":
		t.Skip("the second user's part of other tests")
	case "access":
		for _, legacy := range []bool{false, true} {
			accessCalls(mgmt.ClientOptions{NoRedial: true, Legacy: legacy})
		}
	}
}

// accessCalls is the second user's List, refused Stop and Status, on a
// connection dialled with opts; a refusal prints its code and text.
func accessCalls(opts mgmt.ClientOptions) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := mgmt.DialOptions(ctx, os.Getenv("SOCK"), opts)
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer c.Close()
	if l, err := c.List(ctx); err != nil {
		fmt.Println("list:", err)
	} else {
		fmt.Println("list:", l.Entries[0].ID)
	}
	_, err = c.Stop(ctx, &mgmt.StopRequestPayload{ID: "web"})
	var re *client.RemoteError
	if errors.As(err, &re) {
		fmt.Println("stop:", status.CodeOf(err), re.Text)
	} else {
		fmt.Println("stop:", err)
	}
	if st, err := c.Status(ctx, &mgmt.StatusRequestPayload{ID: "web"}); err != nil {
		fmt.Println("status:", err)
	} else {
		fmt.Println("status:", st.Entry.ID, st.Entry.State)
	}
}

// syncLog is procd's log, read while procd writes it (at procd's level,
// Info).
type syncLog struct{ servertest.LogBuffer }

func (l *syncLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }
