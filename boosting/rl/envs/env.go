package envs

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/moeboost/moeboost/internal/registry"
)

// Spec describes an environment: its observation and action spaces, time limit and reward
// threshold, as gymnasium's registration and spaces do.
type Spec struct {
	// ID is the gymnasium-style id ("CartPole-v1").
	ID string
	// NumObs is the number of numeric (float32) observation features; ObsLow/ObsHigh their
	// bounds (gymnasium's observation_space; may be +-Inf).
	NumObs          int
	ObsLow, ObsHigh []float32
	// CatObs is the number of categorical (string) observation features; CatNames names them
	// and CatValues lists every value each one can take (for one-hot encodings).
	CatObs    int
	CatNames  []string
	CatValues [][]string
	// Actions is the number of discrete actions (> 0 for a Discrete action space), or 0 for a
	// continuous Box action space of ActionDim dimensions bounded by ActionLow/ActionHigh.
	// Continuous actions arrive as float32, as gymnasium's Box(float32) delivers them.
	Actions               int
	ActionDim             int
	ActionLow, ActionHigh []float32
	// MaxEpisodeSteps is the registered time limit (gymnasium's max_episode_steps).
	MaxEpisodeSteps int
	// RewardThreshold is gymnasium's reward_threshold, when HasRewardThreshold.
	RewardThreshold    float64
	HasRewardThreshold bool
}

// Discrete reports whether the action space is discrete.
func (s Spec) Discrete() bool { return s.Actions > 0 }

// Env is one environment without a time limit (gymnasium's env.unwrapped).
//
// Reset and Step write the observation into num (len NumObs) and cat (len CatObs). Step takes
// the discrete action a (Discrete spaces) or the continuous action u (Box spaces; len
// ActionDim) and returns the reward and whether the episode terminated (reached a terminal
// state; time-limit truncation is Vec's job).
type Env interface {
	Spec() Spec
	Reset(rng *rand.Rand, num []float32, cat []string)
	Step(rng *rand.Rand, a int, u []float32, num []float32, cat []string) (reward float64, terminated bool)
}

// Factory creates a fresh environment.
type Factory func() Env

var environments = registry.NewKind[Factory]("environment")

// Register adds an environment factory under name (lower case, e.g. "cartpole-v1"), from an
// init function; it panics on a duplicate name.
func Register(name string, f Factory) { environments.Register(name, f) }

// Names returns the registered environment names, sorted.
func Names() []string { return environments.Names() }

// New returns a fresh environment registered under name; name may also be the gymnasium id in
// any case ("CartPole-v1"). Unknown names give an error listing the known ones.
func New(name string) (Env, error) {
	f, err := environments.Get(strings.ToLower(name))
	if err != nil {
		return nil, err
	}
	return f(), nil
}

// SpecOf returns the spec of the environment registered under name.
func SpecOf(name string) (Spec, error) {
	e, err := New(name)
	if err != nil {
		return Spec{}, err
	}
	return e.Spec(), nil
}

// uniform draws from U[lo, hi) as numpy's Generator.uniform does (lo + (hi-lo)*U[0,1)).
func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

func checkLen(what string, got, want int) {
	if got != want {
		panic(fmt.Sprintf("envs: %s has length %d, want %d", what, got, want))
	}
}
