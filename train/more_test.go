package train_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestSchedules(t *testing.T) {
	for _, cfg := range []train.ScheduleConfig{
		{Kind: "constant"},
		{Kind: "warmup", WarmupSteps: 10},
		{Kind: "cosine", WarmupSteps: 10, TotalSteps: 100, MinFactor: 0.1},
		{Kind: "linear", TotalSteps: 100},
		{Kind: "wsd", WarmupSteps: 5, TotalSteps: 100, DecayFraction: 0.3},
	} {
		s, err := train.NewSchedule(cfg)
		require.NoError(t, err, cfg.Kind)
		steps := []float64{0, 1, 5, 9, 10, 50, 69, 70, 85, 99, 100, 150}
		out := graph.MustExecOnce(backend.MustDefault(), func(x *graph.Node) *graph.Node { return graph.Add(s.Factor(x), graph.ZerosLike(x)) },
			tensors.FromFlatDataAndDimensions(steps, len(steps)))
		got := tensors.MustCopyFlatData[float64](out)
		for i, st := range steps {
			require.InDelta(t, s.FactorAt(int(st)), got[i], 1e-12, "%s step %v", cfg.Kind, st)
		}
	}
	cos, _ := train.NewSchedule(train.ScheduleConfig{Kind: "cosine", WarmupSteps: 10, TotalSteps: 100, MinFactor: 0.1})
	require.InDelta(t, 0.1, cos.FactorAt(0), 1e-12)
	require.InDelta(t, 1.0, cos.FactorAt(10), 1e-12)
	require.InDelta(t, 0.55, cos.FactorAt(55), 1e-12)
	require.InDelta(t, 0.1, cos.FactorAt(100), 1e-12)
	wsd, _ := train.NewSchedule(train.ScheduleConfig{Kind: "wsd", TotalSteps: 100, DecayFraction: 0.2})
	require.Equal(t, 1.0, wsd.FactorAt(79))
	require.InDelta(t, 0.5, wsd.FactorAt(90), 1e-12)
	for _, bad := range []struct {
		cfg train.ScheduleConfig
		err string
	}{
		{train.ScheduleConfig{Kind: "exp"}, `unknown schedule "exp"`},
		{train.ScheduleConfig{Kind: "cosine"}, "total_steps=0"},
		{train.ScheduleConfig{Kind: "cosine", TotalSteps: 10, WarmupSteps: 10}, "warmup_steps=10 must be < total_steps=10"},
		{train.ScheduleConfig{Kind: "linear", TotalSteps: 10, MinFactor: 2}, "min_factor=2"},
	} {
		_, err := train.NewSchedule(bad.cfg)
		require.ErrorContains(t, err, bad.err)
	}
}

func TestConfigErrors(t *testing.T) {
	trainDS, testDS := digits(t)
	base := train.Config{Model: mlp, Loss: "cross_entropy", Steps: 10, Train: trainDS, Eval: []train.EvalSet{{Name: "test", Data: testDS}}}
	for _, tc := range []struct {
		mod func(*train.Config)
		err string
	}{
		{func(c *train.Config) { c.Steps = 0 }, "steps=0"},
		{func(c *train.Config) { c.Loss = "hinge" }, `unknown loss "hinge"`},
		{func(c *train.Config) { c.Loss = "" }, "no loss"},
		{func(c *train.Config) { c.Optimizer = "adamz" }, `unknown optimizer "adamz"`},
		{func(c *train.Config) { c.LearningRate = -1 }, "learning_rate=-1"},
		{func(c *train.Config) { c.NaNPolicy = "ignore" }, `nan_policy="ignore"`},
		{func(c *train.Config) { c.Metrics = []string{"f1"} }, `unknown metric "f1"`},
		{func(c *train.Config) { c.Settings = "bogus_param=3" }, `unknown setting "bogus_param"`},
		{func(c *train.Config) { c.Settings = "learning_rate=abc" }, "learning_rate"},
		{func(c *train.Config) { c.EarlyStopping = train.EarlyStopping{Patience: 2} }, "needs a Monitor"},
		{func(c *train.Config) { c.Schedule = train.ScheduleConfig{Kind: "cosine", WarmupSteps: 20} }, "warmup_steps=20"},
	} {
		cfg := base
		tc.mod(&cfg)
		_, err := train.Run(context.Background(), cfg)
		require.ErrorContains(t, err, tc.err)
	}
}

