package imitation

import (
	"context"

	"github.com/gomlx/compute"
	"math/rand/v2"

	"github.com/moeboost/moeboost/boosting/rl/envs"
	"github.com/moeboost/moeboost/internal/registry"
)

// Demos are expert transitions: Trajectories whole episodes of one environment, row-major.
// Row i is the transition (Obs[i], action i, Next[i]); Terminal[i] says the episode ended in
// a terminal state at that transition (not by the time limit), which the adversarial methods
// turn into DAC's absorbing state.
type Demos struct {
	// Env is the registered environment name; Spec its spec.
	Env  string
	Spec envs.Spec
	// Trajectories is the number of episodes; Returns and Lengths are theirs.
	Trajectories int
	Returns      []float64
	Lengths      []int
	// Obs and Next are [N, Spec.NumObs] (raw observations, no normalization).
	Obs, Next []float32
	// Discrete holds one action index per row (discrete action spaces); Continuous holds
	// [N, Spec.ActionDim] actions (continuous spaces), clipped to the action bounds.
	Discrete   []int
	Continuous []float32
	// Terminal marks rows where the episode terminated.
	Terminal []bool
}

// N is the number of transitions.
func (d *Demos) N() int { return len(d.Terminal) }

// Policy acts in an environment from raw observations.
type Policy interface {
	// Act returns actions for n observations obs ([n, NumObs] row-major): one index per row
	// for discrete action spaces, or [n, ActionDim] continuous actions (within the action
	// bounds). Deterministic policies act greedily (argmax or the mean); otherwise they
	// sample with rng.
	Act(obs []float32, n int, rng *rand.Rand, deterministic bool) (discrete []int, continuous []float32, err error)
}

// Mixture is a policy that is a mixture of member policies (AILBoost's boosted ensemble):
// each evaluation episode draws one member with probability Weights()[i] and follows it for
// the whole episode (the official boosted_eval).
type Mixture interface {
	Members() []Policy
	Weights() []float64
}

// Method is an imitation learner: it trains a policy for demos.Env from the demonstrations
// alone (no environment reward), interacting with the environment for at most
// cfg.EnvSteps steps, and reports progress (environment steps so far).
type Method func(ctx context.Context, demos *Demos, cfg Config, progress func(envSteps int)) (*Result, error)

// Result is what a Method returns.
type Result struct {
	// Policy is the learned policy (a Mixture for AILBoost).
	Policy Policy
	// Last is the newest learner alone when Policy is a mixture (nil otherwise), so the
	// mixture's effect can be told apart from the learner's.
	Last Policy
	// EnvSteps is the number of environment steps used (0 for behaviour cloning).
	EnvSteps int
	// Curve holds evaluation points taken during training (may be empty).
	Curve []CurvePoint
	// Extra holds method-specific numbers (final divergence estimate, number of learners...).
	Extra map[string]float64
}

// CurvePoint is one evaluation during training: the environment steps so far and the mean
// environment return of the current policy on a few deterministic episodes.
type CurvePoint struct {
	EnvSteps int
	Return   float64
}

// Config holds the settings every method reads; zero values mean each method's defaults.
type Config struct {
	// Backend computes the networks (required by every network method).
	Backend compute.Backend
	// Seed seeds the method's randomness.
	Seed uint64
	// EnvSteps is the interaction budget of the adversarial methods.
	EnvSteps int
	// Hidden are the hidden widths of the networks (policy, critic, discriminator).
	Hidden []int
	// EvalEvery and EvalEpisodes control the training curve (0: no curve).
	EvalEvery, EvalEpisodes int
	// Params are method-specific settings by name (e.g. "eta", "disc_iter").
	Params map[string]float64
}

var methods = registry.NewKind[Method]("imitation_method")

// Register adds an imitation method under name from an init function; it panics on a
// duplicate name.
func Register(name string, m Method) { methods.Register(name, m) }

// Get returns the method registered under name, or an error listing the known ones.
func Get(name string) (Method, error) { return methods.Get(name) }

// Methods returns the registered method names, sorted.
func Methods() []string { return methods.Names() }
