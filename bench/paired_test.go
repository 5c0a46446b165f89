package bench

import (
	"slices"
	"testing"
	"time"
)

// pairBlock is how many round trips one block of BenchmarkPaired makes with
// one impl before it turns to the next (about 0.2 ms at Status's floor).
const pairBlock = 32

// BenchmarkPaired makes the RoundTrip rows' round trips in alternating
// blocks of pairBlock, impl after impl, all within one benchmark. Each block
// of an impl runs within a millisecond of a block of the floor, so a host
// whose speed drifts from one second to the next (a shared vCPU: pinned, the
// separate RoundTrip rows read Status 1.18x-2.0x the floor from round to
// round on the same code) still gives steady ratios: the metric "X/raw" is
// the median over block pairs of X's time over the floor's. The benchmark's
// own ns/op is the time of one block of every impl and means nothing alone.
func BenchmarkPaired(b *testing.B) {
	for _, call := range []string{"List10", "Status"} {
		b.Run(call, func(b *testing.B) {
			var names []string
			var dos []func() error
			for _, im := range unaryImpls() {
				switch im.name {
				case "reflect", "ttrpc", "grpc": // far from the floor
					continue
				}
				do := im.setup(b, trim(call))
				for range 100 { // connect and warm up
					if err := do(); err != nil {
						b.Fatal(err)
					}
				}
				names, dos = append(names, im.name), append(dos, do)
			}
			if names[0] != "raw" {
				b.Fatalf("the first impl is %q, not the floor", names[0])
			}
			ratios := make([][]float64, len(dos))
			for b.Loop() {
				var floor float64
				for i, do := range dos {
					t0 := time.Now()
					for range pairBlock {
						if err := do(); err != nil {
							b.Fatal(err)
						}
					}
					d := float64(time.Since(t0))
					if i == 0 {
						floor = d
					}
					ratios[i] = append(ratios[i], d/floor)
				}
			}
			for i, n := range names[1:] {
				b.ReportMetric(median(ratios[i+1]), n+"/raw")
			}
		})
	}
}

// median returns the median of v, which it leaves as it was.
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
