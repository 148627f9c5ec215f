package capture

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"kvbench/results"
)

var traceOpt = TraceOptions{BlockTokens: 512}

// TestReadTraceBadInput: every kind of bad line is one error naming the
// line and the field; with SkipBad the line is skipped and counted.
func TestReadTraceBadInput(t *testing.T) {
	good := `{"timestamp": 0, "input_length": 600, "output_length": 10, "hash_ids": [1, 2]}`
	cases := []struct {
		name, line, field, msg string
	}{
		{"not json", `{"timestamp": 5, "input_length":`, "", "not a JSON object"},
		{"not an object", `[1, 2, 3]`, "", "not a JSON object"},
		{"missing input", `{"timestamp": 5, "output_length": 3}`, "input_length", "missing"},
		{"missing output", `{"timestamp": 5, "input_length": 3}`, "output_length", "missing"},
		{"missing timestamp", `{"input_length": 3, "output_length": 3}`, "timestamp", "missing"},
		{"negative input", `{"timestamp": 5, "input_length": -3, "output_length": 3}`, "input_length", "at least 1"},
		{"negative output", `{"timestamp": 5, "input_length": 3, "output_length": -1}`, "output_length", "at least 0"},
		{"fractional length", `{"timestamp": 5, "input_length": 3.5, "output_length": 1}`, "input_length", "whole number"},
		{"string length", `{"timestamp": 5, "input_length": "30", "output_length": 1}`, "input_length", "whole number"},
		{"negative timestamp", `{"timestamp": -1, "input_length": 3, "output_length": 1}`, "timestamp", "at least 0"},
		{"equal timestamps", `{"timestamp": 0, "input_length": 3, "output_length": 1}`, "", ""}, // equal: fine
		{"earlier", // out of order: after line 1's 9 ms
			`{"timestamp": 0, "input_length": 3, "output_length": 1}`, "timestamp", "must not decrease"},
		{"hash_ids too long", `{"timestamp": 5, "input_length": 513, "output_length": 1, "hash_ids": [1, 2, 3]}`, "hash_ids", "only 2 blocks"},
		{"hash_ids not ints", `{"timestamp": 5, "input_length": 513, "output_length": 1, "hash_ids": ["a"]}`, "hash_ids", "array of integers"},
		{"twice", `{"timestamp": 5, "input_length": 3, "isl": 3, "output_length": 1}`, "input_length", "given twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prev := good
			if c.name == "earlier" {
				prev = strings.Replace(good, `"timestamp": 0`, `"timestamp": 9`, 1)
			}
			in := prev + "\n\n" + c.line + "\n" + good + "\n"
			if c.name == "earlier" {
				in = prev + "\n\n" + c.line + "\n"
			}
			tr, err := ReadTrace(strings.NewReader(in), traceOpt)
			if c.msg == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var te *TraceError
			if !errors.As(err, &te) {
				t.Fatalf("error %v; want a TraceError", err)
			}
			if te.Line != 3 || te.Field != c.field || !strings.Contains(te.Msg, c.msg) {
				t.Errorf("error %q (line %d, field %q); want line 3, field %q, %q", err, te.Line, te.Field, c.field, c.msg)
			}
			if tr != nil {
				t.Errorf("a trace came back with the error")
			}
			opt := traceOpt
			opt.SkipBad = true
			tr, err = ReadTrace(strings.NewReader(in), opt)
			if err != nil || tr.Skipped != 1 || !strings.Contains(tr.FirstSkip, "line 3") {
				t.Fatalf("SkipBad: %v, %+v", err, tr)
			}
			if tr.Records[0].Line != 1 {
				t.Errorf("first record line %d; want 1", tr.Records[0].Line)
			}
		})
	}
}

