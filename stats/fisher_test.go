package stats

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestFisherGreaterSciPy checks FisherGreater against SciPy's
// fisher_exact(alternative="greater") on stored tables.
func TestFisherGreaterSciPy(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "fisher.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []struct {
			Table [4]int
			P     float64
		}
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) < 10 {
		t.Fatalf("%d reference tables", len(ref.Cases))
	}
	for _, c := range ref.Cases {
		a, b, cc, d := c.Table[0], c.Table[1], c.Table[2], c.Table[3]
		got := FisherGreater(a, b, cc, d)
		if math.Abs(got-c.P) > 1e-9*math.Max(1, c.P) && math.Abs(got-c.P)/c.P > 1e-7 {
			t.Errorf("FisherGreater(%v) = %.12g; want %.12g (SciPy)", c.Table, got, c.P)
		}
	}
	if !math.IsNaN(FisherGreater(-1, 0, 0, 0)) {
		t.Error("negative count: want NaN")
	}
}
