package stats

import "testing"

func TestLinearTrendScipy(t *testing.T) {
	var f struct {
		Cases []struct {
			X, Y                        []float64
			Slope, Intercept, P, Lo, Hi float64
		} `json:"cases"`
	}
	loadJSON(t, "trend.json", &f)
	for i, c := range f.Cases {
		tr, ok := LinearTrend(c.X, c.Y, 0.95)
		if !ok {
			t.Fatalf("case %d: not ok", i)
		}
		for _, v := range [][2]float64{{tr.Slope, c.Slope}, {tr.Intercept, c.Intercept}, {tr.PValue, c.P}, {tr.Lo, c.Lo}, {tr.Hi, c.Hi}} {
			if relErr(v[0], v[1]) > 1e-6 {
				t.Errorf("case %d: %+v; want slope %v intercept %v p %v [%v, %v]", i, tr, c.Slope, c.Intercept, c.P, c.Lo, c.Hi)
				break
			}
		}
	}
	if _, ok := LinearTrend([]float64{1, 2}, []float64{1, 2}, 0.95); ok {
		t.Error("two points: want not ok")
	}
	if _, ok := LinearTrend([]float64{1, 1, 1}, []float64{1, 2, 3}, 0.95); ok {
		t.Error("constant x: want not ok")
	}
}
