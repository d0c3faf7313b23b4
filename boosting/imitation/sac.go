package imitation

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX's graph-building style
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/boosting/rl/envs"
	"github.com/moeboost/moeboost/layers"
)

// sacConfig configures soft actor-critic (Haarnoja et al. 2018, "Soft Actor-Critic
// Algorithms and Applications", arXiv 1812.05905; the AILBoost repository's algo/sac.py), with
// Christodoulou's discrete variant (arXiv 1910.07207) for discrete action spaces.
type sacConfig struct {
	Hidden []int
	// LR is the learning rate of the actor, critics and temperature (official: one lr).
	LR float64
	// Batch is the minibatch size.
	Batch int
	// Gamma is the discount; Tau the target critics' Polyak rate (official 5e-3).
	Gamma, Tau float64
	// InitLogAlpha is log of the initial temperature (official init_temperature 0).
	InitLogAlpha float64
	// TargetEntropy: -ActionDim for continuous actions (official); for discrete actions
	// TargetEntropyRatio * log(Actions).
	TargetEntropyRatio float64
	// LogStdMin, LogStdMax bound the Gaussian's log-std through tanh (official [-5, 2]).
	LogStdMin, LogStdMax float64
}

// sac is a soft actor-critic agent on observations augmented with DAC's absorbing-state flag.
// Continuous actions live in [-1, 1]^d (tanh-squashed Gaussian, the official SquashedNormal)
// and are scaled to the environment's bounds when acting; discrete actions are indices (the
// critics output Q(s, ·) and the actor a softmax).
type sac struct {
	cfg      sacConfig
	spec     envs.Spec
	backend  compute.Backend
	obsDim   int // NumObs + 1 (absorbing flag)
	actDim   int // ActionDim or Actions
	discrete bool
	targetH  float64

	store   *model.Store
	actExec *model.Exec // obs, eps -> (deterministic action, sampled action)
	updExec *model.Exec
	initExe *model.Exec
	updates int
}

func (c sacConfig) validate() error {
	for _, h := range c.Hidden {
		if h < 1 {
			return fmt.Errorf("imitation: hidden width %d must be >= 1", h)
		}
	}
	switch {
	case !(c.LR > 0):
		return fmt.Errorf("imitation: sac learning rate %g must be > 0", c.LR)
	case c.Batch < 1:
		return fmt.Errorf("imitation: sac batch size %d must be >= 1", c.Batch)
	case !(c.Gamma > 0 && c.Gamma < 1):
		return fmt.Errorf("imitation: discount %g must be in (0, 1)", c.Gamma)
	case !(c.Tau > 0 && c.Tau <= 1):
		return fmt.Errorf("imitation: target rate tau %g must be in (0, 1]", c.Tau)
	case !(c.LogStdMin < c.LogStdMax):
		return fmt.Errorf("imitation: log-std bounds [%g, %g] must be increasing", c.LogStdMin, c.LogStdMax)
	case !(c.TargetEntropyRatio > 0 && c.TargetEntropyRatio < 1):
		return fmt.Errorf("imitation: target entropy ratio %g must be in (0, 1)", c.TargetEntropyRatio)
	}
	return nil
}

