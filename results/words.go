package results

import (
	"slices"
	"strings"
)

// This file holds the words capture, analysis and report share: what each
// phase is for, the metric identifiers, the verdict and grade names, and the
// KVBM counter families under every name Dynamo has given them. Nobody else
// spells them as literals.

// Phase roles: what a phase is for in the comparison.
const (
	// RoleWarmup phases are never in statistics.
	RoleWarmup = "warmup"
	// RoleMeasured phases are measured without a planned return to
	// evicted KV (standard's measure).
	RoleMeasured = "measured"
	// RoleSetup phases write the working set (populate, thrash).
	RoleSetup = "setup"
	// RoleReference phases measure the same prompts before eviction, the
	// same run's reference for a replay (rehydrate_replay's
	// baseline_replay).
	RoleReference = "reference"
	// RoleReplay phases send prompts whose KV was cached earlier in the
	// run, so cached KV comes back from a tier (replay, reuse, burst).
	RoleReplay = "replay"
)

// phaseOrder lists the phases as they run; PhaseOrder ranks by it.
var phaseOrder = []struct{ name, role string }{
	{PhaseWarmup, RoleWarmup},
	{PhaseBaselineReplay, RoleReference},
	{PhasePopulate, RoleSetup},
	{PhaseThrash, RoleSetup},
	{PhaseReplay, RoleReplay},
	{PhaseMeasure, RoleMeasured},
	{PhaseReuse, RoleReplay},
	{PhaseBurst, RoleReplay},
}

// PhaseRole returns the role of a phase, or "" for a phase this version
// does not know.
func PhaseRole(phase string) string {
	for _, p := range phaseOrder {
		if p.name == phase {
			return p.role
		}
	}
	return ""
}

// PhaseOrder ranks phases as they run; unknown phases sort last.
func PhaseOrder(phase string) int {
	for i, p := range phaseOrder {
		if p.name == phase {
			return i
		}
	}
	return len(phaseOrder)
}

// IsPrimaryPhase reports whether a verdict is about this phase: the
// measured and replay phases of each scenario (setup phases only prepare
// the cache state).
func IsPrimaryPhase(phase string) bool {
	r := PhaseRole(phase)
	return r == RoleMeasured || r == RoleReplay
}

// IsReplayPhase reports whether cached KV is expected to come back in this
// phase.
func IsReplayPhase(phase string) bool { return PhaseRole(phase) == RoleReplay }

// IsWritePhase reports whether this phase writes the working set: every
// known phase that is not a replay.
func IsWritePhase(phase string) bool {
	r := PhaseRole(phase)
	return r != "" && r != RoleReplay
}

// Metric identifiers. Per-request metrics are durations in nanoseconds
// until the report formats them.
const (
	MetricTTFT    = "ttft"    // time to first token
	MetricLatency = "latency" // end-to-end latency
	MetricITL     = "itl"     // mean inter-token latency of a request
	// Run-level metrics: one value per run.
	MetricThroughput       = "throughput_rps"      // successful requests per second of phase time
	MetricOutputTokensRate = "output_tokens_per_s" // output tokens per second of phase time
	// With an SLO: the share of requests that meet it, and those requests
	// per second of phase time.
	MetricSLOAttainment = "slo_attainment"
	MetricGoodput       = "goodput_rps"
)

// Verdicts of a comparison of the candidate arm with the baseline.
const (
	VerdictBetter       = "better"            // the interval of the ratio excludes 1 on the good side
	VerdictWorse        = "worse"             // the interval of the ratio excludes 1 on the bad side
	VerdictEquivalent   = "equivalent"        // the interval lies inside the equivalence margin
	VerdictInconclusive = "inconclusive"      // none of the above
	VerdictInsufficient = "insufficient_data" // too few runs or too few requests beyond the quantile
)

// Grades of a comparison.
const (
	GradeDecision    = "decision-grade" // enough runs and tail samples, tier evidence holds
	GradeProvisional = "provisional"    // anything less; the reasons say why
)

// Rehydrate verdicts of one run's tier evidence.
const (
	RehydrateObserved    = "rehydrate_observed" // KV came back from the disk tier in a replay phase
	RehydrateNotObserved = "not_observed"       // the run could have, and the evidence says it did not
	RehydrateGated       = "gated"              // the mode has no disk tier (B0, B1)
	RehydrateNoEvidence  = "no_evidence"        // nothing was captured that could tell
)

// KVBM counter roles. In a role, "h" is host memory (G2) and "d" is the
// device (G1) or the disk (G3) depending on direction: offload_h2d moves
// host → disk, onboard_h2d moves host → device.
const (
	KVBMOffloadD2H = "offload_d2h" // device → host
	KVBMOffloadH2D = "offload_h2d" // host → disk
	KVBMOffloadD2D = "offload_d2d" // device → disk, bypassing host
	KVBMOnboardH2D = "onboard_h2d" // host → device
	KVBMOnboardD2D = "onboard_d2d" // disk → device
	KVBMOnboardD2H = "onboard_d2h" // disk → host
	KVBMMatched    = "matched_tokens"
)

