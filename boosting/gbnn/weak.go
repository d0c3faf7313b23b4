package gbnn

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
)

// Stage is one boosting stage: a network of J hidden units with K linear outputs,
// h(x) = σ(x·W1 + B1)·W2 + B2, and its step ρ. The ensemble adds ρ·h(x) to F.
type Stage struct {
	W1 []float64 // [D, J] row-major: input → hidden weights
	B1 []float64 // [J] hidden biases
	W2 []float64 // [J, K] row-major: hidden → output weights
	B2 []float64 // [K] output biases
	// Rho is the stage's step: eta times the (guarded) Newton factor.
	Rho float64
	// Guarded reports that the guard replaced the Newton factor (fallback or clip).
	Guarded bool
	// FitLoss is the weak learner's final objective (½·MSE + L2) on its subsample.
	FitLoss float64
	// Loss is the ensemble's training loss after this stage, the mean over rows (official
	// self.losses, which for K classes holds the sum over rows instead).
	Loss float64
}

// dims are the shapes shared by every stage of a model.
type dims struct {
	d, j, k int // inputs, hidden units per stage, outputs per stage
}

// initStage draws sklearn's initialization (MLPRegressor._init_coef): every weight and bias of
// a layer uniform in ±sqrt(factor/(fan_in+fan_out)), factor 2 for logistic units, else 6.
func initStage(dm dims, act activation, rng *rand.Rand) *Stage {
	u := func(n int, fanIn, fanOut int) []float64 {
		bound := math.Sqrt(act.initFactor / float64(fanIn+fanOut))
		out := make([]float64, n)
		for i := range out {
			out[i] = (2*rng.Float64() - 1) * bound
		}
		return out
	}
	return &Stage{
		W1: u(dm.d*dm.j, dm.d, dm.j), B1: u(dm.j, dm.d, dm.j),
		W2: u(dm.j*dm.k, dm.j, dm.k), B2: u(dm.k, dm.j, dm.k),
	}
}

// predict writes h(x) for n rows of x ([n, D] row-major) into out ([n, K]).
func (s *Stage) predict(dm dims, act activation, x []float64, n int, out []float64) {
	a := make([]float64, dm.j)
	for i := range n {
		row := x[i*dm.d : (i+1)*dm.d]
		for u := range dm.j {
			z := s.B1[u]
			for f, v := range row {
				z += v * s.W1[f*dm.j+u]
			}
			a[u] = act.host(z)
		}
		o := out[i*dm.k : (i+1)*dm.k]
		copy(o, s.B2)
		for u, av := range a {
			for c := range dm.k {
				o[c] += av * s.W2[u*dm.k+c]
			}
		}
	}
}

// objective is the weak learner's loss on its subsample, sklearn MLPRegressor's:
// ½·mean((r−h)²) + ½·alpha·Σ‖W‖²/n (alpha < 0: none).
func (s *Stage) objective(dm dims, act activation, x, r []float64, n int, alpha float64) float64 {
	h := make([]float64, n*dm.k)
	s.predict(dm, act, x, n, h)
	var sse, l2 float64
	for i := range h {
		sse += (r[i] - h[i]) * (r[i] - h[i])
	}
	loss := 0.5 * sse / float64(len(h))
	if alpha > 0 {
		for _, w := range s.W1 {
			l2 += w * w
		}
		for _, w := range s.W2 {
			l2 += w * w
		}
		loss += 0.5 * alpha * l2 / float64(n)
	}
	return loss
}

// fitter fits one stage's network to (x, r) on a subsample of fixed size.
type fitter interface {
	fit(ctx context.Context, x, r []float64, n int, init *Stage, seed uint64) (*Stage, error)
	close()
}

// Variable names of a stage network (under scope "gbnn_stage").
const (
	stageScope = "gbnn_stage"
)

// stageModel is a stage network as a train.ModelFn: inputs [x [B, D]], outputs [h [B, K]].
// It adds sklearn's L2 penalty ½·alpha·Σ‖W‖²/B through train.AddExtraLoss.
func stageModel(dm dims, act activation, dtype dtypes.DType, alpha float64) train.ModelFn {
	return func(scope *model.Scope, inputs []*graph.Node) []*graph.Node {
		x := inputs[0]
		s := scope.In(stageScope)
		hidden, output := s.In("hidden"), s.In("output")
		w1 := hidden.VariableWithShape("weights", shapes.Make(dtype, dm.d, dm.j)).ValueGraph(x)
		b1 := hidden.VariableWithShape("biases", shapes.Make(dtype, dm.j)).ValueGraph(x)
		w2 := output.VariableWithShape("weights", shapes.Make(dtype, dm.j, dm.k)).ValueGraph(x)
		b2 := output.VariableWithShape("biases", shapes.Make(dtype, dm.k)).ValueGraph(x)
		h := dense(act.graph(dense(x, w1, b1)), w2, b2)
		if alpha > 0 {
			batch := float64(x.Shape().Dimensions[0])
			l2 := graph.Add(graph.ReduceAllSum(graph.Square(w1)), graph.ReduceAllSum(graph.Square(w2)))
			train.AddExtraLoss("l2", 0.5*alpha/batch, l2) // sklearn: + ½·alpha·Σ‖W‖²/n_samples
		}
		return []*graph.Node{h}
	}
}

// dense is x·w + b for x [B, in], w [in, out], b [out].
func dense(x, w, b *graph.Node) *graph.Node {
	return graph.Add(graph.Dot(x, w).Product(), graph.ExpandLeftToRank(b, 2))
}

// halfMSE is sklearn's squared loss for MLPRegressor: ½·mean over rows and outputs of (r−h)².
func halfMSE(labels, predictions []*graph.Node) *graph.Node {
	d := graph.Sub(labels[0], predictions[0])
	return graph.MulScalar(graph.ReduceAllMean(graph.Square(d)), 0.5)
}

