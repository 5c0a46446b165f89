package bench

import (
	"fmt"

	"github.com/mgmtgen/mgmtgen/gen/mgmt"
)

// Reflection mirrors of the mgmt payloads, tagged as cliwrap's own mgmt
// structs are: vmihailenco/msgpack encodes them by reflection as maps keyed
// by the short tag strings, the same bytes the generated code writes.
type (
	// RListEntry mirrors mgmt.ListEntry.
	RListEntry struct {
		ID       string `msgpack:"id"`
		Name     string `msgpack:"name"`
		State    string `msgpack:"state"`
		ChildPID int    `msgpack:"pid"`
		RSS      uint64 `msgpack:"rss"`
	}
	// RListResponse mirrors mgmt.ListResponsePayload.
	RListResponse struct {
		Entries []RListEntry `msgpack:"entries"`
	}
	// RStatusRequest mirrors mgmt.StatusRequestPayload.
	RStatusRequest struct {
		ID string `msgpack:"id"`
	}
	// RStatusResponse mirrors mgmt.StatusResponsePayload.
	RStatusResponse struct {
		Entry RListEntry `msgpack:"entry"`
		Err   string     `msgpack:"err"`
	}
	// RLogsStream mirrors mgmt.LogsStreamPayload.
	RLogsStream struct {
		ID     string `msgpack:"id"`
		Stream uint8  `msgpack:"s"`
		Data   []byte `msgpack:"d"`
		EOF    bool   `msgpack:"eof"`
	}
	// REventsStream mirrors mgmt.EventsStreamPayload.
	REventsStream struct {
		ProcessID string `msgpack:"pid"`
		Type      string `msgpack:"t"`
		Timestamp int64  `msgpack:"ts"`
		Summary   string `msgpack:"sum"`
	}
)

// Entry returns the i-th fixture process, with realistic field sizes.
func Entry(i int) mgmt.ListEntry {
	return mgmt.ListEntry{
		ID:       fmt.Sprintf("proc-%04d", i),
		Name:     fmt.Sprintf("worker %d (nginx -g daemon off)", i),
		State:    "running",
		ChildPID: 40000 + i,
		RSS:      uint64(48<<20 + i*4096),
	}
}

// ListResponse returns a list response with n entries.
func ListResponse(n int) *mgmt.ListResponsePayload {
	p := &mgmt.ListResponsePayload{Entries: make([]mgmt.ListEntry, n)}
	for i := range p.Entries {
		p.Entries[i] = Entry(i)
	}
	return p
}

// StatusRequest is the Status request fixture.
func StatusRequest() *mgmt.StatusRequestPayload {
	return &mgmt.StatusRequestPayload{ID: "proc-0007"}
}

// StatusResponse is the Status response fixture.
func StatusResponse() *mgmt.StatusResponsePayload {
	return &mgmt.StatusResponsePayload{Entry: Entry(7)}
}

// LogsChunk returns a followed-log frame carrying n bytes of output.
func LogsChunk(n int) *mgmt.LogsStreamPayload {
	d := make([]byte, n)
	for i := range d {
		d[i] = "0123456789abcdefghijklmnopqrstuvwxyz \n"[i%38]
	}
	return &mgmt.LogsStreamPayload{ID: "proc-0007", Stream: 0, Data: d}
}

// Event is the EventsStream fixture.
func Event() *mgmt.EventsStreamPayload {
	return &mgmt.EventsStreamPayload{
		ProcessID: "proc-0007",
		Type:      "process.crashed",
		Timestamp: 1764100000123456789,
		Summary:   "exit status 137 (signal: killed) after 3h12m",
	}
}

// Reflect returns the reflection mirror of a generated payload.
func Reflect(p any) any {
	entry := func(e mgmt.ListEntry) RListEntry { return RListEntry(e) }
	switch p := p.(type) {
	case *mgmt.ListResponsePayload:
		r := &RListResponse{Entries: make([]RListEntry, len(p.Entries))}
		for i, e := range p.Entries {
			r.Entries[i] = entry(e)
		}
		return r
	case *mgmt.StatusRequestPayload:
		return &RStatusRequest{ID: p.ID}
	case *mgmt.StatusResponsePayload:
		return &RStatusResponse{Entry: entry(p.Entry), Err: p.Err}
	case *mgmt.LogsStreamPayload:
		return &RLogsStream{ID: p.ID, Stream: p.Stream, Data: p.Data, EOF: p.EOF}
	case *mgmt.EventsStreamPayload:
		return &REventsStream{ProcessID: p.ProcessID, Type: p.Type, Timestamp: p.Timestamp, Summary: p.Summary}
	}
	panic(fmt.Sprintf("bench: no reflection mirror for %T", p))
}
