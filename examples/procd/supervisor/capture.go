package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

// drainTimeout bounds how long output is still read after the child's
// process group is gone, in case a process that left the group keeps a pipe
// open.
const drainTimeout = time.Second

// readSize is the largest chunk read from a pipe at once.
const readSize = 32 << 10

// capture copies a child's stdout and stderr into their rings.
type capture struct {
	files [2]*os.File
	wg    sync.WaitGroup
}

// spawn starts the child in its own process group, stdin from /dev/null,
// stdout and stderr on two pipes read by capture goroutines.
func (p *proc) spawn() (*exec.Cmd, *capture, error) {
	cmd := exec.Command(p.cfg.Command, p.cfg.Args...)
	cmd.Dir = p.cfg.Dir
	cmd.Env = append(p.environ(os.Environ()), string(p.marker[1:len(p.marker)-1]))
	cmd.SysProcAttr = childAttr()
	c := &capture{}
	var writers [2]*os.File
	for i := range c.files {
		r, w, err := os.Pipe()
		if err != nil {
			c.closeAll()
			closeFiles(writers[:])
			return nil, nil, fmt.Errorf("pipe: %w", err)
		}
		c.files[i], writers[i] = r, w
	}
	cmd.Stdout, cmd.Stderr = writers[StreamStdout], writers[StreamStderr]
	err := cmd.Start()
	closeFiles(writers[:])
	if err != nil {
		c.closeAll()
		return nil, nil, err
	}
	for i, f := range c.files {
		c.wg.Add(1)
		go c.read(f, p.streams[i])
	}
	return cmd, c, nil
}

func (c *capture) read(f *os.File, dst *ring) {
	defer c.wg.Done()
	buf := make([]byte, readSize)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			dst.append(time.Now().UnixNano(), buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// wait returns once both pipes reached EOF, or after drainTimeout, closing
// the read ends either way.
func (c *capture) wait() {
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(drainTimeout):
		c.closeAll() // unblocks the readers
		<-done
	}
	c.closeAll()
}

func (c *capture) closeAll() { closeFiles(c.files[:]) }

func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			_ = f.Close() // a second close only reports os.ErrClosed
		}
	}
}
