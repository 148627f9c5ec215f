package analysis

import (
	"time"

	"kvbench/ingest"
	"kvbench/results"
)

// meetsSLO reports whether a request meets slo: it succeeded and every
// bound that is set holds (ITL: its 90th-percentile chunk gap).
func meetsSLO(slo results.SLO, q *ingest.Request) bool {
	var ttft *time.Duration
	if q.HasTTFT {
		d := time.Duration(q.TTFTNs)
		ttft = &d
	}
	return slo.Meets(q.ErrorKind == "", ttft, time.Duration(q.ITLP90Ns), time.Duration(q.LatencyNs))
}

// sloFor returns the SLO a run is judged by: Options.SLO when set (the
// analyze value wins), else the --slo the run was captured with.
func (a *Analyzer) sloFor(m *results.Manifest) results.SLO {
	if a.opt.SLO.IsSet() {
		return a.opt.SLO
	}
	s, err := results.ParseSLO(m.Config["slo"])
	if err != nil {
		return results.SLO{}
	}
	return s
}
