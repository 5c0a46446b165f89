// Package bench holds mgmtgen's comparison benchmarks: the generated codec
// against reflection msgpack (vmihailenco/msgpack v5, as cliwrap uses it),
// and round trips, concurrency, streams and memory against a raw-socket
// floor, ttrpc and grpc-go. It is its own module so that the comparison-only
// dependencies never reach users of mgmtgen. See README.md.
package bench
