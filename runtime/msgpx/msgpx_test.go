package msgpx

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/tinylib/msgp/msgp"
	"go.uber.org/goleak"

	"github.com/mgmtgen/mgmtgen/internal/memtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// nilReaders are the nil-tolerant readers with the msgp function each wraps,
// both on the same encoded value: (items or bytes read, rest, error).
var nilReaders = []struct {
	name       string
	x, msgp    func(b []byte) (int, []byte, error)
	emptyIsNil bool // bytes readers return nil for nil, an empty header 0
	minSize    int  // the fewest bytes an item takes, for header readers that check counts
}{
	{"ReadArrayHeaderBytes", hdr(ReadArrayHeaderBytes), hdr(msgp.ReadArrayHeaderBytes), false, 1},
	{"ReadMapHeaderBytes", hdr(ReadMapHeaderBytes), hdr(msgp.ReadMapHeaderBytes), false, 2},
	{"ReadBytesHeader", hdr(ReadBytesHeader), hdr(msgp.ReadBytesHeader), false, 0},
	{"ReadBytesBytes", bin(ReadBytesBytes), bin(msgp.ReadBytesBytes), true, 0},
	{"ReadArrayHeader", stream(ReadArrayHeader), stream((*msgp.Reader).ReadArrayHeader), false, 0},
	{"ReadMapHeader", stream(ReadMapHeader), stream((*msgp.Reader).ReadMapHeader), false, 0},
	{"ReadBytes", streamBin(func(dc *msgp.Reader) ([]byte, error) { return ReadBytes(dc, nil) }),
		streamBin(func(dc *msgp.Reader) ([]byte, error) { return dc.ReadBytes(nil) }), true, 0},
	{"ReadBytesLimit", streamBin(func(dc *msgp.Reader) ([]byte, error) { return ReadBytesLimit(dc, nil, 4) }),
		streamBin(func(dc *msgp.Reader) ([]byte, error) { return dc.ReadBytesLimit(nil, 4) }), true, 0},
}

func hdr(f func([]byte) (uint32, []byte, error)) func([]byte) (int, []byte, error) {
	return func(b []byte) (int, []byte, error) { n, o, err := f(b); return int(n), o, err }
}

func bin(f func(b, scratch []byte) ([]byte, []byte, error)) func([]byte) (int, []byte, error) {
	return func(b []byte) (int, []byte, error) {
		v, o, err := f(b, nil)
		if v == nil {
			return -1, o, err // nil, told apart from empty
		}
		return len(v), o, err
	}
}

// stream runs a reader method over b; the rest is what the reader left.
func stream(f func(*msgp.Reader) (uint32, error)) func([]byte) (int, []byte, error) {
	return func(b []byte) (int, []byte, error) {
		r := bytes.NewReader(b)
		dc := msgp.NewReaderSize(r, 16)
		n, err := f(dc)
		return int(n), rest(dc, r), err
	}
}

func streamBin(f func(*msgp.Reader) ([]byte, error)) func([]byte) (int, []byte, error) {
	return func(b []byte) (int, []byte, error) {
		r := bytes.NewReader(b)
		dc := msgp.NewReaderSize(r, 16)
		v, err := f(dc)
		if v == nil {
			return -1, rest(dc, r), err
		}
		return len(v), rest(dc, r), err
	}
}

func rest(dc *msgp.Reader, r *bytes.Reader) []byte {
	buffered, _ := dc.R.Peek(dc.R.Buffered())
	tail := make([]byte, r.Len())
	r.Read(tail)
	return append(bytes.Clone(buffered), tail...)
}

// TestNilReaders: nil reads as empty (0 items, nil bytes) and consumes one
// byte; anything else reads as msgp reads it.
func TestNilReaders(t *testing.T) {
	values := map[string][]byte{
		"array":   msgp.AppendArrayHeader(nil, 2),
		"map":     msgp.AppendMapHeader(nil, 1),
		"bin":     msgp.AppendBytes(nil, []byte("abc")),
		"empty":   msgp.AppendBytes(nil, nil),
		"string":  msgp.AppendString(nil, "abc"),
		"int":     msgp.AppendInt(nil, 7),
		"short":   {0xdd, 0, 0},
		"nothing": {},
	}
	for _, r := range nilReaders {
		n, o, err := r.x([]byte{0xc0, 0x01})
		want := 0
		if r.emptyIsNil {
			want = -1
		}
		if err != nil || n != want || !bytes.Equal(o, []byte{0x01}) {
			t.Errorf("%s(nil): %d, %x, %v; want %d, 01, nil", r.name, n, o, err, want)
		}
		for name, v := range values {
			in := append(bytes.Clone(v), 0x01, 0x02, 0x03, 0x04, 0x05) // room for the items
			gn, gro, gerr := r.x(in)
			wn, wro, werr := r.msgp(in)
			bounded := r.minSize > 0 && errors.Is(gerr, msgp.ErrShortBytes) && werr == nil && r.minSize*wn > len(wro) // a count the input cannot hold
			if gerr == nil && werr == nil && (gn != wn || !bytes.Equal(gro, wro)) || (gerr == nil) != (werr == nil) && !bounded {
				t.Errorf("%s(%s): %d, %x, %v; msgp %d, %x, %v", r.name, name, gn, gro, gerr, wn, wro, werr)
			}
		}
	}
}