// KVBM name generations.
const (
	KVBMGenBare      = "kvbm"             // kvbm_* (Dynamo 0.6 on)
	KVBMGenDynamo    = "dynamo_kvbm"      // dynamo_kvbm_* (proposed rename)
	KVBMGenComponent = "dynamo_component" // dynamo_component_* (0.5 and before)
)

// KVBMFamily is one KVBM counter with each name a Dynamo release has
// exposed it under.
type KVBMFamily struct {
	Role  string
	Names []string // one per generation that has it
}

// KVBMFamilies lists the counters analyze reads, by role.
var KVBMFamilies = []KVBMFamily{
	{KVBMOffloadD2H, []string{"kvbm_offload_blocks_d2h", "dynamo_kvbm_offload_blocks_d2h", "dynamo_component_offload_blocks_d2h"}},
	{KVBMOffloadH2D, []string{"kvbm_offload_blocks_h2d", "dynamo_kvbm_offload_blocks_h2d"}},
	{KVBMOffloadD2D, []string{"kvbm_offload_blocks_d2d", "dynamo_kvbm_offload_blocks_d2d"}},
	{KVBMOnboardH2D, []string{"kvbm_onboard_blocks_h2d", "dynamo_kvbm_onboard_blocks_h2d", "dynamo_component_onboard_blocks_h2d"}},
	{KVBMOnboardD2D, []string{"kvbm_onboard_blocks_d2d", "dynamo_kvbm_onboard_blocks_d2d", "dynamo_component_onboard_blocks_d2d"}},
	{KVBMOnboardD2H, []string{"kvbm_onboard_blocks_d2h", "dynamo_kvbm_onboard_blocks_d2h"}},
	{KVBMMatched, []string{"kvbm_matched_tokens", "dynamo_kvbm_matched_tokens", "dynamo_component_matched_tokens"}},
}

// KVBMRole returns the role of a KVBM counter name of any generation, or
// "" when the name is not one analyze reads. A "_total" suffix is ignored.
func KVBMRole(name string) string {
	name = strings.TrimSuffix(name, "_total")
	for _, f := range KVBMFamilies {
		if slices.Contains(f.Names, name) {
			return f.Role
		}
	}
	return ""
}

// KVBMGeneration returns the name generation of a KVBM metric family, or
// "" when the family is not KVBM's: bare kvbm_*, dynamo_kvbm_*, and the
// 0.5 dynamo_component_{offload,onboard}_blocks_* and
// dynamo_component_matched_tokens.
func KVBMGeneration(name string) string {
	switch {
	case strings.HasPrefix(name, "kvbm_"):
		return KVBMGenBare
	case strings.HasPrefix(name, "dynamo_kvbm_"):
		return KVBMGenDynamo
	case strings.HasPrefix(name, "dynamo_component_offload_blocks_"),
		strings.HasPrefix(name, "dynamo_component_onboard_blocks_"),
		strings.TrimSuffix(name, "_total") == "dynamo_component_matched_tokens":
		return KVBMGenComponent
	}
	return ""
}

// KVBMAccepted describes, for messages, which family names count as KVBM's.
const KVBMAccepted = "kvbm_*, dynamo_kvbm_*, dynamo_component_{offload,onboard}_blocks_*, dynamo_component_matched_tokens"

// Base units of the values analyze computes and hands to report, which
// alone scales them for display.
const (
	UnitNanoseconds    = "ns"       // durations and times
	UnitBytes          = "bytes"    // sizes
	UnitBytesPerSecond = "bytes/s"  // disk throughput
	UnitPerSecond      = "1/s"      // run-level rates (requests, output tokens)
	UnitFraction       = "fraction" // shares between 0 and 1 (SLO attainment)
)

// KV modes, the KVBM configuration a tier mode stands for.
const (
	KVModeOff     = "off"      // B0: no KVBM
	KVModeCPUOnly = "cpu_only" // B1: host memory tier
	KVModeCPUDisk = "cpu_disk" // B2: host memory and disk tiers
)

// Sample points of the telemetry tables: a phase's boundaries, or a
// periodic sample in between.
const (
	PointStart    = "start"
	PointEnd      = "end"
	PointInterval = "interval"
)

// MetricsSourceKVBM is the metrics-table source of the KVBM endpoint
// (--metrics-kvbm-url); analyze prefers it when a KVBM counter is
// scraped from several sources.
const MetricsSourceKVBM = "kvbm"
