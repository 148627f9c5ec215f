package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// The run-level part of a multi-run interval. Three sources of uncertainty in
// the pooled p-quantile of G runs, each measured on the log scale:
//
//   - the spread of the per-run log quantiles (sd/√G): where the runs' centre is;
//   - the delete-one-run jackknife of the log pooled quantile: at high quantiles
//     the pooled tail comes mostly from the slowest runs, so it moves with the run
//     effects more than their mean does;
//   - the between-run variance itself (spreadSE): the quantile over runs like
//     these sits z_p·√(τ² + σ²) above the centre, τ the within-run spread and σ
//     the run-to-run one, and σ² estimated from G runs is uncertain by a factor
//     √(2/(G−1)). At p99 on a cache hit/miss mixture whose slow mode is narrow,
//     that term is as large as the first, and without it the interval covers 92%.
//
// The half-width is t_{G−1}·√(max(sd²/G, se_J²) + se_σ²). The pooled quantile
// of few runs is biased low at high quantiles (a run with a large effect is
// often missing), so the upper end is raised by the jackknife's estimate of
// that bias when it is positive.

// logMoments holds each run's mean and variance of log values; ok is false when
// some value is not positive.
type logMoments struct {
	mean, variance []float64
	n              []int
	ok             bool
}

func runLogMoments(sorted [][]float64) logMoments {
	m := logMoments{mean: make([]float64, len(sorted)), variance: make([]float64, len(sorted)), n: make([]int, len(sorted)), ok: true}
	for g, xs := range sorted {
		if len(xs) == 0 || !(xs[0] > 0) {
			m.ok = false
			return m
		}
		// Welford: one pass, no slice of logs.
		var mu, m2 float64
		for i, x := range xs {
			l := math.Log(x)
			d := l - mu
			mu += d / float64(i+1)
			m2 += d * (l - mu)
		}
		m.mean[g], m.n[g] = mu, len(xs)
		if len(xs) > 1 {
			m.variance[g] = m2 / float64(len(xs)-1)
		}
	}
	return m
}

// spreadSE is the delta-method standard error of the log p-quantile over runs
// like these that comes from estimating the between-run variance σ² of log
// values (a normal approximation): the quantile sits z_p·√(τ² + σ²) from the
// centre, so it moves by z_p/(2√(τ² + σ²)) per unit of σ², and
// Var(σ̂²) ≈ 2σ⁴/(G−1). τ is the local within-run log scale at the quantile,
// from the spacing of each run's quantiles at p and at a quantile nearer the
// median (p2 = 1 − 5(1−p), at least the median); σ̂² is the variance of the
// per-run mean logs less their within-run sampling variance. It is 0 at the
// median, when runs agree, and when some value is not positive.
func (s *sample) spreadSE(perRun []float64, p float64) float64 {
	lm := s.logMoments()
	G := len(lm.mean)
	if !lm.ok || G < 2 || len(perRun) != G || p == 0.5 || p <= 0 || p >= 1 {
		return 0
	}
	p2 := math.Max(0.5, 1-5*(1-p))
	if p < 0.5 {
		p2 = math.Min(0.5, 5*p)
	}
	z, z2 := distuv.UnitNormal.Quantile(p), distuv.UnitNormal.Quantile(p2)
	var within, tau float64
	for g, xs := range s.sorted {
		within += lm.variance[g] / float64(lm.n[g]) / float64(G)
		q2 := Quantile(xs, p2)
		if !(q2 > 0) {
			return 0
		}
		tau += (math.Log(perRun[g]) - math.Log(q2)) / (z - z2) / float64(G)
	}
	_, between := meanVar(lm.mean)
	s2 := math.Max(0, between-within)
	S := math.Sqrt(tau*tau + s2)
	if !(S > 0) {
		return 0
	}
	return math.Abs(z) * s2 / (S * math.Sqrt(2*float64(G-1)))
}

// runSpreadInterval is the run-level interval described above, centred on the
// pooled value: value·exp(−h), value·exp(h + bias).
func (s *sample) runSpreadInterval(value float64, perRun []float64, p, conf float64) (lo, hi float64) {
	G := len(perRun)
	_, vy := meanVar(logs(perRun))
	v := vy / float64(G)
	var bias float64
	if vj, mj, ok := s.jackknifeVar(p); ok {
		v = math.Max(v, vj)
		bias = math.Max(0, float64(G-1)*(math.Log(value)-mj))
	}
	se := s.spreadSE(perRun, p)
	tq := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(G - 1)}.Quantile(1 - (1-conf)/2)
	h := tq * math.Sqrt(v+se*se)
	return value * math.Exp(-h), value * math.Exp(h+bias)
}
