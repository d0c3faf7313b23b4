package imitation

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX's graph-building style
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/boosting/rl/envs"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// The official weights: [1], [1-η, η], then every older learner times 1-η and the new one η.
func TestBoostWeights(t *testing.T) {
	const eta = 0.2
	var w []float64
	want := [][]float64{{1}, {0.8, 0.2}, {0.64, 0.16, 0.2}, {0.512, 0.128, 0.16, 0.2}}
	for _, wt := range want {
		w = boostWeights(w, eta)
		require.InDeltaSlice(t, wt, w, 1e-15)
		sum := 0.0
		for _, x := range w {
			sum += x
		}
		require.InDelta(t, 1, sum, 1e-12)
	}
}

// adamGroup against a float64 re-statement of torch.optim.Adam on f(x) = sum (x - c)^2.
func TestAdamGroupMatchesTorchAdam(t *testing.T) {
	be := backend.MustDefault()
	store := model.NewStore()
	x0 := []float32{0.5, -1.5, 2}
	c := []float32{1, 2, -3}
	_, err := store.CreateVariable("/p/x", tensors.FromFlatDataAndDimensions(append([]float32(nil), x0...), 3))
	require.NoError(t, err)
	const lr = 0.1
	exec, err := model.NewExec(be, store, func(scope *model.Scope, target *Node) *Node {
		g := target.Graph()
		vars, nodes := trainables(scope.At("p"), g)
		loss := ReduceAllSum(Square(Sub(nodes[0], target)))
		adamGroup{"test", lr}.apply(store, vars, Gradient(loss, nodes...))
		return loss
	})
	require.NoError(t, err)
	x := []float64{0.5, -1.5, 2}
	m, v := make([]float64, 3), make([]float64, 3)
	for step := 1; step <= 5; step++ {
		out, err := exec.Exec1(tensors.FromFlatDataAndDimensions(c, 3))
		require.NoError(t, err)
		out.FinalizeAll()
		for i := range x {
			g := 2 * (x[i] - float64(c[i]))
			m[i] = 0.9*m[i] + 0.1*g
			v[i] = 0.999*v[i] + 0.001*g*g
			denom := math.Sqrt(v[i])/math.Sqrt(1-math.Pow(0.999, float64(step))) + 1e-8
			x[i] -= lr * m[i] / (1 - math.Pow(0.9, float64(step))) / denom
		}
		got := tensors.MustCopyFlatData[float32](store.GetVariable("/p/x").MustValue())
		for i := range x {
			require.InDelta(t, x[i], float64(got[i]), 1e-5, "step %d coordinate %d", step, i)
		}
	}
}

// The squashed Gaussian's log-probability equals log N(u; mu, std) - sum log(1 - tanh(u)^2).
func TestSquashedLogProb(t *testing.T) {
	be := backend.MustDefault()
	mu := []float32{0.3, -1.2, 2.0, 0}
	logStd := []float32{-0.5, 0.2, -2, 1}
	eps := []float32{0.7, -1.1, 0.05, 2.5}
	out, err := model.NewExec(be, model.NewStore(), func(scope *model.Scope, m, ls, e *Node) []*Node {
		a, lp := squashed(m, ls, e)
		return []*Node{a, lp}
	})
	require.NoError(t, err)
	res, err := out.Exec(tensors.FromFlatDataAndDimensions(mu, 2, 2), tensors.FromFlatDataAndDimensions(logStd, 2, 2),
		tensors.FromFlatDataAndDimensions(eps, 2, 2))
	require.NoError(t, err)
	a := tensors.MustCopyFlatData[float32](res[0])
	lp := tensors.MustCopyFlatData[float32](res[1])
	for r := range 2 {
		want := 0.0
		for k := range 2 {
			i := r*2 + k
			std := math.Exp(float64(logStd[i]))
			u := float64(mu[i]) + std*float64(eps[i])
			want += -0.5*math.Pow((u-float64(mu[i]))/std, 2) - math.Log(std) - 0.5*math.Log(2*math.Pi)
			want -= math.Log(1 - math.Pow(math.Tanh(u), 2))
			require.InDelta(t, math.Tanh(u), float64(a[i]), 1e-6)
		}
		require.InDelta(t, want, float64(lp[r]), 1e-4, "row %d", r)
	}
}

