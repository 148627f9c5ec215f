package results

import (
	"strings"
	"testing"
	"time"
)

func TestParseSLO(t *testing.T) {
	cases := []struct {
		in      []string
		want    SLO
		wantErr string
	}{
		{[]string{"ttft=500ms", "itl=50ms", "e2e=20s"}, SLO{TTFT: 500 * time.Millisecond, ITL: 50 * time.Millisecond, E2E: 20 * time.Second}, ""},
		{[]string{"[ttft=500ms,e2e=20s]"}, SLO{TTFT: 500 * time.Millisecond, E2E: 20 * time.Second}, ""},
		{[]string{"ttft=0.25"}, SLO{TTFT: 250 * time.Millisecond}, ""},
		{[]string{"ttft=1s", "ttft=2s"}, SLO{TTFT: 2 * time.Second}, ""},
		{[]string{"[]"}, SLO{}, ""},
		{[]string{"ttft"}, SLO{}, "want METRIC=DURATION"},
		{[]string{"tpot=5ms"}, SLO{}, "unknown metric"},
		{[]string{"ttft=-1s"}, SLO{}, "positive duration"},
		{[]string{"ttft=soon"}, SLO{}, "positive duration"},
	}
	for _, c := range cases {
		got, err := ParseSLO(c.in...)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseSLO(%q) error %v; want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseSLO(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
		if again, err := ParseSLO(got.String()); err != nil || again != got {
			t.Errorf("ParseSLO(%q.String()) = %+v, %v", c.in, again, err)
		}
	}
}

func TestSLOMeets(t *testing.T) {
	s := SLO{TTFT: 100 * time.Millisecond, ITL: 10 * time.Millisecond, E2E: time.Second}
	d := func(v time.Duration) *time.Duration { return &v }
	cases := []struct {
		name string
		ok   bool
		ttft *time.Duration
		itl  time.Duration
		e2e  time.Duration
		want bool
	}{
		{"meets", true, d(100 * time.Millisecond), 10 * time.Millisecond, time.Second, true},
		{"failed", false, d(time.Millisecond), 0, time.Millisecond, false},
		{"slow first token", true, d(101 * time.Millisecond), 0, time.Second, false},
		{"no first token", true, nil, 0, time.Second, false},
		{"slow tokens", true, d(time.Millisecond), 11 * time.Millisecond, time.Second, false},
		{"slow end", true, d(time.Millisecond), 0, 2 * time.Second, false},
	}
	for _, c := range cases {
		if got := s.Meets(c.ok, c.ttft, c.itl, c.e2e); got != c.want {
			t.Errorf("%s: Meets = %v; want %v", c.name, got, c.want)
		}
	}
	if !(SLO{}).Meets(true, nil, 0, 0) || (SLO{}).IsSet() {
		t.Error("an empty SLO is met by every success and is not set")
	}
}
