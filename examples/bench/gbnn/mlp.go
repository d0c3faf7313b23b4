package gbnnbench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/boosting/gbnn"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

// sklearn's MLP L2 penalty alpha.
const alpha = 1e-4

// sgdLR is the SGD arm's learning rate (moeboost's sgd default): sklearn's 1e-3 needs its up
// to 2000 epochs; 0.05 diverged on diabetes.
var sgdLR = 0.01

// runMLP trains the baseline network (D → units logistic → outputs) on one fold with train.Run
// and scores it on te.
func runMLP(ctx context.Context, b compute.Backend, s Setup, arm string, tr, te *data.Table, unscale float64, r *armResult, seed uint64) error {
	units := s.Stages * s.UnitsPerStage
	outputs, loss := 1, "mse"
	if tr.Task == data.Classification {
		outputs, loss = tr.NumClasses, "cross_entropy"
	}
	batch := min(200, tr.N) // sklearn's batch_size="auto"
	store := model.NewStore()
	// sklearn's initialization for logistic units: uniform ±sqrt(2/(fan_in+fan_out)).
	rng := data.Rand(seed)
	for _, v := range []struct {
		path        string
		fanIn, size int
		fanOut      int
		dims        []int
	}{
		{"/mlp/hidden/weights", tr.D, tr.D * units, units, []int{tr.D, units}},
		{"/mlp/hidden/biases", tr.D, units, units, []int{units}},
		{"/mlp/output/weights", units, units * outputs, outputs, []int{units, outputs}},
		{"/mlp/output/biases", units, outputs, outputs, []int{outputs}},
	} {
		bound := math.Sqrt(2 / float64(v.fanIn+v.fanOut))
		vals := make([]float32, v.size)
		for i := range vals {
			vals[i] = float32((2*rng.Float64() - 1) * bound)
		}
		if _, err := store.CreateVariable(v.path, tensors.FromFlatDataAndDimensions(vals, v.dims...)); err != nil {
			return err
		}
	}
	cfg := train.Config{
		Name: arm, Backend: b, Store: store, Seed: int64(seed),
		Params: map[string]any{optimizers.ParamLogGroups: false},
		Model:  mlpModel(tr.D, units, outputs, float64(batch)),
		Loss:   loss, Steps: s.MLPSteps, EvalEvery: s.MLPSteps,
	}
	switch arm {
	case "mlp-adam":
		cfg.Optimizer, cfg.LearningRate = "adam", 1e-3 // sklearn's default learning_rate_init
	case "mlp-sgd":
		cfg.Optimizer, cfg.LearningRate = "sgd", sgdLR
		cfg.Params[optimizers.ParamMomentum] = 0.9
		cfg.Params[optimizers.ParamNesterov] = true // sklearn's nesterovs_momentum
	default:
		return fmt.Errorf("unknown arm %q", arm)
	}
	batches, err := data.NewTrainBatches(tr, batch, seed)
	if err != nil {
		return err
	}
	cfg.Train = batches
	res, err := train.Run(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil || !strings.Contains(err.Error(), "not finite") {
			return err
		}
		// A diverged baseline is a result (NaN for this fold), not a failed benchmark.
		r.values = append(r.values, math.NaN())
		r.diverged++
		return nil
	}
	xt := tensors.FromFlatDataAndDimensions(toF32(te.X), te.N, te.D)
	outs, err := res.Predict(xt)
	xt.MustFinalizeAll()
	if err != nil {
		return err
	}
	y := tensors.MustCopyFlatData[float32](outs[0])
	outs[0].MustFinalizeAll()
	pred := make([]float64, te.N)
	for i := range te.N {
		if outputs == 1 {
			pred[i] = float64(y[i])
			continue
		}
		row := y[i*outputs : (i+1)*outputs]
		pred[i] = float64(slices.Index(row, slices.Max(row)))
	}
	kind := gbnn.MultiClass // Score only tells regression (RMSE) from classification (accuracy).
	if tr.Task == data.Regression {
		kind = gbnn.Regression
	}
	r.values = append(r.values, gbnn.Score(kind, pred, te.Y)*unscale)
	r.ms = append(r.ms, res.MsPerStep)
	r.fitSecs = append(r.fitSecs, res.WallSeconds)
	r.steps = res.Steps
	return nil
}

// mlpModel is x [B, D] → σ(x·W1 + b1)·W2 + b2 [B, outputs], with sklearn's L2 penalty
// ½·alpha·Σ‖W‖²/batch.
func mlpModel(d, units, outputs int, batch float64) train.ModelFn {
	return func(scope *model.Scope, inputs []*graph.Node) []*graph.Node {
		x := inputs[0]
		s := scope.In("mlp")
		hidden, output := s.In("hidden"), s.In("output")
		w1 := hidden.VariableWithShape("weights", shapes.Make(dtypes.Float32, d, units)).ValueGraph(x)
		b1 := hidden.VariableWithShape("biases", shapes.Make(dtypes.Float32, units)).ValueGraph(x)
		w2 := output.VariableWithShape("weights", shapes.Make(dtypes.Float32, units, outputs)).ValueGraph(x)
		b2 := output.VariableWithShape("biases", shapes.Make(dtypes.Float32, outputs)).ValueGraph(x)
		h := graph.Sigmoid(graph.Add(graph.Dot(x, w1).Product(), graph.ExpandLeftToRank(b1, 2)))
		y := graph.Add(graph.Dot(h, w2).Product(), graph.ExpandLeftToRank(b2, 2))
		l2 := graph.Add(graph.ReduceAllSum(graph.Square(w1)), graph.ReduceAllSum(graph.Square(w2)))
		train.AddExtraLoss("l2", 0.5*alpha/batch, l2)
		return []*graph.Node{y}
	}
}

func toF32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func mean(xs []float64) float64 {
	m, _ := suite.MeanStd(xs)
	return m
}

// stagedMeanStd returns, per number of stages, the mean and std over folds.
func stagedMeanStd(staged [][]float64) (m, sd []float64) {
	if len(staged) == 0 {
		return nil, nil
	}
	for s := range staged[0] {
		col := make([]float64, len(staged))
		for f := range staged {
			col[f] = staged[f][s]
		}
		a, b := suite.MeanStd(col)
		m, sd = append(m, a), append(sd, b)
	}
	return m, sd
}

// keepPoints are the numbers of stages the staged table shows: 10%, 25%, 50%, 100%.
func keepPoints(stages int) []int {
	var out []int
	for _, frac := range []float64{0.1, 0.25, 0.5, 1} {
		k := max(1, int(math.Round(frac*float64(stages))))
		if len(out) == 0 || out[len(out)-1] != k {
			out = append(out, k)
		}
	}
	return out
}

func plotStaged(path, name, metric string, res map[string]*armResult) error {
	m, sd := stagedMeanStd(res["gbnn"].staged)
	xs := make([]float64, len(m))
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	series := []suite.Series{{Name: "gbnn (first stages kept)", X: xs, Y: m, Err: sd}}
	for _, arm := range arms[1:] {
		v := mean(res[arm].values)
		series = append(series, suite.Series{Name: arm + " (full net)", X: []float64{1, float64(len(m))}, Y: []float64{v, v}})
	}
	return suite.SavePlot(path, suite.Chart{Title: fmt.Sprintf("GBNN on %s: %s vs stages kept", name, metric),
		XLabel: "stages kept", YLabel: metric, Series: series})
}
