// Package optbench holds the optimizer benchmarks of the suite:
//
//   - optimizers: every registered optimizer at its paper defaults (plus a small learning-rate
//     sweep) training an MLP on digits (test accuracy) and diabetes (test RMSE), with ms/step and
//     the optimizer-state size relative to the parameters;
//   - grokking: modular addition with the paper's MLP and no weight decay (Prieto et al. 2025):
//     mod 113 with a 40% training split, softmax + AdamW vs StableMax + AdamW vs ⊥AdamW; and mod
//     59 with 70%, StableMax + AdamW (groks) vs float32 softmax + AdamW (Softmax Collapse, the
//     zero-loss fraction per arm), each arm stopping once decided (grokking.go); test accuracy
//     against steps and the first step above 90%;
//   - spikes: the digits task with injected gradient spikes (×1000 on 3% of the entries at 10%
//     of the steps): final loss of Adam vs SPAM vs Stable-SPAM, with and without spikes.
//
// -data FILE replaces the optimizers table's two datasets with the file (accuracy for a
// classification file, RMSE for regression). grokking and spikes are synthetic settings (a
// modular-arithmetic table; digits with injected gradient spikes) that a user file does not
// fit: with -data they log one sentence saying so and run their own data, so the whole suite
// still runs with -data.
//
// Run one with GOEXPERIMENT=simd go run ./examples/bench -only optimizers -quick.
package optbench

