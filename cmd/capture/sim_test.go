package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kvbench/sim"
)

// TestSimListeningLine starts `capture sim` on free ports and checks the
// first stdout line, that the addresses answer, and that a cancelled
// context stops it cleanly, flushing the ground truth and removing the disk
// tier's directory.
func TestSimListeningLine(t *testing.T) {
	dir := t.TempDir()
	diskDir := filepath.Join(dir, "g3")
	truth := filepath.Join(dir, "truth.jsonl")
	cmd := newSimCmd()
	cmd.SetArgs([]string{
		"--listen", "127.0.0.1:0", "--kvbm-listen", "127.0.0.1:0", "--system-listen", "127.0.0.1:0",
		"--preset", "fast", "--kv-mode", "cpu_disk", "--disk-cache-dir", diskDir, "--ground-truth", truth,
	})
	pr, pw := io.Pipe()
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("read first line: %v", err)
	}
	go io.Copy(io.Discard, pr)
	if !strings.HasPrefix(line, `{"event":"listening","api":"127.0.0.1:`) {
		t.Errorf("first line %q; want it to start with the event and api fields", line)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("first line %q: %v", line, err)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	if diff := cmp.Diff([]string{"api", "event", "kv_mode", "kvbm", "model", "pid", "system"}, sorted(keys)); diff != "" {
		t.Errorf("first line keys (-want +got):\n%s", diff)
	}
	if got["kv_mode"] != "cpu_disk" || got["model"] != sim.DefaultModel || got["pid"] != float64(os.Getpid()) {
		t.Errorf("first line %v", got)
	}
	for _, k := range []string{"api", "kvbm", "system"} {
		addr, _ := got[k].(string)
		path := "/metrics"
		if k == "api" {
			path = "/v1/models"
		}
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Errorf("%s address %q: %v", k, addr, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s%s = %d", addr, path, resp.StatusCode)
		}
	}
	resp, err := http.Post("http://"+got["api"].(string)+"/v1/completions", "application/json",
		strings.NewReader(`{"model":"kvbench/sim-8b","prompt":"a b c","max_tokens":2}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("sim returned %v after cancel; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop after cancel")
	}
	b, err := os.ReadFile(truth)
	if err != nil || strings.Count(string(b), "\n") != 1 || !strings.Contains(string(b), `"prompt_tokens":3`) {
		t.Errorf("ground truth %q (%v); want one record with prompt_tokens 3", b, err)
	}
	left, _ := os.ReadDir(diskDir)
	if len(left) != 0 {
		t.Errorf("disk cache dir still holds %d entries after exit", len(left))
	}
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// TestSimConfigPrecedence checks flags win over the KVBM environment and
// OVERRIDE_NUM_BLOCKS wins over GB.
func TestSimConfigPrecedence(t *testing.T) {
	const gb4 = 953 // 4e9 / (131072*32)
	for _, tc := range []struct {
		name             string
		args             []string
		env              map[string]string
		wantCPU, wantDsk int
		wantDir          string
		wantFilterOff    bool
	}{
		{name: "defaults", wantCPU: 4096, wantDsk: 16384},
		{name: "env GB", env: map[string]string{"DYN_KVBM_CPU_CACHE_GB": "4", "DYN_KVBM_DISK_CACHE_GB": "8"}, wantCPU: gb4, wantDsk: 1907},
		{name: "env override over env GB", env: map[string]string{"DYN_KVBM_CPU_CACHE_GB": "4", "DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS": "10"}, wantCPU: 10, wantDsk: 16384},
		{name: "flag GB over env override", args: []string{"--cpu-cache-gb", "4"}, env: map[string]string{"DYN_KVBM_CPU_CACHE_OVERRIDE_NUM_BLOCKS": "10"}, wantCPU: gb4, wantDsk: 16384},
		{name: "flag blocks over everything", args: []string{"--cpu-blocks", "7", "--cpu-cache-gb", "4", "--disk-blocks", "9"}, env: map[string]string{"DYN_KVBM_DISK_CACHE_OVERRIDE_NUM_BLOCKS": "10"}, wantCPU: 7, wantDsk: 9},
		{name: "bytes per token changes GB conversion", args: []string{"--bytes-per-token", "65536"}, env: map[string]string{"DYN_KVBM_CPU_CACHE_GB": "4"}, wantCPU: 1907, wantDsk: 16384},
		{name: "env dir and filter", env: map[string]string{"DYN_KVBM_DISK_CACHE_DIR": "/nvme", "DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER": "1"}, wantCPU: 4096, wantDsk: 16384, wantDir: "/nvme", wantFilterOff: true},
		{name: "flag dir over env", args: []string{"--disk-cache-dir", "/other"}, env: map[string]string{"DYN_KVBM_DISK_CACHE_DIR": "/nvme"}, wantCPU: 4096, wantDsk: 16384, wantDir: "/other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, f := simCommand()
			if err := cmd.Flags().Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := simConfig(cmd.Flags(), f, func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if cfg.CPUBlocks != tc.wantCPU || cfg.DiskBlocks != tc.wantDsk || cfg.DiskCacheDir != tc.wantDir || cfg.DisableDiskFilter != tc.wantFilterOff {
				t.Errorf("cpu %d disk %d dir %q filter off %v; want %d %d %q %v", cfg.CPUBlocks, cfg.DiskBlocks,
					cfg.DiskCacheDir, cfg.DisableDiskFilter, tc.wantCPU, tc.wantDsk, tc.wantDir, tc.wantFilterOff)
			}
		})
	}
}

func TestSimBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--kv-mode", "gpu"},
		{"--preset", "nope"},
		{"--fault-503", "2"},
		{"--listen", "not-an-address"},
	} {
		cmd := newSimCmd()
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		if err := cmd.ExecuteContext(context.Background()); err == nil {
			t.Errorf("sim %v succeeded; want an error", args)
		}
	}
}
