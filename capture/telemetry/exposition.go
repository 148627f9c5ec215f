package telemetry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"kvbench/results"
)

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
		res.err = fmt.Errorf("scrape %s: %s", url, Cause(err))
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
		res.err = fmt.Errorf("scrape %s: reading body: %s", url, Cause(err))
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

// Family is one metric family an endpoint exposes, for `capture inventory`
// and `capture health`.
type Family struct {
	Name   string
	Type   string
	Series int
	Labels []string // label names used by its series (le and quantile excluded)
}

// IsKVBM reports whether the family is one of KVBM's, in any name
// generation (results.KVBMGeneration).
func (f Family) IsKVBM() bool { return results.KVBMGeneration(f.Name) != "" }

// Inventory scrapes one metrics endpoint and lists its families by name.
func Inventory(ctx context.Context, url string, timeout time.Duration) ([]Family, error) {
	res := scrape(ctx, &http.Client{}, url, timeout)
	if res.err != nil {
		return nil, res.err
	}
	var out []Family
	for _, mf := range res.fams {
		f := Family{Name: mf.GetName(), Type: typeName(mf.GetType()), Series: len(mf.GetMetric())}
		seen := map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if n := lp.GetName(); !seen[n] && n != "le" && n != "quantile" {
					seen[n] = true
					f.Labels = append(f.Labels, n)
				}
			}
		}
		sort.Strings(f.Labels)
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
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

// EndpointProbe is one scrape of a metrics endpoint before a run: whether
// it answered and, of what it exposes, the KVBM families (in any name
// generation, results.KVBMGeneration).
type EndpointProbe struct {
	URL      string
	Err      error // the endpoint did not answer (or not with metrics)
	Families int
	KVBM     []string // KVBM family names, sorted
}

// ProbeEndpoint scrapes url once within timeout.
func ProbeEndpoint(ctx context.Context, url string, timeout time.Duration) EndpointProbe {
	p := EndpointProbe{URL: url}
	fams, err := Inventory(ctx, url, timeout)
	if err != nil {
		p.Err = err
		return p
	}
	p.Families = len(fams)
	for _, f := range fams {
		if f.IsKVBM() {
			p.KVBM = append(p.KVBM, f.Name)
		}
	}
	return p
}

// KVBMStatus says what the probe found as a KVBM endpoint: one of the
// results.KVBMMetrics* values.
func (p EndpointProbe) KVBMStatus() string {
	switch {
	case p.Err != nil:
		return results.KVBMMetricsUnreachable
	case len(p.KVBM) == 0:
		return results.KVBMMetricsNoFamilies
	}
	return results.KVBMMetricsOK
}

// KVBMDetail describes in one line what the endpoint returned, as a KVBM
// endpoint.
func (p EndpointProbe) KVBMDetail() string {
	switch {
	case p.Err != nil:
		return strings.TrimPrefix(p.Err.Error(), "scrape "+p.URL+": ")
	case len(p.KVBM) == 0:
		return fmt.Sprintf("answered with %d metric families, none of them KVBM's (accepted: %s)", p.Families, results.KVBMAccepted)
	}
	return fmt.Sprintf("%d KVBM families (%s ...)", len(p.KVBM), p.KVBM[0])
}
