package server_test

// Faults around a running server: a client process killed mid-call or
// mid-stream, Close under load, and one handler blocked forever among
// busy clients. The server ends what the fault cut, answers everything
// else, and leaves no goroutine behind.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/runtime/client"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"github.com/mgmtgen/mgmtgen/runtime/server"
	"github.com/mgmtgen/mgmtgen/runtime/server/servertest"
)

// Environment of the re-executed test binary (TestFaultHelperProcess).
const (
	envFaultMode   = "SERVER_FAULT_HELPER" // "call" or "stream"
	envFaultSocket = "SERVER_FAULT_SOCKET"
)

// TestFaultHelperProcess is not a test: it is the body of the client
// processes TestFaultClientKilled starts and kills. It sends a call that
// blocks, or opens a followed stream and reads its first frame, prints
// "ready" and waits to be killed.
func TestFaultHelperProcess(t *testing.T) {
	mode := os.Getenv(envFaultMode)
	if mode == "" {
		t.Skip("helper process body; run by TestFaultClientKilled")
	}
	nc, err := net.Dial("unix", os.Getenv(envFaultSocket))
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(3)
	}
	var frame []byte
	switch mode {
	case "call":
		frame = seedFrame(servertest.MsgEcho, 1, &servertest.EchoRequest{ID: "block"})
	case "stream":
		frame = seedFrame(servertest.MsgTail, 1, &servertest.TailRequest{Follow: true})
	}
	if _, err := nc.Write(frame); err != nil {
		fmt.Println("write:", err)
		os.Exit(3)
	}
	if mode == "stream" {
		if _, _, err := ipc.NewFrameReader(nc, 0).ReadFrame(); err != nil {
			fmt.Println("read:", err)
			os.Exit(3)
		}
	}
	fmt.Println("ready")
	select {} // until killed
}

// TestFaultClientKilled: a client process killed with SIGKILL mid-call and
// mid-stream: the server cancels the handler's context and serves on.
func TestFaultClientKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	leakCheck(t)
	entered := make(chan struct{}, 1)
	ended := make(chan error, 2)
	h := &servertest.Handler{
		Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
			entered <- struct{}{}
			<-ctx.Done()
			ended <- ctx.Err()
			return nil, ctx.Err()
		},
		Tail: followUntilGone(ended),
	}
	_, path := startServer(t, server.Options{}, h)
	for _, mode := range []string{"call", "stream"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFaultHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), envFaultMode+"="+mode, envFaultSocket+"="+path)
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
				select {
				case <-entered:
				case <-time.After(5 * time.Second):
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatal("the blocking call's handler never ran")
				}
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			select {
			case err := <-ended:
				if err == nil {
					t.Errorf("killed %s client: handler context ended without an error", mode)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("killed %s client: the handler's context is still live", mode)
			}
			dialRaw(t, path).list(1)
		})
	}
}

// outcomes tallies results by error text.
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
	o.mu.Lock()
	defer o.mu.Unlock()
	return fmt.Sprint(o.n)
}

// echoCall makes an Echo call on c through the untyped API.
func echoCall(ctx context.Context, c *client.Conn, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
	h, body, err := c.CallContext(ctx, servertest.MsgEcho, req)
	if err != nil {
		return nil, err
	}
	var resp servertest.EchoResponse
	if h.MsgType == servertest.MsgStatus {
		var st servertest.Status
		if err := ipc.DecodePayload(body, &st); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("error answer %q", st.Err)
	}
	if err := ipc.DecodePayload(body, &resp); err != nil || h.MsgType != servertest.MsgEchoResponse {
		return nil, fmt.Errorf("answer %s: %v", h.MsgType, err)
	}
	return &resp, nil
}