// TestHeaderCountBound: a header whose count the input cannot hold is refused
// before the caller allocates for it.
func TestHeaderCountBound(t *testing.T) {
	for name, f := range map[string]func([]byte) (uint32, []byte, error){
		"ReadArrayHeaderBytes": ReadArrayHeaderBytes, "ReadMapHeaderBytes": ReadMapHeaderBytes,
	} {
		huge := []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2}
		if name == "ReadMapHeaderBytes" {
			huge[0] = 0xdf
		}
		if _, _, err := f(huge); !errors.Is(err, msgp.ErrShortBytes) {
			t.Errorf("%s(2^32-1 items in 2 bytes): %v, want ErrShortBytes", name, err)
		}
	}
	if n, _, err := ReadArrayHeaderBytes([]byte{0x92, 1, 2}); err != nil || n != 2 {
		t.Errorf("2 items in 2 bytes: %d, %v", n, err)
	}
	if _, _, err := ReadMapHeaderBytes([]byte{0x82, 1, 2, 3}); !errors.Is(err, msgp.ErrShortBytes) {
		t.Errorf("2 pairs in 3 bytes: %v, want ErrShortBytes", err)
	}
}

// TestStringLimits: a string longer than the limit is refused with
// ErrLimitExceeded and allocates nothing; at the limit it is read.
func TestStringLimits(t *testing.T) {
	big := msgp.AppendString(nil, strings.Repeat("x", 1<<20))
	at := msgp.AppendString(nil, "12345678")
	var a Arena
	for name, read := range map[string]func(b []byte, n uint64) (string, error){
		"ReadStringBytes": func(b []byte, n uint64) (string, error) { s, _, err := ReadStringBytes(b, n); return s, err },
		"Arena.ReadStringBytes": func(b []byte, n uint64) (string, error) {
			a = Arena{}
			s, _, err := a.ReadStringBytes(b, n, "")
			a.Release()
			return s, err
		},
		"ReadString": func(b []byte, n uint64) (string, error) {
			return ReadString(msgp.NewReader(bytes.NewReader(b)), n)
		},
	} {
		var err error
		if n := memtest.Allocated(func() { _, err = read(big, 8) }); !errors.Is(err, msgp.ErrLimitExceeded) || n > 8<<10 {
			t.Errorf("%s: 1 MiB string, limit 8: %v, %d bytes allocated", name, err, n)
		}
		if s, err := read(at, 8); err != nil || s != "12345678" {
			t.Errorf("%s: 8 bytes, limit 8: %q, %v", name, s, err)
		}
		if _, err := read(at, 7); !errors.Is(err, msgp.ErrLimitExceeded) {
			t.Errorf("%s: 8 bytes, limit 7: %v", name, err)
		}
		if _, err := read(msgp.AppendInt(nil, 1), 8); err == nil {
			t.Errorf("%s: an int read as a string", name)
		}
	}
	// The reader's own limit stays in force, and is restored.
	dc := msgp.NewReader(bytes.NewReader(append(bytes.Clone(at), at...)))
	dc.SetMaxStringLength(4)
	if _, err := ReadString(dc, 100); err == nil {
		t.Error("ReadString ignored the reader's smaller limit")
	}
	if dc.GetMaxStringLength() != 4 {
		t.Errorf("reader limit %d after ReadString, want 4", dc.GetMaxStringLength())
	}
}

// message is a map of the given strings under keys "a", "b"..., then a
// field of pad bytes, then after bytes that are not part of the message.
func message(strs []string, pad, after int) []byte {
	b := msgp.AppendMapHeader(nil, uint32(len(strs)+1))
	for i, s := range strs {
		b = msgp.AppendString(b, string(rune('a'+i%26)))
		b = msgp.AppendString(b, s)
	}
	b = msgp.AppendString(b, "pad")
	b = msgp.AppendBytes(b, make([]byte, pad))
	return append(b, make([]byte, after)...)
}

