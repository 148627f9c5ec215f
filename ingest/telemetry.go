package ingest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"kvbench/results"
	"kvbench/stats"
)

// KVBM counters by role, with every name generation Dynamo has used
// (bare kvbm_*, the unmerged dynamo_kvbm_* rename, and the v0.5
// dynamo_component_* names). See shared/reference/dynamo-kvbm.md §1.3.
var kvbmCounters = []struct {
	Role  string
	Names []string
}{
	{"offload_d2h", []string{"kvbm_offload_blocks_d2h", "dynamo_kvbm_offload_blocks_d2h", "dynamo_component_offload_blocks_d2h"}},
	{"offload_h2d", []string{"kvbm_offload_blocks_h2d", "dynamo_kvbm_offload_blocks_h2d"}},
	{"offload_d2d", []string{"kvbm_offload_blocks_d2d", "dynamo_kvbm_offload_blocks_d2d"}},
	{"onboard_h2d", []string{"kvbm_onboard_blocks_h2d", "dynamo_kvbm_onboard_blocks_h2d", "dynamo_component_onboard_blocks_h2d"}},
	{"onboard_d2d", []string{"kvbm_onboard_blocks_d2d", "dynamo_kvbm_onboard_blocks_d2d", "dynamo_component_onboard_blocks_d2d"}},
	{"onboard_d2h", []string{"kvbm_onboard_blocks_d2h", "dynamo_kvbm_onboard_blocks_d2h"}},
	{"matched_tokens", []string{"kvbm_matched_tokens", "dynamo_kvbm_matched_tokens", "dynamo_component_matched_tokens"}},
}

func roleOf(name string) string {
	for _, c := range kvbmCounters {
		for _, n := range c.Names {
			if n == name {
				return c.Role
			}
		}
	}
	return ""
}

// PhaseTelemetry holds one phase's counter deltas of one run.
type PhaseTelemetry struct {
	Phase   string
	Repeat  int
	Seconds float64
	// KVBM counter deltas by role (blocks; tokens for matched_tokens);
	// absent roles were not scraped.
	KVBM map[string]float64
	// Disk bytes moved on the block devices and by the server processes.
	DeviceReadBytes, DeviceWriteBytes   float64
	ProcessReadBytes, ProcessWriteBytes float64
	HaveDevice, HaveProcess             bool
	// Cache-directory churn.
	FilesCreated, FilesRemoved int64
	FSUsedDeltaBytes           float64
	HaveCacheDir               bool
}

// RunTelemetry is what the samplers of one run recorded, reduced to
// per-phase deltas and time series for plots.
type RunTelemetry struct {
	RunID   string
	Arm     string
	KVMode  string
	StartNs int64
	Phases  []PhaseTelemetry
	// HaveKVBM is true when any KVBM counter was scraped successfully.
	HaveKVBM bool
	// Series for plots: disk MiB/s and KVBM counters over time.
	DiskRead, DiskWrite []Point
	Counters            map[string][]Point
	Warnings            []string
}

// Point is one sample of a time series: seconds from run start, value.
type Point struct{ T, V float64 }

// LoadTelemetry reads the metrics, io and cachedir tables of a bundle.
// Missing tables give an empty result, not an error.
func LoadTelemetry(b Bundle) (*RunTelemetry, error) {
	m := b.Manifest
	rt := &RunTelemetry{RunID: m.RunID, Arm: m.TierMode, KVMode: m.KVMode, StartNs: m.StartedUnixNs, Counters: map[string][]Point{}}
	for _, ph := range m.Phases {
		rt.Phases = append(rt.Phases, PhaseTelemetry{Phase: ph.Name, Repeat: ph.RepeatIndex, Seconds: float64(ph.EndUnixNs-ph.StartUnixNs) / 1e9, KVBM: map[string]float64{}})
	}
	phaseIdx := phaseWindows(m.Phases)
	if err := loadMetrics(b, rt, phaseIdx); err != nil {
		return nil, err
	}
	if err := loadIO(b, rt, phaseIdx); err != nil {
		return nil, err
	}
	if err := loadCacheDir(b, rt, phaseIdx); err != nil {
		return nil, err
	}
	return rt, nil
}

