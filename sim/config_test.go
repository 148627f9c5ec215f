package sim

import (
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTokenizeMatchesFieldsAndFNV(t *testing.T) {
	for _, prompt := range []string{
		"", "   ", "one", "  two  words ", "tabs\tand\nnewlines\r\nmixed",
		"unicode\u00a0nbsp\u2003emspace é ü 日本", "x\u0085y",
	} {
		var want []uint64
		for _, w := range strings.Fields(prompt) {
			h := fnv.New64a()
			h.Write([]byte(w))
			want = append(want, h.Sum64())
		}
		got := Tokenize(nil, prompt)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Tokenize(%q) (-want +got):\n%s", prompt, diff)
		}
	}
}

func TestBlockHashesChainPrefix(t *testing.T) {
	a := Tokenize(nil, words("a", 100))
	b := Tokenize(nil, words("a", 64)+" "+words("b", 36))
	c := Tokenize(nil, "different "+words("a", 99))
	ha, hb, hc := BlockHashes(nil, a, 32), BlockHashes(nil, b, 32), BlockHashes(nil, c, 32)
	if len(ha) != 3 || len(hb) != 3 {
		t.Fatalf("block counts %d, %d; want 3 full blocks of 32 from 100 tokens", len(ha), len(hb))
	}
	if ha[0] != hb[0] || ha[1] != hb[1] || ha[2] == hb[2] {
		t.Errorf("shared 64-token prefix: hashes %x vs %x; want the first two equal and the third different", ha, hb)
	}
	for i := range hc {
		if hc[i] == ha[i] {
			t.Errorf("block %d of a different first block matches; want every later block to differ", i)
		}
	}
	if got := BlockHashes(nil, a[:31], 32); len(got) != 0 {
		t.Errorf("31 tokens gave %d blocks; want 0", len(got))
	}
}

func TestApplyKVBMEnv(t *testing.T) {
	// bytes per block = 131072 * 32 = 4 MiB; 4 GB = 953.67 blocks.
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantCPU int
		wantDsk int
		wantDir string
		wantOff bool
		wantErr string
	}{
		{name: "nothing set keeps defaults", wantCPU: 4096, wantDsk: 16384},
		{name: "CPU GB, decimal", env: map[string]string{EnvCPUCacheGB: "4"}, wantCPU: 953, wantDsk: 16384},
		{name: "fractional GB floors", env: map[string]string{EnvCPUCacheGB: "0.5", EnvDiskCacheGB: "100"}, wantCPU: 119, wantDsk: 23841},
		{name: "override wins over GB", env: map[string]string{EnvCPUCacheGB: "4", EnvCPUOverrideBlocks: "200"}, wantCPU: 200, wantDsk: 16384},
		{name: "disk override", env: map[string]string{EnvDiskOverrideBlocks: "77"}, wantCPU: 4096, wantDsk: 77},
		{name: "dir and filter true", env: map[string]string{EnvDiskCacheDir: "/nvme/kv", EnvDisableDiskFilter: "true"}, wantCPU: 4096, wantDsk: 16384, wantDir: "/nvme/kv", wantOff: true},
		{name: "filter 1", env: map[string]string{EnvDisableDiskFilter: "1"}, wantCPU: 4096, wantDsk: 16384, wantOff: true},
		{name: "filter TRUE is not true", env: map[string]string{EnvDisableDiskFilter: "TRUE"}, wantCPU: 4096, wantDsk: 16384},
		{name: "bad GB", env: map[string]string{EnvCPUCacheGB: "lots"}, wantErr: EnvCPUCacheGB},
		{name: "bad blocks", env: map[string]string{EnvDiskOverrideBlocks: "-3"}, wantErr: EnvDiskOverrideBlocks},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			err := cfg.ApplyKVBMEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ApplyKVBMEnv error %v; want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.CPUBlocks != tc.wantCPU || cfg.DiskBlocks != tc.wantDsk || cfg.DiskCacheDir != tc.wantDir || cfg.DisableDiskFilter != tc.wantOff {
				t.Errorf("cpu %d disk %d dir %q filter off %v; want %d %d %q %v",
					cfg.CPUBlocks, cfg.DiskBlocks, cfg.DiskCacheDir, cfg.DisableDiskFilter, tc.wantCPU, tc.wantDsk, tc.wantDir, tc.wantOff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string // substring of the error; "" for valid
	}{
		{"default", func(*Config) {}, ""},
		{"kv mode", func(c *Config) { c.KVMode = "gpu" }, "kv mode"},
		{"block tokens", func(c *Config) { c.BlockTokens = 0 }, "block tokens"},
		{"gpu blocks", func(c *Config) { c.GPUBlocks = 0 }, "gpu blocks"},
		{"max batch", func(c *Config) { c.MaxBatch = 0 }, "max batch"},
		{"negative cost", func(c *Config) { c.Costs.DecodePerToken = -time.Second }, "negative"},
		{"fault probability", func(c *Config) { c.Faults.HTTP503 = 1.5 }, "0..1"},
		{"fault sum", func(c *Config) { c.Faults.HTTP503, c.Faults.Reset = 0.6, 0.6 }, "sum"},
		{"time scale", func(c *Config) { c.TimeScale = -1 }, "time scale"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.modify(&cfg)
			err := cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v; want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestCosts(t *testing.T) {
	spark, err := Preset(PresetSpark8B)
	if err != nil {
		t.Fatal(err)
	}
	h200, _ := Preset(PresetH200)
	for _, tc := range []struct {
		name string
		got  time.Duration
		want time.Duration
	}{
		// 8,000 uncached tokens at 125 µs.
		{"spark prefill 8000", spark.Prefill(PrefillWork{PromptTokens: 8000, UncachedTokens: 8000}), time.Second},
		// Small prefills hit the floor.
		{"spark prefill floor", spark.Prefill(PrefillWork{PromptTokens: 10, UncachedTokens: 10}), 20 * time.Millisecond},
		// 6,400 tokens from disk at 30 µs plus a 64-token prefill at the floor.
		{"spark g3 onboarding", spark.Prefill(PrefillWork{PromptTokens: 6464, UncachedTokens: 64, G3Tokens: 6400}), 20*time.Millisecond + 192*time.Millisecond},
		{"spark decode batch 1", spark.InterToken(1), 50 * time.Millisecond},
		{"spark decode batch 9", spark.InterToken(9), 54 * time.Millisecond},
		// The H200 box: 7,600 tokens measured at 236 ms.
		{"h200 prefill 7600", h200.Prefill(PrefillWork{PromptTokens: 7600, UncachedTokens: 7600}), 233320 * time.Microsecond},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v; want %v", tc.name, tc.got, tc.want)
		}
	}
	// On the Spark, onboarding from disk beats recomputing; on the H200 box
	// it does not.
	if !(spark.OnboardG3PerToken < spark.PrefillPerToken) || !(h200.OnboardG3PerToken > h200.PrefillPerToken) {
		t.Errorf("G3 vs prefill per token: spark %v vs %v, h200 %v vs %v; want spark cheaper and h200 dearer",
			spark.OnboardG3PerToken, spark.PrefillPerToken, h200.OnboardG3PerToken, h200.PrefillPerToken)
	}
	if _, err := Preset("nope"); err == nil {
		t.Errorf("Preset(nope) succeeded; want an error")
	}
}