// optimizerFitter fits a stage with any registered optimizer through moeboost's train.Run:
// MaxIter steps on (mini)batches of the subsample, the stage's variables in a fresh store.
type optimizerFitter struct {
	cfg     Config
	backend compute.Backend
	dm      dims
	act     activation
}

func (o *optimizerFitter) close() {}

func (o *optimizerFitter) fit(ctx context.Context, x, r []float64, n int, init *Stage, seed uint64) (*Stage, error) {
	cfg, dm := o.cfg, o.dm
	store := model.NewStore()
	vars := []struct {
		scope, name string
		value       []float64
		dims        []int
	}{
		{"hidden", "weights", init.W1, []int{dm.d, dm.j}}, {"hidden", "biases", init.B1, []int{dm.j}},
		{"output", "weights", init.W2, []int{dm.j, dm.k}}, {"output", "biases", init.B2, []int{dm.k}},
	}
	for _, v := range vars {
		if _, err := store.CreateVariable(model.JoinPath("/", stageScope, v.scope, v.name), toTensor(v.value, cfg.DType, v.dims...)); err != nil {
			return nil, err
		}
	}
	batch := n
	if cfg.BatchSize > 0 {
		batch = min(cfg.BatchSize, n)
	}
	alpha := cfg.Alpha
	if alpha < 0 {
		alpha = 0
	}
	params := map[string]any{optimizers.ParamLogGroups: false} // No log line per stage.
	maps.Copy(params, cfg.SolverParams)
	_, err := train.Run(ctx, train.Config{
		Name:         "gbnn-stage",
		Backend:      o.backend,
		Store:        store,
		Params:       params,
		Seed:         int64(seed),
		Model:        stageModel(dm, o.act, cfg.DType, alpha),
		LossFn:       halfMSE,
		Optimizer:    cfg.Solver,
		LearningRate: cfg.LearningRate,
		Steps:        cfg.MaxIter,
		EvalEvery:    cfg.MaxIter,
		Train:        &residualBatches{x: x, r: r, n: n, dm: dm, batch: batch, dtype: cfg.DType, seed: seed},
	})
	if err != nil {
		return nil, err
	}
	out := &Stage{}
	for i, dst := range []*[]float64{&out.W1, &out.B1, &out.W2, &out.B2} {
		v := store.GetVariable(model.JoinPath("/", stageScope, vars[i].scope, vars[i].name))
		if v == nil {
			return nil, fmt.Errorf("gbnn: stage variable %s/%s missing after training", vars[i].scope, vars[i].name)
		}
		t, err := v.Value()
		if err != nil {
			return nil, err
		}
		*dst = fromTensor(t)
	}
	store.Finalize()
	return out, nil
}

// residualBatches is the training dataset of one stage: inputs [x [B, D]], labels [r [B, K]],
// the whole subsample every step (B = n) or shuffled minibatches drawn from seed.
type residualBatches struct {
	x, r       []float64
	n, batch   int
	dm         dims
	dtype      dtypes.DType
	seed       uint64
	perm       []int
	pos, epoch int
	rng        *rand.Rand
	xbuf, rbuf []float64
}

func (b *residualBatches) Name() string { return "gbnn-residuals" }

func (b *residualBatches) Iter() iter.Seq2[gtrain.Batch, error] {
	return func(yield func(gtrain.Batch, error) bool) {
		for {
			var xs, rs []float64
			if b.batch >= b.n {
				xs, rs = b.x, b.r
			} else {
				if b.rng == nil {
					b.rng = rand.New(rand.NewPCG(b.seed, 0x67626e6e))
				}
				if b.perm == nil || b.pos+b.batch > b.n {
					b.perm, b.pos = b.rng.Perm(b.n), 0
				}
				b.xbuf, b.rbuf = b.xbuf[:0], b.rbuf[:0]
				for _, i := range b.perm[b.pos : b.pos+b.batch] {
					b.xbuf = append(b.xbuf, b.x[i*b.dm.d:(i+1)*b.dm.d]...)
					b.rbuf = append(b.rbuf, b.r[i*b.dm.k:(i+1)*b.dm.k]...)
				}
				b.pos += b.batch
				xs, rs = b.xbuf, b.rbuf
			}
			rows := len(xs) / b.dm.d
			batch := gtrain.Batch{ // The trainer owns (and frees) the tensors: fresh ones each step.
				Inputs: []*tensors.Tensor{toTensor(xs, b.dtype, rows, b.dm.d)},
				Labels: []*tensors.Tensor{toTensor(rs, b.dtype, rows, b.dm.k)},
			}
			if !yield(batch, nil) {
				return
			}
		}
	}
}

// toTensor converts float64 data to a tensor of dtype (Float32 or Float64).
func toTensor(v []float64, dtype dtypes.DType, dims ...int) *tensors.Tensor {
	if dtype == dtypes.Float64 {
		return tensors.FromFlatDataAndDimensions(append([]float64(nil), v...), dims...)
	}
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return tensors.FromFlatDataAndDimensions(f, dims...)
}

// fromTensor returns a Float32 or Float64 tensor's data as float64.
func fromTensor(t *tensors.Tensor) []float64 {
	switch t.DType() {
	case dtypes.Float64:
		return tensors.MustCopyFlatData[float64](t)
	case dtypes.Float32:
		f := tensors.MustCopyFlatData[float32](t)
		out := make([]float64, len(f))
		for i, x := range f {
			out[i] = float64(x)
		}
		return out
	}
	panic(fmt.Sprintf("gbnn: tensor of dtype %s, want Float32 or Float64", t.DType()))
}
