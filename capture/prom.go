package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

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

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	cur     phaseState // phase most recently marked
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
// scraping.
func (s *PromSampler) Open(dir, runID string) error {
	out, err := newSink[results.MetricSample](dir, results.TableMetrics)
	if err != nil {
		return err
	}
	s.dir, s.runID, s.out = dir, runID, out
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.opts.Interval > 0 && len(s.opts.Targets) > 0 {
		s.wg.Add(1)
		go intervalLoop(s.ctx, &s.wg, s.opts.Interval, &s.cur, s.scrapeAll)
	}
	return nil
}

// Mark implements Sampler: every endpoint is scraped at once, each bounded
// by the scrape timeout.
func (s *PromSampler) Mark(phase, point string) {
	s.cur.set(phase)
	s.scrapeAll(phase, point)
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
		return // cut short by Close: not the endpoint's failure
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
		if IsKVBMFamily(name) {
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
func (s *PromSampler) Close() SamplerReport {
	if s.out == nil {
		return SamplerReport{}
	}
	s.cancel()
	s.wg.Wait()
	rep := SamplerReport{Tables: map[string]results.TableInfo{}}
	info, err := s.out.close()
	if err != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("prometheus: %v", err))
	} else {
		rep.Tables[results.TableMetrics] = info
	}
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
		gen := kvbmGeneration(st.kvbmFamilies)
		switch {
		case gen == "":
			msg := fmt.Sprintf("no KVBM metrics from %s (%d scrapes ok, %d failed; accepted: kvbm_*, dynamo_kvbm_*, dynamo_component_{offload,onboard}_blocks_*, dynamo_component_matched_tokens)",
				st.url, st.ok, st.failed)
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

// IsKVBMFamily reports whether a metric family belongs to KVBM in any of
// its name generations: bare kvbm_* (v0.6+), dynamo_kvbm_* (proposed
// rename), and the ≤ v0.5 dynamo_component_{offload,onboard}_blocks_* and
// dynamo_component_matched_tokens.
func IsKVBMFamily(name string) bool {
	switch {
	case strings.HasPrefix(name, "kvbm_"), strings.HasPrefix(name, "dynamo_kvbm_"),
		strings.HasPrefix(name, "dynamo_component_offload_blocks_"),
		strings.HasPrefix(name, "dynamo_component_onboard_blocks_"):
		return true
	}
	return strings.TrimSuffix(name, "_total") == "dynamo_component_matched_tokens"
}

func kvbmGeneration(fams map[string]bool) string {
	var gens []string
	add := func(g string) {
		for _, x := range gens {
			if x == g {
				return
			}
		}
		gens = append(gens, g)
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "kvbm_"):
			add("kvbm")
		case strings.HasPrefix(n, "dynamo_kvbm_"):
			add("dynamo_kvbm")
		default:
			add("dynamo_component")
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

type scrapeResult struct {
	start time.Time
	dur   time.Duration
	body  []byte
	fams  []*dto.MetricFamily
	err   error
}

// scrape fetches and parses one endpoint. Every failure (refused, timeout,
// non-2xx status, oversized or unparsable body) is returned in err; body is
// kept whenever the server answered 2xx.
func scrape(ctx context.Context, c *http.Client, url string, timeout time.Duration) (res scrapeResult) {
	res.start = time.Now()
	defer func() { res.dur = time.Since(res.start) }()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		res.err = fmt.Errorf("scrape %s: %w", url, err)
		return res
	}
	req.Header.Set("Accept", acceptHeader)
	resp, err := c.Do(req)
	if err != nil {
		res.err = fmt.Errorf("scrape %s: %s", url, unwrapNet(err))
		return res
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		res.err = fmt.Errorf("scrape %s: HTTP %s", url, resp.Status)
		return res
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxScrapeBytes+1))
	if err != nil {
		res.err = fmt.Errorf("scrape %s: reading body: %s", url, unwrapNet(err))
		return res
	}
	if len(body) > maxScrapeBytes {
		res.err = fmt.Errorf("scrape %s: body larger than %d bytes", url, maxScrapeBytes)
		return res
	}
	res.body = body
	res.fams, err = parseExposition(body, resp.Header.Get("Content-Type"))
	if err != nil {
		res.err = fmt.Errorf("scrape %s: %w", url, err)
	}
	return res
}

// parseExposition decodes a scrape body by its Content-Type: Prometheus
// text (also when the type is missing or unknown), OpenMetrics 1.0 (also
// an untyped body that ends with "# EOF") or delimited protobuf. A panic in
// a parser is returned as an error. Families come back sorted by name; an
// exposition without any sample is an error.
//
// Note: expfmt v0.73.1 decodes OpenMetrics with an ABNF parser that takes
// about 25 ms per line (half a second for 20 lines, minutes for a real
// scrape) and cannot be interrupted, so a scrape could overrun its timeout
// by far. OpenMetrics is instead rewritten line by line into the classic
// text format (openMetricsToText) and read by expfmt's text parser, which
// yields the same families the library's decoder does (counters named
// <family>_total). The Accept header asks for the text format first, so
// this path is only taken by servers that insist on OpenMetrics.
func parseExposition(body []byte, contentType string) (fams []*dto.MetricFamily, err error) {
	defer func() {
		if p := recover(); p != nil {
			fams, err = nil, fmt.Errorf("exposition parser panicked: %v", p)
		}
	}()
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	format := expfmt.ResponseFormat(h)
	ft := format.FormatType()
	if ft == expfmt.TypeUnknown && bytes.HasSuffix(bytes.TrimRight(body, "\r\n\t "), []byte("# EOF")) {
		ft = expfmt.TypeOpenMetrics
	}
	switch ft {
	case expfmt.TypeProtoDelim:
		dec := expfmt.NewDecoder(bytes.NewReader(body), format)
		for {
			mf := &dto.MetricFamily{}
			err := dec.Decode(mf)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("parse protobuf exposition: %w", err)
			}
			fams = append(fams, mf)
		}
	default:
		what := "text exposition"
		if ft == expfmt.TypeOpenMetrics {
			what = "openmetrics exposition"
			if body, err = openMetricsToText(body); err != nil {
				return nil, fmt.Errorf("parse %s: %w", what, err)
			}
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		m, err := p.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", what, err)
		}
		for _, mf := range m {
			fams = append(fams, mf)
		}
	}
	n := 0
	for _, f := range fams {
		n += len(f.GetMetric())
	}
	if n == 0 {
		return nil, errors.New("exposition has no samples")
	}
	sort.Slice(fams, func(i, j int) bool { return fams[i].GetName() < fams[j].GetName() })
	return fams, nil
}

