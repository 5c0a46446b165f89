package bench

import (
	"slices"
	"testing"
	"time"
)

// pairBlock is how many round trips one block of BenchmarkPaired makes with
// one impl before it turns to the next (about 0.2 ms at Status's floor).
const pairBlock = 32

// A pairedImpl is one column of a paired benchmark: block does one block
// of its work (the same amount for every impl of the benchmark).
type pairedImpl struct {
	name  string
	block func() error
}

// runPaired runs the impls' blocks in turn, impl after impl, once per
// b.Loop iteration, the floor first. Each block of an impl runs within a
// millisecond of a block of the floor, so a host whose speed drifts from
// one second to the next (a shared vCPU: pinned, the separate RoundTrip rows
// read Status 1.18x-2.0x the floor from round to round on the same code)
// still gives steady ratios. For every impl but the floor it reports the
// metric "<name>/raw": the median over iterations of its block's time over
// the floor's (throughput: the floor's time over its, as a target stated
// in throughput reads). The benchmark's own ns/op is the time of one block
// of every impl and means nothing alone.
func runPaired(b *testing.B, throughput bool, impls []pairedImpl) {
	b.Helper()
	if impls[0].name != "raw" {
		b.Fatalf("the first impl is %q, not the floor", impls[0].name)
	}
	ratios := make([][]float64, len(impls))
	for b.Loop() {
		var floor float64
		for i, im := range impls {
			t0 := time.Now()
			if err := im.block(); err != nil {
				b.Fatalf("%s: %v", im.name, err)
			}
			d := float64(time.Since(t0))
			if i == 0 {
				floor = d
			}
			r := d / floor
			if throughput {
				r = floor / d
			}
			ratios[i] = append(ratios[i], r)
		}
	}
	for i, im := range impls[1:] {
		b.ReportMetric(median(ratios[i+1]), im.name+"/raw")
	}
}

// BenchmarkPaired is the RoundTrip rows' impls (not reflect, ttrpc, grpc:
// far from the floor) in paired blocks of pairBlock round trips; the
// metric X/raw is X's time over the floor's.
func BenchmarkPaired(b *testing.B) {
	for _, call := range []string{"List10", "Status"} {
		b.Run(call, func(b *testing.B) {
			var impls []pairedImpl
			for _, im := range unaryImpls() {
				switch im.name {
				case "reflect", "ttrpc", "grpc":
					continue
				}
				do := im.setup(b, trim(call))
				for range 100 { // connect and warm up
					if err := do(); err != nil {
						b.Fatal(err)
					}
				}
				impls = append(impls, pairedImpl{im.name, func() error {
					for range pairBlock {
						if err := do(); err != nil {
							return err
						}
					}
					return nil
				}})
			}
			runPaired(b, false, impls)
		})
	}
}

// BenchmarkPairedParallel is BenchmarkParallel's raw, mgmtgen and
// client-only impls in paired blocks: g goroutines sharing one connection
// make 16*g calls (at least 64) per block; the metric X/raw is X's
// throughput over the floor's, as the target (>= 0.8x) is stated.
func BenchmarkPairedParallel(b *testing.B) {
	for _, g := range []int{1, 4, 16, 64} {
		b.Run("g="+itoa(g), func(b *testing.B) {
			n := max(64, 16*g)
			var impls []pairedImpl
			for _, im := range parallelImpls() {
				switch im.name {
				case "ttrpc", "grpc":
					continue
				}
				mk := im.setup(b)
				if _, err := spread(g, 100, mk); err != nil { // connect and warm up
					b.Fatal(err)
				}
				impls = append(impls, pairedImpl{im.name, func() error {
					_, err := spread(g, n, mk)
					return err
				}})
			}
			runPaired(b, true, impls)
		})
	}
}

// median returns the median of v, which it leaves as it was.
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
