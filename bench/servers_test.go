package bench

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/mgmtgen/mgmtgen/gen/mgmt"
	"github.com/mgmtgen/mgmtgen/internal/fakeserver"
	"github.com/mgmtgen/mgmtgen/runtime/ipc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// sockPath returns a socket path in a fresh temporary directory, short
// enough for sun_path whatever the benchmark's name.
func sockPath(tb testing.TB) string {
	return filepath.Join(fakeserver.SocketDir(tb, "mgb"), "s.sock")
}

// handler is the generated server's handler: canned unary answers (encoded
// afresh on every call, as a real server does), and procd-like streams.
type handler struct {
	mgmt.UnimplementedHandler
	list   *mgmt.ListResponsePayload
	status *mgmt.StatusResponsePayload
	// chunks feeds followed logs, as procd's follower does: the handler
	// turns each chunk into a frame. A nil chunks holds the stream open
	// until the client goes away.
	chunks chan []byte
	// snapshot is what a Logs request without Follow gets, in one frame
	// with EOF set, as procd sends a snapshot.
	snapshot []byte
}

func newHandler() *handler {
	return &handler{list: ListResponse(10), status: StatusResponse()}
}

func (h *handler) List(context.Context) (*mgmt.ListResponsePayload, error) { return h.list, nil }

func (h *handler) Status(_ context.Context, req *mgmt.StatusRequestPayload) (*mgmt.StatusResponsePayload, error) {
	if req.ID != h.status.Entry.ID {
		return nil, errors.New("bench: no such process")
	}
	return h.status, nil
}

// Logs is shaped like examples/procd's: without Follow, the snapshot in one
// frame with EOF; with it, a snapshot frame, then one frame per chunk taken
// from the follower until the client goes away.
func (h *handler) Logs(ctx context.Context, req *mgmt.LogsRequestPayload, out mgmt.LogsSender) error {
	frame := func(data []byte) *mgmt.LogsStreamPayload {
		return &mgmt.LogsStreamPayload{ID: req.ID, Stream: req.Stream, Data: data}
	}
	if !req.Follow {
		return out.Send(&mgmt.LogsStreamPayload{ID: req.ID, Stream: req.Stream, Data: h.snapshot, EOF: true})
	}
	if err := out.Send(frame(nil)); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case chunk, ok := <-h.chunks:
			if !ok {
				return nil
			}
			if err := out.Send(frame(chunk)); err != nil {
				return err
			}
		}
	}
}

