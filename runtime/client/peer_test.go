package client_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/seconduser"
	"github.com/mgmtgen/mgmtgen/runtime/client"
)

// A server of the client's own uid is accepted.
func TestServerUIDOwn(t *testing.T) {
	leakCheck(t)
	_, path := start(t, nil)
	c, err := client.Dial(path, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// A socket served by uid 65534 is refused by default, with an error naming
// the path and whose socket it is; naming that uid in ServerUID accepts it,
// and naming another refuses it.
func TestServerUIDOtherUser(t *testing.T) {
	leakCheck(t)
	dir := t.TempDir()
	if err := os.Chown(dir, seconduser.UID, seconduser.GID); err != nil && os.Geteuid() == 0 {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "their.sock")
	seconduser.OpenDirs(t, path)
	cmd := seconduser.Command(t, "TestSecondUserHelper", "listen", "SOCK="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && lines.Text() != "listening" {
	}
	if lines.Text() != "listening" {
		t.Fatalf("helper did not listen: %q", lines.Text())
	}
	go io.Copy(io.Discard, stdout)

	_, err := client.Dial(path, client.Options{})
	var ue *client.ServerUIDError
	if !errors.As(err, &ue) || ue.UID != seconduser.UID || ue.Path != path {
		t.Fatalf("Dial of uid %d's socket: %v", seconduser.UID, err)
	}
	want := fmt.Sprintf("client: %s is the socket of uid 65534 (nobody), not of root: refusing to talk to it (set ServerUID to trust that user)", path)
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant\n%s", err, want)
	}
	t.Logf("refused: %v", err)

	other := uint32(4242)
	_, err = client.Dial(path, client.Options{ServerUID: &other})
	want = fmt.Sprintf("client: %s is the socket of uid 65534 (nobody), not of root or uid 4242: refusing to talk to it (set ServerUID to trust that user)", path)
	if !errors.As(err, &ue) || ue.Want != other || err.Error() != want {
		t.Errorf("Dial expecting uid %d: %v\nwant %s", other, err, want)
	}
	theirs := uint32(seconduser.UID)
	c, err := client.Dial(path, client.Options{ServerUID: &theirs})
	if err != nil {
		t.Fatalf("Dial expecting uid %d: %v", theirs, err)
	}
	defer c.Close()
	// A stream's own connection trusts the same uid (the helper then hangs
	// up, which may fail the request's write: that is not the point here).
	st, err := c.OpenStream(context.Background(), tailInfo, nil)
	if errors.As(err, &ue) {
		t.Fatalf("OpenStream expecting uid %d: %v", theirs, err)
	}
	if err == nil {
		st.Close()
	}
}

// TestSecondUserHelper is the second user's part of the tests above.
func TestSecondUserHelper(t *testing.T) {
	switch seconduser.Mode() {
	case "":
		t.Skip("the second user's part of other tests")
	case "listen":
		l, err := net.Listen("unix", os.Getenv("SOCK"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		fmt.Println("listening")
		io.Copy(io.Discard, os.Stdin)
	}
}