// readAll decodes message's strings through an arena, as a generated
// UnmarshalMsg does.
func readAll(t testing.TB, b []byte, a *Arena) []string {
	n, o, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for range n - 1 {
		if _, o, err = msgp.ReadMapKeyZC(o); err != nil {
			t.Fatal(err)
		}
		var s string
		if s, o, err = a.ReadStringBytes(o, 1<<20, ""); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestArenaChunks: strings are copies packed into chunks of ChunkSize; a
// long string gets its own allocation; an arena released after a message
// hands its chunk to the next message's, which goes on where it stopped.
func TestArenaChunks(t *testing.T) {
	strs := []string{"", "a", strings.Repeat("b", 100), strings.Repeat("c", ChunkSize), "d", "é"}
	b := message(strs, 0, 1<<20)
	var a Arena
	got := readAll(t, b, &a)
	clear(b)
	for i := range strs {
		if got[i] != strs[i] {
			t.Errorf("string %d: %q, want %q", i, got[i], strs[i])
		}
	}
	if cap(a.buf) != ChunkSize {
		t.Errorf("chunk of %d bytes, want ChunkSize", cap(a.buf))
	}
	a.Release()

	// Consecutive messages decoded at the same place (an arena at the same
	// address, as in a generated UnmarshalMsg called from the same frame)
	// share a chunk, but when the goroutine's stack moved in between.
	b = message([]string{"first", "last"}, 0, 0)
	shared := 0
	const msgs = 40
	var last []string
	for i := range msgs {
		got := decodeReleased(t, b)
		if i > 0 && unsafe.StringData(got[0]) == (*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(last[1])), len(last[1]))) {
			shared++
		}
		last = got
	}
	if want := msgs - 3; shared < want {
		t.Errorf("%d of %d messages went on in the chunk of the one before, want >= %d", shared, msgs-1, want)
	}

	many := repeat(1000, 100)
	b = message(many, 1<<20, 0)
	a = Arena{}
	got = readAll(t, b, &a)
	if cap(a.buf) != ChunkSize {
		t.Errorf("chunk of %d bytes, want ChunkSize", cap(a.buf))
	}
	for i := range many {
		if got[i] != many[i] {
			t.Fatalf("string %d: %q", i, got[i])
		}
	}
}