func newSAC(backend compute.Backend, spec envs.Spec, cfg sacConfig, seed uint64) (*sac, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if backend == nil {
		return nil, fmt.Errorf("imitation: soft actor-critic needs Config.Backend")
	}
	if spec.CatObs > 0 {
		return nil, fmt.Errorf("imitation: %s has categorical observations, which the adversarial methods do not take", spec.ID)
	}
	s := &sac{cfg: cfg, spec: spec, backend: backend, obsDim: spec.NumObs + 1, discrete: spec.Discrete()}
	if s.discrete {
		s.actDim = spec.Actions
		s.targetH = cfg.TargetEntropyRatio * math.Log(float64(spec.Actions))
	} else {
		s.actDim = spec.ActionDim
		s.targetH = -float64(spec.ActionDim)
	}
	s.store = model.NewStore()
	if err := s.store.SetRNGStateFromSeed(int64(seed)); err != nil {
		return nil, err
	}
	var err error
	s.actExec, err = model.NewExec(backend, s.store, func(scope *model.Scope, obs, eps *Node) []*Node {
		det, smp, _ := s.policy(scope.At("actor"), obs, eps)
		return []*Node{det, smp}
	})
	if err != nil {
		return nil, err
	}
	s.initExe, err = model.NewExec(backend, s.store, func(scope *model.Scope, obs, act *Node) *Node {
		q1, _ := s.critic(scope.At("critic"), obs, act)
		qt, _ := s.critic(scope.At("critic_target"), obs, act)
		g := obs.Graph()
		for _, p := range pairTargets(scope) {
			p[1].SetNodeValue(p[0].NodeValue(g))
			p[1].SetTrainable(false)
		}
		return Add(ReduceAllSum(q1), ReduceAllSum(qt))
	})
	if err != nil {
		return nil, err
	}
	s.updExec, err = model.NewExec(backend, s.store, s.updateGraph)
	if err != nil {
		return nil, err
	}
	// Build the critics and copy them into the targets.
	obs := tensors.FromShape(shapes.Make(dtypes.Float32, 1, s.obsDim))
	act := tensors.FromShape(shapes.Make(dtypes.Float32, 1, s.actDim))
	out, err := s.initExe.Exec1(obs, act)
	if err != nil {
		return nil, err
	}
	out.FinalizeAll()
	return s, nil
}

// policy returns the deterministic action (tanh of the mean, or the argmax one-hot), a sample
// driven by eps (continuous: standard normal noise; discrete: uniform noise for Gumbel-max),
// and the actor's raw outputs.
func (s *sac) policy(scope *model.Scope, obs, eps *Node) (det, sample *Node, raw []*Node) {
	if s.discrete {
		logits := layers.MLP(scope, obs, layers.MLPConfig{Hidden: s.cfg.Hidden, Out: s.actDim})
		det = OneHot(ArgMax(logits, -1), s.actDim, dtypes.Float32)
		// Gumbel-max: argmax(logits - log(-log u)).
		gumbel := Neg(Log(Neg(Log(ClipScalar(eps, 1e-20, 1-1e-7)))))
		sample = OneHot(ArgMax(Add(logits, gumbel), -1), s.actDim, dtypes.Float32)
		return det, sample, []*Node{logits}
	}
	out := layers.MLP(scope, obs, layers.MLPConfig{Hidden: s.cfg.Hidden, Out: 2 * s.actDim})
	mu := Slice(out, AxisRange(), AxisRange(0, s.actDim))
	logStd := s.boundLogStd(Slice(out, AxisRange(), AxisRange(s.actDim, 2*s.actDim)))
	det = Tanh(mu)
	sample = Tanh(Add(mu, Mul(Exp(logStd), eps)))
	return det, sample, []*Node{mu, logStd}
}

// boundLogStd maps the raw output into [LogStdMin, LogStdMax] through tanh (official).
func (s *sac) boundLogStd(x *Node) *Node {
	lo, hi := s.cfg.LogStdMin, s.cfg.LogStdMax
	return AddScalar(MulScalar(AddScalar(Tanh(x), 1), 0.5*(hi-lo)), lo)
}

// squashed returns a reparameterized tanh-Gaussian sample and its log-probability [B] (the
// official SquashedNormal: Normal log-prob minus 2(log 2 - u - softplus(-2u)) per dimension).
func squashed(mu, logStd, eps *Node) (a, logp *Node) {
	u := Add(mu, Mul(Exp(logStd), eps))
	a = Tanh(u)
	gauss := Sub(Sub(MulScalar(Square(eps), -0.5), logStd), Scalar(u.Graph(), u.DType(), 0.5*math.Log(2*math.Pi)))
	jac := MulScalar(Sub(Sub(Scalar(u.Graph(), u.DType(), math.Ln2), u), Softplus(MulScalar(u, -2))), 2)
	logp = ReduceSum(Sub(gauss, jac), -1)
	return a, logp
}

