package suite

import (
	"math"
	"testing"

	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestBaselines(t *testing.T) {
	// y = 3 + 2·x0 − x1 exactly (x2 is constant): the line is exact, the constant is the mean.
	mk := func(rows [][3]float64) *data.Table {
		tab := &data.Table{Name: "lin", N: len(rows), D: 3, Task: data.Regression}
		for _, r := range rows {
			tab.X = append(tab.X, r[0], r[1], r[2])
			tab.Y = append(tab.Y, 3+2*r[0]-r[1])
		}
		return tab
	}
	tr := mk([][3]float64{{0, 0, 5}, {1, 0, 5}, {0, 1, 5}, {2, 3, 5}, {-1, 2, 5}})
	te := mk([][3]float64{{4, -2, 5}, {0.5, 0.5, 5}})
	cases := []struct {
		arm  string
		want []float64
	}{
		{ArmConstant, []float64{2.6, 2.6}}, // mean of 3, 5, 2, 4, −1
		{ArmLinear, te.Y},
	}
	for _, c := range cases {
		t.Run(c.arm, func(t *testing.T) {
			pred, err := BaselinePredict(c.arm, tr, te)
			require.NoError(t, err)
			require.InDeltaSlice(t, c.want, pred, 1e-6)
			rmse, err := BaselineRMSE(c.arm, tr, te, 10)
			require.NoError(t, err)
			require.InDelta(t, 10*RMSE(c.want, te.Y), rmse, 1e-5)
		})
	}
	_, err := BaselinePredict("ridge", tr, te)
	require.ErrorContains(t, err, `"ridge" unknown`)
	_, err = BaselinePredict(ArmLinear, tr, &data.Table{D: 2})
	require.ErrorContains(t, err, "same features")
	require.InDelta(t, math.Sqrt(2.5), RMSE([]float64{1, 2}, []float64{2, 4}), 1e-12)
}

func TestLinearBaselineMatchesConstantWithoutSignal(t *testing.T) {
	// All features constant: the ridge keeps the system solvable and the line is the mean.
	tr := &data.Table{Name: "flat", N: 3, D: 2, X: []float64{1, 1, 1, 1, 1, 1}, Y: []float64{1, 2, 6}, Task: data.Regression}
	pred, err := BaselinePredict(ArmLinear, tr, tr)
	require.NoError(t, err)
	require.InDeltaSlice(t, []float64{3, 3, 3}, pred, 1e-9)
}
