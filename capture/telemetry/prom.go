package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"kvbench/results"
)

// PromTarget is one Prometheus endpoint to scrape.
type PromTarget struct {
	Source string // kvbm, system, frontend or a --metrics-url name
	URL    string
}

// Metric source names of the dedicated flags.
const (
	SourceKVBM     = "kvbm"
	SourceSystem   = "system"
	SourceFrontend = "frontend"
)

// PromOptions configures the Prometheus sampler.
type PromOptions struct {
	Targets []PromTarget
	// Interval between periodic scrapes; 0 scrapes at phase boundaries only.
	Interval time.Duration
	// Timeout bounds one scrape (DefaultScrapeTimeout when <= 0).
	Timeout time.Duration
	// Snapshot keeps the raw exposition text of every boundary scrape and a
	// metric inventory per endpoint in the bundle.
	Snapshot bool
	// SnapshotMaxBytes caps each snapshot file (DefaultSnapshotMaxBytes
	// when <= 0); longer text is cut and the cut is reported.
	SnapshotMaxBytes int64
	// AllowMissingKVBM turns "no KVBM metrics" from an invalid run into a
	// warning.
	AllowMissingKVBM bool
	// Client is used for scrapes (a private client when nil).
	Client *http.Client
}

// Defaults of the Prometheus sampler.
const (
	DefaultScrapeTimeout    = 2 * time.Second
	DefaultSnapshotMaxBytes = 16 << 20
	// maxScrapeBytes bounds what one scrape may return; more is an error.
	maxScrapeBytes = 64 << 20
)

// acceptHeader prefers the classic text format Dynamo serves and accepts
// OpenMetrics 1.0 from servers that prefer it.
const acceptHeader = `text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1`

var sourceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidSourceName reports whether name can label a metric source (and
// appear in a file name).
func ValidSourceName(name string) bool { return sourceNameRE.MatchString(name) }

// PromSampler scrapes Prometheus endpoints at every phase boundary and every
// Interval into the metrics table.
type PromSampler struct {
	opts   PromOptions
	client *http.Client

	dir, runID string
	out        *sink[results.MetricSample]

	periodic
	durable

	mu      sync.Mutex
	state   map[string]*targetState
	warns   []string
	snapCut map[string]bool
	snapN   map[string]int // snapshot file stem → times written
}

type targetState struct {
	url          string
	ok, failed   int
	lastErr      string
	kvbmFamilies map[string]bool
	kvbmNonzero  bool
	inventory    map[string]*invEntry
}

type invEntry struct {
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	Help      string   `json:"help,omitempty"`
	LabelSets []string `json:"label_sets"`
	MaxSeries int      `json:"max_series"`
	sets      map[string]bool
}

// NewPromSampler checks opts and returns a sampler.
func NewPromSampler(opts PromOptions) (*PromSampler, error) {
	seen := map[string]bool{}
	for _, t := range opts.Targets {
		if !ValidSourceName(t.Source) {
			return nil, fmt.Errorf("metrics source %q: want lowercase letters, digits, '_' or '-'", t.Source)
		}
		if seen[t.Source] {
			return nil, fmt.Errorf("metrics source %q given twice", t.Source)
		}
		seen[t.Source] = true
		if !strings.HasPrefix(t.URL, "http://") && !strings.HasPrefix(t.URL, "https://") {
			return nil, fmt.Errorf("metrics source %s: URL %q: want http:// or https://", t.Source, t.URL)
		}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultScrapeTimeout
	}
	if opts.SnapshotMaxBytes <= 0 {
		opts.SnapshotMaxBytes = DefaultSnapshotMaxBytes
	}
	c := opts.Client
	if c == nil {
		c = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	s := &PromSampler{opts: opts, client: c, state: map[string]*targetState{}, snapCut: map[string]bool{}, snapN: map[string]int{}}
	for _, t := range opts.Targets {
		s.state[t.Source] = &targetState{url: t.URL, kvbmFamilies: map[string]bool{}, inventory: map[string]*invEntry{}}
	}
	return s, nil
}

// Name implements Sampler.
func (s *PromSampler) Name() string { return "prometheus" }

// Open implements Sampler: it creates the metrics table and starts interval
// scraping. Scrapes end when ctx is cancelled.
func (s *PromSampler) Open(ctx context.Context, dir, runID string) error {
	out, err := newSink[results.MetricSample](dir, results.TableMetrics, s.durability)
	if err != nil {
		return err
	}
	s.dir, s.runID, s.out = dir, runID, out
	interval := s.opts.Interval
	if len(s.opts.Targets) == 0 {
		interval = 0
	}
	s.start(ctx, interval, s.scrapeAll)
	return nil
}

// Mark implements Sampler: every endpoint is scraped at once, each bounded
// by the scrape timeout.
func (s *PromSampler) Mark(phase, point string) {
	s.mark(phase, point)
}

func (s *PromSampler) scrapeAll(phase, point string) {
	var wg sync.WaitGroup
	for _, t := range s.opts.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.scrapeOne(t, phase, point)
		}()
	}
	wg.Wait()
}