// TestArenaConcurrent: arenas on many goroutines hand chunks to each other
// through the pool; every string keeps its value (and the race detector
// sees no write to a byte another goroutine reads).
func TestArenaConcurrent(t *testing.T) {
	const goroutines, msgs = 8, 500
	var wg sync.WaitGroup
	got := make([][]string, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range msgs {
				b := message([]string{fmt.Sprintf("g%d-%d", g, i), strings.Repeat("x", i%300)}, 0, 0)
				var a Arena
				_, o, _ := msgp.ReadMapHeaderBytes(b)
				for range 2 {
					_, o, _ = msgp.ReadMapKeyZC(o)
					var s string
					var err error
					if s, o, err = a.ReadStringBytes(o, 1<<20, ""); err != nil {
						t.Errorf("goroutine %d, message %d: %v", g, i, err) // not Fatal: not the test's goroutine
						return
					}
					got[g] = append(got[g], s)
				}
				a.Release()
				clear(b)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for g := range goroutines {
		for i := range msgs {
			if s, x := got[g][2*i], got[g][2*i+1]; s != fmt.Sprintf("g%d-%d", g, i) || x != strings.Repeat("x", i%300) {
				t.Fatalf("goroutine %d, message %d: %q, %d bytes of %q", g, i, s, len(x), x[:min(len(x), 8)])
			}
		}
	}
}

// decodeReleased decodes message's strings with an arena of its own, as a
// generated UnmarshalMsg does, and releases it.
func decodeReleased(t *testing.T, b []byte) []string {
	var a Arena
	defer a.Release()
	return readAll(t, b, &a)
}

// TestArenaAllocs: over many messages decoded one after the other, the
// arena allocates one chunk per ChunkSize bytes of their short strings (a
// string that does not fit what is left starts a new one), none for empty
// strings, nothing for what the messages hold besides strings, and its own
// allocation for a long string.
func TestArenaAllocs(t *testing.T) {
	const runs = 1000
	for _, tc := range []struct {
		name       string
		strs       []string
		pad, after int
		perChunk   int // messages' strings that fit a chunk: 0 for long strings, each its own
	}{
		{"empty strings", []string{"", "", ""}, 0, 0, -1},
		{"3 short strings", []string{"ab", "cd", "ef"}, 0, 0, ChunkSize / 6},
		{"1 string, 1 MiB of input after the message", []string{"x"}, 0, 1 << 20, ChunkSize},
		{"1 string, 1 MiB of padding in the message", []string{"x"}, 1 << 20, 0, ChunkSize},
		{"100 strings of 100 bytes", repeat(100, 100), 0, 0, 40},
		{"a 64 KiB string", []string{strings.Repeat("x", 64<<10)}, 0, 0, 0},
	} {
		b := message(tc.strs, tc.pad, tc.after)
		allocs, bytesAlloc, gcs := arenaAllocs(b, runs)
		var want, wantBytes uint64 // at most
		switch {
		case tc.perChunk < 0:
		case tc.perChunk == 0:
			want, wantBytes = runs, runs*uint64(len(tc.strs[0])+512)
		default:
			chunks := uint64(runs*len(tc.strs)/tc.perChunk + 2)
			want, wantBytes = chunks+1, chunks*(ChunkSize+64) // the chunks and one holder
		}
		want += 4 + gcs // the runtime's own, a few per collection
		wantBytes += 1 << 10
		t.Logf("%s: %d allocations, %d bytes for %d messages", tc.name, allocs, bytesAlloc, runs)
		if allocs > want || bytesAlloc > wantBytes {
			t.Errorf("%s: %d allocations, %d bytes for %d messages; want <= %d, <= %d", tc.name, allocs, bytesAlloc, runs, want, wantBytes)
		}
	}
}

// arenaAllocs decodes b's strings runs times, each message with a new
// arena, and returns the allocations and bytes allocated meanwhile, and the
// collections that ran. MemStats counts the whole process: another
// goroutine's allocations (the runtime's, the race detector's, a test's
// left behind) can only add to the arena's own, never take from them, so
// the least of three tries is the closest to what the arena allocated
// (one try in 20 saw one to two more under -race on a loaded machine).
func arenaAllocs(b []byte, runs int) (allocs, bytes, gcs uint64) {
	for try := range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			var a Arena
			readStrings(b, &a)
			a.Release()
		}
		runtime.ReadMemStats(&after)
		n, nb := after.Mallocs-before.Mallocs, after.TotalAlloc-before.TotalAlloc
		if try == 0 || n < allocs {
			allocs, bytes, gcs = n, nb, uint64(after.NumGC-before.NumGC)
		}
	}
	return allocs, bytes, gcs
}

// TestArenaKeepsEqualStrings: a string equal to the one it replaces is
// that string, and costs no allocation; a different one is a new copy.
func TestArenaKeepsEqualStrings(t *testing.T) {
	strs := []string{"web", strings.Repeat("n", 40), "running", strings.Repeat("x", 300)}
	b := message(strs, 0, 0)
	var first Arena
	olds := readAll(t, b, &first)
	first.Release()
	read := func(olds []string) []string {
		var a Arena
		defer a.Release()
		n, o, _ := msgp.ReadMapHeaderBytes(b)
		out := make([]string, 0, n-1)
		for i := range n - 1 {
			_, o, _ = msgp.ReadMapKeyZC(o)
			var s string
			s, o, _ = a.ReadStringBytes(o, 1<<20, olds[i])
			out = append(out, s)
		}
		return out
	}
	var again []string
	if n := memtest.Allocated(func() { again = read(olds) }); n > uint64(cap(again))*16+64 { // the result slice only
		t.Errorf("decoding the same strings again allocated %d bytes", n)
	}
	for i := range strs {
		if unsafe.StringData(again[i]) != unsafe.StringData(olds[i]) {
			t.Errorf("string %d %q: a new copy, want the old one kept", i, again[i])
		}
	}
	changed := []string{strings.Clone("web"), "other", strings.Clone("running"), "y"}
	got := read(changed)
	for i := range strs {
		kept := unsafe.StringData(got[i]) == unsafe.StringData(changed[i])
		switch {
		case got[i] != strs[i]:
			t.Errorf("string %d: %q, want %q", i, got[i], strs[i])
		case changed[i] == strs[i] && !kept:
			t.Errorf("string %d %q: a new copy, want the equal old one kept", i, got[i])
		case changed[i] != strs[i] && (kept || unsafe.StringData(got[i]) == unsafe.StringData(olds[i])):
			t.Errorf("string %d %q: shares memory with another value", i, got[i])
		}
	}
}

