package optimizers_test

import (
	"context"
	"math"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

// Through moeboost's train.Run (GoMLX's Trainer underneath): the optimizer is picked by the
// "optimizer" param, its hyperparameters come from params, the cosine schedule written into
// GoMLX's learning-rate variable drives it (the reported lr decays), and it trains.
func TestWithTrainRun(t *testing.T) {
	tab := &data.Table{Name: "lin", N: 64, D: 3, Task: data.Regression}
	for i := range tab.N {
		x := []float64{math.Sin(float64(i)), math.Cos(float64(2 * i)), float64(i%7) / 7}
		tab.X = append(tab.X, x...)
		tab.Y = append(tab.Y, 2*x[0]-x[1]+0.5*x[2])
	}
	batches, err := data.NewTrainBatches(tab, 16, 1)
	require.NoError(t, err)
	for _, name := range []string{"lion", "stable_spam", "fira"} {
		res, err := train.Run(context.Background(), train.Config{
			Backend: backend.MustDefault(), Steps: 120, Train: batches, Loss: "mse", EvalEvery: 40,
			Params: map[string]any{"optimizer": name, optimizers.ParamLearningRate: 0.05, optimizers.ParamLogGroups: false},
			Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
				w := scope.VariableWithValue("w", [][]float32{{0}, {0}, {0}})
				return []*graph.Node{graph.MatMul(in[0], w.NodeValue(in[0].Graph()))}
			},
			Schedule: train.ScheduleConfig{Kind: "cosine", MinFactor: 0.1},
		})
		require.NoError(t, err, name)
		h := res.History
		require.Len(t, h, 3)
		require.Greater(t, h[0].Metrics["lr"], h[2].Metrics["lr"], "%s: the schedule must lower the learning rate", name)
		require.InDelta(t, 0.05, h[0].Metrics["lr"], 0.01)
		require.Less(t, h[2].Metrics["train/loss"], 0.5*h[0].Metrics["train/loss"], name)
		state := res.Store.GetVariable("/optimizers/" + name + "/step")
		require.NotNil(t, state, "%s keeps its step counter in the store", name)
		require.EqualValues(t, 120, state.MustValue().Value())
	}
}
