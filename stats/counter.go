package stats

import "math"

// CounterDelta returns the increase of a cumulative counter (Prometheus counter,
// /proc I/O bytes, ...) over samples in time order. A drop means the counter restarted
// from zero (process restart): the post-reset value is added, as Prometheus' increase()
// does. NaN and infinite samples are skipped. Fewer than two valid samples give 0.
// Note: an increase between the last pre-reset sample and the reset itself is lost;
// no method can recover it from samples.
func CounterDelta(values []float64) float64 {
	var delta float64
	prev, have := 0.0, false
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if have {
			if v >= prev {
				delta += v - prev
			} else {
				delta += v
			}
		}
		prev, have = v, true
	}
	return delta
}