// openMetricsToText rewrites OpenMetrics 1.0 text into the classic text
// format: counter families take their _total sample name, info families
// their _info name and become gauges, stateset becomes gauge; UNIT and HELP
// lines, _created samples, exemplars and timestamps (seconds in
// OpenMetrics, milliseconds in text) are dropped; gaugehistogram and
// unknown families stay untyped. The body must end with "# EOF".
func openMetricsToText(body []byte) ([]byte, error) {
	types := map[string]string{}
	var out bytes.Buffer
	out.Grow(len(body))
	rest := body
	lineNo := 0
	for len(rest) > 0 {
		var line []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		lineNo++
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' {
			f := strings.Fields(string(line))
			switch {
			case len(f) == 2 && f[1] == "EOF":
				return out.Bytes(), nil
			case len(f) >= 4 && f[1] == "TYPE":
				name, typ := f[2], f[3]
				types[name] = typ
				switch typ {
				case "counter":
					fmt.Fprintf(&out, "# TYPE %s_total counter\n", name)
				case "info":
					fmt.Fprintf(&out, "# TYPE %s_info gauge\n", name)
				case "stateset", "gauge":
					fmt.Fprintf(&out, "# TYPE %s gauge\n", name)
				case "histogram", "summary":
					fmt.Fprintf(&out, "# TYPE %s %s\n", name, typ)
				}
			}
			continue
		}
		name, labels, tail, ok := splitSample(line)
		if !ok {
			return nil, fmt.Errorf("line %d: malformed sample %q", lineNo, line)
		}
		if base, found := strings.CutSuffix(name, "_created"); found {
			switch types[base] {
			case "counter", "histogram", "summary", "gaugehistogram":
				continue
			}
		}
		if i := bytes.Index(tail, []byte(" #")); i >= 0 { // exemplar
			tail = tail[:i]
		}
		vals := strings.Fields(string(tail))
		if len(vals) == 0 || len(vals) > 2 {
			return nil, fmt.Errorf("line %d: want a value and an optional timestamp in %q", lineNo, line)
		}
		out.Write(line[:len(line)-len(tail)-len(labels)])
		out.Write(labels)
		out.WriteByte(' ')
		out.WriteString(vals[0])
		out.WriteByte('\n')
	}
	return nil, errors.New("data does not end with # EOF")
}

// splitSample splits an exposition sample line into the metric name, the
// label block ("{...}" or empty, quotes and escapes respected) and the rest.
func splitSample(line []byte) (name string, labels, tail []byte, ok bool) {
	i := 0
	for i < len(line) && line[i] != '{' && line[i] != ' ' && line[i] != '\t' {
		i++
	}
	name = string(line[:i])
	if i < len(line) && line[i] == '{' {
		j, inQuote := i+1, false
		for ; j < len(line); j++ {
			c := line[j]
			switch {
			case inQuote && c == '\\':
				j++
			case c == '"':
				inQuote = !inQuote
			case !inQuote && c == '}':
				return name, line[i : j+1], line[j+1:], name != "" || i == 0
			}
		}
		return "", nil, nil, false
	}
	return name, nil, line[i:], name != ""
}