func tablePath(b Bundle, table string) (string, bool) {
	info, ok := b.Manifest.Tables[table]
	if !ok {
		return "", false
	}
	p := filepath.Join(b.Dir, info.File)
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	return p, true
}

// phaseSeries collects, per phase, the samples of one series between and
// including its start and end boundary samples, in time order.
type phaseSeries map[int][]sample

type sample struct {
	t     int64
	v     float64
	point string
}

// deltas returns each phase's counter increase. A phase's baseline is the
// last sample of the phase before it (when there is one), not its own
// start sample: work queued in one phase that lands between that phase's
// end sample and the next phase's start sample (disk writes after KVBM
// enqueued them) is then counted in the next phase instead of in none.
func (ps phaseSeries) deltas() map[int]float64 {
	phases := make([]int, 0, len(ps))
	for ph, ss := range ps {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].t < ss[j].t })
		phases = append(phases, ph)
	}
	sort.Ints(phases)
	out := map[int]float64{}
	for _, ph := range phases {
		ss := ps[ph]
		vals := make([]float64, 0, len(ss)+1)
		if prev, ok := ps[ph-1]; ok && len(prev) > 0 {
			vals = append(vals, prev[len(prev)-1].v)
		}
		for _, s := range ss {
			vals = append(vals, s.v)
		}
		out[ph] = stats.CounterDelta(vals)
	}
	return out
}

// phaseWindows attributes a sample to a phase by time, not by its phase
// label (a scenario may repeat a phase name, as reuse_verify does): phase i
// owns [start_i, start_i+1). The runner samples a phase's start boundary
// after the phase starts and its end boundary before the next one starts,
// so both boundary samples fall in the phase's window. Samples before the
// first phase belong to none.
func phaseWindows(phases []results.Phase) func(t int64) (int, bool) {
	starts := make([]int64, len(phases))
	for i, p := range phases {
		starts[i] = p.StartUnixNs
	}
	return func(t int64) (int, bool) {
		i := sort.Search(len(starts), func(i int) bool { return starts[i] > t }) - 1
		return i, i >= 0
	}
}