// readStrings is readAll without a result slice or testing.TB (no
// allocations of its own).
func readStrings(b []byte, a *Arena) {
	n, o, _ := msgp.ReadMapHeaderBytes(b)
	for range n - 1 {
		_, o, _ = msgp.ReadMapKeyZC(o)
		var s string
		s, o, _ = a.ReadStringBytes(o, 1<<20, "")
		sink = s
	}
}

var sink string

func repeat(n, size int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = strings.Repeat("s", size)
	}
	return s
}

// TestArenaRetention measures what retained strings keep alive: 32 strings
// of 5 bytes, each from a message that held 1,000 other strings and 1 MiB
// of padding, keep at most ChunkSize bytes each; a 64 KiB string keeps only
// itself.
func TestArenaRetention(t *testing.T) {
	const keep = 32
	strs := append([]string{"id-01"}, repeat(1000, 30)...)
	kept := make([]string, keep)
	before := memtest.LiveHeap()
	for i := range kept {
		b := message(strs, 1<<20, 0)
		var a Arena
		kept[i] = readAll(t, b, &a)[0]
		a.Release()
	}
	per := (memtest.LiveHeap() - min(before, memtest.LiveHeap())) / keep
	t.Logf("%d bytes live per retained 5-byte string", per)
	if per > ChunkSize+1024 {
		t.Errorf("%d bytes live per retained 5-byte string, want <= ChunkSize", per)
	}
	runtime.KeepAlive(kept)

	long := strings.Repeat("L", 64<<10)
	before = memtest.LiveHeap()
	for i := range kept {
		b := message([]string{"x", long, "y"}, 0, 0)
		var a Arena
		kept[i] = readAll(t, b, &a)[1]
		a.Release()
	}
	per = (memtest.LiveHeap() - min(before, memtest.LiveHeap())) / keep
	t.Logf("%d bytes live per retained 64 KiB string", per)
	if per > 64<<10+1024 {
		t.Errorf("%d bytes live per retained 64 KiB string, want its length", per)
	}
	runtime.KeepAlive(kept)
}

// TestArenaBytes: bytes come from the chunks with a capacity of their own
// length (an append copies, never writing over a string), long ones get
// their own allocation, empty ones are empty and not nil, and a count the
// input cannot hold is refused with nothing allocated.
func TestArenaBytes(t *testing.T) {
	msg := message([]string{"ab", "cd"}, 0, 0)
	var a Arena
	s, _, err := a.ReadStringBytes(msg[3:], 10, "") // "ab", after the map header and key "a"
	if err != nil || s != "ab" {
		t.Fatalf("string: %q, %v", s, err)
	}
	d := a.Bytes(msg[9:], 2) // as if "cd" were bytes: the 2 bytes after its header
	if len(d) != 2 || cap(d) != 2 {
		t.Fatalf("bytes: len %d cap %d, want 2 2", len(d), cap(d))
	}
	copy(d, "xy")
	s2, _, err := a.ReadStringBytes(msg[8:], 10, "") // "cd" as a string, after d in the same chunk
	if err != nil || s2 != "cd" {
		t.Fatalf("string: %q, %v", s2, err)
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(d)))+2 != uintptr(unsafe.Pointer(unsafe.StringData(s2))) {
		t.Fatal("the string after the bytes is not next to them in the chunk")
	}
	d = append(d, "zzzz"...)
	if s != "ab" || s2 != "cd" || string(d) != "xyzzzz" {
		t.Errorf("after an append to the bytes: strings %q %q, bytes %q", s, s2, d)
	}
	if e := a.Bytes(msg, 0); e == nil || len(e) != 0 {
		t.Errorf("0 bytes: %#v, want empty, not nil", e)
	}
	long := make([]byte, ChunkSize+10)
	if n := testing.AllocsPerRun(10, func() {
		if b := a.Bytes(long, ChunkSize); len(b) != ChunkSize {
			t.Fatalf("long bytes: %d", len(b))
		}
	}); n != 1 {
		t.Errorf("bytes of ChunkSize: %v allocations, want their own 1", n)
	}
	var got []byte
	var fresh Arena
	if n := memtest.Allocated(func() { got = fresh.Bytes(msg[:3], 1<<20) }); got != nil || n != 0 {
		t.Errorf("1 MiB of bytes in 3 bytes of input: %d bytes, %d allocated; want nil, none", len(got), n)
	}
}
