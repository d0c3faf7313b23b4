package imitation

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/moeboost/moeboost/boosting/rl/envs"
	"github.com/stretchr/testify/require"
)

// constPolicy always takes the same action.
type constPolicy struct {
	a int
	u []float32
}

func (c constPolicy) Act(obs []float32, n int, _ *rand.Rand, _ bool) ([]int, []float32, error) {
	if c.u != nil {
		u := make([]float32, 0, n*len(c.u))
		for i := 0; i < n; i++ {
			u = append(u, c.u...)
		}
		return nil, u, nil
	}
	a := make([]int, n)
	for i := range a {
		a[i] = c.a
	}
	return a, nil, nil
}

// pdController balances CartPole: push towards the side the pole falls to (theta + theta_dot).
type pdController struct{}

func (pdController) Act(obs []float32, n int, _ *rand.Rand, _ bool) ([]int, []float32, error) {
	a := make([]int, n)
	for i := range a {
		if obs[i*4+2]+obs[i*4+3] > 0 {
			a[i] = 1
		}
	}
	return a, nil, nil
}

// tagged acts with a fixed action and records which member it is.
type tagged struct {
	id    int
	calls *[]int
}

func (t tagged) Act(obs []float32, n int, _ *rand.Rand, _ bool) ([]int, []float32, error) {
	*t.calls = append(*t.calls, t.id)
	return make([]int, n), nil, nil
}

type mixture struct {
	ms []Policy
	ws []float64
}

func (m mixture) Act([]float32, int, *rand.Rand, bool) ([]int, []float32, error) {
	return nil, nil, fmt.Errorf("a mixture acts through its members")
}
func (m mixture) Members() []Policy  { return m.ms }
func (m mixture) Weights() []float64 { return m.ws }

// directReturns runs each episode on its own with envs.NewVec's seeding (copy i of a Vec of n)
// and returns the first episode's return of every copy.
func directReturns(t *testing.T, env string, n int, seed uint64, act func(obs []float32) (int, []float32)) []float64 {
	vec, err := envs.NewVec(env, n, seed)
	require.NoError(t, err)
	spec := vec.Spec()
	out := make([]float64, n)
	done := make([]bool, n)
	left := n
	for left > 0 {
		disc := make([]int, n)
		var cont []float32
		for i := 0; i < n; i++ {
			a, u := act(vec.Num[i*spec.NumObs : (i+1)*spec.NumObs])
			disc[i] = a
			cont = append(cont, u...)
		}
		if spec.Discrete() {
			vec.Step(disc, nil)
		} else {
			vec.Step(nil, cont)
		}
		for i := 0; i < n; i++ {
			if done[i] {
				continue
			}
			out[i] += vec.Reward[i]
			if vec.Terminated[i] || vec.Truncated[i] {
				done[i] = true
				left--
			}
		}
	}
	return out
}

func TestEvaluateMatchesADirectLoop(t *testing.T) {
	for _, tc := range []struct {
		env string
		p   Policy
		act func([]float32) (int, []float32)
	}{
		{"cartpole-v1", constPolicy{a: 1}, func([]float32) (int, []float32) { return 1, nil }},
		{"acrobot-v1", constPolicy{a: 0}, func([]float32) (int, []float32) { return 0, nil }},
		{"pendulum-v1", constPolicy{u: []float32{0.7}}, func([]float32) (int, []float32) { return 0, []float32{0.7} }},
		{"cartpole-v1", pdController{}, func(o []float32) (int, []float32) {
			if o[2]+o[3] > 0 {
				return 1, nil
			}
			return 0, nil
		}},
	} {
		t.Run(tc.env, func(t *testing.T) {
			got, err := Evaluate(tc.env, tc.p, 7, 42)
			require.NoError(t, err)
			require.Equal(t, directReturns(t, tc.env, 7, 42, tc.act), got)
		})
	}
}

func TestEvaluateSeparatesSeeds(t *testing.T) {
	a, err := Evaluate("cartpole-v1", constPolicy{a: 0}, 20, 1)
	require.NoError(t, err)
	b, err := Evaluate("cartpole-v1", constPolicy{a: 0}, 20, 2)
	require.NoError(t, err)
	require.NotEqual(t, a, b, "different seeds give different episodes")
}

func TestMixtureDrawsMembersByWeight(t *testing.T) {
	var calls []int
	ms := []Policy{tagged{0, &calls}, tagged{1, &calls}, tagged{2, &calls}}
	ws := []float64{0.2, 0.5, 0.3}
	const n = 4000
	ep, err := rollout("cartpole-v1", mixture{ms, ws}, n, 9, true, false)
	require.NoError(t, err)
	count := make([]float64, 3)
	for _, m := range ep.members {
		count[m]++
	}
	for i, w := range ws {
		// Binomial standard deviation sqrt(n w (1-w)) <= 32: allow 4 of them.
		require.InDelta(t, w*n, count[i], 4*math.Sqrt(n*w*(1-w)), "member %d", i)
	}
	// One Act call per member and step: every member acts at the first step.
	require.ElementsMatch(t, []int{0, 1, 2}, calls[:3])
	// Unnormalized weights are renormalized; a zero weight is never drawn.
	ep, err = rollout("cartpole-v1", mixture{ms[:2], []float64{0, 7}}, 50, 3, true, false)
	require.NoError(t, err)
	for _, m := range ep.members {
		require.Equal(t, 1, m)
	}
}