// The discriminator's rkl loss and gradient penalty against finite differences of its own
// scores (before the step's update), and the twice-differentiable ReLU.
func TestDiscriminatorLossAndPenalty(t *testing.T) {
	be := backend.MustDefault()
	for _, div := range []string{DivergenceRKL, DivergenceJS} {
		t.Run(div, func(t *testing.T) {
			const dim, b = 3, 4
			d, err := newDiscriminator(be, dim, []int{8, 8}, div, 10, 1e-3, 3)
			require.NoError(t, err)
			rng := rand.New(rand.NewPCG(1, 2))
			xe, xp, u := make([]float32, b*dim), make([]float32, b*dim), make([]float32, b)
			for i := range xe {
				xe[i], xp[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			}
			for i := range u {
				u[i] = float32(rng.Float64())
			}
			se, err := d.score(xe, b)
			require.NoError(t, err)
			sp, err := d.score(xp, b)
			require.NoError(t, err)
			wantLoss := 0.0
			for i := range b {
				if div == DivergenceRKL {
					wantLoss += (math.Exp(-float64(se[i])) + float64(sp[i])) / b
				} else {
					sig := func(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
					wantLoss += (-math.Log(sig(float64(se[i]))) - math.Log(1-sig(float64(sp[i])))) / b
				}
			}
			// Central differences of D at the mixed rows.
			wantPen := 0.0
			const h = 1e-2
			for i := range b {
				xm := make([]float32, dim)
				for k := range dim {
					xm[k] = u[i]*xe[i*dim+k] + (1-u[i])*xp[i*dim+k]
				}
				norm2 := 0.0
				for k := range dim {
					hi, lo := append([]float32(nil), xm...), append([]float32(nil), xm...)
					hi[k] += h
					lo[k] -= h
					sh, err := d.score(hi, 1)
					require.NoError(t, err)
					sl, err := d.score(lo, 1)
					require.NoError(t, err)
					gk := float64(sh[0]-sl[0]) / (2 * h)
					norm2 += gk * gk
				}
				wantPen += 10 * math.Pow(math.Sqrt(norm2)-1, 2) / b
			}
			loss, pen, err := d.step(xe, xp, u, b)
			require.NoError(t, err)
			require.InDelta(t, wantLoss, loss, 1e-5)
			require.InDelta(t, wantPen, pen, 2e-3*math.Max(1, wantPen))
			// The step changed the scores.
			se2, err := d.score(xe, b)
			require.NoError(t, err)
			require.NotEqual(t, se, se2)
		})
	}
}

// DAC's absorbing state: one absorbing row per terminal transition, its action zeroed.
func TestExpertRowsAbsorbing(t *testing.T) {
	spec, err := envs.SpecOf("cartpole-v1")
	require.NoError(t, err)
	d := &Demos{Env: "cartpole-v1", Spec: spec, Trajectories: 2, Returns: []float64{2, 1}, Lengths: []int{2, 1},
		Obs: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, Next: make([]float32, 12),
		Discrete: []int{0, 1, 1}, Terminal: []bool{false, true, true}}
	e := agentEnv{spec: spec, obsDim: 5, actDim: 2}
	rows, n, err := expertRows(d, e)
	require.NoError(t, err)
	require.Equal(t, 5, n)
	want := []float32{
		1, 2, 3, 4, 0, 1, 0,
		5, 6, 7, 8, 0, 0, 1,
		0, 0, 0, 0, 1, 0, 0, // absorbing after the first trajectory's terminal row
		9, 10, 11, 12, 0, 0, 1,
		0, 0, 0, 0, 1, 0, 0,
	}
	require.Equal(t, want, rows)
	// A random action in the absorbing state is zeroed in the discriminator row.
	require.Equal(t, []float32{0, 0, 0, 0, 1, 0, 0}, discRow(e.absorbing(), []float32{0, 1}, 5))
}

// Replay modes: latest draws only the newest block, boosted draws blocks in proportion to
// the learners' weights, uniform every row.
func TestReplayModes(t *testing.T) {
	rb := &replay{obsDim: 1, actDim: 1}
	for blk := range 3 {
		for range 100 {
			rb.add([]float32{0}, []float32{0}, []float32{0}, blk)
		}
	}
	weights := []float64{0.64, 0.16, 0.2}
	rng := rand.New(rand.NewPCG(4, 5))
	const draws = 200000
	for _, tc := range []struct {
		replay string
		want   []float64
	}{
		{ReplayLatest, []float64{0, 0, 1}},
		{ReplayBoosted, weights},
		{ReplayUniform, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
	} {
		m := adversarial{replay: tc.replay}
		count := make([]float64, 3)
		for range draws {
			count[rb.learner[m.samplePolicyRow(rb, weights, rng)]]++
		}
		for i := range count {
			require.InDelta(t, tc.want[i], count[i]/draws, 0.005, "%s block %d", tc.replay, i)
		}
	}
}

func TestAdversarialBadParams(t *testing.T) {
	spec, err := envs.SpecOf("cartpole-v1")
	require.NoError(t, err)
	demos := &Demos{Env: "cartpole-v1", Spec: spec, Trajectories: 1, Returns: []float64{1}, Lengths: []int{1},
		Obs: make([]float32, 4), Next: make([]float32, 4), Discrete: []int{0}, Terminal: []bool{true}}
	m, err := Get("ailboost")
	require.NoError(t, err)
	for _, tc := range []struct {
		params map[string]float64
		steps  int
		msg    string
	}{
		{map[string]float64{"eta": 1.5}, 5000, "eta 1.5 must be in (0, 1)"},
		{map[string]float64{"etta": 0.1}, 5000, `unknown parameter "etta"`},
		{map[string]float64{"lr": -1}, 5000, "learning rate -1 must be > 0"},
		{map[string]float64{"gp": math.NaN()}, 5000, "must be finite"},
		{nil, 1500, "env step budget 1500 must cover seed_steps 1000 plus one round of n_samples 1000"},
	} {
		_, err := m(context.Background(), demos, Config{Backend: backend.MustDefault(), EnvSteps: tc.steps, Params: tc.params}, nil)
		require.ErrorContains(t, err, tc.msg)
	}
}

// A continuous agent's environment actions stay within the bounds and map back exactly.
func TestActionMaps(t *testing.T) {
	spec, err := envs.SpecOf("pendulum-v1")
	require.NoError(t, err)
	e := agentEnv{spec: spec, obsDim: spec.NumObs + 1, actDim: 1}
	for _, a := range []float32{-1, -0.5, 0, 0.25, 1} {
		_, u := e.toEnv([]float32{a})
		require.InDelta(t, 2*a, u[0], 1e-6)
		require.InDelta(t, a, e.fromEnv(0, u)[0], 1e-6)
	}
	require.Equal(t, []float32{1}, e.fromEnv(0, []float32{7}))
}

// A tiny run of every adversarial method on a discrete and a continuous environment: the
// bookkeeping (learners, updates, curve, mixture weights) is what the loop promises.
func TestAdversarialTinyRuns(t *testing.T) {
	for _, env := range []string{"cartpole-v1", "pendulum-v1"} {
		spec, err := envs.SpecOf(env)
		require.NoError(t, err)
		pol := constPolicy{}
		if !spec.Discrete() {
			pol.u = []float32{0.5}
		}
		demos, err := Collect(env, pol, 1, 3)
		require.NoError(t, err)
		for _, name := range []string{"ailboost", "dac", "gail"} {
			t.Run(env+"/"+name, func(t *testing.T) {
				m, err := Get(name)
				require.NoError(t, err)
				params := map[string]float64{"n_samples": 100, "seed_steps": 100, "disc_iter": 3, "disc_batch": 16,
					"batch": 32, "updates_per_step": 0.1}
				res, err := m(context.Background(), demos, Config{Backend: backend.MustDefault(), Seed: 5, EnvSteps: 400,
					Hidden: []int{16, 16}, EvalEvery: 100, EvalEpisodes: 1, Params: params}, nil)
				require.NoError(t, err)
				require.Equal(t, 400, res.EnvSteps)
				require.Equal(t, 30.0, res.Extra["sac_updates"]) // 3 rounds x 100 x 0.1
				require.Equal(t, 9.0, res.Extra["disc_updates"])
				require.Len(t, res.Curve, 3)
				rets, err := Evaluate(env, res.Policy, 2, 9)
				require.NoError(t, err)
				require.Len(t, rets, 2)
				mix, isMix := res.Policy.(Mixture)
				require.Equal(t, name == "ailboost", isMix)
				if isMix {
					require.Len(t, mix.Members(), 4) // three rounds plus the final actor
					w := mix.Weights()
					require.IsNonDecreasing(t, w) // the official sorted weights
					sum := 0.0
					for _, x := range w {
						sum += x
					}
					require.InDelta(t, 1, sum, 1e-12)
					require.NotNil(t, res.Last)
				} else {
					require.Nil(t, res.Last)
				}
				// Actions stay inside the environment's bounds.
				obs := make([]float32, 3*spec.NumObs)
				d, u, err := res.Policy.Act(obs, 3, rand.New(rand.NewPCG(1, 1)), false)
				require.NoError(t, err)
				if spec.Discrete() {
					require.Len(t, d, 3)
				} else {
					require.Len(t, u, 3)
					for _, x := range u {
						require.LessOrEqual(t, math.Abs(float64(x)), 2.0)
					}
				}
			})
		}
	}
}
