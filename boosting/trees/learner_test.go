package trees

import (
	"context"
	"math"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/boosting"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestGBTLearner(t *testing.T) {
	require.Contains(t, boosting.LearnerNames(), "gbt")
	tab, err := data.Builtin("diabetes")
	require.NoError(t, err)
	tr, te, err := tab.Split(0.2, 1)
	require.NoError(t, err)
	store := model.NewStore()
	store.SetParams(map[string]any{"gbt_trees": 60, "gbt_learning_rate": 0.1, "gbt_max_depth": 3})
	l, err := boosting.NewLearner(store.RootScope(), "gbt")
	require.NoError(t, err)
	require.NoError(t, l.Fit(context.Background(), tr))
	p, err := l.Predict(te.X, te.N)
	require.NoError(t, err)
	var se, sm, mean float64
	for _, y := range tr.Y {
		mean += y
	}
	mean /= float64(tr.N)
	for i, y := range te.Y {
		se += (p[i] - y) * (p[i] - y)
		sm += (mean - y) * (mean - y)
	}
	rmse, base := math.Sqrt(se/float64(te.N)), math.Sqrt(sm/float64(te.N))
	require.Less(t, rmse, 0.9*base, "boosted trees beat the mean predictor (%.1f vs %.1f)", rmse, base)

	iris, _ := data.Builtin("iris")
	require.ErrorContains(t, l.Fit(context.Background(), iris), "fits regression")
	store.SetParam("gbt_max_depth", -1)
	_, err = boosting.NewLearner(store.RootScope(), "gbt")
	require.Error(t, err)
}