// startMgmt serves h on a fresh socket and returns its path.
func startMgmt(tb testing.TB, h mgmt.Handler) string {
	path := sockPath(tb)
	srv, err := mgmt.NewServer(mgmt.ServerOptions{
		SocketPath:  path,
		Handler:     h,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxConns:    4096,
		MaxStreams:  4096, // BenchmarkIdleConn holds 1,000 streams
		IdleTimeout: -1,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	return path
}

func dialMgmt(tb testing.TB, path string) *mgmt.Client {
	c, err := mgmt.Dial(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// frameOf returns the frame carrying p (nil: no payload) with type t.
func frameOf(t ipc.MsgType, seq uint64, p interface{ MarshalMsg([]byte) ([]byte, error) }) []byte {
	var f []byte
	var err error
	if p == nil {
		f, err = ipc.AppendMsgFrame(nil, ipc.Header{MsgType: t, SeqNo: seq}, nil)
	} else {
		f, err = ipc.AppendMsgFrame(nil, ipc.Header{MsgType: t, SeqNo: seq}, p)
	}
	if err != nil {
		panic(err)
	}
	return f
}

// putSeq writes seq into an encoded frame's header.
func putSeq(frame []byte, seq uint64) {
	for i := 0; i < 8; i++ {
		frame[5+i] = byte(seq >> (56 - 8*i))
	}
}

// startRaw is the floor's server: per connection one goroutine reading
// frames through a buffered reader and answering each with a pre-encoded
// response frame (the request's seq patched in), one write per frame, no
// decoding, no dispatch beyond a table lookup.
func startRaw(tb testing.TB) string {
	path := sockPath(tb)
	l, err := net.Listen("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	canned := map[ipc.MsgType][]byte{
		mgmt.MsgListRequest:   frameOf(mgmt.MsgListResponse, 0, ListResponse(10)),
		mgmt.MsgStatusRequest: frameOf(mgmt.MsgStatusResponse, 0, StatusResponse()),
		// As a cliwrap manager answers the generated client's hello: an
		// unknown request type, so the client speaks the base protocol.
		ipc.MsgHello: frameOf(mgmt.MsgStatusResponse, 0, &mgmt.StatusResponsePayload{Err: "unknown request type 0xf0"}),
	}
	fakeserver.Start(tb, l, func(nc net.Conn, _ int) { rawAnswer(nc, canned) })
	return path
}

func rawAnswer(nc net.Conn, canned map[ipc.MsgType][]byte) {
	defer nc.Close()
	own := make(map[ipc.MsgType][]byte, len(canned))
	for t, f := range canned {
		own[t] = append([]byte(nil), f...)
	}
	fr := ipc.NewFrameReader(nc, 0)
	buf := make([]byte, 0, 4096)
	for {
		h, _, err := fr.ReadFrameInto(buf)
		if err != nil {
			return
		}
		resp := own[h.MsgType]
		if resp == nil {
			return
		}
		putSeq(resp, h.SeqNo)
		if _, err := nc.Write(resp); err != nil {
			return
		}
	}
}

// startCodecFloor is the floor's server with the generated codec's work
// added and nothing else: per connection one goroutine reading frames
// through a buffered reader into a reused buffer, decoding a Status
// request into a new struct, checking its ID as the handler does, and
// encoding the answer (the handler's canned value) afresh into a reused
// frame, one write per frame. No dispatch table, no pool, no lock, no
// context, no budget: what a server must do per call with this codec.
func startCodecFloor(tb testing.TB) string {
	path := sockPath(tb)
	l, err := net.Listen("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	h := newHandler()
	fakeserver.Start(tb, l, func(nc net.Conn, _ int) { codecFloorAnswer(nc, h) })
	return path
}

func codecFloorAnswer(nc net.Conn, h *handler) {
	defer nc.Close()
	fr := ipc.NewFrameReader(nc, 0)
	in, out := make([]byte, 0, 4096), make([]byte, 0, 4096)
	for {
		hd, body, err := fr.ReadFrameInto(in)
		if err != nil {
			return
		}
		in = body[:0]
		rh := ipc.Header{MsgType: mgmt.MsgStatusResponse, SeqNo: hd.SeqNo}
		var resp msgpMarshaler
		switch hd.MsgType {
		case mgmt.MsgListRequest:
			rh.MsgType, resp = mgmt.MsgListResponse, h.list
		case mgmt.MsgStatusRequest:
			req := new(mgmt.StatusRequestPayload)
			if ipc.DecodePayload(body, req) != nil || req.ID != h.status.Entry.ID {
				return
			}
			resp = h.status
		default: // the hello: answered as a cliwrap manager does
			resp = &mgmt.StatusResponsePayload{Err: "unknown request type 0xf0"}
		}
		if out, err = ipc.AppendMsgFrame(out[:0], rh, resp); err != nil {
			return
		}
		if _, err := nc.Write(out); err != nil {
			return
		}
	}
}

// protoSizes are the msgpack sizes the ttrpc and grpc services carry as
// wrapperspb.BytesValue, so every transport moves payloads of similar size.
type protoSizes struct{ list, statusReq, statusResp int }

func sizes() protoSizes {
	return protoSizes{
		list:       len(must(ListResponse(10).MarshalMsg(nil))),
		statusReq:  len(must(StatusRequest().MarshalMsg(nil))),
		statusResp: len(must(StatusResponse().MarshalMsg(nil))),
	}
}

func bytesOf(n int) *wrapperspb.BytesValue { return wrapperspb.Bytes(make([]byte, n)) }

// startTTRPC registers bench.Mgmt/List (Empty -> BytesValue) and
// bench.Mgmt/Status (BytesValue -> BytesValue) by hand.
func startTTRPC(tb testing.TB) string {
	sz := sizes()
	srv, err := ttrpc.NewServer()
	if err != nil {
		tb.Fatal(err)
	}
	list, status := bytesOf(sz.list), bytesOf(sz.statusResp)
	srv.Register("bench.Mgmt", map[string]ttrpc.Method{
		"List": func(_ context.Context, unmarshal func(any) error) (any, error) {
			var req emptypb.Empty
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			return list, nil
		},
		"Status": func(_ context.Context, unmarshal func(any) error) (any, error) {
			var req wrapperspb.BytesValue
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			return status, nil
		},
	})
	path := sockPath(tb)
	l, err := net.Listen("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(context.Background(), l)
	tb.Cleanup(func() { srv.Close() })
	return path
}

func dialTTRPC(tb testing.TB, path string) *ttrpc.Client {
	nc, err := net.Dial("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	c := ttrpc.NewClient(nc)
	tb.Cleanup(func() { c.Close() })
	return c
}

// grpcImpl satisfies the hand-written service description.
type grpcImpl interface{}

// startGRPC registers the same two methods on grpc-go by hand.
func startGRPC(tb testing.TB) string {
	sz := sizes()
	list, status := bytesOf(sz.list), bytesOf(sz.statusResp)
	srv := grpc.NewServer()
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "bench.Mgmt",
		HandlerType: (*grpcImpl)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "List",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var req emptypb.Empty
				if err := dec(&req); err != nil {
					return nil, err
				}
				return list, nil
			},
		}, {
			MethodName: "Status",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var req wrapperspb.BytesValue
				if err := dec(&req); err != nil {
					return nil, err
				}
				return status, nil
			},
		}},
	}, struct{}{})
	path := sockPath(tb)
	l, err := net.Listen("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(l)
	tb.Cleanup(srv.Stop)
	return path
}

func dialGRPC(tb testing.TB, path string) *grpc.ClientConn {
	cc, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cc.Close() })
	return cc
}
