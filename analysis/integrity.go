package analysis

import (
	"fmt"

	"kvbench/ingest"
	"kvbench/results"
	"kvbench/stats"
)

// The KV integrity check. With greedy decoding, a prompt asked again in
// the same run must get the same answer; capture marks every repeated
// answer as matching the prompt's first answer or not (answer_match). A
// tier that serves wrong KV (a disk onboard whose transfer failed while
// the counter reports a hit) changes answers. Some engines are not
// bit-for-bit deterministic under batching, so the baseline arm's own share
// of changed answers is the yardstick: the candidate's share is a finding
// only when it is larger than the baseline's beyond chance (one-sided
// Fisher exact test).

// Integrity flags.
const (
	// FlagAnswersChanged marks a run whose share of changed repeated
	// answers is above Options.MaxAnswerChange.
	FlagAnswersChanged = "ANSWERS_CHANGED"
	// FlagKVIntegrity marks comparisons when the candidate arm changed
	// significantly more repeated answers than the baseline arm.
	FlagKVIntegrity = "KV_INTEGRITY"
)

// DefaultMaxAnswerChange is the share of changed repeated answers above
// which a run is marked.
const DefaultMaxAnswerChange = 0.02

// integrityAlpha is the significance level of the candidate-vs-baseline
// test.
const integrityAlpha = 0.05

// RunIntegrity is one run's repeated answers: how many were compared with
// their prompt's first answer, and how many changed.
type RunIntegrity struct {
	RunID    string
	Arm      string
	Compared int
	Changed  int
	// Flagged is true when Changed/Compared exceeds the threshold.
	Flagged bool
}

// ArmIntegrity pools an arm's runs.
type ArmIntegrity struct {
	Arm      string
	Compared int
	Changed  int
}

// Share returns the share of compared answers that changed (0 when none
// were compared).
func (a ArmIntegrity) Share() float64 {
	if a.Compared == 0 {
		return 0
	}
	return float64(a.Changed) / float64(a.Compared)
}

// Integrity is the KV integrity check of the analysis.
type Integrity struct {
	// Threshold is the share of changed answers above which a run is
	// flagged.
	Threshold float64
	Runs      []RunIntegrity
	Arms      []ArmIntegrity
	// PValue is the one-sided Fisher exact p-value that the candidate arm
	// changed a larger share of answers than the baseline; nil when an arm
	// has no compared answers.
	PValue *float64
	// Finding is true when the candidate changed significantly more
	// answers than the baseline (PValue < 0.05 and a larger share).
	Finding bool
}

// addIntegrity counts a run's compared and changed answers.
func (a *Analyzer) addIntegrity(r *ingest.Run) {
	ri := RunIntegrity{RunID: r.Manifest.RunID, Arm: r.Manifest.TierMode}
	for i := range r.Requests {
		switch r.Requests[i].AnswerMatch {
		case ingest.AnswerSame:
			ri.Compared++
		case ingest.AnswerChanged:
			ri.Compared++
			ri.Changed++
		}
	}
	if ri.Compared == 0 {
		return
	}
	ri.Flagged = float64(ri.Changed) > a.maxAnswerChange()*float64(ri.Compared)
	a.integrity = append(a.integrity, ri)
}

func (a *Analyzer) maxAnswerChange() float64 {
	if a.opt.MaxAnswerChange > 0 {
		return a.opt.MaxAnswerChange
	}
	return DefaultMaxAnswerChange
}

// integritySummary pools the runs per arm and tests the candidate against
// the baseline.
func (a *Analyzer) integritySummary() Integrity {
	in := Integrity{Threshold: a.maxAnswerChange(), Runs: a.integrity}
	idx := map[string]int{}
	for _, r := range a.integrity {
		i, ok := idx[r.Arm]
		if !ok {
			i = len(in.Arms)
			idx[r.Arm] = i
			in.Arms = append(in.Arms, ArmIntegrity{Arm: r.Arm})
		}
		in.Arms[i].Compared += r.Compared
		in.Arms[i].Changed += r.Changed
	}
	bi, bok := idx[a.opt.Baseline]
	ci, cok := idx[a.opt.Candidate]
	if !bok || !cok {
		return in
	}
	b, c := in.Arms[bi], in.Arms[ci]
	p := stats.FisherGreater(c.Changed, c.Compared-c.Changed, b.Changed, b.Compared-b.Changed)
	in.PValue = &p
	in.Finding = p < integrityAlpha && c.Share() > b.Share()
	return in
}

// Statement words the integrity result for the verdict section: empty
// when no answers were compared.
func (in Integrity) Statement(baseline, candidate string) string {
	var b, c *ArmIntegrity
	for i := range in.Arms {
		switch in.Arms[i].Arm {
		case baseline:
			b = &in.Arms[i]
		case candidate:
			c = &in.Arms[i]
		}
	}
	if b == nil || c == nil || in.PValue == nil {
		return ""
	}
	shares := fmt.Sprintf("%s changed %d of %d repeated answers (%.1f%%), %s %d of %d (%.1f%%); one-sided Fisher p = %.3g",
		candidate, c.Changed, c.Compared, 100*c.Share(), baseline, b.Changed, b.Compared, 100*b.Share(), *in.PValue)
	if in.Finding {
		return "KV integrity: " + candidate + " answers repeated prompts differently more often than " + baseline +
			"'s own nondeterminism explains, a sign of wrong KV from its tiers: " + shares + "."
	}
	return "KV integrity: no difference beyond " + baseline + "'s own nondeterminism: " + shares + "."
}

// flagIntegrity marks every comparison with KV_INTEGRITY when the check
// found the candidate changing answers, and keeps them provisional: a
// faster arm that serves wrong KV is no win.
func flagIntegrity(s *Summary) {
	if !s.Integrity.Finding {
		return
	}
	for i := range s.Comparisons {
		c := &s.Comparisons[i]
		c.Flags = append(c.Flags, FlagKVIntegrity)
		c.Reasons = append(c.Reasons, "the candidate changed more repeated answers than the baseline (KV integrity)")
		if c.Grade == results.GradeDecision {
			c.Grade = results.GradeProvisional
		}
	}
}
