package rl

import (
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX's graph-building style
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/moeboost/moeboost/boosting/rl/envs"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/optimizers"
)

// NNConfig configures the neural actor-critic (Stable-Baselines3's MlpPolicy: separate
// policy and value towers of Hidden tanh units, one Adam optimizer over both, global gradient
// norm clipping). Zero values mean SB3's PPO defaults.
type NNConfig struct {
	// Hidden are the widths of each tower's hidden layers (default 64, 64).
	Hidden []int
	// LR is Adam's learning rate (default 3e-4); LinearLR decays it linearly to 0 over the
	// run (SB3's "lin_" schedules).
	LR       float64
	LinearLR bool
	// Epsilon is Adam's epsilon (default 1e-5, SB3's PPO/A2C).
	Epsilon float64
	// MaxGradNorm clips the global gradient norm (default 0.5).
	MaxGradNorm float64
	// Optimizer is the registered optimizer name (default "adam").
	Optimizer string
	// Seed seeds the weight initialization (NewActorCritic sets it from Config.Seed), so a
	// run is reproducible.
	Seed uint64
}

func (c NNConfig) withDefaults() NNConfig {
	if len(c.Hidden) == 0 {
		c.Hidden = []int{64, 64}
	}
	if c.LR == 0 {
		c.LR = 3e-4
	}
	if c.Epsilon == 0 {
		c.Epsilon = 1e-5
	}
	if c.MaxGradNorm == 0 {
		c.MaxGradNorm = 0.5
	}
	if c.Optimizer == "" {
		c.Optimizer = "adam"
	}
	return c
}

// NN is an Approximator backed by a GoMLX network with two towers: outputs [0, policyDim)
// come from the policy tower and the last output (when withValue) from the value tower.
// Categorical observation features are one-hot encoded (spec.CatValues).
//
// Update minimizes (1/N) sum_i <out_i, g_i> with g held constant: its parameter gradient is
// (1/N) sum_i J_i^T g_i, the chain rule of the loss whose per-sample output gradients are g,
// so the network takes exactly the step autodiff through the full RL loss would give.
type NN struct {
	cfg       NNConfig
	spec      envs.Spec
	policyDim int
	withValue bool
	inDim     int
	store     *model.Store
	predict   *model.Exec
	update    *model.Exec
	updates   int
	lrVar     *model.Variable
	nextLR    float64
}

// NewNN returns a network approximator with policyDim policy outputs and, when withValue, one
// value output, for observations of spec.
func NewNN(backend compute.Backend, spec envs.Spec, policyDim int, withValue bool, cfg NNConfig) (*NN, error) {
	cfg = cfg.withDefaults()
	if backend == nil {
		return nil, fmt.Errorf("rl: the neural approximator needs a compute backend")
	}
	for _, h := range cfg.Hidden {
		if h < 1 {
			return nil, fmt.Errorf("rl: hidden width %d must be >= 1", h)
		}
	}
	if !(cfg.LR > 0) || !(cfg.MaxGradNorm > 0) {
		return nil, fmt.Errorf("rl: nn learning rate %g and max_grad_norm %g must be > 0", cfg.LR, cfg.MaxGradNorm)
	}
	n := &NN{cfg: cfg, spec: spec, policyDim: policyDim, withValue: withValue, nextLR: cfg.LR}
	n.inDim = spec.NumObs + spec.OneHotDim()
	n.store = model.NewStore()
	root := n.store.RootScope()
	root.SetParam(model.ParamInitialSeed, int64(cfg.Seed))
	root.SetParam(optimizer.ParamLearningRate, cfg.LR)
	root.SetParam(optimizer.ParamAdamEpsilon, cfg.Epsilon)
	opt, err := optimizers.New(root, cfg.Optimizer)
	if err != nil {
		return nil, err
	}
	withGrads, ok := opt.(interface {
		UpdateGraphWithGradients(scope *model.Scope, grads []*Node, lossDType dtypes.DType)
	})
	if !ok {
		return nil, fmt.Errorf("rl: optimizer %q cannot take clipped gradients (no UpdateGraphWithGradients)", cfg.Optimizer)
	}
	n.predict, err = model.NewExec(backend, n.store, func(scope *model.Scope, x *Node) *Node {
		return n.forward(scope, x)
	})
	if err != nil {
		return nil, err
	}
	n.update, err = model.NewExec(backend, n.store, func(scope *model.Scope, x, g *Node) *Node {
		out := n.forward(scope, x)
		batch := float64(x.Shape().Dimensions[0])
		loss := DivScalar(ReduceAllSum(Mul(out, StopGradient(g))), batch) // (1/N) sum <out, g>
		grads := scope.BuildTrainableVariablesGradientsGraph(loss)
		var sq *Node
		for _, gr := range grads {
			s := ReduceAllSum(Square(gr))
			if sq == nil {
				sq = s
			} else {
				sq = Add(sq, s)
			}
		}
		// SB3 clip_grad_norm_: scale by max_norm/(norm + 1e-6) when that is < 1.
		coef := MinScalar(DivScalar(Inverse(AddScalar(Sqrt(sq), 1e-6)), 1/cfg.MaxGradNorm), 1)
		for i := range grads {
			grads[i] = Mul(grads[i], coef)
		}
		withGrads.UpdateGraphWithGradients(scope, grads, loss.DType())
		return loss
	})
	return n, err
}

