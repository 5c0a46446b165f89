package bench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"go.uber.org/goleak"
)

// The memory benchmarks open their connections from a child process (this
// test binary re-executed with dialerEnv set), so the heap and goroutines
// measured in this process are the server's alone.
const dialerEnv = "MGMTGEN_BENCH_DIALER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(dialerEnv); spec != "" {
		if err := dialer(spec); err != nil {
			fmt.Fprintln(os.Stderr, "dialer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Every server and client a test or benchmark starts is closed by its
	// cleanup; goleak checks that none of their goroutines outlive it.
	goleak.VerifyTestMain(m)
}

// raiseNOFILE lifts the soft open-files limit to the hard one.
func raiseNOFILE() error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return err
	}
	rl.Cur = rl.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
}

// dialer runs in the child: spec is "conn|stream n path". Each connection
// makes one Status call (conn: the connection is then idle) or opens a Logs
// follow stream and reads its snapshot (stream). It prints "ready" and holds
// the connections until its stdin closes.
func dialer(spec string) error {
	var mode, path string
	var n int
	if _, err := fmt.Sscan(spec, &mode, &n, &path); err != nil {
		return err
	}
	if err := raiseNOFILE(); err != nil {
		return err
	}
	req, want := frameOf(mgmt.MsgStatusRequest, 1, StatusRequest()), mgmt.MsgStatusResponse
	if mode == "stream" {
		req = frameOf(mgmt.MsgLogsRequest, 1, &mgmt.LogsRequestPayload{ID: "proc-0007", Follow: true})
		want = mgmt.MsgLogsStream // the snapshot; an error response would mean a refused stream
	}
	conns := make([]net.Conn, 0, n)
	for range n {
		nc, err := net.Dial("unix", path)
		if err != nil {
			return err
		}
		conns = append(conns, nc)
		if _, err := nc.Write(req); err != nil {
			return err
		}
		h, _, err := ipc.NewFrameReader(nc, 0).ReadFrame()
		if err != nil {
			return err
		}
		if h.MsgType != want {
			return fmt.Errorf("connection %d: got a %s, want a %s", len(conns), h.MsgType, want)
		}
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, nc := range conns {
		nc.Close()
	}
	return nil
}

// usage is the live heap and goroutine count after a full collection.
func usage() (heap, stack uint64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse, runtime.NumGoroutine()
}

// perConn is what a server spends per connection.
type perConn struct{ heap, stack, goroutines float64 }

// holdConns has a child open n connections (mode conn or stream) to path
// and returns the server's heap and goroutines per connection while they
// are open, then closes them and waits for the server to let them go.
func holdConns(tb testing.TB, mode string, n int, path string) perConn {
	heap0, stack0, g0 := usage()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), dialerEnv+"="+mode+" "+strconv.Itoa(n)+" "+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		stdin.Close()
		cmd.Wait()
		tb.Fatalf("dialer: %q %v", line, err)
	}
	time.Sleep(50 * time.Millisecond) // let the server's goroutines settle
	heap1, stack1, g1 := usage()
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		tb.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > g0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	return perConn{
		heap:       (float64(heap1) - float64(heap0)) / float64(n),
		stack:      (float64(stack1) - float64(stack0)) / float64(n),
		goroutines: float64(g1-g0) / float64(n),
	}
}

// TestIdleConnMemory checks the child dialer and that the server keeps
// every connection open.
func TestIdleConnMemory(t *testing.T) {
	if err := raiseNOFILE(); err != nil {
		t.Fatal(err)
	}
	path := startMgmt(t, newHandler())
	u := holdConns(t, "conn", 50, path)
	if u.heap <= 0 || u.goroutines < 1 {
		t.Fatalf("%+v per connection: connections not held?", u)
	}
	t.Logf("%+v per connection", u)
}

// BenchmarkIdleConn is the generated server's heap and goroutines per idle
// connection (1,000 open, each having made one Status call) and per open
// Logs follow stream (1,000 open, the handler waiting for output). One op
// opens and closes all of them.
func BenchmarkIdleConn(b *testing.B) {
	if err := raiseNOFILE(); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"conn", "stream"} {
		b.Run("kind="+mode+"/impl=mgmtgen", func(b *testing.B) {
			path := startMgmt(b, newHandler())
			var sum perConn
			for b.Loop() {
				u := holdConns(b, mode, 1000, path)
				sum.heap += u.heap
				sum.stack += u.stack
				sum.goroutines += u.goroutines
			}
			n := float64(b.N)
			b.ReportMetric(sum.heap/n, "heap-B/"+mode)
			b.ReportMetric(sum.stack/n, "stack-B/"+mode)
			b.ReportMetric(sum.goroutines/n, "goroutines/"+mode)
		})
	}
}
