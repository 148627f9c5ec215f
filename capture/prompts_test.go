package capture

import (
	"math"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	cases := []struct {
		in      string
		want    Range
		wantErr string
	}{
		{"6000:7600", Range{6000, 7600}, ""},
		{" 10 : 10 ", Range{10, 10}, ""},
		{"7600:6000", Range{}, "greater than MAX"},
		{"6000", Range{}, "MIN:MAX"},
		{"a:b", Range{}, "whole numbers"},
		{"0:5", Range{}, "positive"},
	}
	for _, c := range cases {
		got, err := ParseRange(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseRange(%q) error = %v; want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseRange(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestPromptSetDeterministic(t *testing.T) {
	lr := Range{100, 200}
	g := promptGen{wpt: 1, longRange: lr}
	a, _ := g.set("mixed", "", 20, 7)
	b, _ := g.set("mixed", "", 20, 7)
	c, _ := g.set("mixed", "", 20, 8)
	for i := range a {
		if a[i].ID != b[i].ID || a[i].TargetTokens != b[i].TargetTokens || a[i].Text() != b[i].Text() || a[i].Text() != a[i].Text() {
			t.Fatalf("prompt %d differs for the same seed", i)
		}
		if a[i].Text() == c[i].Text() {
			t.Errorf("prompt %d is the same for seeds 7 and 8", i)
		}
		words := len(strings.Fields(a[i].Text()))
		if words != a[i].TargetTokens {
			t.Errorf("prompt %d has %d words; target %d", i, words, a[i].TargetTokens)
		}
		r := ShortRange
		if i%2 == 1 {
			r = lr
		}
		if a[i].TargetTokens < r.Min || a[i].TargetTokens > r.Max {
			t.Errorf("prompt %d target %d outside %v", i, a[i].TargetTokens, r)
		}
	}
	if _, err := g.set("huge", "", 1, 1); err == nil || !strings.Contains(err.Error(), "huge") {
		t.Errorf("unknown set: %v", err)
	}
}

func TestIdentityHash(t *testing.T) {
	p := GenParams{Model: "m", MaxTokens: 16, Temperature: 0, TopP: 1}
	h := IdentityHash("hello", p)
	if h != IdentityHash("hello", p) || len(h) != 64 {
		t.Fatalf("hash not stable: %s", h)
	}
	q := p
	q.MaxTokens = 17
	r := p
	r.Stop = []string{"<|eot_id|>"}
	for name, other := range map[string]string{
		"prompt": IdentityHash("hello!", p), "max_tokens": IdentityHash("hello", q), "stop": IdentityHash("hello", r),
	} {
		if other == h {
			t.Errorf("changing %s did not change the hash", name)
		}
	}
}

func TestArrivals(t *testing.T) {
	for _, c := range []struct{ rate, k float64 }{{10, 1}, {50, 0.25}, {5, 4}} {
		off := arrivals(20001, c.rate, c.k, 7)
		if off[0] != 0 {
			t.Fatalf("first offset %v", off[0])
		}
		var sum, sum2 float64
		for i := 1; i < len(off); i++ {
			g := (off[i] - off[i-1]).Seconds()
			if g < 0 {
				t.Fatalf("offsets not increasing at %d", i)
			}
			sum += g
			sum2 += g * g
		}
		n := float64(len(off) - 1)
		mean := sum / n
		cv := math.Sqrt(sum2/n-mean*mean) / mean
		if math.Abs(mean*c.rate-1) > 0.05 || math.Abs(cv-1/math.Sqrt(c.k)) > 0.08 {
			t.Errorf("rate %v burstiness %v: mean gap %v (want %v), CV %.3f (want %.3f)", c.rate, c.k, mean, 1/c.rate, cv, 1/math.Sqrt(c.k))
		}
		again := arrivals(20001, c.rate, c.k, 7)
		if again[len(again)-1] != off[len(off)-1] {
			t.Error("arrivals not deterministic for a seed")
		}
	}
}
