package gbnn

import (
	"context"
	"testing"

	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

// TestRegressionBeatsBaselines checks that GBNN with its defaults (eta 0.1, standardization
// inside Fit, stage count chosen on a validation split) beats the training mean and least
// squares on the same CV folds, on raw (unstandardized) data: the bundled diabetes set and
// a heavy-tailed count target with a weak signal, on which the official settings (every
// stage fitted, eta 1) lose to the mean.
func TestRegressionBeatsBaselines(t *testing.T) {
	diabetes, err := data.Builtin("diabetes")
	require.NoError(t, err)
	for _, c := range []struct {
		name  string
		tab   *data.Table
		folds int
	}{
		{"diabetes", diabetes, 5},
		{"heavytail", data.HeavyTailedCounts(6000, 3), 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			trains, tests, err := c.tab.KFold(5, 1)
			require.NoError(t, err)
			var gb, mean, lin float64
			for f := range c.folds {
				m, err := Fit(context.Background(), Config{Seed: uint64(f + 1)}, trains[f])
				require.NoError(t, err)
				require.Positive(t, m.ValidationRows)
				require.Len(t, m.ValidationLoss, m.FittedStages)
				require.LessOrEqual(t, m.NumStages(), m.FittedStages)
				pred, err := m.Predict(tests[f].X, tests[f].N)
				require.NoError(t, err)
				gb += data.RMSE(pred, tests[f].Y)
				mp, err := data.MeanPredict(trains[f], tests[f])
				require.NoError(t, err)
				mean += data.RMSE(mp, tests[f].Y)
				lp, err := data.LinearPredict(trains[f], tests[f])
				require.NoError(t, err)
				lin += data.RMSE(lp, tests[f].Y)
			}
			k := float64(c.folds)
			t.Logf("%s RMSE over %d folds: gbnn %.4f, mean %.4f, linear %.4f", c.name, c.folds, gb/k, mean/k, lin/k)
			require.Less(t, gb, mean)
			require.Less(t, gb, lin)
		})
	}
}
