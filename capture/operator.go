package capture

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/procfs"

	"kvbench/capture/telemetry"
	"kvbench/results"
)

// This file holds the operator checks of `capture health` and
// `capture smoke`: is the stack ready for a run?

// Check is one line of `capture health`.
type Check struct {
	Name     string `json:"name"`
	Status   string `json:"status"` // ok, FAIL, warn, skip
	Detail   string `json:"detail"`
	Required bool   `json:"required"`
}

// Check statuses.
const (
	CheckOK   = "ok"
	CheckFail = "FAIL"
	CheckWarn = "warn"
	CheckSkip = "skip"
)

// HealthOptions says what `capture health` checks.
type HealthOptions struct {
	BaseURL     string
	Model       string
	APIKey      string
	KVBMURL     string
	SystemURL   string
	FrontendURL string
	// ExtraURLs are more endpoints as NAME=URL (--metrics-url); each is
	// checked like the system endpoint, not required.
	ExtraURLs        []string
	CacheDir         string
	AllowMissingKVBM bool
	Timeout          time.Duration
	// ProcRoot and SysRoot are /proc and /sys (tests point them elsewhere).
	ProcRoot, SysRoot string
}

// Health checks that the stack is ready for a run: the API answers, a
// model is registered, KVBM metrics are exposed, the cache directory is
// writable and sits on an NVMe device. A required check that fails means
// a run would fail or be invalid.
func Health(ctx context.Context, o HealthOptions) []Check {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	c := NewClient(ClientOptions{BaseURL: o.BaseURL, APIKey: o.APIKey, Concurrency: 1, RequestTimeout: o.Timeout})
	defer c.Close()
	out := []Check{apiCheck(ctx, c, o), modelCheck(ctx, c, o)}
	for _, ep := range []struct {
		name, url string
		kvbm      bool
	}{{"kvbm metrics", o.KVBMURL, true}, {"system metrics", o.SystemURL, false}, {"frontend metrics", o.FrontendURL, false}} {
		out = append(out, metricsCheck(ctx, o, ep.name, ep.url, ep.kvbm))
	}
	for _, nu := range o.ExtraURLs {
		name, url, _ := strings.Cut(nu, "=")
		out = append(out, metricsCheck(ctx, o, name+" metrics", url, false))
	}
	if o.CacheDir == "" {
		return append(out, Check{Name: "cache dir writable", Status: CheckSkip, Detail: "no --kvbm-cache-dir given"},
			Check{Name: "NVMe device", Status: CheckSkip, Detail: "no --kvbm-cache-dir given"})
	}
	return append(out, cacheDirCheck(o), nvmeCheck(o))
}

// apiCheck: the API answers on /health.
func apiCheck(ctx context.Context, c *Client, o HealthOptions) Check {
	ch := Check{Name: "api health", Required: true}
	url := strings.TrimRight(o.BaseURL, "/") + "/health"
	actx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	status, err := c.Probe(actx, url)
	switch {
	case err != nil:
		ch.Status, ch.Detail = CheckFail, fmt.Sprintf("%s: %s", url, telemetry.Cause(err))
	case status == http.StatusNotFound:
		ch.Status, ch.Detail = CheckWarn, url+": no health route (HTTP 404); readiness is judged by /v1/models"
		ch.Required = false
	case status != http.StatusOK:
		ch.Status, ch.Detail = CheckFail, fmt.Sprintf("%s: HTTP %d", url, status)
	default:
		ch.Status, ch.Detail = CheckOK, url
	}
	return ch
}

// modelCheck: a model is registered, the one asked for if any.
func modelCheck(ctx context.Context, c *Client, o HealthOptions) Check {
	mc := Check{Name: "model registered", Required: true}
	actx, cancel := context.WithTimeout(ctx, o.Timeout)
	ids, err := c.Models(actx)
	cancel()
	switch {
	case err != nil:
		mc.Status, mc.Detail = CheckFail, fmt.Sprintf("/v1/models: %v", telemetry.Cause(err))
	case len(ids) == 0:
		mc.Status, mc.Detail = CheckFail, "/v1/models lists no model yet (worker still loading?)"
	case o.Model != "" && !slices.Contains(ids, o.Model):
		mc.Status, mc.Detail = CheckFail, fmt.Sprintf("model %q not listed; the server has %s", o.Model, strings.Join(ids, ", "))
	default:
		mc.Status, mc.Detail = CheckOK, strings.Join(ids, ", ")
	}
	return mc
}

// metricsCheck: a metrics endpoint answers; the KVBM one lists KVBM
// families.
func metricsCheck(ctx context.Context, o HealthOptions, name, url string, kvbm bool) Check {
	ch := Check{Name: name, Required: kvbm && !o.AllowMissingKVBM}
	if url == "" {
		ch.Status, ch.Detail = CheckSkip, "no URL given"
		if kvbm {
			ch.Status = CheckWarn
			ch.Detail = "no --metrics-kvbm-url: runs cannot show whether KVBM offloaded or onboarded"
			ch.Required = false
		}
		return ch
	}
	if kvbm {
		// The same check as a run's preflight.
		p := telemetry.ProbeEndpoint(ctx, url, o.Timeout)
		ch.Status, ch.Detail = CheckOK, p.KVBMDetail()
		if p.KVBMStatus() != results.KVBMMetricsOK {
			ch.Status = CheckFail
			ch.Detail = fmt.Sprintf("%s: %s (%s)", url, p.KVBMDetail(), kvbmHint)
		}
	} else if fams, err := telemetry.Inventory(ctx, url, o.Timeout); err != nil {
		ch.Status, ch.Detail = CheckFail, err.Error()
	} else {
		ch.Status, ch.Detail = CheckOK, fmt.Sprintf("%d families", len(fams))
	}
	if ch.Status == CheckFail && !ch.Required {
		ch.Status = CheckWarn
	}
	return ch
}