// TestReadTraceAliases: every accepted name of a field reads the same,
// and a trace without hash ids (or timestamps, closed loop) is read.
func TestReadTraceAliases(t *testing.T) {
	want := TraceRecord{Line: 1, TimestampMs: 1500.5, InputLength: 1000, OutputLength: 20, HashIDs: []int64{7, 8}}
	for _, ts := range traceFields[fieldTimestamp].aliases {
		for _, in := range traceFields[fieldInput].aliases {
			for _, out := range traceFields[fieldOutput].aliases {
				for _, h := range traceFields[fieldHashIDs].aliases {
					line := fmt.Sprintf(`{%q: 1500.5, %q: 1000, %q: 20, %q: [7, 8], "extra": "ignored"}`, ts, in, out, h)
					tr, err := ReadTrace(strings.NewReader(line), traceOpt)
					if err != nil {
						t.Fatalf("%s: %v", line, err)
					}
					got := tr.Records[0]
					if got.Line != want.Line || got.TimestampMs != want.TimestampMs || got.InputLength != want.InputLength ||
						got.OutputLength != want.OutputLength || fmt.Sprint(got.HashIDs) != fmt.Sprint(want.HashIDs) {
						t.Fatalf("%s: %+v; want %+v", line, got, want)
					}
				}
			}
		}
	}
	plain := `{"input_tokens": 100, "output_tokens": 5}` + "\n" + `{"prompt_len": 200, "output_len": 6, "hash_ids": null}`
	if _, err := ReadTrace(strings.NewReader(plain), traceOpt); err == nil {
		t.Errorf("a timed replay accepted lines without timestamps")
	}
	tr, err := ReadTrace(strings.NewReader(plain), TraceOptions{BlockTokens: 512, NoTimestamps: true})
	if err != nil || len(tr.Records) != 2 || tr.Records[1].InputLength != 200 || tr.Records[1].HashIDs != nil {
		t.Fatalf("plain trace: %v %+v", err, tr)
	}
	if s := TraceFieldNames(); !strings.Contains(s, "isl") || !strings.Contains(s, "block_hashes") || !strings.Contains(s, "arrival_ms") {
		t.Errorf("TraceFieldNames %q misses aliases", s)
	}
}

// TestReadTraceWindow: offset and limit pick records (not lines), and an
// empty window is an error.
func TestReadTraceWindow(t *testing.T) {
	var b bytes.Buffer
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, `{"timestamp": %d, "input_length": 10, "output_length": 1}`+"\n", i*100)
	}
	tr, err := ReadTrace(bytes.NewReader(b.Bytes()), TraceOptions{BlockTokens: 512, Offset: 3, Limit: 4})
	if err != nil || len(tr.Records) != 4 || tr.Records[0].Line != 4 || tr.Records[3].Line != 7 {
		t.Fatalf("window: %v %+v", err, tr)
	}
	if _, err := ReadTrace(bytes.NewReader(b.Bytes()), TraceOptions{BlockTokens: 512, Offset: 10}); err == nil {
		t.Errorf("an empty window was accepted")
	}
}

func TestSeenBlocks(t *testing.T) {
	recs := []TraceRecord{
		{HashIDs: []int64{1, 2, 3}},
		{HashIDs: []int64{1, 2, 4}},
		{HashIDs: []int64{9, 2, 3}}, // 2 and 3 seen, but not as a prefix
		{},
		{HashIDs: []int64{1, 2, 4, 5}},
	}
	got := fmt.Sprint(seenBlocks(recs))
	if got != "[0 2 0 0 3]" {
		t.Errorf("seenBlocks = %s; want [0 2 0 0 3]", got)
	}
}

