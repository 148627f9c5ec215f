package analysis

import (
	"hash/fnv"
	"slices"
	"strconv"

	"kvbench/results"
	"kvbench/stats"
)

// verdictWords and gradeWords name the outcomes of package stats with the
// shared words.
var (
	verdictWords = [...]string{
		stats.VerdictInsufficient: results.VerdictInsufficient,
		stats.VerdictBetter:       results.VerdictBetter,
		stats.VerdictWorse:        results.VerdictWorse,
		stats.VerdictEquivalent:   results.VerdictEquivalent,
		stats.VerdictInconclusive: results.VerdictInconclusive,
	}
	gradeWords = [...]string{
		stats.GradeProvisional: results.GradeProvisional,
		stats.GradeDecision:    results.GradeDecision,
	}
)

// armKey identifies one arm's estimates of one metric in one group.
type armKey struct {
	key    groupKey
	metric string
}

// cell is a comparison's place: everything of a group key but the arm.
type cell struct {
	scenario, phase string
	concurrency     int
	sweep           string
	pass            int
	split           string
}

// compare pairs the candidate arm with the baseline arm in every cell
// where both exist. It also returns each compared arm's quantile
// estimates.
func (a *Analyzer) compare(groups []*group) ([]Comparison, map[armKey][]stats.Estimate) {
	est := map[armKey][]stats.Estimate{}
	arms := map[cell]map[string]*group{}
	var cells []cell
	for _, g := range groups {
		c := cell{g.key.scenario, g.key.phase, g.key.concurrency, g.key.sweep, g.key.pass, g.key.split}
		if arms[c] == nil {
			arms[c] = map[string]*group{}
			cells = append(cells, c)
		}
		arms[c][g.key.arm] = g
	}
	out := []Comparison{}
	for _, c := range cells {
		base, cand := arms[c][a.opt.Baseline], arms[c][a.opt.Candidate]
		if base == nil || cand == nil {
			continue
		}
		for _, mt := range metrics {
			out = append(out, a.compareQuantiles(c, base, cand, mt, est)...)
		}
		for _, rm := range runMetrics {
			if cmp, ok := a.compareRunMetric(c, base, cand, rm.id, rm.unit, rm.get); ok {
				out = append(out, cmp)
			}
		}
	}
	return out, est
}

// compareQuantiles compares one per-request metric at every quantile, with
// Holm-adjusted p-values across the quantiles, and records both arms'
// estimates in est.
func (a *Analyzer) compareQuantiles(c cell, base, cand *group, mt requestMetric, est map[armKey][]stats.Estimate) []Comparison {
	br, cr := base.runsOf(mt.get), cand.runsOf(mt.get)
	if len(br) == 0 || len(cr) == 0 {
		return nil
	}
	o := a.so
	o.Stream = streamOf(groupKey{c.scenario, c.phase, a.opt.Baseline + ">" + a.opt.Candidate, c.concurrency, c.sweep, c.pass, c.split}, mt.stream)
	cmps := stats.CompareQuantiles(br, cr, a.opt.Quantiles, base.failures(mt.censored), cand.failures(mt.censored), o)
	var ps []float64
	for _, cmp := range cmps {
		if cmp.Method != stats.MethodNone {
			ps = append(ps, cmp.PValue)
		}
	}
	holm := stats.HolmAdjust(ps)
	out := make([]Comparison, 0, len(cmps))
	for _, cmp := range cmps {
		bk, ck := armKey{base.key, mt.id}, armKey{cand.key, mt.id}
		est[bk] = append(est[bk], cmp.Baseline)
		est[ck] = append(est[ck], cmp.Candidate)
		rc := comparison(c, mt.id, results.UnitNanoseconds, "p"+pctString(cmp.P), cmp)
		if cmp.Method != stats.MethodNone {
			rc.PHolm = ptr(holm[0])
			holm = holm[1:]
		}
		out = append(out, rc)
	}
	return out
}

// compareRunMetric compares the per-run means of a run-level metric
// (higher is better).
func (a *Analyzer) compareRunMetric(c cell, base, cand *group, metric, unit string, get func(*series) (float64, bool)) (Comparison, bool) {
	bv, cv := base.perRun(get), cand.perRun(get)
	if len(bv) == 0 || len(cv) == 0 {
		return Comparison{}, false
	}
	o := a.so
	o.HigherIsBetter = true
	return comparison(c, metric, unit, "mean", stats.CompareRunMeans(bv, cv, o)), true
}

// comparison turns a stats comparison into a summary row.
func comparison(c cell, metric, unit, statistic string, cmp stats.Comparison) Comparison {
	rc := Comparison{
		Scenario: c.scenario, Phase: c.phase, Pass: c.pass, Concurrency: c.concurrency, Sweep: c.sweep, Split: c.split, Metric: metric, Unit: unit,
		P: cmp.P, Statistic: statistic, Baseline: cmp.Baseline.Value, Candidate: cmp.Candidate.Value,
		Delta: cmp.Delta, Ratio: cmp.Ratio, Verdict: verdictWords[cmp.Verdict], Grade: gradeWords[cmp.Grade],
		Flags: slices.Clone(cmp.Flags), Reasons: slices.Clone(cmp.Reasons), Method: cmp.Method,
	}
	if cmp.Method != stats.MethodNone {
		rc.DeltaLo, rc.DeltaHi = ptr(cmp.DeltaLo), ptr(cmp.DeltaHi)
		rc.RatioLo, rc.RatioHi = ptr(cmp.RatioLo), ptr(cmp.RatioHi)
		rc.PValue = ptr(cmp.PValue)
	}
	return rc
}

// streamOf derives a random stream from a group's keys, so each group's
// resampling is independent of the others and of their order.
func streamOf(k groupKey, stream string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(k.scenario + "\x00" + k.phase + "\x00" + k.arm + "\x00" + stream))
	if k.sweep != "" {
		h.Write([]byte("\x00" + k.sweep))
	}
	if k.pass != 0 {
		h.Write([]byte("\x00#" + strconv.Itoa(k.pass)))
	}
	if k.split != "" {
		h.Write([]byte("\x01" + k.split))
	}
	h.Write([]byte{byte(k.concurrency), byte(k.concurrency >> 8), byte(k.concurrency >> 16)})
	return h.Sum64() &^ 1 // even: Compare uses Stream and Stream+1
}

// pctString formats 0.99 as "99".
func pctString(p float64) string { return strconv.FormatFloat(p*100, 'f', -1, 64) }