func (s *PromSampler) scrapeOne(t PromTarget, phase, point string) {
	res := scrape(s.ctx, s.client, t.URL, s.opts.Timeout)
	if res.err != nil && s.ctx.Err() != nil {
		return // cut short by Close or an interrupt: not the endpoint's failure
	}
	base := results.MetricSample{
		RunID: s.runID, Source: t.Source, ScrapeUnixNs: res.start.UnixNano(),
		ScrapeDurationNs: res.dur.Nanoseconds(), Phase: phase, Point: point,
	}
	var rows []results.MetricSample
	if res.err != nil {
		row := base
		row.ScrapeError = res.err.Error()
		rows = []results.MetricSample{row}
	} else {
		rows = familyRows(base, res.fams)
	}
	s.record(t, res)
	s.out.put(rows)
	if s.opts.Snapshot && point != PointInterval && res.body != nil {
		s.writeSnapshot(t.Source, phase, point, res.body)
	}
}

// record updates the per-target counters, KVBM detection and inventory.
func (s *PromSampler) record(t PromTarget, res scrapeResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state[t.Source]
	if res.err != nil {
		st.failed++
		st.lastErr = res.err.Error()
		return
	}
	st.ok++
	for _, f := range res.fams {
		name := f.GetName()
		if results.KVBMGeneration(name) != "" {
			st.kvbmFamilies[name] = true
			if f.GetType() == dto.MetricType_COUNTER {
				for _, m := range f.GetMetric() {
					if m.GetCounter().GetValue() != 0 {
						st.kvbmNonzero = true
					}
				}
			}
		}
		if !s.opts.Snapshot {
			continue
		}
		e := st.inventory[name]
		if e == nil {
			e = &invEntry{Name: name, Type: typeName(f.GetType()), Help: f.GetHelp(), sets: map[string]bool{}}
			st.inventory[name] = e
		}
		e.MaxSeries = max(e.MaxSeries, len(f.GetMetric()))
		for _, m := range f.GetMetric() {
			names := make([]string, 0, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				names = append(names, l.GetName())
			}
			sort.Strings(names)
			e.sets["{"+strings.Join(names, ",")+"}"] = true
		}
	}
}

func (s *PromSampler) writeSnapshot(source, phase, point string, body []byte) {
	if int64(len(body)) > s.opts.SnapshotMaxBytes {
		body = body[:s.opts.SnapshotMaxBytes]
		s.mu.Lock()
		if !s.snapCut[source] {
			s.snapCut[source] = true
			s.warns = append(s.warns, fmt.Sprintf("prometheus: %s snapshots cut at %d bytes", source, s.opts.SnapshotMaxBytes))
		}
		s.mu.Unlock()
	}
	// A phase name can repeat (reuse_verify replays "reuse"): later
	// occurrences get _2, _3, ... instead of overwriting the first.
	stem := fmt.Sprintf("metrics_%s_%s_%s", source, fileSafe(phase), point)
	s.mu.Lock()
	s.snapN[stem]++
	n := s.snapN[stem]
	s.mu.Unlock()
	name := stem + ".prom"
	if n > 1 {
		name = fmt.Sprintf("%s_%d.prom", stem, n)
	}
	if err := results.WriteFileAtomic(filepath.Join(s.dir, name), body); err != nil {
		s.mu.Lock()
		s.warns = append(s.warns, fmt.Sprintf("prometheus: snapshot %s: %v", name, err))
		s.mu.Unlock()
	}
}

