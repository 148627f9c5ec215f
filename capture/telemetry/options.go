package telemetry

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Options says which samplers a run gets; the telemetry flags of
// `capture run` fill it (see capture.RunFlags), for a single run and for
// every run of a campaign alike. The zero value asks for none.
type Options struct {
	// Prometheus endpoints: the dedicated ones, and more as NAME=URL.
	SystemURL, KVBMURL, FrontendURL string
	ExtraURLs                       []string
	MetricsInterval, MetricsTimeout time.Duration
	Snapshot, AllowMissingKVBM      bool

	// OS I/O: block devices, processes, a container (its main process and
	// cgroup), and the KVBM disk cache directory (churn, its disk, NVMe).
	IODevices  []string
	IOPIDs     []int
	Container  string
	CacheDir   string
	IOInterval time.Duration

	// Collect adds nvidia-smi samples and container, NATS and cuFile logs.
	Collect       bool
	NATSContainer string
	GPUInterval   time.Duration
}

// Validate checks the options without starting anything.
func (o Options) Validate() error {
	_, err := o.Samplers()
	return err
}

// Samplers builds the samplers the options ask for, in the order the
// runner marks them. Building one reads and starts nothing; the runner
// opens them. Errors name the flag at fault.
func (o Options) Samplers() ([]Sampler, error) {
	targets, err := o.promTargets()
	if err != nil {
		return nil, err
	}
	if o.MetricsInterval < 0 || o.IOInterval < 0 || o.MetricsTimeout < 0 {
		return nil, errors.New("--metrics-interval, --metrics-timeout and --io-interval must not be negative")
	}
	if o.Snapshot && len(targets) == 0 {
		return nil, errors.New("--capture-metrics-snapshot needs a metrics URL")
	}
	if o.Collect && o.GPUInterval <= 0 {
		return nil, errors.New("--gpu-interval must be positive")
	}
	cmds := &Commands{}
	var out []Sampler
	// Note: the cheap I/O and cache-dir samples go first so they sit next
	// to the phase's requests even when a slow metrics endpoint holds its
	// scrape to the timeout.
	if len(o.IODevices) > 0 || len(o.IOPIDs) > 0 || o.Container != "" || o.CacheDir != "" {
		s, err := NewIOSampler(IOOptions{
			Devices: o.IODevices, CacheDir: o.CacheDir, PIDs: o.IOPIDs, Container: o.Container,
			Interval: o.IOInterval, Commands: cmds,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if o.CacheDir != "" {
		out = append(out, NewCacheDirSampler(o.CacheDir, 0))
	}
	if len(targets) > 0 {
		p, err := NewPromSampler(PromOptions{
			Targets: targets, Interval: o.MetricsInterval, Timeout: o.MetricsTimeout,
			Snapshot: o.Snapshot, AllowMissingKVBM: o.AllowMissingKVBM,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	more, err := o.commandSamplers(cmds)
	if err != nil {
		return nil, err
	}
	return append(out, more...), nil
}

// commandSamplers are the samplers that run external commands (NVMe
// health, GPU, logs), followed by the log of those commands.
func (o Options) commandSamplers(cmds *Commands) ([]Sampler, error) {
	var out []Sampler
	// Note: NVMe health needs a disk to look at; without one it would only
	// add warnings to every simulator run.
	if o.CacheDir != "" || len(o.IODevices) > 0 || o.Collect {
		out = append(out, NewNVMeSampler(NVMeOptions{Devices: o.IODevices, CacheDir: o.CacheDir, Commands: cmds}))
	}
	if o.Collect {
		out = append(out, NewGPUSampler(cmds, o.GPUInterval))
		l, err := NewLogSampler(LogOptions{Container: o.Container, NATSContainer: o.NATSContainer, Commands: cmds})
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if len(out) > 0 || o.Container != "" {
		out = append(out, NewCommandsLog(cmds))
	}
	return out, nil
}

// Targets lists the metrics endpoints the options name: the dedicated
// URLs (system, kvbm, frontend), then the NAME=URL ones.
func (o Options) Targets() ([]PromTarget, error) { return o.promTargets() }

// promTargets lists the metrics endpoints: the dedicated URLs, then the
// NAME=URL ones.
func (o Options) promTargets() ([]PromTarget, error) {
	var targets []PromTarget
	for _, st := range []PromTarget{{SourceSystem, o.SystemURL}, {SourceKVBM, o.KVBMURL}, {SourceFrontend, o.FrontendURL}} {
		if st.URL != "" {
			targets = append(targets, st)
		}
	}
	for _, kv := range o.ExtraURLs {
		name, url, ok := strings.Cut(kv, "=")
		if !ok || name == "" || url == "" {
			return nil, fmt.Errorf("--metrics-url %q: want NAME=URL", kv)
		}
		targets = append(targets, PromTarget{Source: name, URL: url})
	}
	return targets, nil
}
