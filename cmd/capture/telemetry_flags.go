package main

import (
	"kvbench/internal/cli"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"kvbench/capture"
)

// telemetryFlags are the `capture run` flags of the samplers: Prometheus
// scrapes, OS I/O, NVMe health, cache-directory churn, GPU and logs.
type telemetryFlags struct {
	systemURL, kvbmURL, frontendURL string
	extraURLs                       []string
	metricsInterval, metricsTimeout time.Duration
	snapshot, allowMissingKVBM      bool

	ioDevices     []string
	ioPIDs        []int
	containerName string
	cacheDir      string
	ioInterval    time.Duration

	collect     bool
	natsName    string
	gpuInterval time.Duration
}

func addTelemetryFlags(f *pflag.FlagSet) *telemetryFlags {
	t := &telemetryFlags{}
	f.StringVar(&t.systemURL, "metrics-system-url", "", "Dynamo worker metrics URL (DYN_SYSTEM_PORT), e.g. http://127.0.0.1:8081/metrics")
	f.StringVar(&t.kvbmURL, "metrics-kvbm-url", "", "KVBM metrics URL (DYN_KVBM_METRICS_PORT), e.g. http://127.0.0.1:6880/metrics; the run is invalid without KVBM metrics from it")
	f.StringVar(&t.frontendURL, "metrics-frontend-url", "", "Dynamo frontend metrics URL, e.g. http://127.0.0.1:8000/metrics")
	f.StringArrayVar(&t.extraURLs, "metrics-url", nil, "another metrics endpoint as NAME=URL (repeatable)")
	f.DurationVar(&t.metricsInterval, "metrics-interval", time.Second, "scrape interval between phase boundaries (0: boundaries only)")
	f.DurationVar(&t.metricsTimeout, "metrics-timeout", capture.DefaultScrapeTimeout, "timeout of one scrape")
	f.BoolVar(&t.snapshot, "capture-metrics-snapshot", false, "keep the raw exposition of every boundary scrape and a metric inventory per endpoint")
	f.BoolVar(&t.allowMissingKVBM, "allow-missing-kvbm-metrics", false, "keep the run valid when --metrics-kvbm-url yields no KVBM metrics")
	f.StringArrayVar(&t.ioDevices, "io-device", nil, "block device to sample from /proc/diskstats, e.g. nvme0n1 (repeatable; default: the disk holding --kvbm-cache-dir)")
	f.IntSliceVar(&t.ioPIDs, "io-pid", nil, "process whose /proc/<pid>/io is sampled (repeatable)")
	f.StringVar(&t.containerName, "container-name", "", "engine container: its main process and cgroup io.stat are sampled; its logs are kept with --collect-telemetry")
	f.StringVar(&t.cacheDir, "kvbm-cache-dir", "", "KVBM disk cache directory (DYN_KVBM_DISK_CACHE_DIR): snapshotted at phase boundaries; its disk is sampled and its NVMe health recorded")
	f.DurationVar(&t.ioInterval, "io-interval", time.Second, "I/O sampling interval between phase boundaries (0: boundaries only)")
	f.BoolVar(&t.collect, "collect-telemetry", false, "also sample nvidia-smi and keep container, NATS and cuFile logs under telemetry/")
	f.StringVar(&t.natsName, "nats-container-name", "bench-nats", "NATS container whose logs --collect-telemetry keeps")
	f.DurationVar(&t.gpuInterval, "gpu-interval", time.Second, "nvidia-smi sampling interval with --collect-telemetry")
	return t
}

// samplers builds the samplers the flags ask for and returns cfg.Samplers
// with them appended. Errors are usage errors.
func (t *telemetryFlags) samplers(cfg *capture.Config) ([]capture.Sampler, error) {
	out := cfg.Samplers
	cmds := &capture.Commands{}
	usesCmds := false

	var targets []capture.PromTarget
	for _, st := range []struct{ source, url string }{
		{capture.SourceSystem, t.systemURL}, {capture.SourceKVBM, t.kvbmURL}, {capture.SourceFrontend, t.frontendURL},
	} {
		if st.url != "" {
			targets = append(targets, capture.PromTarget{Source: st.source, URL: st.url})
		}
	}
	for _, kv := range t.extraURLs {
		name, url, ok := strings.Cut(kv, "=")
		if !ok || name == "" || url == "" {
			return nil, cli.Usage("--metrics-url %q: want NAME=URL", kv)
		}
		targets = append(targets, capture.PromTarget{Source: name, URL: url})
	}
	if t.metricsInterval < 0 || t.ioInterval < 0 || t.metricsTimeout < 0 {
		return nil, cli.Usage("--metrics-interval, --metrics-timeout and --io-interval must not be negative")
	}
	// Note: the runner marks samplers in this order; the cheap I/O and
	// cache-dir samples go first so they sit next to the phase's requests
	// even when a slow metrics endpoint holds its scrape to the timeout.
	if len(t.ioDevices) > 0 || len(t.ioPIDs) > 0 || t.containerName != "" || t.cacheDir != "" {
		s, err := capture.NewIOSampler(capture.IOOptions{
			Devices: t.ioDevices, CacheDir: t.cacheDir, PIDs: t.ioPIDs, Container: t.containerName,
			Interval: t.ioInterval, Commands: cmds,
		})
		if err != nil {
			return nil, cli.Usage("%v", err)
		}
		out = append(out, s)
		usesCmds = usesCmds || t.containerName != ""
	}
	if t.cacheDir != "" {
		out = append(out, capture.NewCacheDirSampler(t.cacheDir, 0))
	}
	if len(targets) > 0 {
		p, err := capture.NewPromSampler(capture.PromOptions{
			Targets: targets, Interval: t.metricsInterval, Timeout: t.metricsTimeout,
			Snapshot: t.snapshot, AllowMissingKVBM: t.allowMissingKVBM,
		})
		if err != nil {
			return nil, cli.Usage("%v", err)
		}
		out = append(out, p)
	} else if t.snapshot {
		return nil, cli.Usage("--capture-metrics-snapshot needs a metrics URL")
	}

	// Note: NVMe health needs a disk to look at; without one it would only
	// add warnings to every simulator run.
	if t.cacheDir != "" || len(t.ioDevices) > 0 || t.collect {
		out = append(out, capture.NewNVMeSampler(capture.NVMeOptions{Devices: t.ioDevices, CacheDir: t.cacheDir, Commands: cmds}))
		usesCmds = true
	}
	if t.collect {
		if t.gpuInterval <= 0 {
			return nil, cli.Usage("--gpu-interval must be positive")
		}
		out = append(out, capture.NewGPUSampler(cmds, t.gpuInterval))
		l, err := capture.NewLogSampler(capture.LogOptions{Container: t.containerName, NATSContainer: t.natsName, Commands: cmds})
		if err != nil {
			return nil, cli.Usage("%v", err)
		}
		out = append(out, l)
		usesCmds = true
	}
	if usesCmds {
		out = append(out, capture.NewCommandsLog(cmds))
	}
	return out, nil
}
