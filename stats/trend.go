package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Trend is the least-squares line y = a + Slope·x with a t interval for the
// slope (n−2 degrees of freedom) and the two-sided p-value of Slope = 0, as
// scipy.stats.linregress computes them.
type Trend struct {
	Slope, Lo, Hi float64
	Intercept     float64
	PValue        float64
	N             int
}

// LinearTrend fits y on x by least squares. ok is false with fewer than three
// points or when x does not vary. Used for drift: y the log per-run medians, x
// the run start times.
func LinearTrend(x, y []float64, conf float64) (Trend, bool) {
	n := len(x)
	if n != len(y) || n < 3 {
		return Trend{N: n}, false
	}
	mx, vx := meanVar(x)
	my, _ := meanVar(y)
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	if !(vx > 0) {
		return Trend{N: n}, false
	}
	b := sxy / sxx
	tr := Trend{Slope: b, Intercept: my - b*mx, N: n, PValue: 1}
	rss := math.Max(syy-b*sxy, 0)
	se := math.Sqrt(rss / float64(n-2) / sxx)
	if se == 0 {
		tr.Lo, tr.Hi = b, b
		if b != 0 {
			tr.PValue = 0
		}
		return tr, true
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 2)}
	hw := t.Quantile(1-(1-conf)/2) * se
	tr.Lo, tr.Hi = b-hw, b+hw
	tr.PValue = math.Min(1, 2*t.Survival(math.Abs(b)/se))
	return tr, true
}
