package optbench

import (
	"context"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func TestModularAddition(t *testing.T) {
	tab := ModularAddition(7)
	require.Equal(t, 49, tab.N)
	require.Equal(t, 14, tab.D)
	for i := range tab.N {
		a, b := i/7, i%7
		row := tab.Row(i)
		sum := 0.0
		for _, v := range row {
			sum += v
		}
		require.Equal(t, 2.0, sum)
		require.Equal(t, 1.0, row[a])
		require.Equal(t, 1.0, row[7+b])
		require.Equal(t, float64((a+b)%7), tab.Y[i])
	}
}

// The injector multiplies every entry by the factor when both probabilities are 1, none when
// the step probability is 0: checked through plain SGD (p ← p − lr·g).
func TestSpikeInjector(t *testing.T) {
	for _, stepProb := range []float64{0, 1} {
		store := model.NewStore()
		store.SetParams(map[string]any{optimizers.ParamLearningRate: 0.1, optimizers.ParamMomentum: 0.0,
			optimizers.ParamLogGroups: false})
		w, err := store.RootScope().CreateVariable("w", tensors.FromValue([]float64{1, 2}))
		require.NoError(t, err)
		inner, err := optimizers.New(store.RootScope(), "sgd")
		require.NoError(t, err)
		inj, err := NewSpikeInjector(inner, stepProb, 1, 1000, 3)
		require.NoError(t, err)
		exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, g *graph.Graph) *graph.Node {
			loss := graph.ReduceAllSum(w.NodeValue(g)) // gradient 1
			inj.UpdateGraph(scope, g, loss)
			return loss
		})
		require.NoError(t, err)
		_, err = exec.Exec()
		require.NoError(t, err)
		want := []float64{1 - 0.1, 2 - 0.1}
		if stepProb == 1 {
			want = []float64{1 - 100, 2 - 100}
		}
		require.InDeltaSlice(t, want, w.MustValue().Value(), 1e-12)
	}
}

func TestStepsToAndArms(t *testing.T) {
	res := &train.Result{History: []train.EvalPoint{
		{Step: 25, Metrics: map[string]float64{"test/accuracy": 0.2}},
		{Step: 50, Metrics: map[string]float64{"test/accuracy": 0.95}},
	}}
	require.Equal(t, 50.0, stepsTo(res, "test/accuracy", 0.9))
	require.True(t, math.IsNaN(stepsTo(res, "test/accuracy", 0.99)))
	require.Equal(t, []any{1.0, nil}, jsonSafe([]float64{1, math.NaN()}))
	arms := tableArms()
	require.NotContains(t, arms, "perpgrad")
	require.Contains(t, arms, "perpgrad+adamw")
	for _, a := range arms {
		lr, err := defaultLR(a)
		require.NoError(t, err)
		require.Positive(t, lr, a)
	}
	require.True(t, diverged(errors.New("step 4: the loss is not finite (NaN or Inf)")))
	require.False(t, diverged(errors.New("file not found")))
}

// One short run of the table's pipeline per kind of optimizer (MKOR marks the MLP's layers):
// it trains, reports a test metric and the state size.
func TestTabularRun(t *testing.T) {
	tab := &data.Table{Name: "toy", N: 120, D: 4, Task: data.Classification, NumClasses: 2}
	for i := range tab.N {
		x := []float64{math.Sin(float64(i)), math.Cos(float64(i)), float64(i%5) / 5, float64(i%3) / 3}
		tab.X = append(tab.X, x...)
		tab.Y = append(tab.Y, float64(map[bool]int{true: 1, false: 0}[x[0] > 0]))
	}
	tab.ClassNames = []string{"0", "1"}
	for _, name := range []string{"mkor", "fira"} {
		run := tabularRun{table: tab, hidden: []int{8}, steps: 40, batch: 16, seed: 1, optimizer: name,
			params: map[string]any{optimizers.ParamLearningRate: 0.05}, extraEvals: true}
		acc, res, err := run.run(context.Background(), suite.Options{Backend: backend.MustDefault()})
		require.NoError(t, err, name)
		require.Greater(t, acc, 0.7, name)
		ratio, err := stateRatio(res.Store, name)
		require.NoError(t, err)
		require.Positive(t, ratio, name)
		require.Contains(t, res.Final, "trainset/loss")
	}
}