// TestTracePromptsSharePrefixes: requests sharing their first k ids share
// exactly k blocks of words; the last block is cut to the input length;
// the text depends on the seed.
func TestTracePromptsSharePrefixes(t *testing.T) {
	g := promptGen{wpt: 1}
	a := g.tracePrompt(TraceRecord{Line: 1, InputLength: 100, HashIDs: []int64{1, 2, 3}}, 32, 5).Text()
	b := g.tracePrompt(TraceRecord{Line: 2, InputLength: 90, HashIDs: []int64{1, 2, 4}}, 32, 5).Text()
	c := g.tracePrompt(TraceRecord{Line: 3, InputLength: 90, HashIDs: []int64{1, 2, 4}}, 32, 6).Text()
	d := g.tracePrompt(TraceRecord{Line: 4, InputLength: 70}, 32, 5).Text()
	wa, wb, wd := strings.Fields(a), strings.Fields(b), strings.Fields(d)
	if len(wa) != 100 || len(wb) != 90 || len(wd) != 70 {
		t.Fatalf("words %d, %d, %d; want 100, 90, 70", len(wa), len(wb), len(wd))
	}
	if !strings.HasPrefix(b, strings.Join(wa[:64], " ")+" ") {
		t.Errorf("a and b do not share their first two blocks")
	}
	if strings.Join(wa[:65], " ") == strings.Join(wb[:65], " ") {
		t.Errorf("a and b share more than two blocks")
	}
	if c[:200] == b[:200] {
		t.Errorf("the seed does not change the text")
	}
	if strings.Join(wd[:32], " ") == strings.Join(wa[:32], " ") {
		t.Errorf("a request without ids shares a block")
	}
	// With two words per token a block is 64 words.
	g2 := promptGen{wpt: 2}
	e := strings.Fields(g2.tracePrompt(TraceRecord{Line: 1, InputLength: 100, HashIDs: []int64{1, 2}}, 32, 5).Text())
	f := strings.Fields(g2.tracePrompt(TraceRecord{Line: 2, InputLength: 100, HashIDs: []int64{1, 7}}, 32, 5).Text())
	if len(e) != 200 || strings.Join(e[:64], " ") != strings.Join(f[:64], " ") || e[64] == f[64] && e[65] == f[65] && e[66] == f[66] {
		t.Errorf("calibrated blocks: %d words, first block shared %v", len(e), strings.Join(e[:64], " ") == strings.Join(f[:64], " "))
	}
}

// TestTracePlan: warmup is the trace's first requests, measure the rest;
// offsets follow the timestamps over the speedup; each request keeps its
// line, seen blocks and output length as max_tokens, and its identity
// hash uses that max_tokens.
func TestTracePlan(t *testing.T) {
	lines := []string{
		`{"timestamp": 1000, "input_length": 100, "output_length": 4, "hash_ids": [1]}`,
		`{"timestamp": 1500, "input_length": 100, "output_length": 0, "hash_ids": [1]}`,
		`{"timestamp": 3000, "input_length": 100, "output_length": 7, "hash_ids": [1, 2]}`,
		`{"timestamp": 5000, "input_length": 50, "output_length": 9}`,
	}
	tr, err := ReadTrace(strings.NewReader(strings.Join(lines, "\n")), TraceOptions{BlockTokens: 64})
	if err != nil {
		t.Fatal(err)
	}
	c := &Config{BaseURL: "http://x:1", TierMode: "B2", Scenario: ScenarioTrace, PromptSet: "short", Requests: 1, Warmup: 1,
		Concurrency: 4, MaxTokens: 256, TopP: 1,
		TraceConfig: TraceConfig{TraceBlockTokens: 64, TraceSpeedup: 2, TraceTiming: true, TraceData: tr}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(c, Resolution{RunID: "r", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Phases) != 2 || p.Phases[0].Name != results.PhaseWarmup || len(p.Phases[0].Requests) != 1 || len(p.Phases[1].Requests) != 3 {
		t.Fatalf("phases %+v", p.Phases)
	}
	m := p.Phases[1]
	if m.Rate <= 0 || m.TraceSpeedup != 2 || m.Requests[0].Index != 1 {
		t.Errorf("measure phase rate %g, speedup %g, first index %d", m.Rate, m.TraceSpeedup, m.Requests[0].Index)
	}
	wantOff := []time.Duration{0, 750 * time.Millisecond, 1750 * time.Millisecond}
	wantSeen := []int{1, 1, 0}
	wantMax := []int{1, 7, 9}
	for i, r := range m.Requests {
		if r.Offset != wantOff[i] || r.TraceSeenBlocks != wantSeen[i] || r.MaxTokens != wantMax[i] || r.TraceLine != i+2 {
			t.Errorf("request %d: %+v; want offset %s, seen %d, max tokens %d", i, r, wantOff[i], wantSeen[i], wantMax[i])
		}
	}
	gp := c.genParams("m")
	gp.MaxTokens = 7
	if m.Requests[1].Prompt.Identity != IdentityHash(m.Requests[1].Prompt.Text(), gp) {
		t.Errorf("identity hash does not use the request's max_tokens")
	}
	var out bytes.Buffer
	p.Print(&out)
	for _, want := range []string{"trace : 4 requests (lines 1-4), 2 with a prefix seen before", "trace timestamps / 2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan print misses %q:\n%s", want, out.String())
		}
	}
	c.TraceTiming = false
	p, _ = NewPlan(c, Resolution{RunID: "r"})
	if p.Phases[1].Rate != 0 || p.Phases[1].Requests[2].Offset != 0 {
		t.Errorf("closed loop replay has offsets")
	}
	c.Warmup = 4
	if _, err := NewPlan(c, Resolution{RunID: "r"}); err == nil {
		t.Errorf("warmup of the whole trace accepted")
	}
}

