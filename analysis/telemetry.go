package analysis

import (
	"maps"
	"slices"
	"sort"

	"kvbench/ingest"
	"kvbench/results"
	"kvbench/stats"
)

// RunTelemetry is what the samplers of one run recorded, reduced to
// per-phase deltas and time series.
type RunTelemetry struct {
	RunID   string
	Arm     string
	KVMode  string
	StartNs int64
	// Phases holds one entry per phase of the manifest, in order.
	Phases []PhaseIO
	// HaveKVBM is true when any KVBM counter was scraped successfully.
	HaveKVBM bool
	// Requests is the tier evidence in the run's requests.
	Requests RequestEvidence
	// DiskRead and DiskWrite are bytes per second summed over the sampled
	// block devices; Counters is each KVBM role's cumulative value.
	DiskRead, DiskWrite []Point
	Counters            map[string][]Point
}

// ReduceTelemetry reduces a run's metrics, io and cachedir rows to
// per-phase deltas and time series. Samples belong to phases by time (see
// phaseWindows).
func ReduceTelemetry(r *ingest.Run) *RunTelemetry {
	m := r.Manifest
	rt := &RunTelemetry{RunID: m.RunID, Arm: m.TierMode, KVMode: m.KVMode, StartNs: m.StartedUnixNs, Counters: map[string][]Point{}}
	for _, ph := range m.Phases {
		rt.Phases = append(rt.Phases, PhaseIO{RunID: m.RunID, Arm: m.TierMode, Phase: ph.Name, Repeat: ph.RepeatIndex,
			Deltas: Deltas{DurationNs: ph.EndUnixNs - ph.StartUnixNs, KVBM: map[string]float64{}}})
	}
	phaseOf := phaseWindows(m.Phases)
	rt.reduceMetrics(r.Metrics, phaseOf)
	rt.reduceIO(r.IO, phaseOf)
	rt.reduceCacheDir(r.CacheDir, phaseOf)
	return rt
}

// sample is one value of a cumulative series.
type sample struct {
	t int64
	v float64
}

// phaseSeries collects, per phase index, the samples of one series, in
// time order once sorted.
type phaseSeries map[int][]sample

func (ps phaseSeries) add(ph int, s sample) { ps[ph] = append(ps[ph], s) }

// deltas returns each phase's counter increase. A phase's baseline is the
// last sample of the phase before it (when there is one), not its own
// start sample: work queued in one phase that lands between that phase's
// end sample and the next phase's start sample (disk writes after KVBM
// enqueued them) is then counted in the next phase instead of in none.
func (ps phaseSeries) deltas() map[int]float64 {
	for _, ss := range ps {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].t < ss[j].t })
	}
	out := map[int]float64{}
	for ph, ss := range ps {
		vals := make([]float64, 0, len(ss)+1)
		if prev := ps[ph-1]; len(prev) > 0 {
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

// reduceMetrics sums each KVBM role's per-phase deltas and builds its
// cumulative series.
func (rt *RunTelemetry) reduceMetrics(rows []results.MetricSample, phaseOf func(int64) (int, bool)) {
	type skey struct{ source, name, labels string }
	series := map[skey]phaseSeries{}
	all := map[skey][]sample{}
	for i := range rows {
		r := &rows[i]
		rt.HaveKVBM = true
		k := skey{r.Source, r.Name, r.Labels}
		s := sample{t: r.ScrapeUnixNs, v: r.Value}
		all[k] = append(all[k], s)
		if ph, ok := phaseOf(r.ScrapeUnixNs); ok {
			if series[k] == nil {
				series[k] = phaseSeries{}
			}
			series[k].add(ph, s)
		}
	}
	keys := slices.Collect(maps.Keys(series))
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.source+a.name+a.labels < b.source+b.name+b.labels
	})
	// Note: one source per role. The same KVBM endpoint can be scraped under
	// two names (--metrics-kvbm-url and a --metrics-url alias) and a name
	// generation can appear on two ports; summing across sources would
	// count the blocks twice. The KVBM endpoint's own source wins, else the
	// first by name.
	chosen := map[string]string{}
	for _, k := range keys {
		role := results.KVBMRole(k.name)
		if cur, ok := chosen[role]; !ok || (k.source == results.MetricsSourceKVBM && cur != results.MetricsSourceKVBM) {
			chosen[role] = k.source
		}
	}
	for _, k := range keys {
		role := results.KVBMRole(k.name)
		if chosen[role] != k.source {
			continue
		}
		for ph, d := range series[k].deltas() {
			rt.Phases[ph].KVBM[role] += d
		}
	}
	// Time series: cumulative value per role, summed over its series.
	byRole := map[string]map[int64]float64{}
	for k, ss := range all {
		role := results.KVBMRole(k.name)
		if chosen[role] != "" && chosen[role] != k.source {
			continue
		}
		if byRole[role] == nil {
			byRole[role] = map[int64]float64{}
		}
		for _, s := range ss {
			byRole[role][s.t] += s.v
		}
	}
	for role, byT := range byRole {
		rt.Counters[role] = pointsOf(byT, rt.StartNs)
	}
}

