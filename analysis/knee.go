package analysis

import (
	"sort"
	"strconv"
	"strings"

	"kvbench/results"
)

const metricAttainment = results.MetricSLOAttainment

// DefaultSLOTarget is the attainment a rate sweep's knee must keep.
const DefaultSLOTarget = 0.9

// sweepRateFlag is the sweep axis the knee is read along.
const sweepRateFlag = "request-rate"

// Knee is, for one arm of a request-rate sweep, the highest offered rate at
// which SLO attainment stays at or above the target (at that rate and every
// lower one). Lo and Hi bracket it on the sweep's grid: the highest rate
// whose attainment interval lies wholly above the target, and the highest
// whose interval reaches it. A zero rate means even the lowest rate missed.
type Knee struct {
	Scenario string
	Phase    string
	Arm      string
	Target   float64
	Rate     float64
	Lo, Hi   float64
	// Points is attainment against rate, for the plot.
	Points []RatePoint
}

// RatePoint is one sweep point's attainment with its interval (Lo and Hi
// equal Attainment when there is no interval).
type RatePoint struct {
	Rate               float64
	Attainment, Lo, Hi float64
	Runs               int
}

// knees reads the knee of every arm that was swept over --request-rate
// with an SLO.
func knees(groups []Group, target float64) []Knee {
	type key struct{ scenario, phase, arm string }
	byKey := map[key][]RatePoint{}
	var keys []key
	for _, g := range groups {
		rate, ok := sweepRate(g.Sweep)
		if !ok {
			continue
		}
		for _, m := range g.RunMetrics {
			if m.Name != metricAttainment || len(m.PerRun) == 0 {
				continue
			}
			p := RatePoint{Rate: rate, Attainment: m.Mean, Lo: m.Mean, Hi: m.Mean, Runs: len(m.PerRun)}
			if m.Lo != nil && m.Hi != nil {
				// A share lies in [0, 1]; the t interval over few runs
				// can reach past it.
				p.Lo, p.Hi = max(*m.Lo, 0), min(*m.Hi, 1)
			}
			k := key{g.Scenario, g.Phase, g.Arm}
			if byKey[k] == nil {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], p)
		}
	}
	var out []Knee
	for _, k := range keys {
		pts := byKey[k]
		sort.Slice(pts, func(i, j int) bool { return pts[i].Rate < pts[j].Rate })
		kn := Knee{Scenario: k.scenario, Phase: k.phase, Arm: k.arm, Target: target, Points: pts}
		kn.Rate = highestHolding(pts, target, func(p RatePoint) float64 { return p.Attainment })
		kn.Lo = highestHolding(pts, target, func(p RatePoint) float64 { return p.Lo })
		kn.Hi = highestHolding(pts, target, func(p RatePoint) float64 { return p.Hi })
		out = append(out, kn)
	}
	return out
}

// highestHolding is the highest rate up to which v stays at or above
// target at every point, 0 when the lowest point misses.
func highestHolding(pts []RatePoint, target float64, v func(RatePoint) float64) float64 {
	best := 0.0
	for _, p := range pts {
		if v(p) < target {
			break
		}
		best = p.Rate
	}
	return best
}

// sweepRate reads the request rate of a sweep label "flag=value,...".
func sweepRate(sweep string) (float64, bool) {
	for _, part := range strings.Split(sweep, ",") {
		if v, ok := strings.CutPrefix(part, sweepRateFlag+"="); ok {
			r, err := strconv.ParseFloat(v, 64)
			return r, err == nil && r > 0
		}
	}
	return 0, false
}
