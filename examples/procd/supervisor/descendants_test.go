package supervisor

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readPid waits for file to hold a pid.
func readPid(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(file); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", file)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The attack: a grandchild started with setsid (its own session and
// group, out of reach of the group's signals) is ended by Stop before Stop
// reports the process stopped, whether it ignores SIGTERM or not, whether
// its parent is still there or long gone, and even with an emptied
// environment while its parent lives.
func TestStopEndsSetsidDescendants(t *testing.T) {
	for _, tc := range []struct {
		name, script string
	}{
		{"setsid grandchild", `setsid sh -c 'echo $$ > @F; exec sleep 1000' & wait`},
		{"ignoring SIGTERM", `setsid sh -c 'trap "" TERM; echo $$ > @F; while :; do sleep 1; done' & wait`},
		{"orphaned", `setsid sh -c 'echo $$ > @F; exec sleep 1000' & sleep 1000`},
		{"double fork, parent gone", `sh -c "setsid sh -c 'echo \$\$ > @F; exec sleep 1000' &"; exec sleep 1000`},
		{"empty environment", `env -i setsid sh -c 'echo $$ > @F; exec sleep 1000' & wait`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "gc.pid")
			pc := sh("p", strings.ReplaceAll(tc.script, "@F", file))
			pc.StopTimeout = 500 * time.Millisecond
			s := newSup(t, pc)
			if err := s.Start("p"); err != nil {
				t.Fatal(err)
			}
			gc := readPid(t, file)
			if _, alive := liveProcs()[gc]; !alive {
				t.Fatalf("grandchild %d is not running", gc)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Stop(ctx, "p"); err != nil {
				t.Fatal(err)
			}
			if _, alive := liveProcs()[gc]; alive {
				t.Errorf("grandchild %d still alive after Stop reported %s", gc, mustWaitState(t, s, "p", StateStopped).State)
			}
			assertGone(t, gc)
		})
	}
}

// When the child exits by itself, what it left running is ended too.
func TestExitEndsDescendants(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gc.pid")
	s := newSup(t, sh("p", `setsid sh -c 'echo $$ > `+file+`; exec sleep 1000' & while [ ! -s `+file+` ]; do sleep 0.01; done; exit 0`))
	if err := s.Start("p"); err != nil {
		t.Fatal(err)
	}
	gc := readPid(t, file)
	mustWaitState(t, s, "p", StateStopped)
	assertGone(t, gc)
}

// The sweep never touches this process nor processes of other supervised
// processes.
func TestSweepSparesOthers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gc.pid")
	s := newSup(t, sh("p", `exec sleep 1000`), sh("q", `setsid sh -c 'echo $$ > `+file+`; exec sleep 1000' & wait`))
	for _, id := range []string{"p", "q"} {
		if err := s.Start(id); err != nil {
			t.Fatal(err)
		}
	}
	gc := readPid(t, file)
	if err := s.Stop(testCtx(t), "p"); err != nil {
		t.Fatal(err)
	}
	if _, alive := liveProcs()[gc]; !alive {
		t.Errorf("stopping p killed q's grandchild %d", gc)
	}
	if _, alive := liveProcs()[os.Getpid()]; !alive {
		t.Fatal("this process is not in liveProcs")
	}
}

// envDieHelper makes the test binary run a supervisor with one child and
// wait to be killed (TestChildDiesWithSupervisor).
const envDieHelper = "SUPERVISOR_TEST_DIE_HELPER"

// A supervisor killed without stopping its children (SIGKILL, as a test
// binary timing out is) takes its children with it.
func TestChildDiesWithSupervisor(t *testing.T) {
	if os.Getenv(envDieHelper) != "" {
		s, err := New(&Config{Socket: "unused", Processes: []ProcessConfig{sh("p", "exec sleep 1000")}})
		if err != nil || s.Start("p") != nil {
			os.Exit(3)
		}
		e, _ := s.Status("p")
		os.Stdout.WriteString(strconv.Itoa(e.ChildPID) + "\n")
		select {} // until killed
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildDiesWithSupervisor$", "-test.count=1")
	cmd.Env = append(os.Environ(), envDieHelper+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	child, _ := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || child <= 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %q, %v", line, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	assertGone(t, child)
}
