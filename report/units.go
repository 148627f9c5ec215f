package report

import (
	"fmt"

	"kvbench/results"
)

// This file is the report's one place for units. Package analysis hands
// over every value in its base unit (the results.Unit* words); every
// number the report prints, writes to summary.json or plots is scaled by
// one of the units below.

// unit is how the report shows values kept in one base unit.
type unit struct {
	base string  // the results.Unit* word of the value in the summary
	div  float64 // shown value = base value / div
	word string  // the unit shown, as in "(ms)"
	// suffix is appended to a metric id to name the metric in summary.json
	// ("ttft" → "ttft_ms"); the run-level rates' ids already carry theirs.
	suffix string
}

var (
	timing    = unit{results.UnitNanoseconds, 1e6, "ms", "_ms"} // request timings: TTFT, latency, ITL
	elapsed   = unit{results.UnitNanoseconds, 1e9, "s", ""}     // time since run start, phase lengths
	size      = unit{results.UnitBytes, 1 << 20, "MiB", ""}
	byteRate  = unit{results.UnitBytesPerSecond, 1 << 20, "MiB/s", ""}
	perSecond = unit{results.UnitPerSecond, 1, "/s", ""}      // run-level rates
	fraction  = unit{results.UnitFraction, 0.01, "%", "_pct"} // shares, shown in percent
)

// metricUnits maps the base unit of a metric's values to its display unit.
var metricUnits = map[string]unit{timing.base: timing, perSecond.base: perSecond, fraction.base: fraction}

// metricUnit returns the display unit of a metric whose values are in
// base; values of an unknown unit are shown as they are.
func metricUnit(base string) unit {
	if u, ok := metricUnits[base]; ok {
		return u
	}
	return unit{base: base, div: 1, word: base}
}

// metricName names a metric in summary.json and the report's tables: its
// id with its display unit, as in "ttft_ms".
func metricName(id, base string) string { return id + metricUnit(base).suffix }

// of scales a value for display.
func (u unit) of(v float64) float64 { return v / u.div }

// ofInt scales an integer value (nanoseconds) for display.
func (u unit) ofInt(v int64) float64 { return float64(v) / u.div }

// ofPtr scales an optional value; nil stays nil.
func (u unit) ofPtr(v *float64) *float64 {
	if v == nil {
		return nil
	}
	s := u.of(*v)
	return &s
}

// text formats a value with its unit word: "12.3 MiB".
func (u unit) text(v float64, decimals int) string {
	return fmt.Sprintf("%.*f %s", decimals, u.of(v), u.word)
}
