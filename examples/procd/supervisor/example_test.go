package supervisor_test

import (
	"context"
	"fmt"
	"log"

	"github.com/mgmtgen/mgmtgen/examples/procd/supervisor"
)

func Example() {
	cfg, err := supervisor.ParseConfig("procd.yaml", []byte(`
socket: /tmp/procd-example.sock
processes:
  - {id: hello, command: /bin/sh, args: [-c, "echo hello; echo oops >&2"], restart: never}
`))
	if err != nil {
		log.Fatal(err)
	}
	s, err := supervisor.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	sub, _ := s.Subscribe([]string{"hello"}, []string{supervisor.EventStopped}, 0)
	if err := s.Start("hello"); err != nil {
		log.Fatal(err)
	}
	ev := <-sub.C()
	out, _ := s.Snapshot("hello", supervisor.StreamStdout, 0, 0)
	errOut, _ := s.Snapshot("hello", supervisor.StreamStderr, 0, 0)
	e, _ := s.Status("hello")
	fmt.Printf("%s %s: %q %q %s\n", ev.Type, ev.Summary, out, errOut, e.State)
	// Output: process.stopped exit status 0: "hello\n" "oops\n" stopped
}