// critic returns the twin critics: [B] values of Q(s, a) for continuous actions, or [B, A]
// values of Q(s, ·) for discrete actions (act is then unused).
func (s *sac) critic(scope *model.Scope, obs, act *Node) (q1, q2 *Node) {
	if s.discrete {
		q1 = layers.MLP(scope.At("q1"), obs, layers.MLPConfig{Hidden: s.cfg.Hidden, Out: s.actDim})
		q2 = layers.MLP(scope.At("q2"), obs, layers.MLPConfig{Hidden: s.cfg.Hidden, Out: s.actDim})
		return q1, q2
	}
	x := Concatenate([]*Node{obs, act}, -1)
	q1 = Reshape(layers.MLP(scope.At("q1"), x, layers.MLPConfig{Hidden: s.cfg.Hidden, Out: 1}), -1)
	q2 = Reshape(layers.MLP(scope.At("q2"), x, layers.MLPConfig{Hidden: s.cfg.Hidden, Out: 1}), -1)
	return q1, q2
}

// updateGraph is one SAC update (official update_critic, then update_actor_and_alpha, then the
// target update): inputs obs [B, D], act [B, A] (tanh-space action or one-hot), reward [B],
// notDone [B], next [B, D], epsNext, epsCur [B, A] standard-normal noise (unused for discrete
// actions). It returns (critic loss, actor loss, alpha, entropy estimate).
//
// Deviation: the actor loss uses the critics before this step's critic update (one graph);
// the official agent re-evaluates them after it.
func (s *sac) updateGraph(scope *model.Scope, inputs []*Node) []*Node {
	obs, act, reward, notDone, next, epsNext, epsCur := inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], inputs[6]
	g := obs.Graph()
	actorScope := func() *model.Scope { return scope.At("actor") }
	criticScope := func() *model.Scope { return scope.At("critic") }
	targetScope := func() *model.Scope { return scope.At("critic_target") }
	logAlphaVar := s.store.VariableWithValue("/sac/log_alpha", float32(s.cfg.InitLogAlpha))
	logAlpha := logAlphaVar.NodeValue(g)
	alpha := StopGradient(Exp(logAlpha))

	// Critic target.
	var target *Node
	if s.discrete {
		_, _, raw := s.policy(actorScope(), next, epsNext)
		logpi := LogSoftmax(raw[0], -1)
		pi := Exp(logpi)
		t1, t2 := s.critic(targetScope(), next, nil)
		v := ReduceSum(Mul(pi, Sub(Min(t1, t2), Mul(alpha, logpi))), -1)
		target = v
	} else {
		_, _, raw := s.policy(actorScope(), next, epsNext)
		aN, logpN := squashed(raw[0], raw[1], epsNext)
		t1, t2 := s.critic(targetScope(), next, aN)
		target = Sub(Min(t1, t2), Mul(alpha, logpN))
	}
	y := StopGradient(Add(reward, Mul(MulScalar(notDone, s.cfg.Gamma), target)))
	q1, q2 := s.critic(criticScope(), obs, act)
	if s.discrete {
		q1 = ReduceSum(Mul(q1, act), -1)
		q2 = ReduceSum(Mul(q2, act), -1)
	}
	criticLoss := Add(ReduceAllMean(Square(Sub(q1, y))), ReduceAllMean(Square(Sub(q2, y))))
	cVars, cNodes := trainables(criticScope(), g)
	cGrads := Gradient(criticLoss, cNodes...)

	// Actor and temperature.
	var actorLoss, entropy *Node
	if s.discrete {
		_, _, raw := s.policy(actorScope(), obs, epsCur)
		logpi := LogSoftmax(raw[0], -1)
		pi := Exp(logpi)
		c1, c2 := s.critic(criticScope(), obs, nil)
		minQ := StopGradient(Min(c1, c2))
		actorLoss = ReduceAllMean(ReduceSum(Mul(pi, Sub(Mul(alpha, logpi), minQ)), -1))
		entropy = StopGradient(Neg(ReduceSum(Mul(pi, logpi), -1)))
	} else {
		_, _, raw := s.policy(actorScope(), obs, epsCur)
		a, logp := squashed(raw[0], raw[1], epsCur)
		c1, c2 := s.critic(criticScope(), obs, a)
		actorLoss = ReduceAllMean(Sub(Mul(alpha, logp), Min(c1, c2)))
		entropy = StopGradient(Neg(logp))
	}
	aVars, aNodes := trainables(actorScope(), g)
	aGrads := Gradient(actorLoss, aNodes...)
	// Official: alpha_loss = mean(alpha * (-log_prob - target_entropy).detach()).
	alphaLoss := ReduceAllMean(Mul(Exp(logAlpha), AddScalar(entropy, -s.targetH)))
	alphaGrad := Gradient(alphaLoss, logAlpha)

	lr := s.cfg.LR
	adamGroup{"critic", lr}.apply(s.store, cVars, cGrads)
	adamGroup{"actor", lr}.apply(s.store, aVars, aGrads)
	adamGroup{"alpha", lr}.apply(s.store, []*model.Variable{logAlphaVar}, alphaGrad)

	// Polyak update of the target critics from the updated critics.
	for _, p := range pairTargets(scope) {
		cv, tv := p[0].NodeValue(g), p[1].NodeValue(g)
		p[1].SetNodeValue(Add(MulScalar(cv, s.cfg.Tau), MulScalar(tv, 1-s.cfg.Tau)))
	}
	return []*Node{criticLoss, actorLoss, Exp(logAlphaVar.NodeValue(g)), ReduceAllMean(entropy)}
}

