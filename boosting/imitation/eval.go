package imitation

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/moeboost/moeboost/boosting/rl/envs"
)

// envStream is the PCG stream offset of environment copy i, the same as envs.Vec uses, so
// episode i of a rollout seeded with s is copy i of envs.NewVec(env, n, s).
const envStream = 0x9e3779b97f4a7c15

// Streams of the rollout's other random draws (member choice and stochastic actions), apart
// from every environment stream.
const (
	memberStream = 0x6d656d62 // "memb"
	actStream    = 0x61637473 // "acts"
)

// episodes is the outcome of a rollout: per-episode returns and lengths and, when recorded,
// the transitions of each episode in order.
type episodes struct {
	returns  []float64
	lengths  []int
	members  []int
	obs      [][]float32
	next     [][]float32
	discrete [][]int
	cont     [][]float32
	terminal [][]bool
}

// members returns the policies of p and their normalized weights: a Mixture's members, or p
// alone.
func members(p Policy) ([]Policy, []float64, error) {
	if p == nil {
		return nil, nil, fmt.Errorf("imitation: nil policy")
	}
	mix, ok := p.(Mixture)
	if !ok {
		return []Policy{p}, []float64{1}, nil
	}
	ms, ws := mix.Members(), mix.Weights()
	if len(ms) == 0 || len(ms) != len(ws) {
		return nil, nil, fmt.Errorf("imitation: mixture has %d members and %d weights; need as many weights as members, at least one", len(ms), len(ws))
	}
	var sum float64
	for i, w := range ws {
		if !(w >= 0) || math.IsInf(w, 0) {
			return nil, nil, fmt.Errorf("imitation: mixture weight %d is %g; weights must be finite and >= 0", i, w)
		}
		if ms[i] == nil {
			return nil, nil, fmt.Errorf("imitation: mixture member %d is nil", i)
		}
		sum += w
	}
	if !(sum > 0) {
		return nil, nil, fmt.Errorf("imitation: mixture weights sum to %g; need a positive sum", sum)
	}
	norm := make([]float64, len(ws))
	for i, w := range ws {
		norm[i] = w / sum // renormalized: float32 drift in the boosting weights (seed note §1)
	}
	return ms, norm, nil
}

// drawMember draws an index with probabilities w (summing to 1).
func drawMember(w []float64, rng *rand.Rand) int {
	u := rng.Float64()
	var c float64
	for i, x := range w {
		c += x
		if u < c {
			return i
		}
	}
	for i := len(w) - 1; i >= 0; i-- { // rounding: the last member with positive weight
		if w[i] > 0 {
			return i
		}
	}
	return len(w) - 1
}

// rollout runs n episodes of env with p, all in lock step: episode i runs on its own
// environment seeded as copy i of envs.NewVec(env, n, seed). A Mixture draws one member per
// episode from its weights (the official boosted_eval's sample_learner) and that member acts
// for the whole episode. Each step calls Act once per member with the current observations of
// all that member's episodes (finished ones included, so every call has the same shape and a
// compiled policy graph is reused); finished episodes are not stepped.
func rollout(env string, p Policy, n int, seed uint64, deterministic, record bool) (*episodes, error) {
	if n < 1 {
		return nil, fmt.Errorf("imitation: number of episodes %d must be >= 1", n)
	}
	ms, ws, err := members(p)
	if err != nil {
		return nil, err
	}
	spec, err := envs.SpecOf(env)
	if err != nil {
		return nil, err
	}
	if spec.MaxEpisodeSteps < 1 {
		return nil, fmt.Errorf("imitation: environment %s has no time limit (max_episode_steps=%d); rollouts need one", spec.ID, spec.MaxEpisodeSteps)
	}
	if spec.CatObs > 0 {
		return nil, fmt.Errorf("imitation: environment %s has %d categorical observation features; only numeric observations are supported", spec.ID, spec.CatObs)
	}
	if !spec.Discrete() && spec.ActionDim < 1 {
		return nil, fmt.Errorf("imitation: environment %s has neither discrete nor continuous actions", spec.ID)
	}
	d, ad := spec.NumObs, spec.ActionDim
	es := make([]envs.Env, n)
	rngs := make([]*rand.Rand, n)
	num := make([]float32, n*d)
	for i := range es {
		if es[i], err = envs.New(env); err != nil {
			return nil, err
		}
		rngs[i] = rand.New(rand.NewPCG(seed, uint64(i)+envStream))
		es[i].Reset(rngs[i], num[i*d:(i+1)*d], nil)
	}
	out := &episodes{returns: make([]float64, n), lengths: make([]int, n), members: make([]int, n)}
	mrng := rand.New(rand.NewPCG(seed, memberStream))
	arng := rand.New(rand.NewPCG(seed, actStream))
	groups := make([][]int, len(ms))
	for i := 0; i < n; i++ {
		m := 0
		if len(ms) > 1 {
			m = drawMember(ws, mrng)
		}
		out.members[i] = m
		groups[m] = append(groups[m], i)
	}
	if record {
		out.obs, out.next = make([][]float32, n), make([][]float32, n)
		out.terminal = make([][]bool, n)
		if spec.Discrete() {
			out.discrete = make([][]int, n)
		} else {
			out.cont = make([][]float32, n)
		}
	}
	done := make([]bool, n)
	remaining := n
	u := make([]float32, max(ad, 1))
	for remaining > 0 {
		for m, idx := range groups {
			if len(idx) == 0 {
				continue
			}
			obs := make([]float32, len(idx)*d)
			for j, i := range idx {
				copy(obs[j*d:(j+1)*d], num[i*d:(i+1)*d])
			}
			disc, cont, err := ms[m].Act(obs, len(idx), arng, deterministic)
			if err != nil {
				return nil, fmt.Errorf("imitation: policy %d: %w", m, err)
			}
			if spec.Discrete() && len(disc) != len(idx) {
				return nil, fmt.Errorf("imitation: policy %d returned %d discrete actions for %d observations", m, len(disc), len(idx))
			}
			if !spec.Discrete() && len(cont) != len(idx)*ad {
				return nil, fmt.Errorf("imitation: policy %d returned %d continuous values for %d observations of action dimension %d", m, len(cont), len(idx), ad)
			}
			for j, i := range idx {
				if done[i] {
					continue
				}
				row := num[i*d : (i+1)*d]
				var a int
				if spec.Discrete() {
					a = disc[j]
					if a < 0 || a >= spec.Actions {
						return nil, fmt.Errorf("imitation: policy %d chose action %d; %s has actions [0, %d)", m, a, spec.ID, spec.Actions)
					}
				} else {
					for k := 0; k < ad; k++ {
						v := cont[j*ad+k]
						if v != v {
							return nil, fmt.Errorf("imitation: policy %d returned a NaN action", m)
						}
						u[k] = min(max(v, spec.ActionLow[k]), spec.ActionHigh[k])
					}
				}
				if record {
					out.obs[i] = append(out.obs[i], row...)
					if spec.Discrete() {
						out.discrete[i] = append(out.discrete[i], a)
					} else {
						out.cont[i] = append(out.cont[i], u[:ad]...)
					}
				}
				r, term := es[i].Step(rngs[i], a, u[:ad], row, nil)
				out.returns[i] += r
				out.lengths[i]++
				trunc := !term && out.lengths[i] >= spec.MaxEpisodeSteps // gymnasium's TimeLimit
				if record {
					out.next[i] = append(out.next[i], row...)
					out.terminal[i] = append(out.terminal[i], term)
				}
				if term || trunc {
					done[i] = true
					remaining--
				}
			}
		}
	}
	return out, nil
}

