package results

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SLO is a service-level objective on single requests: a request meets it
// when it succeeded and every bound that is set holds. A zero bound is not
// set. ITL is a request's 90th-percentile gap between consecutive content
// chunks.
type SLO struct {
	TTFT time.Duration
	ITL  time.Duration
	E2E  time.Duration
}

// SLO metric names, as --slo spells them.
const (
	SLOTTFT = "ttft"
	SLOITL  = "itl"
	SLOE2E  = "e2e"
)

// IsSet reports whether any bound is set.
func (s SLO) IsSet() bool { return s.TTFT > 0 || s.ITL > 0 || s.E2E > 0 }

// String spells the SLO as --slo takes it, e.g. "ttft=500ms,itl=50ms".
func (s SLO) String() string {
	var parts []string
	for _, b := range []struct {
		name string
		d    time.Duration
	}{{SLOTTFT, s.TTFT}, {SLOITL, s.ITL}, {SLOE2E, s.E2E}} {
		if b.d > 0 {
			parts = append(parts, b.name+"="+b.d.String())
		}
	}
	return strings.Join(parts, ",")
}

// ParseSLO reads --slo values: each "metric=duration" (ttft, itl or e2e; a
// Go duration, or a bare number of seconds), or several joined by commas.
// A value as a repeated flag records it ("[ttft=500ms,e2e=20s]") is read
// too. A later bound for the same metric wins.
func ParseSLO(specs ...string) (SLO, error) {
	var s SLO
	for _, spec := range specs {
		spec = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(spec), "["), "]")
		for _, part := range strings.Split(spec, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			name, val, ok := strings.Cut(part, "=")
			if !ok {
				return SLO{}, fmt.Errorf("--slo %q: want METRIC=DURATION, e.g. ttft=500ms", part)
			}
			d, err := parseDuration(val)
			if err != nil || d <= 0 {
				return SLO{}, fmt.Errorf("--slo %q: %q is not a positive duration (e.g. 500ms, 2s, or 0.5 for seconds)", part, val)
			}
			switch strings.TrimSpace(name) {
			case SLOTTFT:
				s.TTFT = d
			case SLOITL:
				s.ITL = d
			case SLOE2E:
				s.E2E = d
			default:
				return SLO{}, fmt.Errorf("--slo %q: unknown metric %q (want ttft, itl or e2e)", part, name)
			}
		}
	}
	return s, nil
}

// parseDuration reads a Go duration or a bare number of seconds.
func parseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	return time.ParseDuration(v)
}

// Meets reports whether a request with these observations meets the SLO.
// ok is false for a failed request; ttft and itl are nil when the request
// never reported them (ITL: fewer than two content chunks, which no ITL
// bound can fault).
func (s SLO) Meets(ok bool, ttft *time.Duration, itl time.Duration, e2e time.Duration) bool {
	switch {
	case !ok:
		return false
	case s.TTFT > 0 && (ttft == nil || *ttft > s.TTFT):
		return false
	case s.ITL > 0 && itl > s.ITL:
		return false
	case s.E2E > 0 && e2e > s.E2E:
		return false
	}
	return true
}
