package data

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBaselinePredict(t *testing.T) {
	// y = 3 + 2·x0 − x1 exactly (x2 is constant): the line is exact, the mean is the mean.
	mk := func(rows [][3]float64) *Table {
		tab := &Table{Name: "lin", N: len(rows), D: 3, Task: Regression}
		for _, r := range rows {
			tab.X = append(tab.X, r[0], r[1], r[2])
			tab.Y = append(tab.Y, 3+2*r[0]-r[1])
		}
		return tab
	}
	tr := mk([][3]float64{{0, 0, 5}, {1, 0, 5}, {0, 1, 5}, {2, 3, 5}, {-1, 2, 5}})
	te := mk([][3]float64{{4, -2, 5}, {0.5, 0.5, 5}})
	flat := &Table{Name: "flat", N: 3, D: 2, X: []float64{1, 1, 1, 1, 1, 1}, Y: []float64{1, 2, 6}, Task: Regression}
	cases := []struct {
		name   string
		fn     func(tr, te *Table) ([]float64, error)
		tr, te *Table
		want   []float64
	}{
		{"mean", MeanPredict, tr, te, []float64{2.6, 2.6}}, // mean of 3, 5, 2, 4, −1
		{"linear exact", LinearPredict, tr, te, te.Y},
		// All features constant: the ridge keeps the system solvable, the line is the mean.
		{"linear no signal", LinearPredict, flat, flat, []float64{3, 3, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pred, err := c.fn(c.tr, c.te)
			require.NoError(t, err)
			require.InDeltaSlice(t, c.want, pred, 1e-6)
		})
	}
	_, err := LinearPredict(tr, &Table{D: 2})
	require.ErrorContains(t, err, "same features")
	_, err = MeanPredict(&Table{D: 3}, te)
	require.ErrorContains(t, err, "non-empty training table")
	require.InDelta(t, math.Sqrt(2.5), RMSE([]float64{1, 2}, []float64{2, 4}), 1e-12)
}
