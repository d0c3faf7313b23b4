package suite

import (
	"testing"

	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestBaselineArms(t *testing.T) {
	// y = 1 + x on the training rows; the test rows sit off the line by ±1.
	tr := &data.Table{Name: "tr", N: 3, D: 1, X: []float64{0, 1, 2}, Y: []float64{1, 2, 3}, Task: data.Regression}
	te := &data.Table{Name: "te", N: 2, D: 1, X: []float64{4, 5}, Y: []float64{6, 5}, Task: data.Regression}
	for _, c := range []struct {
		arm  string
		want float64 // RMSE × 10
	}{
		{ArmConstant, 10 * 3.5355339059}, // mean 2: errors 4 and 3
		{ArmLinear, 10},                  // predictions 5, 6: errors ±1
	} {
		t.Run(c.arm, func(t *testing.T) {
			got, err := BaselineRMSE(c.arm, tr, te, 10)
			require.NoError(t, err)
			require.InDelta(t, c.want, got, 1e-6)
		})
	}
	require.Equal(t, []string{ArmConstant, ArmLinear}, BaselineArms)
	_, err := BaselineRMSE("ridge", tr, te, 1)
	require.ErrorContains(t, err, `"ridge" unknown`)
}

func TestSplitBaselineRows(t *testing.T) {
	dia, err := data.Builtin("diabetes")
	require.NoError(t, err)
	rows, err := SplitBaselineRows("mlp", dia, 0.2, 3)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	for i, r := range rows {
		require.Equal(t, BaselineArms[i], r.Arm)
		require.Equal(t, "diabetes", r.Task)
		require.Equal(t, "rmse", r.Metric)
		require.Equal(t, 3, r.Seeds)
		require.Equal(t, true, r.Extra["baseline"])
		// Seed 2's split, recomputed: the row holds the same value.
		tr, te, err := dia.Split(0.2, 2)
		require.NoError(t, err)
		want, err := BaselineRMSE(r.Arm, tr, te, 1)
		require.NoError(t, err)
		require.InDelta(t, want, r.Extra["per_seed"].([]float64)[1], 1e-12)
	}
	require.Greater(t, rows[0].Value, rows[1].Value, "least squares beats the mean on diabetes")
	require.InDelta(t, 75, rows[0].Value, 8, "the mean's RMSE is about the target's std")
	iris, err := data.Builtin("iris")
	require.NoError(t, err)
	rows, err = SplitBaselineRows("mlp", iris, 0.2, 3)
	require.NoError(t, err)
	require.Empty(t, rows, "no regression baselines for classification")
}