func TestEvaluateRejectsBadInput(t *testing.T) {
	var calls []int
	for _, tc := range []struct {
		name, env string
		p         Policy
		n         int
		want      string
	}{
		{"episodes", "cartpole-v1", constPolicy{}, 0, "number of episodes 0 must be >= 1"},
		{"env", "nope-v0", constPolicy{}, 1, "nope"},
		{"nil", "cartpole-v1", nil, 1, "nil policy"},
		{"action", "cartpole-v1", constPolicy{a: 2}, 1, "chose action 2; CartPole-v1 has actions [0, 2)"},
		{"weights", "cartpole-v1", mixture{[]Policy{tagged{0, &calls}}, []float64{-1}}, 1, "weight 0 is -1"},
		{"lengths", "cartpole-v1", mixture{[]Policy{tagged{0, &calls}}, nil}, 1, "1 members and 0 weights"},
		{"zero sum", "cartpole-v1", mixture{[]Policy{tagged{0, &calls}}, []float64{0}}, 1, "sum to 0"},
		{"categorical", "keydoor-5x5-v0", constPolicy{}, 1, "categorical"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Evaluate(tc.env, tc.p, tc.n, 1)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestNormalizedAndRandomReturn(t *testing.T) {
	require.Equal(t, 0.0, Normalized(20, 20, 500))
	require.Equal(t, 1.0, Normalized(500, 20, 500))
	require.InDelta(t, 0.5, Normalized(-350, -500, -200), 1e-12)
	require.True(t, math.IsNaN(Normalized(1, 2, 2)))
	for _, tc := range []struct {
		env      string
		lo, hi   float64
		episodes int
	}{
		// gymnasium's uniform-random returns: CartPole about 22, Acrobot close to -500,
		// Pendulum about -1200.
		{"cartpole-v1", 12, 35, 50},
		{"acrobot-v1", -500, -400, 20},
		{"pendulum-v1", -1500, -900, 20},
	} {
		r, err := RandomReturn(tc.env, tc.episodes, 5)
		require.NoError(t, err)
		require.True(t, r >= tc.lo && r <= tc.hi, "%s random return %.1f outside [%g, %g]", tc.env, r, tc.lo, tc.hi)
	}
	_, err := RandomReturn("cartpole-v1", 5, 1)
	require.ErrorContains(t, err, "over 5 episodes; need >= 20")
}

func TestCollectMarksTerminalAndTimeLimit(t *testing.T) {
	// Pushing right always: every CartPole episode falls (terminal last row) well before 500.
	d, err := Collect("cartpole-v1", constPolicy{a: 1}, 3, 11)
	require.NoError(t, err)
	require.NoError(t, d.Validate())
	off := d.Offsets()
	for i := 0; i < 3; i++ {
		require.Less(t, d.Lengths[i], 500)
		require.Equal(t, float64(d.Lengths[i]), d.Returns[i])
		for r := off[i]; r < off[i+1]; r++ {
			require.Equal(t, r == off[i+1]-1, d.Terminal[r], "row %d of trajectory %d", r, i)
			require.Equal(t, 1, d.Discrete[r])
			if r+1 < off[i+1] {
				require.Equal(t, d.Next[r*4:(r+1)*4], d.Obs[(r+1)*4:(r+2)*4], "Next is the following Obs")
			}
		}
	}
	// The balancing controller reaches the time limit: 500 rows, none terminal.
	d, err = Collect("cartpole-v1", pdController{}, 2, 11)
	require.NoError(t, err)
	require.Equal(t, []int{500, 500}, d.Lengths)
	require.NotContains(t, d.Terminal, true)
	// Pendulum never terminates; continuous actions are stored clipped.
	d, err = Collect("pendulum-v1", constPolicy{u: []float32{5}}, 2, 3)
	require.NoError(t, err)
	require.Equal(t, []int{200, 200}, d.Lengths)
	require.NotContains(t, d.Terminal, true)
	require.Len(t, d.Continuous, 400)
	require.Equal(t, float32(2), d.Continuous[0])
}

func TestDemosSubsetAndValidate(t *testing.T) {
	d, err := Collect("cartpole-v1", constPolicy{a: 0}, 4, 2)
	require.NoError(t, err)
	s, err := d.Subset(2)
	require.NoError(t, err)
	require.Equal(t, 2, s.Trajectories)
	require.Equal(t, d.Lengths[:2], s.Lengths)
	n := d.Lengths[0] + d.Lengths[1]
	require.Equal(t, n, s.N())
	require.Equal(t, d.Obs[:n*4], s.Obs)
	require.Equal(t, d.Terminal[:n], s.Terminal)
	for _, k := range []int{0, 5} {
		_, err := d.Subset(k)
		require.ErrorContains(t, err, fmt.Sprintf("subset of %d trajectories; must be in [1, 4]", k))
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Demos)
		want   string
	}{
		{"empty", func(d *Demos) { d.Trajectories = 0 }, "need >= 1"},
		{"lengths", func(d *Demos) { d.Lengths = d.Lengths[:3] }, "4 trajectories but 3 lengths"},
		{"obs", func(d *Demos) { d.Obs = d.Obs[:len(d.Obs)-1] }, "Obs has"},
		{"actions", func(d *Demos) { d.Discrete = d.Discrete[1:] }, "discrete actions"},
		{"range", func(d *Demos) { d.Discrete[0] = 7 }, "row 0 has action 7"},
		{"terminal", func(d *Demos) { d.Terminal[0] = true }, "row 0 of trajectory 0 is terminal"},
		{"zero length", func(d *Demos) { d.Lengths[1] += d.Lengths[0]; d.Lengths[0] = 0 }, "trajectory 0 has length 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := d.Subset(4)
			require.NoError(t, err)
			tc.mutate(c)
			require.ErrorContains(t, c.Validate(), tc.want)
		})
	}
}
