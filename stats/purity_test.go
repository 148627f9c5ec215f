package stats

import (
	"go/parser"
	"go/token"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// STYLE rules 1 and 13: stats imports no kvbench package and does no I/O, logging or
// clock reading. Checked on the non-test sources.
func TestImportsArePure(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"os", "io", "log", "log/slog", "time", "net", "net/http", "math/rand", "os/exec", "unsafe"}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "kvbench") {
				t.Errorf("%s imports project package %q", name, path)
			}
			for _, bad := range forbidden {
				if path == bad || strings.HasPrefix(path, "io/") && bad == "io" {
					t.Errorf("%s imports %q (no I/O, logging, clock or global randomness in stats)", name, path)
				}
			}
		}
	}
}

// FuzzEstimate feeds arbitrary runs and quantiles: no panic, no NaN, lo <= hi.
func FuzzEstimate(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22}, 0.5, uint8(2), 0)
	f.Add([]byte{}, 0.99, uint8(1), 3)
	f.Add([]byte{0, 0, 0, 0, 255, 255, 255, 255, 7, 7, 7, 7}, 1.0, uint8(3), -1)
	f.Add([]byte{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}, 0.1, uint8(4), 1)
	f.Fuzz(func(t *testing.T, data []byte, p float64, groups uint8, failures int) {
		G := int(groups%6) + 1
		runs := make([][]float64, G)
		for i, b := range data {
			v := float64(b)
			switch b {
			case 255:
				v = math.NaN()
			case 254:
				v = math.Inf(1)
			case 253:
				v = -3
			}
			runs[i%G] = append(runs[i%G], v)
		}
		opt := DefaultOptions()
		opt.Resamples, opt.TwoStageResamples = 300, 300
		e := estimateOne(runs, p, failures, opt)
		if hasNaN(e) || e.Lo > e.Hi {
			t.Fatalf("estimateOne(%v, %v) = %+v", runs, p, e)
		}
		c := compareOne(runs, runs[:max(1, G/2)], p, failures, 0, opt)
		for _, v := range []float64{c.Delta, c.DeltaLo, c.DeltaHi, c.Ratio, c.RatioLo, c.RatioHi, c.PValue} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("compareOne(%v, %v) has a non-finite number: %+v", runs, p, c)
			}
		}
		if c.Verdict < VerdictInsufficient || c.Verdict > VerdictInconclusive || c.Grade < GradeProvisional || c.Grade > GradeDecision {
			t.Fatalf("Compare verdict %v grade %v", c.Verdict, c.Grade)
		}
	})
}