// cacheDirCheck: the KVBM cache directory takes a new file.
func cacheDirCheck(o HealthOptions) Check {
	wc := Check{Name: "cache dir writable", Required: true}
	if err := writableDir(o.CacheDir); err != nil { // as a run's preflight
		wc.Status, wc.Detail = CheckFail, err.Error()
		return wc
	}
	wc.Status, wc.Detail = CheckOK, o.CacheDir
	return wc
}

// nvmeCheck: the cache directory sits on an NVMe disk.
func nvmeCheck(o HealthOptions) Check {
	ch := Check{Name: "NVMe device"}
	procRoot, sysRoot := cmp.Or(o.ProcRoot, "/proc"), cmp.Or(o.SysRoot, "/sys")
	fs, err := procfs.NewFS(procRoot)
	if err != nil {
		ch.Status, ch.Detail = CheckWarn, err.Error()
		return ch
	}
	abs, _ := filepath.Abs(o.CacheDir)
	disk, _, err := telemetry.ResolveDevice(fs, sysRoot, abs)
	if err != nil {
		ch.Status, ch.Detail = CheckWarn, fmt.Sprintf("cannot resolve the device of %s: %v", o.CacheDir, err)
		return ch
	}
	if !strings.HasPrefix(disk, "nvme") {
		ch.Status, ch.Detail = CheckWarn, fmt.Sprintf("%s is on %s, not an NVMe device", o.CacheDir, disk)
		return ch
	}
	var model []byte
	if m := nvmeCtrlRE.FindStringSubmatch(disk); m != nil {
		model, _ = os.ReadFile(filepath.Join(sysRoot, "class", "nvme", m[1], "model"))
	}
	ch.Status, ch.Detail = CheckOK, strings.TrimSpace(disk+" "+strings.TrimSpace(string(model)))
	return ch
}

var nvmeCtrlRE = regexp.MustCompile(`^(nvme\d+)n\d+`)

// SmokeOptions says what `capture smoke` sends.
type SmokeOptions struct {
	BaseURL, APIKey string
	Model           string // "" = the first model the server lists
	Prompt          string
	MaxTokens       int
	Timeout         time.Duration
}

// Smoke is one short completion, streamed and not.
type Smoke struct {
	Model   string
	Records []results.Request // stream first, then non-stream
}

// RunSmoke sends the smoke completion twice, streamed and not. Failed
// requests are in the records; the error is for a server that lists no
// model.
func RunSmoke(ctx context.Context, o SmokeOptions) (*Smoke, error) {
	c := NewClient(ClientOptions{BaseURL: o.BaseURL, APIKey: o.APIKey, Concurrency: 1, RequestTimeout: o.Timeout})
	defer c.Close()
	s := &Smoke{Model: o.Model}
	if s.Model == "" {
		actx, cancel := context.WithTimeout(ctx, o.Timeout)
		ids, err := c.Models(actx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("base URL %s: /v1/models: %v", o.BaseURL, err)
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("base URL %s lists no model; pass --model", o.BaseURL)
		}
		s.Model = ids[0]
	}
	s.Records = make([]results.Request, 2)
	for i, stream := range []bool{true, false} {
		req := &CompletionRequest{Model: s.Model, Prompt: o.Prompt, MaxTokens: o.MaxTokens, TopP: 1, Stream: stream}
		if stream {
			req.StreamOptions = &StreamOptions{IncludeUsage: true}
		}
		c.Complete(ctx, ctx, req, fmt.Sprintf("smoke-%d-%d", time.Now().Unix(), i), true, &s.Records[i])
	}
	return s, nil
}

// Err is the first failed request, or nil.
func (s *Smoke) Err() error {
	for _, r := range s.Records {
		if r.ErrorKind != "" {
			return fmt.Errorf("smoke failed (stream=%v): %s: %s", r.Stream, r.ErrorKind, r.Error)
		}
	}
	return nil
}

// Print writes the timings of the smoke requests.
func (s *Smoke) Print(w io.Writer) {
	fmt.Fprintf(w, "model %s\n", s.Model)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODE\tSTATUS\tHEADERS ms\tFIRST BYTE ms\tFIRST EVENT ms\tTTFT ms\tLATENCY ms\tPROMPT TOK\tOUTPUT TOK\tCOMPLETION ID\tERROR")
	for _, r := range s.Records {
		mode := "non-stream"
		if r.Stream {
			mode = "stream"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\n", mode, r.StatusCode, ms(r.HeadersNs), ms(r.FirstByteNs),
			ms(r.FirstEventNs), ms(r.TTFTNs), float64(r.LatencyNs)/1e6, orDash(r.PromptTokens), orDash(r.OutputTokens), r.CompletionID, r.Error)
	}
	tw.Flush()
}

func ms(v *int64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(*v)/1e6)
}

func orDash(v *int64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(*v)
}
