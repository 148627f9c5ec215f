package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/procfs"
)

// Family is one metric family an endpoint exposes, for `capture inventory`.
type Family struct {
	Name   string
	Type   string
	Series int
	Labels []string // label names used by its series (le and quantile excluded)
}

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

// Check is one line of `capture health`.
type Check struct {
	Name     string
	Status   string // ok, FAIL, warn, skip
	Detail   string
	Required bool
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
	BaseURL          string
	Model            string
	APIKey           string
	KVBMURL          string
	SystemURL        string
	FrontendURL      string
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
	var out []Check
	c := NewClient(ClientOptions{BaseURL: o.BaseURL, APIKey: o.APIKey, Concurrency: 1, RequestTimeout: o.Timeout})
	defer c.Close()

	// API up.
	hc := Check{Name: "api health", Required: true}
	url := strings.TrimRight(o.BaseURL, "/") + "/health"
	if err := probeHealth(ctx, c, url, o.Timeout); err != nil {
		hc.Status, hc.Detail = CheckFail, err.Error()
		if errors.Is(err, errNoHealthRoute) {
			hc.Status, hc.Required = CheckWarn, false
		}
	} else {
		hc.Status, hc.Detail = CheckOK, url
	}
	out = append(out, hc)

	// Model registered.
	mc := Check{Name: "model registered", Required: true}
	actx, cancel := context.WithTimeout(ctx, o.Timeout)
	ids, err := c.Models(actx)
	cancel()
	switch {
	case err != nil:
		mc.Status, mc.Detail = CheckFail, fmt.Sprintf("/v1/models: %v", unwrapNet(err))
	case len(ids) == 0:
		mc.Status, mc.Detail = CheckFail, "/v1/models lists no model yet (worker still loading?)"
	case o.Model != "" && !slices.Contains(ids, o.Model):
		mc.Status, mc.Detail = CheckFail, fmt.Sprintf("model %q not listed; the server has %s", o.Model, strings.Join(ids, ", "))
	default:
		mc.Status, mc.Detail = CheckOK, strings.Join(ids, ", ")
	}
	out = append(out, mc)

	// Metrics endpoints.
	for _, ep := range []struct {
		name, url string
		kvbm      bool
	}{{"kvbm metrics", o.KVBMURL, true}, {"system metrics", o.SystemURL, false}, {"frontend metrics", o.FrontendURL, false}} {
		ch := Check{Name: ep.name, Required: ep.kvbm && !o.AllowMissingKVBM}
		if ep.url == "" {
			ch.Status, ch.Detail = CheckSkip, "no URL given"
			if ep.kvbm {
				ch.Status = CheckWarn
				ch.Detail = "no --metrics-kvbm-url: runs cannot show whether KVBM offloaded or onboarded"
				ch.Required = false
			}
			out = append(out, ch)
			continue
		}
		fams, err := Inventory(ctx, ep.url, o.Timeout)
		switch {
		case err != nil:
			ch.Status, ch.Detail = CheckFail, err.Error()
			if ep.kvbm {
				ch.Detail += " (is DYN_KVBM_METRICS=true set on the worker? port DYN_KVBM_METRICS_PORT, default 6880)"
			}
		case ep.kvbm:
			var kv []string
			for _, f := range fams {
				if IsKVBMFamily(f.Name) {
					kv = append(kv, f.Name)
				}
			}
			if len(kv) == 0 {
				ch.Status, ch.Detail = CheckFail, fmt.Sprintf("%d families, none of them KVBM (kvbm_*, dynamo_kvbm_*, dynamo_component_*_blocks_*)", len(fams))
			} else {
				ch.Status, ch.Detail = CheckOK, fmt.Sprintf("%d KVBM families (%s ...)", len(kv), kv[0])
			}
		default:
			ch.Status, ch.Detail = CheckOK, fmt.Sprintf("%d families", len(fams))
		}
		if ch.Status == CheckFail && !ch.Required {
			ch.Status = CheckWarn
		}
		out = append(out, ch)
	}

	// Cache directory and its device.
	if o.CacheDir == "" {
		out = append(out, Check{Name: "cache dir writable", Status: CheckSkip, Detail: "no --kvbm-cache-dir given"},
			Check{Name: "NVMe device", Status: CheckSkip, Detail: "no --kvbm-cache-dir given"})
		return out
	}
	wc := Check{Name: "cache dir writable", Required: true}
	if f, err := os.CreateTemp(o.CacheDir, ".kvbench-health-*"); err != nil {
		wc.Status, wc.Detail = CheckFail, unwrapPath(err).Error()
	} else {
		f.Close()
		os.Remove(f.Name())
		wc.Status, wc.Detail = CheckOK, o.CacheDir
	}
	out = append(out, wc)
	out = append(out, nvmeCheck(o))
	return out
}

func nvmeCheck(o HealthOptions) Check {
	ch := Check{Name: "NVMe device"}
	procRoot, sysRoot := o.ProcRoot, o.SysRoot
	if procRoot == "" {
		procRoot = "/proc"
	}
	if sysRoot == "" {
		sysRoot = "/sys"
	}
	fs, err := procfs.NewFS(procRoot)
	if err != nil {
		ch.Status, ch.Detail = CheckWarn, err.Error()
		return ch
	}
	abs, _ := filepath.Abs(o.CacheDir)
	disk, _, err := ResolveDevice(fs, sysRoot, abs)
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

func probeHealth(ctx context.Context, c *Client, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %s", url, unwrapNet(err))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
		return fmt.Errorf("%s: %w", url, errNoHealthRoute)
	}
	return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
}

// errNoHealthRoute: the server answers but has no /health route.
var errNoHealthRoute = errors.New("no health route (HTTP 404); readiness is judged by /v1/models")

var nvmeCtrlRE = regexp.MustCompile(`^(nvme\d+)n\d+`)
