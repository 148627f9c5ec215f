package campaign

import (
	"slices"
	"strings"
	"testing"

	"kvbench/capture"
)

func TestFlagsConfig(t *testing.T) {
	f := Flags{
		"tier-mode": {"B2"}, "run-id": {"c_B2_r1"}, "results-dir": {t.TempDir()},
		"stop": {"<|eot_id|>", "###"}, "io-pid": {"1", "2"}, "requests": {"12"},
	}
	cfg, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Stop, []string{"<|eot_id|>", "###"}) || !slices.Equal(cfg.Telemetry.IOPIDs, []int{1, 2}) ||
		cfg.Requests != 12 || cfg.RunID != "c_B2_r1" || cfg.RequestSeed != capture.DefaultRequestSeed {
		t.Errorf("config %+v", cfg)
	}
	if cfg.Flags["stop"] != "[<|eot_id|>,###]" || cfg.Flags["tier-mode"] != "B2" {
		t.Errorf("manifest flags %v", cfg.Flags)
	}
	for _, c := range []struct {
		flags Flags
		want  string
	}{
		{Flags{"tier-mode": {"B1"}, "requests": {"1", "2"}}, "takes one value, not a list"},
		{Flags{"tier-mode": {"B1"}, "requets": {"1"}}, `unknown run flag "requets"`},
		{Flags{"tier-mode": {"B1"}, "dry-run": {"true"}}, "use capture campaign --dry-run"},
		{Flags{"tier-mode": {"B1"}, "requests": {"many"}}, `run flag requests="many"`},
		{Flags{"tier-mode": {"B1"}, "requests": {"0"}}, "--requests 0"},
	} {
		if _, err := c.flags.Config(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v; want %q", c.flags, err, c.want)
		}
	}
}

func TestFlagsWithAnnounced(t *testing.T) {
	arm := &ArmSpec{Run: map[string]any{"metrics-system-url": "http://elsewhere/metrics"}}
	f := Flags{"base-url": {"http://127.0.0.1:8000"}}
	got := f.withAnnounced(map[string]string{"api": "127.0.0.1:1", "kvbm": "127.0.0.1:2", "system": "127.0.0.1:3"}, arm)
	want := map[string]string{
		"base-url": "http://127.0.0.1:1", "metrics-frontend-url": "http://127.0.0.1:1/metrics",
		"metrics-kvbm-url": "http://127.0.0.1:2/metrics", "metrics-system-url": "",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q; want %q", k, got.Get(k), v)
		}
	}
	if f.Get("base-url") != "http://127.0.0.1:8000" {
		t.Errorf("withAnnounced changed its receiver: %v", f)
	}
}
