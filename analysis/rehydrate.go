package analysis

import (
	"kvbench/results"
	"kvbench/stats"
)

// Tier-evidence flags: raised by JudgeRehydrate on a run, and carried onto
// every comparison whose arms they concern.
const (
	FlagDiskTierInactive    = "DISK_TIER_INACTIVE"   // a disk-tier run never offloaded a block to disk
	FlagNoRehydrate         = "NO_REHYDRATE"         // a disk-tier run shows no onboarding from disk in replay
	FlagPageCacheMasking    = "PAGE_CACHE_MASKING"   // disk onboarding was served from the page cache
	FlagControlContaminated = "CONTROL_CONTAMINATED" // a run without a disk tier read the disk during replay
	FlagNoTierEvidence      = "NO_TIER_EVIDENCE"     // no KVBM counters for some runs
)

// tierFlags holds, per tier-evidence flag, its description for the
// report's glossary and the reason it gives for a provisional grade.
var tierFlags = map[string]struct{ describe, reason string }{
	FlagDiskTierInactive: {"a disk-tier run never offloaded a block to disk (KVBM's disk offload filter admits a block only after repeated hits)",
		"a candidate run never offloaded to disk"},
	FlagNoRehydrate: {"a disk-tier run shows no onboarding from disk in its replay phases",
		"a candidate disk-tier run shows no onboarding from disk in replay"},
	FlagPageCacheMasking: {"KVBM onboarded blocks from disk but the block device read far less: the page cache served them",
		"disk onboarding was served from the page cache"},
	FlagControlContaminated: {"a run without a disk tier read from the block device during replay, so something else loads the disk",
		"a baseline run read from the disk during replay"},
	FlagNoTierEvidence: {"no KVBM counters were captured for some runs, so the tier behind a difference is unproven",
		"no KVBM counters captured for some runs, so the tier behind the difference is unproven"},
	FlagCountersWithoutIO: {"KVBM counted blocks onboarded from disk, but neither the block device, the server processes nor their read calls (page cache included) show reads: the counters may be wrong",
		"the candidate's disk onboard counters are not backed by any reads"},
	FlagIOWithoutCounters: {"the replay read from storage and got faster than its reference phase while KVBM's disk onboard counters stayed at 0: the counters may be broken; the verdict rests on reads and TTFT",
		"the candidate's disk rehydrate is seen in reads and TTFT but not in KVBM's counters"},
	FlagKVIntegrity: {"the candidate arm answered repeated prompts differently more often than the baseline's own nondeterminism explains (one-sided Fisher exact test, p < 0.05): a sign of wrong KV from a tier",
		"the candidate changed more repeated answers than the baseline (KV integrity)"},
	FlagAnswersChanged: {"more than the threshold share of this run's repeated prompts got a different answer than the first time",
		"a run changed its repeated answers"},
}

// Describe returns the report wording of a flag or interval method: the
// tier-evidence flags here, the others from stats.Describe. The
// "baseline:" and "candidate:" prefixes are accepted; "" for unknown names.
func Describe(name string) string {
	if f, ok := tierFlags[name]; ok {
		return f.describe
	}
	return stats.Describe(name)
}

// RehydrateOptions tunes the heuristics of JudgeRehydrate.
type RehydrateOptions struct {
	// MinReplayReadBytes is the least disk read in replay that counts as a
	// rehydrate from I/O (default 64 MiB).
	MinReplayReadBytes float64
	// FloorBytes is the noise floor of a phase's disk reads (default 16 MiB).
	FloorBytes float64
}

func (o RehydrateOptions) normalized() RehydrateOptions {
	if o.MinReplayReadBytes <= 0 {
		o.MinReplayReadBytes = 64 << 20
	}
	if o.FloorBytes <= 0 {
		o.FloorBytes = 16 << 20
	}
	return o
}