func typeName(t dto.MetricType) string {
	switch t {
	case dto.MetricType_COUNTER:
		return "counter"
	case dto.MetricType_GAUGE:
		return "gauge"
	case dto.MetricType_SUMMARY:
		return "summary"
	case dto.MetricType_HISTOGRAM:
		return "histogram"
	case dto.MetricType_GAUGE_HISTOGRAM:
		return "gaugehistogram"
	}
	return "untyped"
}

// familyRows flattens parsed families into metrics rows based on base:
// one row per series, histograms as _bucket/_sum/_count and summaries as
// quantile/_sum/_count series, as the text format writes them.
func familyRows(base results.MetricSample, fams []*dto.MetricFamily) []results.MetricSample {
	var rows []results.MetricSample
	add := func(name string, labels []*dto.LabelPair, extraName, extraValue string, typ string, v float64) {
		r := base
		r.Name, r.Labels, r.Type, r.Value = name, canonicalLabels(labels, extraName, extraValue), typ, v
		rows = append(rows, r)
	}
	for _, f := range fams {
		name, typ := f.GetName(), typeName(f.GetType())
		for _, m := range f.GetMetric() {
			switch {
			case m.Counter != nil:
				add(name, m.Label, "", "", typ, m.Counter.GetValue())
			case m.Gauge != nil:
				add(name, m.Label, "", "", typ, m.Gauge.GetValue())
			case m.Untyped != nil:
				add(name, m.Label, "", "", typ, m.Untyped.GetValue())
			case m.Summary != nil:
				for _, q := range m.Summary.Quantile {
					add(name, m.Label, model.QuantileLabel, formatFloat(q.GetQuantile()), typ, q.GetValue())
				}
				add(name+"_sum", m.Label, "", "", typ, m.Summary.GetSampleSum())
				add(name+"_count", m.Label, "", "", typ, float64(m.Summary.GetSampleCount()))
			case m.Histogram != nil:
				h := m.Histogram
				count := h.GetSampleCountFloat()
				if count <= 0 {
					count = float64(h.GetSampleCount())
				}
				inf := false
				for _, b := range h.Bucket {
					v := b.GetCumulativeCountFloat()
					if v <= 0 {
						v = float64(b.GetCumulativeCount())
					}
					inf = inf || math.IsInf(b.GetUpperBound(), 1)
					add(name+"_bucket", m.Label, model.BucketLabel, formatFloat(b.GetUpperBound()), typ, v)
				}
				if !inf {
					add(name+"_bucket", m.Label, model.BucketLabel, "+Inf", typ, count)
				}
				add(name+"_sum", m.Label, "", "", typ, h.GetSampleSum())
				add(name+"_count", m.Label, "", "", typ, count)
			}
		}
	}
	return rows
}

// canonicalLabels renders labels (plus one extra pair when extraName is
// set) as {k="v",...} sorted by name, escaping values as the text format
// does; "{}" when there are none.
func canonicalLabels(labels []*dto.LabelPair, extraName, extraValue string) string {
	type kv struct{ k, v string }
	pairs := make([]kv, 0, len(labels)+1)
	for _, l := range labels {
		if l.GetName() == extraName && extraName != "" {
			continue
		}
		pairs = append(pairs, kv{l.GetName(), l.GetValue()})
	}
	if extraName != "" {
		pairs = append(pairs, kv{extraName, extraValue})
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.k)
		b.WriteString(`="`)
		labelEscaper.WriteString(&b, p.v)
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

// formatFloat writes a number as the Prometheus text format does.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// sink hands rows from any goroutine to the one goroutine that owns a
// table's writer.
type sink[T any] struct {
	w    *results.TableWriter[T]
	in   chan []T
	done chan struct{}
	err  error

	mu     sync.RWMutex
	closed bool
}

func newSink[T any](dir, table string) (*sink[T], error) {
	w, err := results.NewTableWriter[T](dir, table, 0)
	if err != nil {
		return nil, err
	}
	s := &sink[T]{w: w, in: make(chan []T, 64), done: make(chan struct{})}
	go s.run()
	return s, nil
}

func (s *sink[T]) run() {
	defer close(s.done)
	for rows := range s.in {
		if s.err == nil {
			s.err = s.w.Write(rows...)
		}
	}
}

// put queues rows; it blocks only while the writer is behind by 64 batches.
// Rows put after close are dropped.
func (s *sink[T]) put(rows []T) {
	if len(rows) == 0 {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	s.in <- rows
}

// close drains the queue and closes the table file.
func (s *sink[T]) close() (results.TableInfo, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.w.Info(), s.err
	}
	s.closed = true
	close(s.in)
	s.mu.Unlock()
	<-s.done
	err := s.w.Close()
	if s.err != nil {
		err = s.err
	}
	return s.w.Info(), err
}