// pairTargets pairs each critic variable with its target copy (same path below
// "critic_target" instead of "critic").
func pairTargets(scope *model.Scope) [][2]*model.Variable {
	store := scope.Store()
	var pairs [][2]*model.Variable
	prefix := scope.At("critic").Scope()
	for v := range scope.At("critic").IterVariables() {
		rel := strings.TrimPrefix(v.Path(), prefix)
		t := store.GetVariable(scope.At("critic_target").Scope() + rel)
		if t == nil {
			panic(fmt.Sprintf("imitation: target critic has no variable for %s", v.Path()))
		}
		pairs = append(pairs, [2]*model.Variable{v, t})
	}
	return pairs
}

// act returns actions for n augmented observations: deterministic ([n, A] tanh-space actions
// or one-hot rows) or sampled with rng.
func (s *sac) act(obs []float32, n int, rng *rand.Rand, deterministic bool) ([]float32, error) {
	return s.runActor(s.actExec, obs, n, rng, deterministic)
}

// runActor runs an actor executable (inputs: augmented observations and noise; outputs: the
// deterministic and the sampled action) on n rows.
func (s *sac) runActor(exec *model.Exec, obs []float32, n int, rng *rand.Rand, deterministic bool) ([]float32, error) {
	eps := make([]float32, n*s.actDim)
	if !deterministic {
		for i := range eps {
			if s.discrete {
				eps[i] = float32(rng.Float64())
			} else {
				eps[i] = float32(rng.NormFloat64())
			}
		}
	}
	outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(obs, n, s.obsDim), tensors.FromFlatDataAndDimensions(eps, n, s.actDim))
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, o := range outs {
			o.FinalizeAll()
		}
	}()
	if deterministic {
		return tensors.MustCopyFlatData[float32](outs[0]), nil
	}
	return tensors.MustCopyFlatData[float32](outs[1]), nil
}
