package imitation

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX's graph-building style
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/moeboost/moeboost/boosting/rl/envs"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train/backend"
)

func init() { Register("bc", BC) }

// BCParams are behaviour cloning's settings read from Config.Params (defaults in brackets).
var BCParams = map[string]string{
	"steps":        "Adam steps, at most [3000]",
	"batch_size":   "minibatch rows [256] (at most the training rows)",
	"lr":           "Adam learning rate [1e-3]",
	"eval_every":   "steps between validation losses [50]",
	"patience":     "validations without improvement before stopping [10]",
	"val_fraction": "share of the trajectories held out for early stopping when there are >= 2 [0.25]",
}

type bcSettings struct {
	steps, batch, evalEvery, patience int
	lr, valFraction                   float64
}

func bcSettingsOf(cfg Config) (bcSettings, error) {
	s := bcSettings{steps: 3000, batch: 256, evalEvery: 50, patience: 10, lr: 1e-3, valFraction: 0.25}
	for k, v := range cfg.Params {
		if _, ok := BCParams[k]; !ok {
			known := make([]string, 0, len(BCParams))
			for n := range BCParams {
				known = append(known, n)
			}
			sort.Strings(known)
			return s, fmt.Errorf("imitation: bc has no parameter %q; known: %s", k, strings.Join(known, ", "))
		}
		isInt := k != "lr" && k != "val_fraction"
		if isInt && (v < 1 || v != math.Trunc(v)) {
			return s, fmt.Errorf("imitation: bc %s=%g must be an integer >= 1", k, v)
		}
		switch k {
		case "steps":
			s.steps = int(v)
		case "batch_size":
			s.batch = int(v)
		case "eval_every":
			s.evalEvery = int(v)
		case "patience":
			s.patience = int(v)
		case "lr":
			if !(v > 0) || math.IsInf(v, 0) {
				return s, fmt.Errorf("imitation: bc lr=%g must be > 0 and finite", v)
			}
			s.lr = v
		case "val_fraction":
			if !(v > 0 && v < 1) {
				return s, fmt.Errorf("imitation: bc val_fraction=%g must be in (0, 1)", v)
			}
			s.valFraction = v
		}
	}
	for _, h := range cfg.Hidden {
		if h < 1 {
			return s, fmt.Errorf("imitation: hidden width %d must be >= 1", h)
		}
	}
	return s, nil
}