// pointsOf returns values by time as a series in time order, times made
// relative to start.
func pointsOf(byT map[int64]float64, start int64) []Point {
	out := make([]Point, 0, len(byT))
	for t, v := range byT {
		out = append(out, Point{OffsetNs: t - start, V: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OffsetNs < out[j].OffsetNs })
	return out
}

// reduceIO sums device and process bytes per phase and builds the disk
// rates over time.
func (rt *RunTelemetry) reduceIO(rows []results.IOSample, phaseOf func(int64) (int, bool)) {
	type tkey struct{ scope, target, device string }
	type rw struct{ r, w, sys phaseSeries }
	series := map[tkey]*rw{}
	dev := map[tkey][]results.IOSample{}
	for _, r := range rows {
		k := tkey{r.Scope, r.Target, r.Device}
		if r.Scope == results.IOScopeDevice {
			dev[k] = append(dev[k], r)
		}
		ph, ok := phaseOf(r.SampleUnixNs)
		if !ok {
			continue
		}
		if series[k] == nil {
			series[k] = &rw{phaseSeries{}, phaseSeries{}, phaseSeries{}}
		}
		series[k].r.add(ph, sample{t: r.SampleUnixNs, v: float64(r.ReadBytes)})
		series[k].w.add(ph, sample{t: r.SampleUnixNs, v: float64(r.WriteBytes)})
		if r.SyscallReadBytes != nil {
			series[k].sys.add(ph, sample{t: r.SampleUnixNs, v: float64(*r.SyscallReadBytes)})
		}
	}
	for k, s := range series {
		rd, wr, sys := s.r.deltas(), s.w.deltas(), s.sys.deltas()
		for ph, v := range sys {
			if k.scope == results.IOScopeProcess {
				rt.Phases[ph].ProcessSyscallReadBytes += v
				rt.Phases[ph].HaveSyscall = true
			}
		}
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
	rt.DiskRead, rt.DiskWrite = diskRates(dev, rt.StartNs)
}

// diskRates returns bytes read and written per second, summed over the
// devices at each sample time.
func diskRates[K comparable](dev map[K][]results.IOSample, start int64) (read, write []Point) {
	rd, wr := map[int64]float64{}, map[int64]float64{}
	for _, ss := range dev {
		sort.Slice(ss, func(i, j int) bool { return ss[i].SampleUnixNs < ss[j].SampleUnixNs })
		for i := 1; i < len(ss); i++ {
			dt := float64(ss[i].SampleUnixNs-ss[i-1].SampleUnixNs) / nsPerSecond
			if dt <= 0 {
				continue
			}
			t := ss[i].SampleUnixNs
			rd[t] += max(0, float64(ss[i].ReadBytes-ss[i-1].ReadBytes)) / dt
			wr[t] += max(0, float64(ss[i].WriteBytes-ss[i-1].WriteBytes)) / dt
		}
	}
	return pointsOf(rd, start), pointsOf(wr, start)
}

// reduceCacheDir counts each phase's cache-directory churn and the change
// of the filesystem's used bytes.
func (rt *RunTelemetry) reduceCacheDir(rows []results.CacheDirSnapshot, phaseOf func(int64) (int, bool)) {
	used := phaseSeries{}
	for _, r := range rows {
		ph, ok := phaseOf(r.SampleUnixNs)
		if !ok || r.Error != "" {
			continue
		}
		p := &rt.Phases[ph]
		p.HaveCacheDir = true
		// Churn counts are since the previous snapshot: the end snapshot
		// of a phase carries that phase's churn.
		if r.Point == results.PointEnd {
			p.FilesCreated += r.FilesCreated
			p.FilesRemoved += r.FilesRemoved
		}
		if r.FSUsedBytes != nil {
			used.add(ph, sample{t: r.SampleUnixNs, v: float64(*r.FSUsedBytes)})
		}
	}
	for ph, ss := range used {
		sort.Slice(ss, func(i, j int) bool { return ss[i].t < ss[j].t })
		if len(ss) >= 2 {
			rt.Phases[ph].FSUsedDeltaBytes = ss[len(ss)-1].v - ss[0].v
		}
	}
}

// addTelemetry judges a run's tier evidence and keeps its phase deltas,
// series and per-request tier labels.
func (a *Analyzer) addTelemetry(r *ingest.Run) {
	m := r.Manifest
	if r.TelemetryErr != nil {
		a.rehydrate = append(a.rehydrate, Rehydrate{RunID: m.RunID, Arm: m.TierMode, KVMode: m.KVMode,
			Verdict: results.RehydrateNoEvidence, TelemetryError: r.TelemetryErr.Error()})
		return
	}
	rt := ReduceTelemetry(r)
	rt.Requests = requestEvidence(r.Requests)
	a.tiers.add(Attribute(r, rt))
	a.rehydrate = append(a.rehydrate, JudgeRehydrate(rt, a.opt.Rehydrate))
	for _, p := range rt.Phases {
		if len(p.KVBM) > 0 || p.HaveDevice || p.HaveProcess || p.HaveCacheDir {
			a.phaseIO = append(a.phaseIO, p)
		}
	}
	a.ioSeries = append(a.ioSeries, IOSeries{RunID: rt.RunID, Arm: rt.Arm, Phases: spans(m),
		DiskRead: rt.DiskRead, DiskWrite: rt.DiskWrite, Counters: rt.Counters})
}