// Close implements Sampler.
func (s *PromSampler) Close() Report {
	if s.out == nil {
		return Report{}
	}
	s.stop()
	var rep Report
	s.out.closeInto(&rep, "prometheus", results.TableMetrics)
	s.mu.Lock()
	defer s.mu.Unlock()
	rep.Warnings = append(rep.Warnings, s.warns...)
	sources := map[string]any{}
	for _, t := range s.opts.Targets {
		st := s.state[t.Source]
		f := map[string]any{"url": st.url, "scrapes_ok": st.ok, "scrapes_failed": st.failed}
		if st.lastErr != "" {
			f["last_error"] = st.lastErr
		}
		sources[t.Source] = f
		if st.failed > 0 {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("prometheus: %s: %d of %d scrapes failed (last: %s)",
				t.Source, st.failed, st.ok+st.failed, st.lastErr))
		}
		if s.opts.Snapshot && st.ok > 0 {
			if err := writeInventory(s.dir, t.Source, st.inventory); err != nil {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("prometheus: inventory of %s: %v", t.Source, err))
			}
		}
	}
	rep.Facts = map[string]any{"metrics_sources": sources}
	if st := s.state[SourceKVBM]; st != nil {
		gen := kvbmGenerations(st.kvbmFamilies)
		switch {
		case gen == "":
			msg := fmt.Sprintf("no KVBM metrics from %s (%d scrapes ok, %d failed; accepted: %s)",
				st.url, st.ok, st.failed, results.KVBMAccepted)
			if s.opts.AllowMissingKVBM {
				rep.Warnings = append(rep.Warnings, msg)
			} else {
				rep.Invalid = append(rep.Invalid, msg+"; use --allow-missing-kvbm-metrics to accept")
			}
		default:
			rep.Facts["kvbm_metrics_generation"] = gen
			if !st.kvbmNonzero {
				rep.Warnings = append(rep.Warnings, "prometheus: every KVBM counter stayed at 0 (leader not initialised, or nothing was offloaded)")
			}
		}
	}
	return rep
}

// kvbmGenerations lists, sorted and comma-separated, the KVBM name
// generations of the families seen (results.KVBMGeneration); "" when none.
func kvbmGenerations(fams map[string]bool) string {
	var gens []string
	for n := range fams {
		if g := results.KVBMGeneration(n); g != "" && !slices.Contains(gens, g) {
			gens = append(gens, g)
		}
	}
	sort.Strings(gens)
	return strings.Join(gens, ",")
}

func writeInventory(dir, source string, inv map[string]*invEntry) error {
	list := make([]*invEntry, 0, len(inv))
	for _, e := range inv {
		e.LabelSets = e.LabelSets[:0]
		for k := range e.sets {
			e.LabelSets = append(e.LabelSets, k)
		}
		sort.Strings(e.LabelSets)
		list = append(list, e)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	data, err := json.MarshalIndent(map[string]any{"source": source, "families": list}, "", "  ")
	if err != nil {
		return err
	}
	return results.WriteFileAtomic(filepath.Join(dir, "metrics_"+source+"_inventory.json"), append(data, '\n'))
}

// fileSafe maps a phase name or a path to one file-name component: no
// separators, no leading dot.
func fileSafe(s string) string {
	if s == "" {
		return "none"
	}
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			b[i] = '_'
		}
	}
	if b[0] == '.' {
		b[0] = '_'
	}
	return string(b)
}