// TestFaultCloseUnderLoad: Close during 64 clients' concurrent calls (a
// quarter of them slow, deaf to their context) and 16 open streams: every
// slow call the handler completed is answered, every other call is answered
// or fails with "client: connection closed", every stream ends in EOF, no
// hang, no goroutine left.
func TestFaultCloseUnderLoad(t *testing.T) {
	leakCheck(t)
	var slowDone atomic.Int64
	streamUp := make(chan error, 16)
	h := &servertest.Handler{
		Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
			if req.ID == "slow" {
				time.Sleep(100 * time.Millisecond) // deaf to ctx: Close must wait for it
				slowDone.Add(1)
			}
			return servertest.DefaultEcho(ctx, req)
		},
		Tail: func(ctx context.Context, _ *servertest.TailRequest, s *server.Stream) error {
			err := s.Send(servertest.MsgTailFrame, &servertest.TailFrame{}, false)
			streamUp <- err
			<-ctx.Done()
			return nil
		},
	}
	srv, path := startServer(t, server.Options{}, h)
	var calls, streams outcomes
	var wg sync.WaitGroup
	for range 16 {
		c := dialRaw(t, path)
		c.sendMsg(servertest.MsgTail, 1, &servertest.TailRequest{Follow: true})
		wg.Go(func() {
			c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			for {
				if _, _, err := c.fr.ReadFrame(); err != nil {
					streams.add(err)
					return
				}
			}
		})
	}
	for range 16 {
		if err := <-streamUp; err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var slowOK, answered atomic.Int64
	for i := range 64 {
		c, err := client.Dial(path, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Go(func() {
			for r := 0; ; r++ {
				id := fmt.Sprintf("c%d", i)
				if r%4 == 0 {
					id = "slow"
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				resp, err := echoCall(ctx, c, &servertest.EchoRequest{ID: id})
				cancel()
				if err == nil && resp.ID != id {
					err = fmt.Errorf("mismatched response %q for %q", resp.ID, id)
				}
				if err == nil {
					answered.Add(1)
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
	for deadline := time.Now().Add(10 * time.Second); answered.Load() < 256 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
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
	t.Logf("Close took %v after %d answers; calls: %s; streams: %s", closeTook, answered.Load(), &calls, &streams)
	if done, ok := slowDone.Load(), slowOK.Load(); done != ok {
		t.Errorf("%d slow calls completed by the handler, %d answered: answers lost", done, ok)
	}
	for k := range calls.n {
		if k != "ok" && !strings.HasPrefix(strings.TrimPrefix(k, "slow: "), "client: connection closed") {
			t.Errorf("unclear call failure %q", k)
		}
	}
	for k := range streams.n {
		if k != io.EOF.Error() {
			t.Errorf("stream ended with %q, want EOF", k)
		}
	}
}

// TestFaultBlockedHandler: 64 clients doing mixed calls (Echo, List, an
// error answer, a stream snapshot) while one handler blocks forever, on a
// connection the first client shares with it: every answer belongs to its
// request and none waits for the blocked one.
func TestFaultBlockedHandler(t *testing.T) {
	leakCheck(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	h := &servertest.Handler{Echo: func(ctx context.Context, req *servertest.EchoRequest) (*servertest.EchoResponse, error) {
		if req.ID == "block" {
			entered <- struct{}{}
			<-release
		}
		return servertest.DefaultEcho(ctx, req)
	}}
	_, path := startServer(t, server.Options{}, h)
	defer close(release)
	shared, err := client.Dial(path, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	blocked := make(chan error, 1)
	go func() {
		_, err := echoCall(context.Background(), shared, &servertest.EchoRequest{ID: "block"})
		blocked <- err
	}()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the blocking call's handler never ran")
	}

	const clients, rounds = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			c := shared
			if i > 0 {
				var err error
				if c, err = client.Dial(path, client.Options{}); err != nil {
					errs <- err
					return
				}
				defer c.Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := mixedCalls(ctx, path, c, i, rounds); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	select {
	case err := <-blocked:
		t.Fatalf("blocked call returned: %v", err)
	default:
	}
}

// mixedCalls runs rounds of Echo, List and a failing Echo on c, and every
// fifth round a Tail snapshot on a connection of its own, checking that
// every answer belongs to its request.
func mixedCalls(ctx context.Context, path string, c *client.Conn, id, rounds int) error {
	for r := range rounds {
		rid := fmt.Sprintf("p%d-%d", id, r)
		if resp, err := echoCall(ctx, c, &servertest.EchoRequest{ID: rid, N: r}); err != nil || resp.ID != rid || resp.N != r {
			return fmt.Errorf("Echo %s: %+v %v", rid, resp, err)
		}
		h, body, err := c.CallContext(ctx, servertest.MsgList, nil)
		var list servertest.EchoResponse
		if err != nil || h.MsgType != servertest.MsgEchoResponse || ipc.DecodePayload(body, &list) != nil || list.N != servertest.ListN {
			return fmt.Errorf("List: %s %q %v", h.MsgType, body, err)
		}
		if _, err := echoCall(ctx, c, &servertest.EchoRequest{Fail: "no " + rid}); err == nil || !strings.Contains(err.Error(), `"no `+rid+`"`) {
			return fmt.Errorf("failing Echo %s: %v", rid, err)
		}
		if r%5 == 0 {
			if err := tailSnapshot(ctx, path, r+1); err != nil {
				return fmt.Errorf("Tail: %w", err)
			}
		}
	}
	return nil
}

// tailSnapshot asks for n frames on a fresh connection and checks them.
func tailSnapshot(ctx context.Context, path string, n int) error {
	nc, err := net.Dial("unix", path)
	if err != nil {
		return err
	}
	defer nc.Close()
	if d, ok := ctx.Deadline(); ok {
		nc.SetDeadline(d)
	}
	if _, err := nc.Write(seedFrame(servertest.MsgTail, 1, &servertest.TailRequest{N: n})); err != nil {
		return err
	}
	fr := ipc.NewFrameReader(nc, 0)
	for i := range n {
		h, body, err := fr.ReadFrame()
		var f servertest.TailFrame
		if err != nil || h.MsgType != servertest.MsgTailFrame || ipc.DecodePayload(body, &f) != nil || f.I != i || f.EOF != (i == n-1) {
			return fmt.Errorf("frame %d: %s %+v %v", i, h.MsgType, f, err)
		}
	}
	return nil
}
