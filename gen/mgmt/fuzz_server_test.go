package mgmt_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
)

// serverSeeds are realistic request sequences a cliwrap client sends, and
// broken ones.
func serverSeeds() [][]byte {
	list := hFrame(mgmt.MsgListRequest, 1, nil)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	return [][]byte{
		list,
		cat(list, hMsgFrame(mgmt.MsgStatusRequest, 2, &mgmt.StatusRequestPayload{ID: "a"}), hMsgFrame(mgmt.MsgStopRequest, 3, &mgmt.StopRequestPayload{ID: "a"})),
		cat(hMsgFrame(mgmt.MsgStartRequest, 1, &mgmt.StartRequestPayload{ID: "a"}), hMsgFrame(mgmt.MsgStatusRequest, 2, &mgmt.StatusRequestPayload{ID: "missing"})),
		cat(hMsgFrame(mgmt.MsgLogsRequest, 1, &mgmt.LogsRequestPayload{ID: "a"}), list),
		cat(hMsgFrame(mgmt.MsgLogsRequest, 1, &mgmt.LogsRequestPayload{ID: "a", Follow: true}), list),
		hMsgFrame(mgmt.MsgEventsSubscribe, 1, &mgmt.EventsSubscribePayload{ProcessIDs: []string{"a"}}),
		cat(hFrame(0xFF, 1, nil), hFrame(0x00, 2, []byte{0x80}), list),
		hFrame(mgmt.MsgStatusRequest, 1, []byte{0x81, 0xa2, 'i', 'd', 0x01}),
		hFrame(mgmt.MsgStatusRequest, 1, []byte{0x81, 0xa2, 'i', 'd', 0xdb, 0xff, 0xff, 0xff, 0xff}),
		hFrame(mgmt.MsgEventsSubscribe, 1, []byte{0x81, 0xa4, 'p', 'i', 'd', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}),
		{0xC1, 0xD9, 0x01, 0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF},
		{0xC1, 0xD9, 0x01, 0xA2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0x81},
		{0xC1, 0xD9, 0x02},
		[]byte("GET / HTTP/1.1\r\n\r\n"),
	}
}

// fuzzConn sends data on a fresh connection to path, shuts its write side
// and reads until the server closes; it fails if the server does not.
func fuzzConn(t *testing.T, path string, data []byte) {
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	uc := nc.(*net.UnixConn)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		uc.Write(data) // fails when the server closed first
		uc.CloseWrite()
	}()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, nc)
	<-wrote
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("server kept the connection open after the client finished")
	}
}

// FuzzMgmtServerConn feeds arbitrary bytes to a whole connection of the
// generated server with a real handler: no panic (a handler panic would be
// recovered and logged, so the log is checked), the connection closes once
// the client is done, and no goroutine is left.
func FuzzMgmtServerConn(f *testing.F) {
	for _, s := range serverSeeds() {
		f.Add(s)
	}
	noLeaks(f)
	_, path, logs := hStart(f, mgmt.ServerOptions{MaxPayload: 64 << 10})
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzConn(t, path, data)
		if bytes.Contains([]byte(logs.String()), []byte("handler panic")) {
			t.Fatalf("handler panicked:\n%s", logs.String())
		}
	})
}

// declared sums the payload lengths the frames in data declare.
func declared(data []byte) uint64 {
	var n uint64
	for len(data) >= ipc.HeaderSize {
		l := binary.BigEndian.Uint32(data[13:17])
		n += uint64(l)
		if uint64(len(data)-ipc.HeaderSize) < uint64(l) {
			break
		}
		data = data[ipc.HeaderSize+int(l):]
	}
	return n
}

// TestServerConnSeedsAllocBounded runs the server seeds and checks that a
// connection allocates (server and this client together) no more than its
// declared payloads, its bytes and a constant.
func TestServerConnSeedsAllocBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation accounting is slow under -short")
	}
	noLeaks(t)
	_, path, _ := hStart(t, mgmt.ServerOptions{MaxPayload: 64 << 10})
	const slack = 256 << 10
	for i, s := range serverSeeds() {
		var a, b runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&a)
		fuzzConn(t, path, s)
		runtime.ReadMemStats(&b)
		got := b.TotalAlloc - a.TotalAlloc
		limit := uint64(len(s)) + min(declared(s), 64<<10) + slack
		if got > limit {
			t.Errorf("seed %d (%d bytes): %d bytes allocated, limit %d", i, len(s), got, limit)
		}
	}
}

// TestWriteServerCorpus writes the server seeds as testdata/fuzz files when
// MGMT_WRITE_CORPUS=1.
func TestWriteServerCorpus(t *testing.T) {
	if os.Getenv("MGMT_WRITE_CORPUS") != "1" {
		t.Skip("set MGMT_WRITE_CORPUS=1 to rewrite testdata/fuzz/FuzzMgmtServerConn")
	}
	writeCorpus(t, "FuzzMgmtServerConn", serverSeeds())
}