// FuzzParseTraceLine: the line parser never panics, and what it accepts
// is within its rules.
func FuzzParseTraceLine(f *testing.F) {
	f.Add([]byte(`{"timestamp": 0, "input_length": 600, "output_length": 10, "hash_ids": [1, 2]}`))
	f.Add([]byte(`{"ts": 1e3, "isl": 1, "osl": 0}`))
	f.Add([]byte(`{"arrival_ms": 5, "prompt_len": 513, "output_len": 1, "block_hashes": [1, 2, 3]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"timestamp": "5"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := parseTraceLine(b, 7, TraceOptions{BlockTokens: 512})
		if err != nil {
			var te *TraceError
			if !errors.As(err, &te) || te.Line != 7 {
				t.Fatalf("error %v is not a TraceError of line 7", err)
			}
			return
		}
		if rec.InputLength < 1 || rec.OutputLength < 0 || rec.TimestampMs < 0 || len(rec.HashIDs) > rec.Blocks(512) {
			t.Fatalf("accepted %s as %+v", b, rec)
		}
	})
}

// TestTraceFlags: RunFlags.Config reads the trace, so a bad line is an
// error of the configuration (a usage error, before anything is sent);
// with --trace-skip-bad the count reaches the plan print and the
// manifest.
func TestTraceFlags(t *testing.T) {
	path := t.TempDir() + "/t.jsonl"
	lines := `{"timestamp": 0, "input_length": 10, "output_length": 1}` + "\n" + `{"timestamp": 1, "output_length": 1}` + "\n" +
		`{"timestamp": 2, "isl": 20, "osl": 2}` + "\n"
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	config := func(args ...string) (*Config, error) {
		var f RunFlags
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		f.Register(fs)
		if err := fs.Parse(append([]string{"--tier-mode", "B1", "--scenario", "trace", "--trace", path, "--warmup", "1"}, args...)); err != nil {
			t.Fatal(err)
		}
		return f.Config(fs)
	}
	if _, err := config(); err == nil || !strings.Contains(err.Error(), "trace line 2: field input_length: missing") {
		t.Errorf("bad line: %v", err)
	}
	if _, err := config("--trace-speedup", "0", "--trace-skip-bad"); err == nil || !strings.Contains(err.Error(), "--trace-speedup") {
		t.Errorf("speedup 0: %v", err)
	}
	c, err := config("--trace-skip-bad")
	if err != nil {
		t.Fatal(err)
	}
	p, err := DryRun(c)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p.Print(&out)
	if !strings.Contains(out.String(), "2 requests (lines 1-3), 0 with a prefix seen before, blocks of 512 tokens, 1 bad lines skipped") {
		t.Errorf("plan print:\n%s", out.String())
	}
	m := newManifest(c, p)
	if m.Facts["trace_skipped_lines"] != 1 || len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "line 2") {
		t.Errorf("manifest facts %v, warnings %v", m.Facts, m.Warnings)
	}
}
