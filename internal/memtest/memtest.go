// Package memtest measures memory for tests: what is live on the heap, and
// what a function allocates.
package memtest

import "runtime"

// LiveHeap is the heap in use after two full collections (the second one
// frees what finalizers of the first released).
func LiveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Allocated returns the bytes f allocates on the heap, the runtime's own
// allocations during f included.
func Allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}