// forward builds both towers: [N, inDim] -> [N, OutDim].
func (n *NN) forward(scope *model.Scope, x *Node) *Node {
	tower := func(name string, out int) *Node {
		return layers.MLP(scope.In("%s", name), x, layers.MLPConfig{Hidden: n.cfg.Hidden, Out: out, Activation: "tanh"})
	}
	var outs []*Node
	if n.policyDim > 0 {
		outs = append(outs, tower("pi", n.policyDim))
	}
	if n.withValue {
		outs = append(outs, tower("vf", 1))
	}
	if len(outs) == 1 {
		return outs[0]
	}
	return Concatenate(outs, -1)
}

// OutDim implements Approximator.
func (n *NN) OutDim() int {
	d := n.policyDim
	if n.withValue {
		d++
	}
	return d
}

func (n *NN) input(obs Obs) *tensors.Tensor {
	x := make([]float32, obs.N*n.inDim)
	var oh []float32
	ohDim := n.spec.OneHotDim()
	if obs.CatDim > 0 {
		oh = n.spec.OneHot(obs.Cat, obs.N)
	}
	for i := 0; i < obs.N; i++ {
		copy(x[i*n.inDim:], obs.Num[i*obs.NumDim:(i+1)*obs.NumDim])
		if oh != nil {
			copy(x[i*n.inDim+obs.NumDim:], oh[i*ohDim:(i+1)*ohDim])
		}
	}
	return tensors.FromFlatDataAndDimensions(x, obs.N, n.inDim)
}

// Predict implements Approximator.
func (n *NN) Predict(obs Obs) ([]float32, error) {
	out, err := n.predict.Exec1(n.input(obs))
	if err != nil {
		return nil, err
	}
	defer out.FinalizeAll()
	return tensors.MustCopyFlatData[float32](out), nil
}

// SetLR sets the learning rate of the next updates.
func (n *NN) SetLR(lr float64) { n.nextLR = lr }

// Update implements Approximator.
func (n *NN) Update(obs Obs, grads []float32) error {
	if len(grads) != obs.N*n.OutDim() {
		return fmt.Errorf("rl: %d gradients for %d samples of %d outputs", len(grads), obs.N, n.OutDim())
	}
	for _, g := range grads {
		if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
			return fmt.Errorf("rl: non-finite output gradient %v", g)
		}
	}
	if n.lrVar != nil && n.nextLR != n.cfg.LR {
		if err := n.lrVar.SetValue(tensors.FromScalar(float32(n.nextLR))); err != nil {
			return err
		}
		n.cfg.LR = n.nextLR
	}
	g := tensors.FromFlatDataAndDimensions(append([]float32(nil), grads...), obs.N, n.OutDim())
	loss, err := n.update.Exec1(n.input(obs), g)
	if err != nil {
		return err
	}
	loss.FinalizeAll()
	n.updates++
	if n.lrVar == nil {
		n.lrVar = n.store.RootScope().At(optimizer.Scope).GetVariable(optimizer.ParamLearningRate)
	}
	return nil
}

// Updates implements Approximator.
func (n *NN) Updates() int { return n.updates }