// BC is behaviour cloning: supervised learning of the expert's actions from its observations
// with an MLP (Config.Hidden, default 64-64 ReLU; layers.MLP) trained by Adam on minibatches.
// Discrete actions: cross-entropy on the logits, acting with the argmax (or sampling the
// softmax). Continuous actions: mean squared error on the actions scaled to [-1, 1] by the
// action bounds, acting with the predicted mean clipped to the bounds (stochastic actions add
// Gaussian noise with the per-dimension residual standard deviation on the training rows).
// Observations are standardized with the training rows' mean and standard deviation.
//
// With >= 2 trajectories a share of them (val_fraction, at least one) is held out, the
// validation loss is computed every eval_every steps and training stops after `patience`
// validations without improvement, returning the parameters of the best validation; with one
// trajectory it trains for `steps` steps. BC uses no environment steps (Result.EnvSteps = 0);
// progress is called with 0 at the end. Parameters: see BCParams. The networks run on
// cfg.Backend (train/backend.Default when nil).
//
// It is the BC baseline of the AILBoost paper (Chang et al., ICLR 2024, §6: "behavior cloning
// ... trained with supervised learning on the expert demonstrations"); the loss choices are
// ours (the official repository ships no BC code for the state-based suite).
func BC(ctx context.Context, demos *Demos, cfg Config, progress func(envSteps int)) (*Result, error) {
	if err := demos.Validate(); err != nil {
		return nil, err
	}
	s, err := bcSettingsOf(cfg)
	if err != nil {
		return nil, err
	}
	be := cfg.Backend
	if be == nil {
		if be, err = backend.Default(); err != nil {
			return nil, err
		}
	}
	spec := demos.Spec
	if spec.CatObs > 0 {
		return nil, fmt.Errorf("imitation: bc supports numeric observations only; %s has %d categorical features", spec.ID, spec.CatObs)
	}
	hidden := cfg.Hidden
	if len(hidden) == 0 {
		hidden = []int{64, 64}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xbc))
	// Split by whole trajectories (consecutive rows of one episode are strongly correlated).
	off := demos.Offsets()
	perm := rng.Perm(demos.Trajectories)
	nVal := 0
	if demos.Trajectories >= 2 {
		nVal = max(1, int(math.Round(s.valFraction*float64(demos.Trajectories))))
		nVal = min(nVal, demos.Trajectories-1)
	}
	var trainRows, valRows []int
	for j, tr := range perm {
		for r := off[tr]; r < off[tr+1]; r++ {
			if j < nVal {
				valRows = append(valRows, r)
			} else {
				trainRows = append(trainRows, r)
			}
		}
	}
	p := newBCPolicy(spec, hidden)
	p.fitScaler(demos.Obs, trainRows)
	outDim := p.outDim
	store := model.NewStore()
	root := store.RootScope()
	root.SetParam(model.ParamInitialSeed, int64(cfg.Seed)+1)
	root.SetParam(optimizer.ParamLearningRate, s.lr)
	opt, err := optimizers.New(root, "adam")
	if err != nil {
		return nil, err
	}
	loss := func(out, y *Node) *Node {
		if spec.Discrete() {
			logp := LogSoftmax(out, -1)
			oh := OneHot(y, outDim, logp.DType())
			return Neg(ReduceAllMean(ReduceSum(Mul(oh, logp), -1))) // cross-entropy
		}
		return ReduceAllMean(Square(Sub(out, y))) // MSE on actions scaled to [-1, 1]
	}
	trainExec, err := model.NewExec(be, store, func(scope *model.Scope, x, y *Node) *Node {
		l := loss(p.forward(scope, x), y)
		opt.UpdateGraph(scope, x.Graph(), l)
		return l
	})
	if err != nil {
		return nil, err
	}
	lossExec, err := model.NewExec(be, store, func(scope *model.Scope, x, y *Node) *Node {
		return loss(p.forward(scope, x), y)
	})
	if err != nil {
		return nil, err
	}
	x, y := p.inputs(demos), p.targets(demos)
	batch := min(s.batch, len(trainRows))
	bestLoss, bestStep, bad := math.Inf(1), 0, 0
	var best *model.Store
	order := append([]int(nil), trainRows...)
	pos := len(order)
	mb := make([]int, batch)
	steps := 0
	valX, valY := p.gather(x, y, valRows)
	for steps < s.steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for i := range mb { // epochs of shuffled rows; every minibatch has the same shape
			if pos == len(order) {
				rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
				pos = 0
			}
			mb[i] = order[pos]
			pos++
		}
		bx, by := p.gather(x, y, mb)
		l, err := trainExec.Exec1(bx, by)
		if err != nil {
			return nil, err
		}
		lv := tensors.MustCopyFlatData[float32](l)[0]
		l.FinalizeAll()
		if math.IsNaN(float64(lv)) || math.IsInf(float64(lv), 0) {
			return nil, fmt.Errorf("imitation: bc training loss is %v at step %d (lr=%g)", lv, steps, s.lr)
		}
		steps++
		if len(valRows) > 0 && (steps%s.evalEvery == 0 || steps == s.steps) {
			vl, err := lossExec.Exec1(valX, valY)
			if err != nil {
				return nil, err
			}
			v := float64(tensors.MustCopyFlatData[float32](vl)[0])
			vl.FinalizeAll()
			if v < bestLoss {
				bestLoss, bestStep, bad = v, steps, 0
				if best, err = store.Clone(); err != nil {
					return nil, err
				}
			} else if bad++; bad >= s.patience {
				break
			}
		}
	}
	final := store
	if best != nil {
		final = best
	}
	if p.exec, err = model.NewExec(be, final, func(scope *model.Scope, x *Node) *Node { return p.forward(scope, x) }); err != nil {
		return nil, err
	}
	if !spec.Discrete() {
		if err := p.fitResidual(x, y, trainRows); err != nil {
			return nil, err
		}
	}
	if progress != nil {
		progress(0)
	}
	extra := map[string]float64{"bc_steps": float64(steps), "train_rows": float64(len(trainRows)), "val_rows": float64(len(valRows))}
	if best != nil {
		extra["best_val_loss"], extra["best_step"] = bestLoss, float64(bestStep)
	}
	return &Result{Policy: p, EnvSteps: 0, Extra: extra}, nil
}

// bcPolicy is a trained behaviour-cloning network.
type bcPolicy struct {
	spec         envs.Spec
	hidden       []int
	outDim       int
	mean, invStd []float32
	resid        []float64 // continuous: residual std per action dimension (scaled units)
	exec         *model.Exec
}

func newBCPolicy(spec envs.Spec, hidden []int) *bcPolicy {
	out := spec.Actions
	if !spec.Discrete() {
		out = spec.ActionDim
	}
	return &bcPolicy{spec: spec, hidden: hidden, outDim: out}
}

func (p *bcPolicy) forward(scope *model.Scope, x *Node) *Node {
	return layers.MLP(scope.In("bc"), x, layers.MLPConfig{Hidden: p.hidden, Out: p.outDim, Activation: "relu"})
}

// fitScaler sets the observation standardization from rows of obs.
func (p *bcPolicy) fitScaler(obs []float32, rows []int) {
	d := p.spec.NumObs
	p.mean, p.invStd = make([]float32, d), make([]float32, d)
	for j := 0; j < d; j++ {
		var m, v float64
		for _, r := range rows {
			m += float64(obs[r*d+j])
		}
		m /= float64(len(rows))
		for _, r := range rows {
			z := float64(obs[r*d+j]) - m
			v += z * z
		}
		sd := math.Sqrt(v / float64(len(rows)))
		p.mean[j], p.invStd[j] = float32(m), float32(1/max(sd, 1e-6))
	}
}

