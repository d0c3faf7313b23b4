package gbnn

import (
	"context"
	"math"
	"slices"
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

// TestStandardizationFolded checks that Fit's internal standardization is folded back exactly:
// fitting raw data equals fitting data standardized outside (NoStandardize) and mapping the
// predictions back, for regression (target scaled too) and classification (features only).
func TestStandardizationFolded(t *testing.T) {
	for _, name := range []string{"diabetes", "iris"} {
		t.Run(name, func(t *testing.T) {
			tab, err := data.Builtin(name)
			require.NoError(t, err)
			tr, te, err := tab.Split(0.3, 1)
			require.NoError(t, err)
			cfg := Config{TotalUnits: 12, UnitsPerStage: 2, Seed: 4}
			raw, err := Fit(context.Background(), cfg, tr)
			require.NoError(t, err)
			sc, trS, others := data.Standardize(tr, true, te)
			cfg.NoStandardize = true
			pre, err := Fit(context.Background(), cfg, trS)
			require.NoError(t, err)
			require.Equal(t, pre.NumStages(), raw.NumStages())
			require.Equal(t, pre.ValidationRows, raw.ValidationRows)
			got, err := raw.Decision(te.X, te.N)
			require.NoError(t, err)
			want, err := pre.Decision(others[0].X, te.N)
			require.NoError(t, err)
			for i := range want {
				if raw.Kind == Regression {
					want[i] = sc.UnscaleY(want[i])
				}
				require.InDelta(t, want[i], got[i], 1e-6*(1+math.Abs(want[i])), "row %d", i)
			}
		})
	}
}

// TestValidationStopping checks the stage-count choice: with eta 1 and 200 L-BFGS iterations
// (the official step) diabetes overfits within a few stages, so fitting stops Patience stages
// after the best validation loss and keeps the stages up to it; switched off, every stage is
// fitted.
func TestValidationStopping(t *testing.T) {
	tab, err := data.Builtin("diabetes")
	require.NoError(t, err)
	cfg := Config{TotalUnits: 60, Eta: 1, MaxIter: 200, Patience: 5, Seed: 2}
	m, err := Fit(context.Background(), cfg, tab)
	require.NoError(t, err)
	require.Equal(t, 44, m.ValidationRows, "10% of 442 rows held out")
	require.Less(t, m.FittedStages, 60, "stopped early")
	require.Equal(t, m.FittedStages, m.NumStages()+cfg.Patience, "stopped Patience stages after the best")
	best := m.ValidationLoss[m.NumStages()-1]
	require.Equal(t, best, slices.Min(m.ValidationLoss), "kept the stages up to the best validation loss")
	cfg.ValidationFraction = -1
	all, err := Fit(context.Background(), cfg, tab)
	require.NoError(t, err)
	require.Equal(t, 60, all.NumStages())
	require.Zero(t, all.ValidationRows)
	require.Empty(t, all.ValidationLoss)
}