func TestSettingsEarlyStopCallbacksOutputs(t *testing.T) {
	trainDS, testDS := digits(t)
	dir := t.TempDir()
	stop, err := train.NewCallback("stop_at=test/accuracy>=0.5")
	require.NoError(t, err)
	hist := &train.HistoryCSV{Path: filepath.Join(dir, "h.csv")}
	res, err := train.Run(context.Background(), train.Config{
		Name: "cb", Model: mlp, Loss: "cross_entropy", Steps: 400, Train: trainDS,
		Eval: []train.EvalSet{{Name: "test", Data: testDS}}, Metrics: []string{"accuracy"}, EvalEvery: 20,
		Settings: "optimizer=sgd;learning_rate=0.05", Callbacks: []train.Callback{stop, hist},
		JSONPath: filepath.Join(dir, "run.json"), PlotPath: filepath.Join(dir, "run.png"),
	})
	require.NoError(t, err)
	require.True(t, res.StoppedEarly)
	require.Less(t, res.Steps, 400)
	require.Equal(t, res.Steps, stop.(*train.StopAt).Reached)
	csv, err := os.ReadFile(hist.Path)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(csv), "step,"))
	raw, err := os.ReadFile(filepath.Join(dir, "run.json"))
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Equal(t, "sgd", doc["config"].(map[string]any)["optimizer"])
	require.NotEmpty(t, doc["history"])
	_, err = os.Stat(filepath.Join(dir, "run.png"))
	require.NoError(t, err)

	// Early stopping on a metric that cannot improve (learning rate ~0).
	trainDS, testDS = digits(t)
	res, err = train.Run(context.Background(), train.Config{
		Model: mlp, Loss: "cross_entropy", Steps: 1000, Train: trainDS, LearningRate: 1e-12,
		Eval: []train.EvalSet{{Name: "test", Data: testDS}}, EvalEvery: 10,
		EarlyStopping: train.EarlyStopping{Monitor: "test/loss", Patience: 3, MinDelta: 1e-3},
	})
	require.NoError(t, err)
	require.True(t, res.StoppedEarly)
	require.Equal(t, 40, res.Steps, "best at the first evaluation, then 3 without improvement")

	// A stop request at the final evaluation (the target first met at the last step) ends the
	// run normally, not with an error.
	trainDS, testDS = digits(t)
	stop, err = train.NewCallback("stop_at=test/loss>=0")
	require.NoError(t, err)
	res, err = train.Run(context.Background(), train.Config{
		Model: mlp, Loss: "cross_entropy", Steps: 7, Train: trainDS,
		Eval: []train.EvalSet{{Name: "test", Data: testDS}}, EvalEvery: 7, Callbacks: []train.Callback{stop},
	})
	require.NoError(t, err)
	require.Equal(t, 7, res.Steps)
	require.Equal(t, 7, stop.(*train.StopAt).Reached)
}

func TestOptimizerSettings(t *testing.T) {
	trainDS, _ := digits(t)
	res, err := train.Run(context.Background(), train.Config{Model: mlp, Loss: "cross_entropy", Steps: 5, Train: trainDS,
		Settings: "optimizer=lion;learning_rate=1e-4;beta2=0.98"})
	require.NoError(t, err)
	v, ok := res.Store.GetParam("beta2")
	require.True(t, ok)
	require.Equal(t, 0.98, v)
}

func TestPredictRows(t *testing.T) {
	// A fixed linear model: two outputs (classes) or one (regression).
	for _, tc := range []struct {
		outputs int
		want    []float64
	}{
		{2, []float64{1, 0, 1}},
		{1, []float64{3, -1, 0.5}},
	} {
		fn := func(_ *model.Scope, in []*graph.Node) []*graph.Node {
			x := in[0] // [n, 2]
			s := graph.ReduceSum(x, -1)
			if tc.outputs == 1 {
				return []*graph.Node{graph.ExpandAxes(s, -1)}
			}
			return []*graph.Node{graph.Concatenate([]*graph.Node{graph.ExpandAxes(graph.Neg(s), -1), graph.ExpandAxes(s, -1)}, -1)}
		}
		res := &train.Result{Backend: backend.MustDefault(), Store: model.NewStore(), Model: fn}
		got, err := res.PredictRows([]float64{1, 2, -3, 2, 0.25, 0.25}, 3, 2)
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
	_, err := (&train.Result{}).PredictRows([]float64{1, 2, 3}, 2, 2)
	require.ErrorContains(t, err, "3 feature values for 2 rows of 2")
}
