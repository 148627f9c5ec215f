package stats

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// Variation is the variance of a per-run log quantile split into its parts,
// estimated from pilot runs: y_r = μ_arm + u_r + e_r with Var(u) = Between (run
// to run) and Var(e) = WithinN/N (request sampling within a run of N requests).
type Variation struct {
	P float64
	// Between is the run-to-run variance of log quantiles (floored at 0).
	Between float64
	// WithinN is N times the within-run variance of a run's log quantile, so a
	// run of n requests has within-run variance WithinN/n.
	WithinN float64
	// N is the mean number of requests per pilot run.
	N float64
	// Runs is the number of pilot runs per arm that entered, and DF the degrees of
	// freedom of the pooled variance of per-run log quantiles.
	Runs []int
	DF   int
}

// EstimateVariation estimates the variation of the log p-quantile from pilot
// runs of one or more arms (each arm a list of runs): the within-run part from
// the order-statistic bootstrap variance of each run's log quantile, the total
// from the spread of per-run log quantiles around their arm's mean, pooled over
// arms. ok is false when some arm has fewer than two runs with a positive
// quantile.
func EstimateVariation(arms [][][]float64, p float64, opt Options) (Variation, bool) {
	opt = opt.normalized()
	v := Variation{P: p}
	var ss, within, nsum float64
	var runs int
	for a, arm := range arms {
		s := prepare(arm)
		var y []float64
		for r, xs := range s.sorted {
			q := Quantile(xs, p)
			if !(q > 0) {
				continue
			}
			y = append(y, math.Log(q))
			key := streamKey{seed: opt.Seed, stream: opt.Stream + uint64(a), role: roleRunVar, p: p, sub: uint64(r)}
			reps := make([]float64, opt.TwoStageResamples)
			smp := newOSSampler(xs, p)
			fillBlocks(reps, 1, key, func() func(*rand.Rand, []float64) {
				return func(rr *rand.Rand, dst []float64) {
					for i := range dst {
						dst[i] = math.Log(smp.draw(rr))
					}
				}
			})
			_, wv := meanVar(reps)
			within += wv * float64(len(xs))
			nsum += float64(len(xs))
		}
		v.Runs = append(v.Runs, len(y))
		if len(y) < 2 {
			return v, false
		}
		_, vy := meanVar(y)
		ss += vy * float64(len(y)-1)
		v.DF += len(y) - 1
		runs += len(y)
	}
	if v.DF == 0 {
		return v, false
	}
	v.N = nsum / float64(runs)
	v.WithinN = within / float64(runs)
	v.Between = math.Max(0, ss/float64(v.DF)-v.WithinN/v.N)
	return v, true
}

// PerRunVar is the variance of one run's log quantile with n requests.
func (v Variation) PerRunVar(n float64) float64 { return v.Between + v.WithinN/n }

// Power is the approximate power of CompareQuantiles with G runs per arm of n
// requests each to detect a change of the quantile by the factor 1+change
// (change -0.1 is 10% lower) at confidence conf. The comparison's interval is a
// union, so its power is that of its widest part: the smaller of a t test on
// per-run log quantiles with G−1 degrees of freedom (the run-level parts) and a
// normal test with the two-stage bootstrap's variance, which counts within-run
// noise twice (runs resampled with their noise, then requests within them).
// Noncentral t is approximated by a shifted central t.
func (v Variation) Power(G int, n, change, conf float64) float64 {
	if G < 2 || !(1+change > 0) {
		return 0
	}
	d := math.Abs(math.Log1p(change))
	two := func(dist interface {
		Quantile(float64) float64
		Survival(float64) float64
		CDF(float64) float64
	}, perRunVar float64) float64 {
		se := math.Sqrt(2 * perRunVar / float64(G))
		if se == 0 {
			return 1
		}
		c := dist.Quantile(1 - (1-conf)/2)
		return dist.Survival(c-d/se) + dist.CDF(-c-d/se)
	}
	t := two(distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(2 * (G - 1))}, v.PerRunVar(n))
	z := two(distuv.UnitNormal, v.Between+2*v.WithinN/n)
	return math.Min(t, z)
}

// RunsNeeded is the least number of runs per arm (at least 2) whose Power
// reaches power, or maxRuns+1 when even maxRuns do not.
func (v Variation) RunsNeeded(n, change, power, conf float64, maxRuns int) int {
	for G := 2; G <= maxRuns; G++ {
		if v.Power(G, n, change, conf) >= power {
			return G
		}
	}
	return maxRuns + 1
}

// RequestsNeeded is the least number of requests per run, between the count
// that puts 50 requests beyond the quantile in each arm (the decision-grade
// minimum) and maxN, with which G runs per arm reach power; ok is false when
// even maxN do not. With G from RunsNeeded at the pilot's run size it trims
// the runs to what the power needs, so the plan's power is near the target
// rather than wherever the integer run count lands.
func (v Variation) RequestsNeeded(G int, change, power, conf float64, maxN int) (n int, ok bool) {
	if !(v.P > 0 && v.P < 1) || maxN < 2 || v.Power(G, float64(maxN), change, conf) < power {
		return 0, false
	}
	lo := int(math.Ceil(float64(decisionMinTail) / (float64(G) * math.Min(v.P, 1-v.P))))
	lo = max(2, min(lo, maxN))
	if v.Power(G, float64(lo), change, conf) >= power {
		return lo, true
	}
	hi := maxN // Power(lo) < power <= Power(hi); Power grows with n
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if v.Power(G, float64(mid), change, conf) >= power {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true
}