// Evaluate returns the returns of episodes fresh episodes of env (episode i seeded as copy i
// of envs.NewVec(env, episodes, seed)) with p acting deterministically (argmax or mean). A
// Mixture draws one member per episode from its weights and follows it for the whole episode,
// as the official AILBoost boosted_eval does (train_state.py). All episodes run in lock step
// with one Act call per member and step.
func Evaluate(env string, p Policy, episodes int, seed uint64) ([]float64, error) {
	ep, err := rollout(env, p, episodes, seed, true, false)
	if err != nil {
		return nil, err
	}
	return ep.returns, nil
}

// Normalized is the expert-normalized return (ret - random) / (expert - random): 0 for the
// uniformly random policy, 1 for the expert (the AILBoost paper's expert-normalized score,
// with the random policy as the zero). It is NaN when expert == random.
func Normalized(ret, random, expert float64) float64 {
	if expert == random {
		return math.NaN()
	}
	return (ret - random) / (expert - random)
}

// RandomPolicy acts uniformly at random, whatever deterministic says: uniform over the
// discrete actions, or uniform in the continuous action box.
type RandomPolicy struct{ Spec envs.Spec }

// Act implements Policy.
func (r RandomPolicy) Act(obs []float32, n int, rng *rand.Rand, _ bool) ([]int, []float32, error) {
	if rng == nil {
		return nil, nil, fmt.Errorf("imitation: the random policy needs an rng")
	}
	if r.Spec.Discrete() {
		a := make([]int, n)
		for i := range a {
			a[i] = rng.IntN(r.Spec.Actions)
		}
		return a, nil, nil
	}
	ad := r.Spec.ActionDim
	u := make([]float32, n*ad)
	for i := range u {
		lo, hi := r.Spec.ActionLow[i%ad], r.Spec.ActionHigh[i%ad]
		u[i] = lo + (hi-lo)*rng.Float32()
	}
	return nil, u, nil
}

// MinRandomEpisodes is the fewest episodes RandomReturn averages.
const MinRandomEpisodes = 20

// RandomReturn is the mean return of the uniformly random policy on episodes (at least
// MinRandomEpisodes) episodes of env seeded with seed: the zero of Normalized.
func RandomReturn(env string, episodes int, seed uint64) (float64, error) {
	if episodes < MinRandomEpisodes {
		return 0, fmt.Errorf("imitation: random-policy return over %d episodes; need >= %d", episodes, MinRandomEpisodes)
	}
	spec, err := envs.SpecOf(env)
	if err != nil {
		return 0, err
	}
	rets, err := Evaluate(env, RandomPolicy{Spec: spec}, episodes, seed)
	if err != nil {
		return 0, err
	}
	return meanOf(rets), nil
}

func meanOf(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
