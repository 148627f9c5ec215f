package report

import (
	"fmt"
	"strconv"
	"strings"

	"kvbench/analysis"
	"kvbench/results"
)

// rehydrateText words a run's tier evidence as report.md and summary.json
// show it: the sentences behind the verdict, and a warning per flag that
// needs one.
func rehydrateText(r analysis.Rehydrate) (evidence, warnings []string) {
	if r.TelemetryError != "" {
		return nil, []string{"telemetry unreadable: " + r.TelemetryError}
	}
	evidence = append(evidence, kvbmEvidence(r)...)
	rp, w := r.Replay, r.Warm
	if rp.HaveDevice || w.HaveDevice {
		evidence = append(evidence, fmt.Sprintf("block device reads: replay %s, warm phases %s; writes in warm phases %s",
			size.text(rp.DeviceReadBytes, 1), size.text(w.DeviceReadBytes, 1), size.text(w.DeviceWriteBytes, 1)))
	}
	if rp.HaveProcess || w.HaveProcess {
		evidence = append(evidence, fmt.Sprintf("server process reads: replay %s, warm phases %s",
			size.text(rp.ProcessReadBytes, 1), size.text(w.ProcessReadBytes, 1)))
	}
	if rp.HaveCacheDir || w.HaveCacheDir {
		evidence = append(evidence, fmt.Sprintf("cache dir: %d files created and %d removed in warm phases, %d and %d in replay",
			w.FilesCreated, w.FilesRemoved, rp.FilesCreated, rp.FilesRemoved))
	}
	evidence = append(evidence, requestText(r)...)
	switch {
	case r.Verdict == results.RehydrateNotObserved && !r.HaveReplay:
		evidence = append(evidence, "the scenario has no replay phase")
	case r.Verdict == results.RehydrateGated:
		evidence = append(evidence, "matched tokens did not move in replay: no cross-request reuse path was activated")
	}
	for _, f := range r.Flags {
		if text := flagWarning(r, f); text != "" {
			warnings = append(warnings, text)
		}
	}
	if r.Verdict == results.RehydrateObserved && len(r.Sources) == 1 {
		warnings = append(warnings, "the verdict rests on one source alone: "+r.Sources[0])
	}
	return evidence, warnings
}

// requestText words what the run's own requests show: replay TTFT against
// the reference phase, cached prompt tokens, and the sources that agree.
func requestText(r analysis.Rehydrate) []string {
	var out []string
	e := r.Requests
	if shift := e.TTFTShift(); shift > 0 {
		out = append(out, fmt.Sprintf("median TTFT: replay %s %s against %s %s %s (×%s)", num(timing.of(e.ReplayTTFTNs)), timing.word,
			e.ReferencePhase, num(timing.of(e.ReferenceTTFTNs)), timing.word, fixed(shift, 2)))
	}
	if e.HaveCachedTokens {
		out = append(out, fmt.Sprintf("usage: %d of %d replay prompt tokens cached", e.ReplayCachedTokens, e.ReplayPromptTokens))
	}
	if len(r.Sources) > 0 {
		out = append(out, "sources showing a rehydrate: "+strings.Join(r.Sources, ", "))
	}
	return out
}

// kvbmEvidence words the KVBM counter totals of a run.
func kvbmEvidence(r analysis.Rehydrate) []string {
	if !r.HaveKVBM {
		return []string{"no KVBM counters were scraped (capture without --metrics-kvbm-url, or the endpoint was down)"}
	}
	k, rp := r.KVBM, r.Replay.KVBM
	out := []string{fmt.Sprintf("whole run: offload d2h %s, host→disk %s, onboard host→device %s, disk→device %s blocks, matched tokens %s",
		count(k, results.KVBMOffloadD2H), count(k, results.KVBMOffloadH2D, results.KVBMOffloadD2D), count(k, results.KVBMOnboardH2D),
		count(k, results.KVBMOnboardD2D, results.KVBMOnboardD2H), count(k, results.KVBMMatched))}
	if r.HaveReplay {
		out = append(out, fmt.Sprintf("replay: onboard host→device %s, disk→device %s blocks, matched tokens %s",
			count(rp, results.KVBMOnboardH2D), count(rp, results.KVBMOnboardD2D, results.KVBMOnboardD2H), count(rp, results.KVBMMatched)))
	}
	return out
}

// flagWarning says what a tier-evidence flag means for this run, or ""
// for a flag the evidence already explains.
func flagWarning(r analysis.Rehydrate, flag string) string {
	replayRead := size.text(r.Replay.DeviceReadBytes, 1)
	switch flag {
	case analysis.FlagDiskTierInactive:
		return r.KVMode + " run never offloaded a block to disk: KVBM's disk offload filter admits a block only after repeated hits " +
			"(set DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER=true, or send the working set twice before thrashing, as rehydrate_replay does)"
	case analysis.FlagPageCacheMasking:
		return fmt.Sprintf("KVBM onboarded %s blocks from disk in replay but the block device read only %s: "+
			"reads were served from the page cache (O_DIRECT off?) or the device was not sampled",
			count(r.Replay.KVBM, results.KVBMOnboardD2D, results.KVBMOnboardD2H), replayRead)
	case analysis.FlagCountersWithoutIO:
		return fmt.Sprintf("KVBM counted %s blocks onboarded from disk in replay, but no reads show on the device, the server processes or their read calls: the counters may not reflect real transfers",
			count(r.Replay.KVBM, results.KVBMOnboardD2D, results.KVBMOnboardD2H))
	case analysis.FlagIOWithoutCounters:
		return "replay read from storage and got faster than its reference while KVBM's disk onboard counters stayed at 0: judged a rehydrate from reads and TTFT; the counters look broken"
	case analysis.FlagControlContaminated:
		return fmt.Sprintf("%s run read %s from the block device during replay: something else reads the disk, so its TTFT is contaminated",
			r.KVMode, replayRead)
	}
	return ""
}

// count formats the sum of KVBM roles as a whole number (absent roles
// count 0).
func count(m map[string]float64, roles ...string) string {
	total := 0.0
	for _, r := range roles {
		total += m[r]
	}
	return strconv.FormatFloat(total, 'f', 0, 64)
}
