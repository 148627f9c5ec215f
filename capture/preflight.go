package capture

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"kvbench/capture/telemetry"
	"kvbench/results"
)

// This file holds the preflight: what a run checks after the model is
// resolved and before its first request (calibration probes included),
// so that a mistake that would only show after every phase costs nothing.

// preflightResult is what the preflight found.
type preflightResult struct {
	kvbm     string   // results.KVBMMetrics* value
	warnings []string // printed before the run starts and kept in the manifest
	failure  string   // not empty: the run must not start, and why
}

// record puts the preflight's findings in the manifest.
func (p preflightResult) record(m *results.Manifest) {
	m.KVBMMetrics = p.kvbm
	m.Warnings = append(m.Warnings, p.warnings...)
}

// kvbmHint says where KVBM's metrics come from.
const kvbmHint = "is DYN_KVBM_METRICS=true set on the worker? its port is DYN_KVBM_METRICS_PORT, default 6880"

// preflight scrapes every configured metrics endpoint once and checks the
// KVBM cache directory. A KVBM endpoint that does not answer, or answers
// without any KVBM family, stops the run (unless
// --allow-missing-kvbm-metrics); so does a cache directory that is not a
// writable directory. Other endpoints that fail are warnings, as is a B1
// or B2 run without a KVBM endpoint.
func preflight(ctx context.Context, cfg *Config) preflightResult {
	var p preflightResult
	t := cfg.Telemetry
	targets, _ := t.Targets() // validated with the configuration
	probes := probeAll(ctx, targets, cmp.Or(t.MetricsTimeout, telemetry.DefaultScrapeTimeout))
	p.kvbm = results.KVBMMetricsNotConfigured
	for i, tg := range targets {
		pr := probes[i]
		if tg.Source != telemetry.SourceKVBM {
			if pr.Err != nil {
				p.warnings = append(p.warnings, fmt.Sprintf("metrics source %s (%s) does not answer: %s; its samples will be missing",
					tg.Source, tg.URL, pr.KVBMDetail()))
			}
			continue
		}
		p.kvbm = pr.KVBMStatus()
		if p.kvbm == results.KVBMMetricsOK {
			continue
		}
		msg := fmt.Sprintf("--metrics-kvbm-url %s: %s", tg.URL, pr.KVBMDetail())
		if t.AllowMissingKVBM {
			p.warnings = append(p.warnings, msg+" (allowed by --allow-missing-kvbm-metrics)")
			continue
		}
		p.failure = fmt.Sprintf("preflight: %s; nothing was sent (%s; --allow-missing-kvbm-metrics runs without)", msg, kvbmHint)
		return p
	}
	if p.kvbm == results.KVBMMetricsNotConfigured {
		if tier, _, _ := results.ResolveModes(cfg.TierMode, cfg.KVMode); tier == "B1" || tier == "B2" {
			p.warnings = append(p.warnings, fmt.Sprintf("tier mode %s without --metrics-kvbm-url: no KVBM counters will be captured, so the run cannot show whether KVBM offloaded or onboarded (set --metrics-kvbm-url http://HOST:6880/metrics)", tier))
		}
	}
	if t.CacheDir != "" {
		if err := writableDir(t.CacheDir); err != nil {
			p.failure = fmt.Sprintf("preflight: --kvbm-cache-dir %s: %v; nothing was sent", t.CacheDir, err)
		}
	}
	return p
}

// probeAll scrapes the targets at once, each within timeout.
func probeAll(ctx context.Context, targets []telemetry.PromTarget, timeout time.Duration) []telemetry.EndpointProbe {
	out := make([]telemetry.EndpointProbe, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Go(func() { out[i] = telemetry.ProbeEndpoint(ctx, tg.URL, timeout) })
	}
	wg.Wait()
	return out
}

// writableDir checks that dir is a directory that takes a new file.
func writableDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case err != nil:
		return unwrapPath(err)
	case !st.IsDir():
		return fmt.Errorf("not a directory")
	}
	f, err := os.CreateTemp(dir, ".kvbench-probe-*")
	if err != nil {
		return fmt.Errorf("not writable: %v", unwrapPath(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// preflightBundle writes the bundle of a run the preflight stopped: an
// empty requests table and a manifest that says why, so a campaign
// records it.
func preflightBundle(cfg *Config, runID, model, dir string, p preflightResult) (*Outcome, error) {
	tier, kv, _ := results.ResolveModes(cfg.TierMode, cfg.KVMode)
	m := baseManifest(cfg, runID, model, tier, kv)
	p.record(m)
	m.StartedUnixNs = time.Now().UnixNano()
	m.EndedUnixNs = m.StartedUnixNs
	info, _, err := results.CompactTable(dir, results.TableRequests, true)
	if err != nil {
		return nil, err
	}
	m.Tables[results.TableRequests] = info
	m.InvalidReasons = []string{p.failure}
	if err := results.WriteManifest(dir, m); err != nil {
		return nil, err
	}
	return &Outcome{Dir: dir, Manifest: m, Preflight: p.failure}, nil
}