// standardize returns (obs - mean) / std.
func (p *bcPolicy) standardize(obs []float32) []float32 {
	d := p.spec.NumObs
	out := make([]float32, len(obs))
	for i, v := range obs {
		out[i] = (v - p.mean[i%d]) * p.invStd[i%d]
	}
	return out
}

func (p *bcPolicy) inputs(d *Demos) []float32 { return p.standardize(d.Obs) }

// targets are the action indices (int32) or the actions scaled to [-1, 1] (float32).
func (p *bcPolicy) targets(d *Demos) any {
	if p.spec.Discrete() {
		y := make([]int32, len(d.Discrete))
		for i, a := range d.Discrete {
			y[i] = int32(a)
		}
		return y
	}
	ad := p.spec.ActionDim
	y := make([]float32, len(d.Continuous))
	for i, a := range d.Continuous {
		lo, hi := p.spec.ActionLow[i%ad], p.spec.ActionHigh[i%ad]
		y[i] = 2*(a-lo)/(hi-lo) - 1
	}
	return y
}

// gather returns the rows of x and y as tensors.
func (p *bcPolicy) gather(x []float32, y any, rows []int) (*tensors.Tensor, *tensors.Tensor) {
	d := p.spec.NumObs
	bx := make([]float32, len(rows)*d)
	for i, r := range rows {
		copy(bx[i*d:(i+1)*d], x[r*d:(r+1)*d])
	}
	tx := tensors.FromFlatDataAndDimensions(bx, max(len(rows), 0), d)
	switch yy := y.(type) {
	case []int32:
		by := make([]int32, len(rows))
		for i, r := range rows {
			by[i] = yy[r]
		}
		return tx, tensors.FromFlatDataAndDimensions(by, len(rows))
	default:
		ys := y.([]float32)
		ad := p.outDim
		by := make([]float32, len(rows)*ad)
		for i, r := range rows {
			copy(by[i*ad:(i+1)*ad], ys[r*ad:(r+1)*ad])
		}
		return tx, tensors.FromFlatDataAndDimensions(by, len(rows), ad)
	}
}

// outputs runs the network on standardized rows.
func (p *bcPolicy) outputs(xs []float32, n int) ([]float32, error) {
	out, err := p.exec.Exec1(tensors.FromFlatDataAndDimensions(xs, n, p.spec.NumObs))
	if err != nil {
		return nil, err
	}
	defer out.FinalizeAll()
	if out.DType() != dtypes.Float32 {
		return nil, fmt.Errorf("imitation: bc network returned %s, want float32", out.DType())
	}
	return tensors.MustCopyFlatData[float32](out), nil
}

// fitResidual sets the residual standard deviation of the scaled actions on rows.
func (p *bcPolicy) fitResidual(x []float32, y any, rows []int) error {
	ad := p.outDim
	bx, _ := p.gather(x, y, rows)
	xs := tensors.MustCopyFlatData[float32](bx)
	out, err := p.outputs(xs, len(rows))
	if err != nil {
		return err
	}
	ys := y.([]float32)
	p.resid = make([]float64, ad)
	for i, r := range rows {
		for k := 0; k < ad; k++ {
			e := float64(out[i*ad+k] - ys[r*ad+k])
			p.resid[k] += e * e
		}
	}
	for k := range p.resid {
		p.resid[k] = math.Sqrt(p.resid[k] / float64(len(rows)))
	}
	return nil
}

// Act implements Policy.
func (p *bcPolicy) Act(obs []float32, n int, rng *rand.Rand, deterministic bool) ([]int, []float32, error) {
	if len(obs) != n*p.spec.NumObs {
		return nil, nil, fmt.Errorf("imitation: %d observation values for %d rows of %d features", len(obs), n, p.spec.NumObs)
	}
	if !deterministic && rng == nil {
		return nil, nil, fmt.Errorf("imitation: stochastic actions need an rng")
	}
	out, err := p.outputs(p.standardize(obs), n)
	if err != nil {
		return nil, nil, err
	}
	k := p.outDim
	if p.spec.Discrete() {
		a := make([]int, n)
		for i := range a {
			z := out[i*k : (i+1)*k]
			if deterministic {
				a[i] = argmax32(z)
			} else {
				a[i] = sampleSoftmax(z, rng)
			}
		}
		return a, nil, nil
	}
	u := make([]float32, n*k)
	for i, z := range out {
		d := i % k
		v := float64(z)
		if !deterministic {
			v += p.resid[d] * rng.NormFloat64()
		}
		v = min(max(v, -1), 1)
		lo, hi := float64(p.spec.ActionLow[d]), float64(p.spec.ActionHigh[d])
		u[i] = float32(lo + (v+1)/2*(hi-lo)) // unscale from [-1, 1]
	}
	return nil, u, nil
}
