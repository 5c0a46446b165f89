package mgmt_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/client"
)

// Environment of the re-executed test binary (helper modes).
const (
	envHelper = "MGMT_HARDEN_HELPER" // "call", "stream" or "dial"
	envSocket = "MGMT_HARDEN_SOCKET"
)

// TestHardenHelperProcess is not a test: it is the body of the child
// processes the fault and security tests start (re-executing the test
// binary). It prints "ready" once its call or stream is under way.
func TestHardenHelperProcess(t *testing.T) {
	mode := os.Getenv(envHelper)
	if mode == "" {
		t.Skip("helper process body; run by other tests")
	}
	path := os.Getenv(envSocket)
	ctx := context.Background()
	cl, err := mgmt.Dial(path)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(3)
	}
	switch mode {
	case "call":
		fmt.Println("ready")
		_, err = cl.Status(ctx, &mgmt.StatusRequestPayload{ID: "block"})
	case "stream":
		var st *mgmt.LogsClientStream
		if st, err = cl.Logs(ctx, &mgmt.LogsRequestPayload{ID: "a", Follow: true}); err == nil {
			if _, err = st.Recv(); err == nil {
				fmt.Println("ready")
				_, err = st.Recv()
			}
		}
	case "dial":
		_, err = cl.List(ctx)
		if err == nil {
			fmt.Println("served")
			os.Exit(0)
		}
	}
	fmt.Println("result:", err)
	os.Exit(4)
}

// helperCmd returns the test binary re-executed in helper mode.
func helperCmd(t *testing.T, mode, path string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHardenHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"="+mode, envSocket+"="+path)
	return cmd
}

// TestFaultClientKilled: a client process killed with SIGKILL mid-call and
// mid-stream; the server cancels the handlers' contexts and serves on.
func TestFaultClientKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	noLeaks(t)
	h := newHHandler()
	h.ended = make(chan error, 4)
	_, path, _ := hStart(t, mgmt.ServerOptions{Handler: h})
	for _, mode := range []string{"call", "stream"} {
		t.Run(mode, func(t *testing.T) {
			cmd := helperCmd(t, mode, path)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(out).ReadString('\n')
			if line != "ready\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child said %q", line)
			}
			if mode == "call" {
				hWaitFor(t, 5*time.Second, "the blocking call", func() bool { return h.blockedCalls() > 0 })
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			hWaitEnded(t, h, "killed "+mode+" client")
			hDial(t, path).list(1)
		})
	}
}

// outcomes tallies call results by error text.
type outcomes struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *outcomes) add(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	k := "ok"
	if err != nil {
		k = err.Error()
	}
	o.n[k]++
}

func (o *outcomes) String() string {
	var s []string
	for k, v := range o.n {
		s = append(s, fmt.Sprintf("%d x %q", v, k))
	}
	sort.Strings(s)
	return strings.Join(s, "; ")
}

// clearErr reports whether err is a clear, expected failure of a call cut
// by the server's shutdown.
func clearErr(err error) bool {
	return err == nil || errors.Is(err, client.ErrClosed) || errors.Is(err, io.EOF)
}

// TestFaultCloseUnderLoad: Close during 64 clients' concurrent calls (some
// slow) and 16 open streams: every call is answered or fails with a clear
// error, no hang, no goroutine left.
func TestFaultCloseUnderLoad(t *testing.T) {
	noLeaks(t)
	h := newHHandler()
	h.streamUp = make(chan struct{}, 16)
	srv, path, _ := hStart(t, mgmt.ServerOptions{Handler: h})
	var calls, streams outcomes
	var wg sync.WaitGroup
	for i := range 16 {
		cl, err := mgmt.Dial(path)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		st, err := cl.Logs(context.Background(), &mgmt.LogsRequestPayload{ID: fmt.Sprint(i), Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer st.Close()
			for {
				if _, err := st.Recv(); err != nil {
					streams.add(err)
					return
				}
			}
		})
	}
	for range 16 {
		<-h.streamUp
	}
	stop := make(chan struct{})
	var slowOK atomic.Int64
	for i := range 64 {
		cl, err := mgmt.Dial(path)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		wg.Go(func() {
			for r := 0; ; r++ {
				id := fmt.Sprintf("c%d", i)
				if r%4 == 0 {
					id = "slow"
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				s, err := cl.Status(ctx, &mgmt.StatusRequestPayload{ID: id})
				cancel()
				if err == nil && s.Entry.ID != id {
					err = fmt.Errorf("mismatched response %q for %q", s.Entry.ID, id)
				}
				if id == "slow" {
					if err != nil {
						err = fmt.Errorf("slow: %w", err)
					} else {
						slowOK.Add(1)
					}
				}
				calls.add(err)
				if err != nil {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	closeTook := time.Since(start)
	close(stop)
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("calls or streams hang after Close")
	}
	t.Logf("Close took %v; calls: %s; streams: %s", closeTook, &calls, &streams)
	if done, ok := h.slowDone.Load(), slowOK.Load(); done != ok {
		t.Errorf("%d slow calls completed by the handler, %d answered: responses lost", done, ok)
	}
	for k := range calls.n {
		if k != "ok" && !strings.HasPrefix(strings.TrimPrefix(k, "slow: "), "client: connection closed") {
			t.Errorf("unclear call failure %q", k)
		}
	}
	for k := range streams.n {
		if k != io.EOF.Error() && !strings.HasPrefix(k, "client: connection closed") {
			t.Errorf("unclear stream end %q", k)
		}
	}
}

// TestFaultSocketRemoved: the socket file removed under a running server.
// Existing connections keep working; new dials fail (nothing at the path);
// another server may then start on the path, and the first one's Close
// does not remove the second one's socket.
func TestFaultSocketRemoved(t *testing.T) {
	noLeaks(t)
	srv, path, _ := hStart(t, mgmt.ServerOptions{})
	c := hDial(t, path)
	c.list(1)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	c.list(2)
	if _, err := mgmt.Dial(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dial after removal: %v, want ENOENT", err)
	}
	_, _, _ = hStart(t, mgmt.ServerOptions{SocketPath: path})
	c.list(3) // the first server still answers its connection
	if err := srv.Close(hCtx(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("first server's Close removed the second server's socket: %v", err)
	}
	hDial(t, path).list(1)
}

// TestFaultSecondServer: a second server on a live server's path is refused
// with an error naming the path; the first keeps serving.
func TestFaultSecondServer(t *testing.T) {
	noLeaks(t)
	_, path, _ := hStart(t, mgmt.ServerOptions{})
	c := hDial(t, path)
	srv2, err := mgmt.NewServer(mgmt.ServerOptions{SocketPath: path, Handler: newHHandler()})
	if err != nil {
		t.Fatal(err)
	}
	err = srv2.Start()
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Start: %v, want an error naming %s", err, path)
	}
	t.Logf("second server refused: %v", err)
	srv2.Close(hCtx(t, time.Second))
	c.list(1)
	hDial(t, path).list(1)
	if _, err := os.Stat(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
}
