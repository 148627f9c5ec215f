package main

import (
	"bytes"
	"context"
	"kvbench/internal/cli"
	"kvbench/results"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadInput(t *testing.T) {
	empty := t.TempDir()
	junk := filepath.Join(t.TempDir(), "junk")
	os.MkdirAll(junk, 0o755)
	os.WriteFile(filepath.Join(junk, "requests.parquet"), []byte("not parquet"), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no path", []string{"report", "--out", t.TempDir()}, cli.ExitUsage, "at least one PATH"},
		{"no out", []string{"report", empty}, cli.ExitUsage, "--out"},
		{"missing path", []string{"report", filepath.Join(empty, "nope"), "--out", t.TempDir()}, cli.ExitFailure, "no such file"},
		{"no runs", []string{"report", empty, "--out", t.TempDir()}, cli.ExitFailure, "no run bundles found"},
		{"only an incomplete bundle", []string{"report", junk, "--out", t.TempDir()}, cli.ExitFailure, "no usable runs"},
		{"bad since", []string{"report", empty, "--out", t.TempDir(), "--since", "yesterday"}, cli.ExitUsage, "RFC 3339"},
		{"unknown command", []string{"frobnicate"}, cli.ExitUsage, "unknown command"},
		{"export no runs", []string{"export", empty, "--out", t.TempDir()}, cli.ExitFailure, "no run bundles found"},
		{"plan no path", []string{"plan"}, cli.ExitUsage, "at least one PATH"},
		{"plan bad detect", []string{"plan", empty, "--detect", "ten"}, cli.ExitUsage, "--detect"},
		{"plan no runs", []string{"plan", empty}, cli.ExitFailure, "no run bundles found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), c.args, &out, &errb)
			if code != c.code {
				t.Errorf("exit %d; want %d (stderr %q)", code, c.code, errb.String())
			}
			last := strings.TrimSpace(errb.String())
			if i := strings.LastIndex(last, "\n"); i >= 0 {
				last = last[i+1:]
			}
			if !strings.HasPrefix(last, "analyze: ") || !strings.Contains(last, c.want) {
				t.Errorf("stderr %q; want a last line 'analyze: ...%s...'", errb.String(), c.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--version"}, &out, &errb)
	if code != cli.ExitOK || !strings.HasPrefix(out.String(), "analyze version "+results.Version) {
		t.Errorf("--version: exit %d, %q", code, out.String())
	}
}
