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
	// Regression stops early as sklearn's early_stopping=True: validation_fraction 0.1,
	// n_iter_no_change 10 (evaluations here, epochs there), tol 1e-4, best weights restored.
	fitRows := tr
	var val *data.Table
	if tr.Task == data.Regression {
		var err error
		if fitRows, val, err = tr.Split(0.1, seed); err != nil {
			return err
		}
	}
	batch := min(200, fitRows.N) // sklearn's batch_size="auto"
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
	batches, err := data.NewTrainBatches(fitRows, batch, seed)
	if err != nil {
		return err
	}
	cfg.Train = batches
	var best *bestWeights
	if val != nil {
		vb, err := data.NewEvalBatches(val, val.N)
		if err != nil {
			return err
		}
		best = &bestWeights{store: store, metric: "val/loss", step: -1}
		cfg.Eval = []train.EvalSet{{Name: "val", Data: vb}}
		cfg.EvalEvery = max(1, s.MLPSteps/50)
		cfg.EarlyStopping = train.EarlyStopping{Monitor: "val/loss", Patience: 10, MinDelta: 1e-4}
		cfg.Callbacks = []train.Callback{best}
	}
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
	if best != nil {
		if err := best.restore(); err != nil {
			return err
		}
		r.bestStep = append(r.bestStep, float64(best.step))
	}
	pred, err := res.PredictRows(te.X, te.N, te.D)
	if err != nil {
		return err
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

// bestWeights is an evaluation callback that keeps a host copy of every variable under
// /mlp at the evaluation with the lowest metric, and writes it back with restore (sklearn's
// early stopping returns its best coefficients).
type bestWeights struct {
	store  *model.Store
	metric string
	best   float64
	step   int
	saved  map[string]*tensors.Tensor
}

// OnEval implements train.EvalCallback.
func (b *bestWeights) OnEval(p train.EvalPoint, _ *train.Result) error {
	v, ok := p.Metrics[b.metric]
	if !ok || math.IsNaN(v) || (b.step >= 0 && v >= b.best) {
		return nil
	}
	saved := map[string]*tensors.Tensor{}
	for v := range b.store.IterVariables() {
		if !strings.HasPrefix(v.Scope(), "/mlp") {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return err
		}
		saved[v.String()] = tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](t), t.Shape().Dimensions...)
	}
	b.best, b.step, b.saved = v, p.Step, saved
	return nil
}

// restore writes the best weights back into the store.
func (b *bestWeights) restore() error {
	if b.saved == nil {
		return nil
	}
	for v := range b.store.IterVariables() {
		if t, ok := b.saved[v.String()]; ok && strings.HasPrefix(v.Scope(), "/mlp") {
			if err := v.SetValue(t); err != nil {
				return err
			}
		}
	}
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

// stagedMeanStd returns, per number of stages, the mean and std over folds, up to the fewest
// stages any fold kept.
func stagedMeanStd(staged [][]float64) (m, sd []float64) {
	if len(staged) == 0 {
		return nil, nil
	}
	n := len(staged[0])
	for _, f := range staged {
		n = min(n, len(f))
	}
	for s := range n {
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
	for _, arm := range append(slices.Clone(arms[1:]), suite.BaselineArms...) {
		if _, ok := res[arm]; !ok {
			continue
		}
		v := mean(res[arm].values)
		label := arm + " (full net)"
		if slices.Contains(suite.BaselineArms, arm) {
			label = arm + " baseline"
		}
		series = append(series, suite.Series{Name: label, X: []float64{1, float64(len(m))}, Y: []float64{v, v}})
	}
	return suite.SavePlot(path, suite.Chart{Title: fmt.Sprintf("GBNN on %s: %s vs stages kept", name, metric),
		XLabel: "stages kept", YLabel: metric, Series: series})
}