// JudgeRehydrate decides from one run's counters whether KV came back from
// the disk tier in its replay phases, and which flags the run raises:
//
//   - no KVBM counter at all: no_evidence;
//   - no replay-type phase: not_observed;
//   - matched tokens, host and disk onboarding all still in replay: gated
//     (no cross-request reuse path was active);
//   - blocks onboarded from disk in replay: rehydrate_observed, with
//     PAGE_CACHE_MASKING when the block device read less than
//     MinReplayReadBytes or less than ten times the warm phases' reads
//     plus the noise floor;
//   - otherwise not_observed.
//
// A disk-tier run (cpu_disk) that never offloaded to disk is
// DISK_TIER_INACTIVE, and one without a rehydrate NO_REHYDRATE; a run
// without a disk tier whose replay read more than the floor from the
// block device (and ten floors per minute of replay) is
// CONTROL_CONTAMINATED.
func JudgeRehydrate(rt *RunTelemetry, opt RehydrateOptions) Rehydrate {
	opt = opt.normalized()
	out := Rehydrate{RunID: rt.RunID, Arm: rt.Arm, KVMode: rt.KVMode, HaveKVBM: rt.HaveKVBM, KVBM: map[string]float64{},
		Replay: Deltas{KVBM: map[string]float64{}}, Warm: Deltas{KVBM: map[string]float64{}}}
	for _, p := range rt.Phases {
		for k, v := range p.KVBM {
			out.KVBM[k] += v
		}
		switch {
		case results.IsReplayPhase(p.Phase):
			out.HaveReplay = true
			out.Replay.add(p.Deltas)
		case results.IsWritePhase(p.Phase):
			out.Warm.add(p.Deltas)
		}
	}
	diskMode := rt.KVMode == results.KVModeCPUDisk
	if diskMode && rt.HaveKVBM && out.KVBM[results.KVBMOffloadH2D]+out.KVBM[results.KVBMOffloadD2D] == 0 {
		out.Flags = append(out.Flags, FlagDiskTierInactive)
	}
	if !rt.HaveKVBM {
		out.Verdict = results.RehydrateNoEvidence
		weighSources(&out, rt, opt)
		return out
	}
	replay := out.Replay
	diskOnboard := replay.KVBM[results.KVBMOnboardD2D] + replay.KVBM[results.KVBMOnboardD2H]
	ioSaysRead := replay.HaveDevice && replay.DeviceReadBytes >= opt.MinReplayReadBytes &&
		replay.DeviceReadBytes >= 10*(out.Warm.DeviceReadBytes+opt.FloorBytes)
	switch {
	case !out.HaveReplay:
		out.Verdict = results.RehydrateNotObserved
	case replay.KVBM[results.KVBMMatched] == 0 && replay.KVBM[results.KVBMOnboardH2D] == 0 && diskOnboard == 0:
		out.Verdict = results.RehydrateGated
	case diskOnboard > 0:
		out.Verdict = results.RehydrateObserved
		if replay.HaveDevice && !ioSaysRead {
			out.Flags = append(out.Flags, FlagPageCacheMasking)
		}
	default:
		out.Verdict = results.RehydrateNotObserved
	}
	if diskMode && out.Verdict != results.RehydrateObserved {
		out.Flags = append(out.Flags, FlagNoRehydrate)
	}
	minutes := float64(replay.DurationNs) / (60 * nsPerSecond)
	if !diskMode && replay.HaveDevice && replay.DeviceReadBytes > opt.FloorBytes && replay.DeviceReadBytes > 10*opt.FloorBytes*max(1, minutes) {
		out.Flags = append(out.Flags, FlagControlContaminated)
	}
	weighSources(&out, rt, opt)
	return out
}

// add sums p into d.
func (d *Deltas) add(p Deltas) {
	for k, v := range p.KVBM {
		d.KVBM[k] += v
	}
	d.DurationNs += p.DurationNs
	d.DeviceReadBytes += p.DeviceReadBytes
	d.DeviceWriteBytes += p.DeviceWriteBytes
	d.ProcessReadBytes += p.ProcessReadBytes
	d.ProcessWriteBytes += p.ProcessWriteBytes
	d.ProcessSyscallReadBytes += p.ProcessSyscallReadBytes
	d.HaveSyscall = d.HaveSyscall || p.HaveSyscall
	d.HaveDevice = d.HaveDevice || p.HaveDevice
	d.HaveProcess = d.HaveProcess || p.HaveProcess
	d.FilesCreated += p.FilesCreated
	d.FilesRemoved += p.FilesRemoved
	d.HaveCacheDir = d.HaveCacheDir || p.HaveCacheDir
}

// gradeWithEvidence keeps a comparison provisional unless the tier
// counters support it: every candidate run on the disk tier must show a
// rehydrate, and no baseline run may read the disk during replay.
func gradeWithEvidence(s *Summary) {
	flagsByArm := map[string]map[string]bool{}
	noEvidence := map[string]bool{}
	for _, r := range s.Rehydrate {
		if flagsByArm[r.Arm] == nil {
			flagsByArm[r.Arm] = map[string]bool{}
		}
		for _, f := range r.Flags {
			flagsByArm[r.Arm][f] = true
		}
		if r.Verdict == results.RehydrateNoEvidence {
			noEvidence[r.Arm] = true
		}
	}
	base, cand := s.Method.Baseline, s.Method.Candidate
	var extra []string
	for _, f := range []string{FlagDiskTierInactive, FlagNoRehydrate, FlagPageCacheMasking, FlagCountersWithoutIO, FlagIOWithoutCounters} {
		if flagsByArm[cand][f] {
			extra = append(extra, f)
		}
	}
	if flagsByArm[base][FlagControlContaminated] {
		extra = append(extra, FlagControlContaminated)
	}
	if noEvidence[cand] || noEvidence[base] {
		extra = append(extra, FlagNoTierEvidence)
	}
	if len(extra) == 0 {
		return
	}
	reasons := make([]string, len(extra))
	for i, f := range extra {
		reasons[i] = tierFlags[f].reason
	}
	for i := range s.Comparisons {
		c := &s.Comparisons[i]
		c.Flags = append(c.Flags, extra...)
		c.Reasons = append(c.Reasons, reasons...)
		if c.Grade == results.GradeDecision {
			c.Grade = results.GradeProvisional
		}
	}
}