import (
	"context"
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

// ignoreData logs, when -data is set, that the benchmark name does not use it and runs what.
func ignoreData(opts suite.Options, name, runs string) {
	if opts.DataFile != "" {
		opts.Logf("%s: -data %s does not apply to this benchmark (it runs %s); running its default data", name, opts.DataFile, runs)
	}
}

func init() {
	suite.Register("optimizers", suite.Func{
		Desc: "every optimizer (paper defaults + LR sweep) on digits (accuracy) and diabetes (RMSE): metric, ms/step, state/param bytes",
		Fn:   runTable,
	})
	suite.Register("grokking", suite.Func{
		Desc: "modular addition, no weight decay: mod 113 40% train (⊥AdamW vs AdamW vs StableMax) and mod 59 70% train (StableMax vs softmax: grokking vs Softmax Collapse)",
		Fn:   runGrokking,
	})
	suite.Register("spikes", suite.Func{
		Desc: "digits with injected gradient spikes (x1000 on 3% of entries, 10% of steps): Adam vs SPAM vs Stable-SPAM",
		Fn:   runSpikes,
	})
}

// MLP builds a ReLU perceptron with sizes [in, hidden..., out] and torch.nn.Linear's default
// initialization (weights and biases uniform in ±1/√in); variables scope/l<i>/weights [in, out]
// and biases. When mark is set every layer is marked for MKOR (optimizers.MKORLayer); bias
// false drops the biases (the grokking paper's MLP).
func MLP(scope *model.Scope, x *graph.Node, sizes []int, bias, mark bool) *graph.Node {
	g := x.Graph()
	dt := x.DType()
	for i := 0; i+1 < len(sizes); i++ {
		in, out := sizes[i], sizes[i+1]
		s := scope.In("l%d", i)
		bound := 1 / math.Sqrt(float64(in))
		s = s.WithInitializer(initializer.RandomUniformFn(s, -bound, bound))
		w := s.VariableWithShape("weights", shapes.Make(dt, in, out))
		y := graph.MatMul(x, w.NodeValue(g))
		var b *model.Variable
		if bias {
			b = s.VariableWithShape("biases", shapes.Make(dt, out))
			y = graph.Add(y, graph.InsertAxes(b.NodeValue(g), 0))
		}
		if mark {
			y = optimizers.MKORLayer(x, y, w, b, false)
		}
		if i+2 < len(sizes) {
			y = graph.Max(y, graph.ZerosLike(y))
		}
		x = y
	}
	return x
}

// stateRatio returns the optimizer-state bytes per parameter byte after a run: the variables
// of the optimizer named name (a fresh instance on the run's store names their scope) over the
// trainable variables.
func stateRatio(store *model.Store, name string) (float64, error) {
	opt, err := optimizers.New(store.RootScope(), name)
	if err != nil {
		return 0, err
	}
	var params int64
	for v := range store.IterVariables() {
		if v.Trainable {
			params += int64(v.Shape().Memory())
		}
	}
	return float64(optimizers.StateBytes(store, opt)) / float64(params), nil
}

// SpikeInjector wraps an optimizer and multiplies a random fraction of the gradient entries by
// Factor at a random fraction of the steps, before the optimizer sees them (the spike setting
// of SPAM's and Stable-SPAM's papers). Its RNG state is a store variable seeded with Seed.
type SpikeInjector struct {
	Inner     optimizer.Interface
	StepProb  float64 // probability that a step has spikes
	EntryProb float64 // fraction of the entries spiked in such a step
	Factor    float64
	Seed      int64
	withGrads gtrain.OptimizeWithGradients
}

// NewSpikeInjector wraps inner (which must accept gradients).
func NewSpikeInjector(inner optimizer.Interface, stepProb, entryProb, factor float64, seed int64) (*SpikeInjector, error) {
	wg, ok := inner.(gtrain.OptimizeWithGradients)
	if !ok {
		return nil, fmt.Errorf("spikes: %T does not accept gradients", inner)
	}
	return &SpikeInjector{Inner: inner, StepProb: stepProb, EntryProb: entryProb, Factor: factor, Seed: seed, withGrads: wg}, nil
}

// UpdateGraph implements optimizer.Interface.
func (s *SpikeInjector) UpdateGraph(scope *model.Scope, g *graph.Graph, loss *graph.Node) {
	s.UpdateGraphWithGradients(scope, scope.BuildTrainableVariablesGradientsGraph(loss), loss.DType())
}

// UpdateGraphWithGradients implements train.OptimizeWithGradients.
func (s *SpikeInjector) UpdateGraphWithGradients(scope *model.Scope, grads []*graph.Node, dt dtypes.DType) {
	st, err := graph.RNGStateFromSeed(s.Seed)
	if err != nil {
		panic(err)
	}
	rngVar := scope.Store().VariableWithValue("/optbench/spike_rng", st).SetTrainable(false)
	rng := rngVar.NodeValue(grads[0].Graph())
	rng, u := graph.RandomUniform(rng, shapes.Make(dtypes.Float32))
	spikeStep := graph.LessThan(u, graph.Scalar(u.Graph(), dtypes.Float32, s.StepProb))
	out := make([]*graph.Node, len(grads))
	for i, gr := range grads {
		var r *graph.Node
		rng, r = graph.RandomUniform(rng, shapes.Make(dtypes.Float32, gr.Shape().Dimensions...))
		mask := graph.LogicalAnd(graph.LessThan(r, graph.Scalar(gr.Graph(), dtypes.Float32, s.EntryProb)),
			graph.BroadcastToShape(spikeStep, r.Shape()))
		out[i] = graph.Where(mask, graph.MulScalar(gr, s.Factor), gr)
	}
	rngVar.SetNodeValue(rng)
	s.withGrads.UpdateGraphWithGradients(scope, out, dt)
}

// Clear implements optimizer.Interface.
func (s *SpikeInjector) Clear(scope *model.Scope) error { return s.Inner.Clear(scope) }

// DefaultLearningRate is the inner optimizer's.
func (s *SpikeInjector) DefaultLearningRate() float64 {
	if d, ok := s.Inner.(interface{ DefaultLearningRate() float64 }); ok {
		return d.DefaultLearningRate()
	}
	return 0
}

// tabularRun trains the benchmark MLP on a train/test split and returns the test metric
// (accuracy, or RMSE in the target's units), the run's result and the state ratio.
type tabularRun struct {
	table      *data.Table
	hidden     []int
	steps      int
	batch      int
	seed       int
	optimizer  string
	params     map[string]any
	wrap       func(optimizer.Interface) (optimizer.Interface, error) // optional (spikes)
	extraEvals bool                                                   // also evaluate the whole training set ("trainset")
}

func (r tabularRun) run(ctx context.Context, opts suite.Options) (metric float64, res *train.Result, err error) {
	t := r.table
	trainT, testT, err := t.Split(0.2, uint64(r.seed))
	if err != nil {
		return 0, nil, err
	}
	scaler, trainS, others := data.Standardize(trainT, true, testT)
	testS := others[0]
	trainDS, err := data.NewTrainBatches(trainS, r.batch, uint64(r.seed))
	if err != nil {
		return 0, nil, err
	}
	testDS, err := data.NewEvalBatches(testS, 1024)
	if err != nil {
		return 0, nil, err
	}
	evals := []train.EvalSet{{Name: "test", Data: testDS}}
	if r.extraEvals {
		all, err := data.NewEvalBatches(trainS, 1024)
		if err != nil {
			return 0, nil, err
		}
		evals = append(evals, train.EvalSet{Name: "trainset", Data: all})
	}
	out, loss, metrics := 1, "mse", []string{"mse"}
	if t.Task == data.Classification {
		out, loss, metrics = t.NumClasses, "cross_entropy", []string{"accuracy"}
	}
	sizes := append(append([]int{t.D}, r.hidden...), out)
	mark := r.optimizer == "mkor"
	modelFn := func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		return []*graph.Node{MLP(scope.In("mlp"), in[0], sizes, true, mark)}
	}
	store := model.NewStore()
	params := map[string]any{optimizers.ParamLogGroups: false}
	for k, v := range r.params {
		params[k] = v
	}
	store.SetParams(params)
	opt, err := optimizers.New(store.RootScope(), r.optimizer)
	if err != nil {
		return 0, nil, err
	}
	if r.wrap != nil {
		if opt, err = r.wrap(opt); err != nil {
			return 0, nil, err
		}
	}
	res, err = train.Run(ctx, train.Config{
		Name: fmt.Sprintf("%s/%s/seed%d", t.Name, r.optimizer, r.seed), Backend: opts.Backend, Store: store,
		Seed: int64(r.seed), Model: modelFn, Loss: loss, OptimizerImpl: opt, Steps: r.steps, Train: trainDS,
		Eval: evals, Metrics: metrics, EvalEvery: max(1, r.steps/10),
	})
	if err != nil {
		return 0, res, err
	}
	if t.Task == data.Classification {
		return res.Final["test/accuracy"], res, nil
	}
	// RMSE in the target's original units, from the model's predictions.
	xs := make([]float32, len(testS.X))
	for i, v := range testS.X {
		xs[i] = float32(v)
	}
	pred, err := res.Predict(tensors.FromFlatDataAndDimensions(xs, testS.N, testS.D))
	if err != nil {
		return 0, res, err
	}
	p := tensors.MustCopyFlatData[float32](pred[0])
	var se float64
	for i, y := range testT.Y {
		d := scaler.UnscaleY(float64(p[i])) - y
		se += d * d
	}
	return math.Sqrt(se / float64(testT.N)), res, nil
}
