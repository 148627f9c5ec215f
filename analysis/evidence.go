package analysis

import (
	"slices"

	"kvbench/ingest"
	"kvbench/results"
)

// Evidence sources: what can show that KV came back from the disk tier in
// a replay phase. KVBM's own counters are known to be wrong in some
// releases (an onboard counter never wired up; a disk onboard counted as a
// hit while the transfer failed), so the verdict says which sources
// support it and flags disagreement.
const (
	SourceCounters     = "kvbm_counters"    // blocks onboarded from disk
	SourceDeviceReads  = "device_reads"     // the block device read in replay
	SourceProcessReads = "process_reads"    // the server processes read from storage
	SourcePageCache    = "page_cache_reads" // the server processes read through syscalls, page cache included
	SourceCachedTokens = "cached_tokens"    // usage reported cached prompt tokens in replay
	SourceTTFTShift    = "ttft_shift"       // replay TTFT fell against the run's reference phase
)

// Disagreement flags.
const (
	// FlagCountersWithoutIO: the counters show disk onboards, but neither
	// the device, the server process nor the page cache shows reads.
	FlagCountersWithoutIO = "COUNTERS_WITHOUT_IO"
	// FlagIOWithoutCounters: reads and a TTFT drop in replay while the
	// disk onboard counters stayed at 0.
	FlagIOWithoutCounters = "IO_WITHOUT_COUNTERS"
)

// ttftDropRatio is the replay/reference TTFT ratio below which the replay
// counts as faster than its reference.
const ttftDropRatio = 0.8

// requestEvidence reduces a run's requests to the replay and reference
// TTFT medians and the replay usage.
func requestEvidence(reqs []ingest.Request) RequestEvidence {
	var e RequestEvidence
	var replay []float64
	ref := map[string][]float64{}
	for i := range reqs {
		q := &reqs[i]
		if q.ErrorKind != "" {
			continue
		}
		switch {
		case results.IsReplayPhase(q.Phase):
			if q.HasTTFT {
				replay = append(replay, float64(q.TTFTNs))
			}
			if q.HasCachedTokens {
				e.HaveCachedTokens = true
				e.ReplayCachedTokens += q.CachedTokens
			}
			if q.HasPromptTokens {
				e.ReplayPromptTokens += q.PromptTokens
			}
		case q.Phase == results.PhaseBaselineReplay || q.Phase == results.PhasePopulate:
			if q.HasTTFT {
				ref[q.Phase] = append(ref[q.Phase], float64(q.TTFTNs))
			}
		}
	}
	e.ReplayTTFTNs = median(replay)
	for _, ph := range []string{results.PhaseBaselineReplay, results.PhasePopulate} {
		if len(ref[ph]) > 0 {
			e.ReferencePhase, e.ReferenceTTFTNs = ph, median(ref[ph])
			break
		}
	}
	return e
}

// median is the middle value (mean of the two middle ones), 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// weighSources records which sources support a disk rehydrate in the
// replay phases and flags the two ways they are known to disagree. A run
// whose counters stayed at 0 while reads and a TTFT drop show a rehydrate
// is judged rehydrate_observed on that evidence.
func weighSources(out *Rehydrate, rt *RunTelemetry, opt RehydrateOptions) {
	out.Requests = rt.Requests
	rp := out.Replay
	counters := rp.KVBM[results.KVBMOnboardD2D]+rp.KVBM[results.KVBMOnboardD2H] > 0
	device := rp.HaveDevice && rp.DeviceReadBytes >= opt.MinReplayReadBytes
	process := rp.HaveProcess && rp.ProcessReadBytes >= opt.MinReplayReadBytes
	pageCache := rp.HaveSyscall && rp.ProcessSyscallReadBytes >= opt.MinReplayReadBytes
	e := rt.Requests
	drop := e.TTFTShift() > 0 && e.TTFTShift() < ttftDropRatio
	for _, s := range []struct {
		ok   bool
		name string
	}{
		{counters, SourceCounters}, {device, SourceDeviceReads}, {process, SourceProcessReads},
		{pageCache, SourcePageCache}, {e.ReplayCachedTokens > 0, SourceCachedTokens}, {drop, SourceTTFTShift},
	} {
		if s.ok {
			out.Sources = append(out.Sources, s.name)
		}
	}
	// Only process or syscall sampling can tell "no reads at all" from
	// reads the page cache served.
	sawIO := rp.HaveProcess || rp.HaveSyscall
	noReads := !device && !process && !pageCache &&
		(!rp.HaveDevice || rp.DeviceReadBytes < opt.FloorBytes) &&
		(!rp.HaveProcess || rp.ProcessReadBytes < opt.FloorBytes) &&
		(!rp.HaveSyscall || rp.ProcessSyscallReadBytes < opt.FloorBytes)
	switch {
	case counters && sawIO && noReads:
		out.Flags = append(out.Flags, FlagCountersWithoutIO)
	case !counters && rt.HaveKVBM && out.HaveReplay && rt.KVMode == results.KVModeCPUDisk && (device || process) && drop:
		out.Flags = append(out.Flags, FlagIOWithoutCounters)
		out.Verdict = results.RehydrateObserved
		out.Flags = slices.DeleteFunc(out.Flags, func(f string) bool { return f == FlagNoRehydrate })
	}
}
