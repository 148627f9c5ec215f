package report

import (
	"math"
	"slices"
	"strings"
	"unicode"

	"kvbench/analysis"
	"kvbench/results"
	"kvbench/stats"
)

// This file holds the report's words: how data is escaped so that the
// raw markdown reads as well as the rendered one, the short names of the
// flags in table notes, readable names of KVBM tier moves, and percent
// changes.

// MethodDoc is where the method is explained, as a path inside the kvbench
// repository (a report is written anywhere, so a relative link could not
// resolve).
const MethodDoc = "METHOD.md"

// esc makes a string from the data safe inside a markdown table cell or
// heading: it cannot open a link, an HTML tag, code, emphasis or a new
// row. It escapes only what markdown would act on, so identifiers such as
// rehydrate_replay and comparisons such as "35 < 50" stay as they are.
func esc(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		var prev, next rune
		if i > 0 {
			prev = rs[i-1]
		}
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		switch {
		case r == '\r' || r == '\n':
			b.WriteByte(' ')
			continue
		case r == '\\' || r == '|' || r == '`' || r == '*':
			b.WriteByte('\\')
		case r == ']' && (next == '(' || next == '['):
			b.WriteByte('\\') // what would close a link's text
		case r == '_' && !(isWord(prev) && isWord(next)):
			b.WriteByte('\\') // only intraword underscores are never emphasis
		case r == '<' && (unicode.IsLetter(next) || next == '/' || next == '!' || next == '?'):
			b.WriteByte('\\') // what could open an HTML tag or autolink
		case r == '&' && (unicode.IsLetter(next) || next == '#'):
			b.WriteByte('\\') // an entity
		case (r == '#' || r == '>') && i == 0:
			b.WriteByte('\\') // a heading or quote at the start of a line
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isWord(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// flagShort are the short names of flags in table notes; each is
// explained once, in the report's notes legend.
var flagShort = map[string]string{
	stats.FlagInsufficientData:       "no-CI",
	stats.FlagLowTailCount:           "thin-tail",
	stats.FlagSingleRun:              "one-run",
	stats.FlagFewRuns:                "few-runs",
	stats.FlagRunHeterogeneity:       "runs-differ",
	stats.FlagRunLevelUnavailable:    "no-run-CI",
	stats.FlagWithinRunCorrelation:   "autocorr",
	stats.FlagCensoredTail:           "censored",
	stats.FlagNonFiniteDropped:       "nonfinite",
	stats.FlagEmptyRunDropped:        "empty-run",
	stats.FlagNonPositive:            "nonpositive",
	stats.FlagMaterial:               "material",
	stats.FlagWithinMargin:           "within-margin",
	analysis.FlagDiskTierInactive:    "disk-idle",
	analysis.FlagNoRehydrate:         "no-rehydrate",
	analysis.FlagPageCacheMasking:    "page-cache",
	analysis.FlagControlContaminated: "control-reads-disk",
	analysis.FlagNoTierEvidence:      "no-tier-evidence",
}

// short returns a flag's short name; a flag this build does not know is
// shown lower-case with dashes. An arm prefix ("baseline:") is kept.
func short(flag string) string {
	prefix := ""
	if i := strings.IndexByte(flag, ':'); i >= 0 {
		prefix, flag = flag[:i+1], flag[i+1:]
	}
	s, ok := flagShort[flag]
	if !ok {
		s = strings.ReplaceAll(strings.ToLower(flag), "_", "-")
	}
	return prefix + s
}

// bareFlag strips an arm prefix ("baseline:") from a flag.
func bareFlag(f string) string {
	if i := strings.IndexByte(f, ':'); i >= 0 {
		return f[i+1:]
	}
	return f
}

// quantileNotes words the flags of a row's quantiles as one notes cell:
// a flag on every quantile stands alone, others list their quantiles, as
// in "few-runs; thin-tail (p90, p95)".
func quantileNotes(qs []analysis.Quantile) string {
	var order []string
	at := map[string][]string{}
	for _, q := range qs {
		for _, f := range q.Flags {
			if _, ok := at[f]; !ok {
				order = append(order, f)
			}
			at[f] = append(at[f], "p"+pct(q.P))
		}
	}
	var parts []string
	for _, f := range order {
		if len(at[f]) == len(qs) {
			parts = append(parts, short(f))
		} else {
			parts = append(parts, short(f)+" ("+strings.Join(at[f], ", ")+")")
		}
	}
	return strings.Join(parts, "; ")
}

// shortFlags words a list of flags with their short names.
func shortFlags(flags []string) string {
	out := make([]string, len(flags))
	for i, f := range flags {
		out[i] = short(f)
	}
	return strings.Join(out, ", ")
}

// roleNames are readable names of the KVBM counter roles, with arrows for
// the tier moves: KVBM names a move by its source and destination (h2d
// in offload is host to disk, in onboard host to device).
var roleNames = map[string]string{
	results.KVBMOffloadD2H: "offload device→host",
	results.KVBMOffloadH2D: "offload host→disk",
	results.KVBMOffloadD2D: "offload device→disk",
	results.KVBMOnboardH2D: "onboard host→device",
	results.KVBMOnboardD2D: "onboard disk→device",
	results.KVBMOnboardD2H: "onboard disk→host",
	results.KVBMMatched:    "matched tokens",
}

// roleName names a KVBM counter role for people.
func roleName(role string) string {
	if n, ok := roleNames[role]; ok {
		return n
	}
	return role
}

// change formats a ratio as a signed percent change, "−56%" or "+3.2%";
// a true minus sign reads better than a hyphen in prose.
func change(ratio float64) string {
	v := (ratio - 1) * 100
	d := 0
	if math.Abs(math.Round(v*10)/10) < 10 {
		d = 1
	}
	s := fixed(math.Abs(v), d)
	if s == fixed(0, d) {
		return "±" + s + "%"
	}
	if v < 0 {
		return "−" + s + "%"
	}
	return "+" + s + "%"
}

// changeInterval formats a comparison's ratio as a percent change with
// its interval, when there is one: "−56% [−59%, −49%]".
func changeInterval(c analysis.Comparison) string {
	s := change(c.Ratio)
	if c.RatioLo != nil && c.RatioHi != nil {
		s += " [" + change(*c.RatioLo) + ", " + change(*c.RatioHi) + "]"
	}
	return s
}

// phaseCell shows a phase with its pass, when the scenario repeats it, a
// trace run's prefix split, and its campaign sweep point, if any:
// "reuse #2 (conc=4)", "measure (prefix seen)".
func phaseCell(phase string, pass int, sweep, split string) string {
	s := phase
	if pass > 0 {
		s += " #" + itoa(pass)
	}
	if split != "" {
		s += " (" + split + ")"
	}
	if sweep != "" {
		s += " (" + sweep + ")"
	}
	return esc(s)
}

// flagsIn lists the distinct bare flags of a summary that have a
// description, sorted: the ones the notes legend explains.
func flagsIn(s *analysis.Summary) []string {
	var flags []string
	add := func(fs []string) {
		for _, f := range fs {
			f = bareFlag(f)
			if !slices.Contains(flags, f) {
				flags = append(flags, f)
			}
		}
	}
	for _, g := range s.Groups {
		for _, m := range g.Metrics {
			for _, q := range m.Quantiles {
				add(q.Flags)
			}
		}
		for _, m := range g.RunMetrics {
			add(m.Flags)
		}
	}
	for _, c := range s.Comparisons {
		add(c.Flags)
	}
	for _, r := range s.Rehydrate {
		add(r.Flags)
	}
	slices.Sort(flags)
	return flags
}

// comparisonNotes words a comparison's flags with their short names: a
// flag both arms raised stands alone, a flag of one arm is prefixed with
// the arm ("B2 runs-differ").
func comparisonNotes(flags []string, m analysis.Method) string {
	var order []string
	arms := map[string][]string{}
	for _, f := range flags {
		bare := bareFlag(f)
		if _, ok := arms[bare]; !ok {
			order = append(order, bare)
		}
		switch {
		case strings.HasPrefix(f, "baseline:"):
			arms[bare] = append(arms[bare], m.Baseline)
		case strings.HasPrefix(f, "candidate:"):
			arms[bare] = append(arms[bare], m.Candidate)
		default:
			arms[bare] = append(arms[bare], "")
		}
	}
	parts := make([]string, len(order))
	for i, f := range order {
		a := arms[f]
		if len(a) == 1 && a[0] != "" {
			parts[i] = a[0] + " " + short(f)
		} else {
			parts[i] = short(f)
		}
	}
	return strings.Join(parts, ", ")
}