func loadMetrics(b Bundle, rt *RunTelemetry, phaseIdx func(int64) (int, bool)) error {
	path, ok := tablePath(b, results.TableMetrics)
	if !ok {
		return nil
	}
	// series key → phase → samples
	type skey struct{ source, name, labels string }
	series := map[skey]phaseSeries{}
	all := map[skey][]sample{}
	err := results.Scan(path, results.TableMetrics, 8192, func(rows []results.MetricSample) error {
		for i := range rows {
			r := &rows[i]
			if r.ScrapeError != "" || r.Name == "" {
				continue
			}
			if roleOf(r.Name) == "" {
				continue
			}
			rt.HaveKVBM = true
			k := skey{r.Source, r.Name, r.Labels}
			s := sample{t: r.ScrapeUnixNs, v: r.Value, point: r.Point}
			all[k] = append(all[k], s)
			ph, ok := phaseIdx(r.ScrapeUnixNs)
			if !ok {
				continue
			}
			if series[k] == nil {
				series[k] = phaseSeries{}
			}
			series[k][ph] = append(series[k][ph], s)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("metrics table: %w", err)
	}
	keys := make([]skey, 0, len(series))
	for k := range series {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.source+a.name+a.labels < b.source+b.name+b.labels
	})
	// Note: one source per role. The same KVBM endpoint can be scraped under
	// two names (--metrics-kvbm-url and a --metrics-url alias) and a name
	// generation can appear on two ports; summing across sources would
	// count the blocks twice. The source named "kvbm" wins, else the first
	// by name.
	chosen := map[string]string{}
	for _, k := range keys {
		role := roleOf(k.name)
		if cur, ok := chosen[role]; !ok || (k.source == "kvbm" && cur != "kvbm") {
			chosen[role] = k.source
		}
	}
	for _, k := range keys {
		role := roleOf(k.name)
		if chosen[role] != k.source {
			continue
		}
		for ph, d := range series[k].deltas() {
			rt.Phases[ph].KVBM[role] += d
		}
	}
	// Time series: cumulative value per role (summed over its series).
	roleSeries := map[string]map[int64]float64{}
	for k, ss := range all {
		role := roleOf(k.name)
		if chosen[role] != "" && chosen[role] != k.source {
			continue
		}
		if roleSeries[role] == nil {
			roleSeries[role] = map[int64]float64{}
		}
		for _, s := range ss {
			roleSeries[role][s.t] += s.v
		}
	}
	for role, byT := range roleSeries {
		ts := make([]int64, 0, len(byT))
		for t := range byT {
			ts = append(ts, t)
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		for _, t := range ts {
			rt.Counters[role] = append(rt.Counters[role], Point{T: float64(t-rt.StartNs) / 1e9, V: byT[t]})
		}
	}
	return nil
}

func loadIO(b Bundle, rt *RunTelemetry, phaseIdx func(int64) (int, bool)) error {
	path, ok := tablePath(b, results.TableIO)
	if !ok {
		return nil
	}
	type tkey struct{ scope, target, device string }
	type rw struct{ r, w phaseSeries }
	series := map[tkey]*rw{}
	dev := map[tkey][]results.IOSample{}
	err := results.Scan(path, results.TableIO, 8192, func(rows []results.IOSample) error {
		for i := range rows {
			r := rows[i]
			k := tkey{r.Scope, r.Target, r.Device}
			if r.Scope == results.IOScopeDevice {
				dev[k] = append(dev[k], r)
			}
			ph, ok := phaseIdx(r.SampleUnixNs)
			if !ok {
				continue
			}
			if series[k] == nil {
				series[k] = &rw{phaseSeries{}, phaseSeries{}}
			}
			series[k].r[ph] = append(series[k].r[ph], sample{t: r.SampleUnixNs, v: float64(r.ReadBytes), point: r.Point})
			series[k].w[ph] = append(series[k].w[ph], sample{t: r.SampleUnixNs, v: float64(r.WriteBytes), point: r.Point})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("io table: %w", err)
	}
	for k, s := range series {
		rd, wr := s.r.deltas(), s.w.deltas()
		for ph := range rd {
			p := &rt.Phases[ph]
			switch k.scope {
			case results.IOScopeDevice:
				p.DeviceReadBytes += rd[ph]
				p.DeviceWriteBytes += wr[ph]
				p.HaveDevice = true
			case results.IOScopeProcess:
				p.ProcessReadBytes += rd[ph]
				p.ProcessWriteBytes += wr[ph]
				p.HaveProcess = true
			}
		}
	}
	// Disk MiB/s over time, summed over devices.
	type acc struct{ r, w float64 }
	rates := map[int64]*acc{}
	for _, ss := range dev {
		sort.Slice(ss, func(i, j int) bool { return ss[i].SampleUnixNs < ss[j].SampleUnixNs })
		for i := 1; i < len(ss); i++ {
			dt := float64(ss[i].SampleUnixNs-ss[i-1].SampleUnixNs) / 1e9
			if dt <= 0 {
				continue
			}
			a := rates[ss[i].SampleUnixNs]
			if a == nil {
				a = &acc{}
				rates[ss[i].SampleUnixNs] = a
			}
			a.r += max(0, float64(ss[i].ReadBytes-ss[i-1].ReadBytes)) / dt / (1 << 20)
			a.w += max(0, float64(ss[i].WriteBytes-ss[i-1].WriteBytes)) / dt / (1 << 20)
		}
	}
	ts := make([]int64, 0, len(rates))
	for t := range rates {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	for _, t := range ts {
		x := float64(t-rt.StartNs) / 1e9
		rt.DiskRead = append(rt.DiskRead, Point{x, rates[t].r})
		rt.DiskWrite = append(rt.DiskWrite, Point{x, rates[t].w})
	}
	return nil
}

func loadCacheDir(b Bundle, rt *RunTelemetry, phaseIdx func(int64) (int, bool)) error {
	path, ok := tablePath(b, results.TableCacheDir)
	if !ok {
		return nil
	}
	used := phaseSeries{}
	err := results.Scan(path, results.TableCacheDir, 4096, func(rows []results.CacheDirSnapshot) error {
		for _, r := range rows {
			ph, ok := phaseIdx(r.SampleUnixNs)
			if !ok || r.Error != "" {
				continue
			}
			p := &rt.Phases[ph]
			p.HaveCacheDir = true
			// Churn counts are since the previous snapshot: the end
			// snapshot of a phase carries that phase's churn.
			if r.Point == "end" {
				p.FilesCreated += r.FilesCreated
				p.FilesRemoved += r.FilesRemoved
			}
			if r.FSUsedBytes != nil {
				used[ph] = append(used[ph], sample{t: r.SampleUnixNs, v: float64(*r.FSUsedBytes), point: r.Point})
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cachedir table: %w", err)
	}
	for ph, ss := range used {
		sort.Slice(ss, func(i, j int) bool { return ss[i].t < ss[j].t })
		if len(ss) >= 2 {
			rt.Phases[ph].FSUsedDeltaBytes = ss[len(ss)-1].v - ss[0].v
		}
	}
	return nil
}

// Rehydrate verdicts per run.
const (
	RehydrateObserved    = "rehydrate_observed"
	RehydrateNotObserved = "not_observed"
	RehydrateGated       = "gated"
	RehydrateNoEvidence  = "no_evidence"
)

// Rehydrate is the tier evidence of one run.
type Rehydrate struct {
	RunID    string
	Arm      string
	Verdict  string
	Evidence []string
	Warnings []string
	// Flags for comparisons: DISK_TIER_INACTIVE, NO_REHYDRATE,
	// PAGE_CACHE_MASKING, CONTROL_CONTAMINATED.
	Flags []string
}

// replayPhases are the phases in which cached KV comes back.
var replayPhases = map[string]bool{"replay": true, "reuse": true, "burst": true}

// warmPhases write the working set.
var warmPhases = map[string]bool{"populate": true, "thrash": true, "baseline_replay": true, "measure": true, "warmup": true}

// RehydrateOptions tunes the heuristics of shared/reference/stats.md §6.
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

// JudgeRehydrate applies the counter checks to one run.
func JudgeRehydrate(rt *RunTelemetry, opt RehydrateOptions) Rehydrate {
	opt = opt.normalized()
	out := Rehydrate{RunID: rt.RunID, Arm: rt.Arm}
	var replay, warm PhaseTelemetry
	replay.KVBM, warm.KVBM = map[string]float64{}, map[string]float64{}
	haveReplay := false
	total := map[string]float64{}
	for _, p := range rt.Phases {
		for k, v := range p.KVBM {
			total[k] += v
		}
		switch {
		case replayPhases[p.Phase]:
			haveReplay = true
			addPhase(&replay, p)
		case warmPhases[p.Phase]:
			addPhase(&warm, p)
		}
	}
	diskMode := rt.KVMode == "cpu_disk"
	if !rt.HaveKVBM {
		out.Verdict = RehydrateNoEvidence
		out.Evidence = append(out.Evidence, "no KVBM counters were scraped (capture without --metrics-kvbm-url, or the endpoint was down)")
	}
	if rt.HaveKVBM {
		out.Evidence = append(out.Evidence, fmt.Sprintf("whole run: offload d2h %s, host→disk %s, onboard host→device %s, disk→device %s blocks, matched tokens %s",
			f0(total["offload_d2h"]), f0(total["offload_h2d"]+total["offload_d2d"]), f0(total["onboard_h2d"]), f0(total["onboard_d2d"]+total["onboard_d2h"]), f0(total["matched_tokens"])))
		if haveReplay {
			out.Evidence = append(out.Evidence, fmt.Sprintf("replay: onboard host→device %s, disk→device %s blocks, matched tokens %s",
				f0(replay.KVBM["onboard_h2d"]), f0(replay.KVBM["onboard_d2d"]+replay.KVBM["onboard_d2h"]), f0(replay.KVBM["matched_tokens"])))
		}
	}
	if replay.HaveDevice || warm.HaveDevice {
		out.Evidence = append(out.Evidence, fmt.Sprintf("block device reads: replay %s, warm phases %s; writes in warm phases %s",
			mib(replay.DeviceReadBytes), mib(warm.DeviceReadBytes), mib(warm.DeviceWriteBytes)))
	}
	if replay.HaveProcess || warm.HaveProcess {
		out.Evidence = append(out.Evidence, fmt.Sprintf("server process reads: replay %s, warm phases %s",
			mib(replay.ProcessReadBytes), mib(warm.ProcessReadBytes)))
	}
	if replay.HaveCacheDir || warm.HaveCacheDir {
		out.Evidence = append(out.Evidence, fmt.Sprintf("cache dir: %d files created and %d removed in warm phases, %d and %d in replay",
			warm.FilesCreated, warm.FilesRemoved, replay.FilesCreated, replay.FilesRemoved))
	}
	if diskMode && rt.HaveKVBM && total["offload_h2d"]+total["offload_d2d"] == 0 {
		out.Flags = append(out.Flags, "DISK_TIER_INACTIVE")
		out.Warnings = append(out.Warnings, "cpu_disk run never offloaded a block to disk: KVBM's disk offload filter admits a block only after repeated hits (set DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER=true, or send the working set twice before thrashing, as rehydrate_replay does)")
	}
	if out.Verdict == RehydrateNoEvidence {
		return out
	}
	diskOnboard := replay.KVBM["onboard_d2d"] + replay.KVBM["onboard_d2h"]
	ioSaysRead := replay.HaveDevice && replay.DeviceReadBytes >= opt.MinReplayReadBytes &&
		replay.DeviceReadBytes >= 10*(warm.DeviceReadBytes+opt.FloorBytes)
	switch {
	case !haveReplay:
		out.Verdict = RehydrateNotObserved
		out.Evidence = append(out.Evidence, "the scenario has no replay phase")
	case replay.KVBM["matched_tokens"] == 0 && replay.KVBM["onboard_h2d"] == 0 && diskOnboard == 0:
		out.Verdict = RehydrateGated
		out.Evidence = append(out.Evidence, "matched tokens did not move in replay: no cross-request reuse path was activated")
	case diskOnboard > 0:
		out.Verdict = RehydrateObserved
		if replay.HaveDevice && !ioSaysRead {
			out.Flags = append(out.Flags, "PAGE_CACHE_MASKING")
			out.Warnings = append(out.Warnings, fmt.Sprintf("KVBM onboarded %s blocks from disk in replay but the block device read only %s: reads were served from the page cache (O_DIRECT off?) or the device was not sampled",
				f0(diskOnboard), mib(replay.DeviceReadBytes)))
		}
	default:
		out.Verdict = RehydrateNotObserved
	}
	if diskMode && out.Verdict != RehydrateObserved {
		out.Flags = append(out.Flags, "NO_REHYDRATE")
	}
	if !diskMode && replay.HaveDevice && replay.DeviceReadBytes > opt.FloorBytes && replay.DeviceReadBytes > 10*opt.FloorBytes*max(1, replay.Seconds/60) {
		out.Flags = append(out.Flags, "CONTROL_CONTAMINATED")
		out.Warnings = append(out.Warnings, fmt.Sprintf("%s run read %s from the block device during replay: something else reads the disk, so its TTFT is contaminated", rt.KVMode, mib(replay.DeviceReadBytes)))
	}
	return out
}

func addPhase(dst *PhaseTelemetry, p PhaseTelemetry) {
	for k, v := range p.KVBM {
		dst.KVBM[k] += v
	}
	dst.Seconds += p.Seconds
	dst.DeviceReadBytes += p.DeviceReadBytes
	dst.DeviceWriteBytes += p.DeviceWriteBytes
	dst.ProcessReadBytes += p.ProcessReadBytes
	dst.ProcessWriteBytes += p.ProcessWriteBytes
	dst.HaveDevice = dst.HaveDevice || p.HaveDevice
	dst.HaveProcess = dst.HaveProcess || p.HaveProcess
	dst.FilesCreated += p.FilesCreated
	dst.FilesRemoved += p.FilesRemoved
	dst.HaveCacheDir = dst.HaveCacheDir || p.HaveCacheDir
}

func f0(v float64) string { return fmt.Sprintf("%.0f", v) }

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }
