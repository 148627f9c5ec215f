package analysis

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"kvbench/ingest"
	"kvbench/results"
)

// TestWeighSources: the sources behind a rehydrate verdict, and the two
// ways they are known to disagree.
func TestWeighSources(t *testing.T) {
	const mib = 1 << 20
	replay := func(onboard float64, d Deltas) PhaseIO {
		d.DurationNs = 10e9
		d.KVBM = map[string]float64{results.KVBMOnboardD2D: onboard, results.KVBMMatched: 3200, results.KVBMOnboardH2D: 10}
		return PhaseIO{Phase: results.PhaseReplay, Deltas: d}
	}
	populate := PhaseIO{Phase: results.PhasePopulate, Deltas: Deltas{DurationNs: 10e9, KVBM: map[string]float64{results.KVBMOffloadH2D: 100}}}
	faster := RequestEvidence{ReplayTTFTNs: 8e6, ReferenceTTFTNs: 20e6, ReferencePhase: results.PhasePopulate}
	same := RequestEvidence{ReplayTTFTNs: 20e6, ReferenceTTFTNs: 20e6, ReferencePhase: results.PhasePopulate}
	cases := []struct {
		name    string
		replay  PhaseIO
		req     RequestEvidence
		verdict string
		sources []string
		flags   []string
	}{
		{"all agree", replay(90, Deltas{DeviceReadBytes: 400 * mib, HaveDevice: true, ProcessReadBytes: 400 * mib, HaveProcess: true}),
			faster, results.RehydrateObserved, []string{SourceCounters, SourceDeviceReads, SourceProcessReads, SourceTTFTShift}, nil},
		{"counters without io", replay(90, Deltas{HaveDevice: true, HaveProcess: true, HaveSyscall: true}),
			same, results.RehydrateObserved, []string{SourceCounters}, []string{FlagPageCacheMasking, FlagCountersWithoutIO}},
		{"page cache served it", replay(90, Deltas{HaveDevice: true, HaveProcess: true, ProcessSyscallReadBytes: 400 * mib, HaveSyscall: true}),
			faster, results.RehydrateObserved, []string{SourceCounters, SourcePageCache, SourceTTFTShift}, []string{FlagPageCacheMasking}},
		{"counters only, no io sampled", replay(90, Deltas{}), same, results.RehydrateObserved, []string{SourceCounters}, nil},
		{"io without counters", replay(0, Deltas{DeviceReadBytes: 400 * mib, HaveDevice: true}),
			faster, results.RehydrateObserved, []string{SourceDeviceReads, SourceTTFTShift}, []string{FlagIOWithoutCounters}},
		{"reads but no ttft drop", replay(0, Deltas{DeviceReadBytes: 400 * mib, HaveDevice: true}),
			same, results.RehydrateNotObserved, []string{SourceDeviceReads}, []string{FlagNoRehydrate}},
		{"cached tokens", replay(90, Deltas{}), RequestEvidence{ReplayCachedTokens: 3000, HaveCachedTokens: true},
			results.RehydrateObserved, []string{SourceCounters, SourceCachedTokens}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rt := &RunTelemetry{KVMode: results.KVModeCPUDisk, HaveKVBM: true, Phases: []PhaseIO{populate, c.replay}, Requests: c.req}
			got := JudgeRehydrate(rt, RehydrateOptions{})
			if got.Verdict != c.verdict {
				t.Errorf("verdict %s; want %s", got.Verdict, c.verdict)
			}
			if diff := cmp.Diff(c.sources, got.Sources, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("sources (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.flags, got.Flags, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("flags (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRequestEvidence: replay and reference medians (baseline_replay
// before populate), cached tokens from successful replay requests only.
func TestRequestEvidence(t *testing.T) {
	reqs := []ingest.Request{
		{Phase: results.PhasePopulate, TTFTNs: 30, HasTTFT: true},
		{Phase: results.PhaseBaselineReplay, TTFTNs: 20, HasTTFT: true},
		{Phase: results.PhaseBaselineReplay, TTFTNs: 40, HasTTFT: true},
		{Phase: results.PhaseReplay, TTFTNs: 5, HasTTFT: true, CachedTokens: 100, HasCachedTokens: true, PromptTokens: 120, HasPromptTokens: true},
		{Phase: results.PhaseReplay, TTFTNs: 7, HasTTFT: true, CachedTokens: 0, HasCachedTokens: true, PromptTokens: 120, HasPromptTokens: true},
		{Phase: results.PhaseReplay, ErrorKind: results.ErrTimeout, CachedTokens: 999, HasCachedTokens: true},
	}
	got := requestEvidence(reqs)
	want := RequestEvidence{ReplayTTFTNs: 6, ReferenceTTFTNs: 30, ReferencePhase: results.PhaseBaselineReplay,
		ReplayCachedTokens: 100, ReplayPromptTokens: 240, HaveCachedTokens: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got.TTFTShift() != 0.2 {
		t.Errorf("TTFTShift = %v; want 0.2", got.TTFTShift())
	}
}
