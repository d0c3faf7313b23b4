package optimizers_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// conformance holds per-optimizer settings of the conformance suite. Every registered optimizer
// runs the suite; one without an entry runs with the fallback, so a new optimizer is covered
// (and must converge) from the day it is registered.
type conformance struct {
	// params for the convergence runs (a learning rate that suits the test problems).
	quadratic, rosenbrock map[string]any
	// rosenbrockSteps replaces the default 1500 steps for slow (stable-lr-limited) optimizers.
	rosenbrockSteps int
	// stateful are params that make the optimizer's state transitions (resets, refreshes,
	// factor updates) happen within the few steps of the checkpoint test.
	stateful map[string]any
	// bad is a hyperparameter value that must be rejected, and the text the error must contain.
	bad     map[string]any
	badText string
}

var conformanceTable = map[string]conformance{
	// AdaBelief's first five steps are SGD steps (ρ_t < 5): lr·g must stay small on Rosenbrock.
	"adabelief": {quadratic: lr(0.05), rosenbrock: lr(0.003), rosenbrockSteps: 5000, bad: kv("beta2", 1.0), badText: "beta2=1"},
	"adamp":     {quadratic: lr(0.05), rosenbrock: lr(0.02), bad: kv("adamp_delta", -0.1), badText: "adamp_delta=-0.1"},
	"adamw":     {quadratic: lr(0.05), rosenbrock: lr(0.02), bad: kv("beta1", 1.5), badText: "beta1=1.5"},
	"adan":      {quadratic: lr(0.05), rosenbrock: lr(0.02), bad: kv("beta3", -0.5), badText: "beta3=-0.5"},
	"fira": {quadratic: lr(0.05), rosenbrock: lr(0.02), stateful: kv("fira_update_proj_gap", 2),
		bad: kv("fira_proj_type", "full"), badText: `fira_proj_type=full`},
	"frugal": {quadratic: lr(0.05), rosenbrock: lr(0.01), stateful: kv("frugal_update_gap", 2),
		bad: kv("frugal_density", 1.5), badText: "frugal_density=1.5"},
	"lion": {quadratic: lr(0.01), rosenbrock: lr(0.003), bad: kv("beta2", 2.0), badText: "beta2=2"},
	"mkor": {quadratic: lr(0.2), rosenbrock: merge(lr(0.001), kv("momentum", 0.9)), stateful: kv("mkor_inv_freq", 2),
		bad: kv("mkor_base", "lbfgs"), badText: `mkor_base=lbfgs`},
	// ⊥Grad keeps the weight norm to first order: no weight decay, which would shrink it.
	"perpgrad":       {quadratic: merge(lr(0.05), kv("weight_decay", 0.0)), rosenbrock: merge(lr(0.02), kv("weight_decay", 0.0)), bad: kv("perpgrad_base", "perpgrad"), badText: `"perpgrad"`},
	"perpgrad+adamw": {quadratic: merge(lr(0.05), kv("weight_decay", 0.0)), rosenbrock: merge(lr(0.02), kv("weight_decay", 0.0)), bad: kv("weight_decay", -1.0), badText: "weight_decay=-1"},
	"perpgrad+sgd":   {quadratic: merge(lr(0.02), kv("momentum", 0.5)), rosenbrock: merge(lr(0.0005), kv("momentum", 0.5)), rosenbrockSteps: 5000, bad: kv("momentum", 1.0), badText: "momentum=1"},
	"sgd":            {quadratic: lr(0.1), rosenbrock: lr(0.001), bad: kv("dampening", 2.0), badText: "dampening=2"},
	"sgd_sai":        {quadratic: lr(0.02), rosenbrock: lr(0.0005), bad: kv("epsilon", -1.0), badText: "epsilon=-1"},
	"sgdp":           {quadratic: merge(lr(0.1), kv("momentum", 0.9)), rosenbrock: merge(lr(0.0005), kv("momentum", 0.5)), rosenbrockSteps: 5000, bad: kv("momentum", 1.0), badText: "momentum=1"},
	"spam": {quadratic: merge(lr(0.05), kv("spam_warmup_steps", 5)), rosenbrock: merge(lr(0.02), kv("spam_warmup_steps", 5)),
		stateful: merge(kv("spam_delta_t", 3), kv("spam_warmup_steps", 2), kv("spam_grad_accu_steps", 2), kv("spam_threshold", 2.0)),
		bad:      kv("spam_delta_t", -5), badText: "spam_delta_t=-5"},
	"stable_spam": {quadratic: lr(0.05), rosenbrock: lr(0.02),
		stateful: merge(kv("stable_spam_update_proj_gap", 3), kv("stable_spam_total_t", 4)),
		bad:      kv("stable_spam_eta_min", 2.0), badText: "stable_spam_eta_min=2"},
}

func lr(v float64) map[string]any       { return map[string]any{optimizers.ParamLearningRate: v} }
func kv(k string, v any) map[string]any { return map[string]any{k: v} }
func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func settingsFor(name string) conformance {
	if c, ok := conformanceTable[name]; ok {
		return c
	}
	return conformance{quadratic: lr(0.01), rosenbrock: lr(0.01), bad: lr(-1), badText: "learning_rate=-1"}
}

// problem is a differentiable test function of the variables.
type problem struct {
	name  string
	vars  []tensorSpec
	loss  func(vals []*graph.Node) *graph.Node
	lossH func(vals [][]float64) float64
	steps int
	// target: the final loss must be below target·initial loss.
	target float64
}

// withNorm rescales xs to the Euclidean norm of ref. The starting points of the test problems
// have the norm of the minimizer, tensor by tensor, so that ⊥Grad, which (to first order)
// cannot change a weight's norm, can reach the minimum too.
func withNorm(xs, ref []float64) []float64 {
	n, r := 0.0, 0.0
	for i := range xs {
		n += xs[i] * xs[i]
	}
	for i := range ref {
		r += ref[i] * ref[i]
	}
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x * math.Sqrt(r/n)
	}
	return out
}

// quadratic: w [4,3] and b [3], L = ½Σ a⊙(w − c)² + ½Σ (b − d)² with a ∈ [0.5, 2].
func quadraticProblem() problem {
	a := []float64{0.5, 1, 1.5, 2, 0.7, 1.2, 1.9, 0.6, 1.1, 1.4, 0.8, 1.7}
	c := []float64{1, -2, 0.5, 3, -1, 2, 0.3, -0.7, 1.5, -2.5, 0.8, 1.2}
	d := []float64{-1, 0.5, 2}
	return problem{
		name: "quadratic",
		vars: []tensorSpec{
			{Name: "w", Shape: []int{4, 3}, Values: withNorm([]float64{0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, -0.8, 0.9, 1.0, -1.1, 0.2}, c)},
			{Name: "b", Shape: []int{3}, Values: withNorm([]float64{0.3, -0.2, 0.1}, d)},
		},
		loss: func(v []*graph.Node) *graph.Node {
			g := v[0].Graph()
			dt := v[0].DType()
			dw := graph.Sub(v[0], graph.ConstAsDType(g, dt, reshape(c, 4, 3)))
			db := graph.Sub(v[1], graph.ConstAsDType(g, dt, d))
			lw := graph.ReduceAllSum(graph.Mul(graph.ConstAsDType(g, dt, reshape(a, 4, 3)), graph.Square(dw)))
			return graph.MulScalar(graph.Add(lw, graph.ReduceAllSum(graph.Square(db))), 0.5)
		},
		lossH: func(v [][]float64) float64 {
			s := 0.0
			for i, x := range v[0] {
				s += a[i] * (x - c[i]) * (x - c[i])
			}
			for i, x := range v[1] {
				s += (x - d[i]) * (x - d[i])
			}
			return s / 2
		},
		steps: 600, target: 0.02,
	}
}

// rosenbrock: z [3,2] holds three (x, y) pairs, L = Σ (1−x)² + 100(y − x²)², from about
// (−0.9, 1.3) (scaled to the minimizer's norm).
func rosenbrockProblem() problem {
	return problem{
		name: "rosenbrock",
		vars: []tensorSpec{{Name: "z", Shape: []int{3, 2}, Values: withNorm([]float64{-1, 1.5, -0.8, 1.2, -1.2, 1.0}, []float64{1, 1, 1, 1, 1, 1})}},
		loss: func(v []*graph.Node) *graph.Node {
			x := graph.Slice(v[0], graph.AxisRange(), graph.AxisRange(0, 1))
			y := graph.Slice(v[0], graph.AxisRange(), graph.AxisRange(1, 2))
			t1 := graph.Square(graph.OneMinus(x))
			t2 := graph.MulScalar(graph.Square(graph.Sub(y, graph.Square(x))), 100)
			return graph.ReduceAllSum(graph.Add(t1, t2))
		},
		lossH: func(v [][]float64) float64 {
			s := 0.0
			for i := 0; i < len(v[0]); i += 2 {
				x, y := v[0][i], v[0][i+1]
				s += (1-x)*(1-x) + 100*(y-x*x)*(y-x*x)
			}
			return s
		},
		steps: 1500, target: 0.02,
	}
}

func reshape(xs []float64, r, c int) [][]float64 {
	out := make([][]float64, r)
	for i := range r {
		out[i] = xs[i*c : (i+1)*c]
	}
	return out
}

// trainer runs full steps of a problem (loss, gradients, optimizer) in one graph.
type trainer struct {
	store    *model.Store
	exec     *model.Exec
	vars     []*model.Variable
	compiled int
}

func newTrainer(t testing.TB, store *model.Store, opt optimizer.Interface, pb problem) *trainer {
	tr := &trainer{store: store}
	for _, v := range pb.vars {
		tr.vars = append(tr.vars, store.GetVariable("/"+v.Name))
	}
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, g *graph.Graph) *graph.Node {
		tr.compiled++
		vals := make([]*graph.Node, len(tr.vars))
		for i, v := range tr.vars {
			vals[i] = v.NodeValue(g)
		}
		loss := pb.loss(vals)
		opt.UpdateGraph(scope, g, loss)
		return loss
	})
	require.NoError(t, err)
	exec.SetMaxCache(1) // a second compilation would fail
	tr.exec = exec
	return tr
}

func (tr *trainer) step(t testing.TB) float64 {
	out, err := tr.exec.Exec()
	require.NoError(t, err)
	return flat64(out[0])[0]
}

func (tr *trainer) values() [][]float64 {
	out := make([][]float64, len(tr.vars))
	for i, v := range tr.vars {
		out[i] = flat64(v.MustValue())
	}
	return out
}

func newOptimizer(t testing.TB, store *model.Store, name string) optimizer.Interface {
	opt, err := optimizers.New(store.RootScope(), name)
	require.NoError(t, err)
	return opt
}

func TestConformance(t *testing.T) {
	names := optimizers.Names()
	require.Contains(t, names, "adamw")
	for _, name := range names {
		set := settingsFor(name)
		t.Run(name, func(t *testing.T) {
			for _, pb := range []problem{quadraticProblem(), rosenbrockProblem()} {
				params := set.quadratic
				if pb.name == "rosenbrock" {
					params = set.rosenbrock
					if set.rosenbrockSteps > 0 {
						pb.steps = set.rosenbrockSteps
					}
				}
				for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
					t.Run(fmt.Sprintf("%s_%s", pb.name, dt), func(t *testing.T) {
						store := newStore(t, dt, pb.vars, params)
						tr := newTrainer(t, store, newOptimizer(t, store, name), pb)
						l0 := pb.lossH(tr.values())
						var last float64
						for range pb.steps {
							last = tr.step(t)
						}
						final := pb.lossH(tr.values())
						require.False(t, math.IsNaN(final), "loss is NaN")
						require.Less(t, final, pb.target*l0, "%s %s: loss %.4g -> %.4g (last step %.4g) in %d steps", name, pb.name, l0, final, last, pb.steps)
						require.Equal(t, 1, tr.compiled)
					})
				}
			}
			t.Run("checkpoint_resume", func(t *testing.T) { testResume(t, name, merge(set.quadratic, set.stateful)) })
			t.Run("learning_rate_no_recompile", func(t *testing.T) { testLRChange(t, name, set.quadratic) })
			t.Run("bad_hyperparameter", func(t *testing.T) {
				store := newStore(t, dtypes.Float64, nil, set.bad)
				_, err := optimizers.New(store.RootScope(), name)
				require.Error(t, err)
				require.Contains(t, err.Error(), set.badText)
				store = newStore(t, dtypes.Float64, nil, lr(-1))
				_, err = optimizers.New(store.RootScope(), name)
				require.ErrorContains(t, err, "learning_rate=-1 must be > 0")
			})
		})
	}
}

// testResume checks that a run saved with GoMLX's checkpoint after k steps, loaded into a fresh
// store with a fresh optimizer and continued, ends bit-identical (every variable, optimizer
// state included) to an uninterrupted run.
func testResume(t *testing.T, name string, params map[string]any) {
	const total, cut = 7, 4
	pb := quadraticProblem()
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		// Uninterrupted.
		storeA := newStore(t, dt, pb.vars, params)
		trA := newTrainer(t, storeA, newOptimizer(t, storeA, name), pb)
		for range total {
			trA.step(t)
		}
		require.NotEqual(t, pb.vars[0].Values, trA.values()[0], "the uninterrupted run must move the parameters")
		// Interrupted at cut, saved, loaded into a fresh store, continued.
		storeB := newStore(t, dt, pb.vars, params)
		trB := newTrainer(t, storeB, newOptimizer(t, storeB, name), pb)
		for range cut {
			trB.step(t)
		}
		dir := t.TempDir()
		h, err := checkpoint.Build(storeB).Dir(dir).Done()
		require.NoError(t, err)
		require.NoError(t, h.Save())
		storeC := model.NewStore()
		_, err = checkpoint.Build(storeC).Dir(dir).Done()
		require.NoError(t, err)
		trC := newTrainer(t, storeC, newOptimizer(t, storeC, name), pb)
		for range total - cut {
			trC.step(t)
		}
		// Every variable of the uninterrupted run, bit for bit.
		n := 0
		for v := range storeA.IterVariables() {
			w := storeC.GetVariable(v.Path())
			require.NotNil(t, w, "variable %s missing after resume", v.Path())
			require.Equal(t, tensorBits(v.MustValue()), tensorBits(w.MustValue()), "%s: %s differs after resume", dt, v.Path())
			n++
		}
		require.Greater(t, n, len(pb.vars)+2, "the optimizer keeps no state in the store?")
	}
}

func tensorBits(t *tensors.Tensor) string {
	return fmt.Sprintf("%s %v", t.Shape(), t.Value())
}

// testLRChange sets GoMLX's learning-rate variable between steps: the graph is not rebuilt, a
// zero learning rate freezes the parameters and a non-zero one moves them again.
func testLRChange(t *testing.T, name string, params map[string]any) {
	pb := quadraticProblem()
	store := newStore(t, dtypes.Float64, pb.vars, params)
	tr := newTrainer(t, store, newOptimizer(t, store, name), pb)
	tr.step(t)
	tr.step(t)
	lrVar := optimizer.LearningRateVar(store.RootScope(), dtypes.Float64, 0)
	require.NoError(t, lrVar.SetValue(tensors.FromValue(0.0)))
	before := tr.values()
	tr.step(t)
	require.Equal(t, before, tr.values(), "learning rate 0 must leave the parameters unchanged")
	require.NoError(t, lrVar.SetValue(tensors.FromValue(0.01)))
	tr.step(t)
	require.NotEqual(t, before, tr.values(), "learning rate 0.01 must move the parameters")
	require.Equal(t, 1, tr.compiled, "changing the learning rate recompiled the step")
}

func TestRegisteredNamesAndGoMLXBridge(t *testing.T) {
	want := []string{"adabelief", "adamp", "adamw", "adan", "fira", "frugal", "lion", "mkor", "perpgrad",
		"perpgrad+adamw", "perpgrad+sgd", "sgd", "sgd_sai", "sgdp", "spam", "stable_spam"}
	require.Equal(t, want, optimizers.Names())
	for _, n := range want {
		require.Contains(t, optimizer.KnownOptimizers, n, "GoMLX's -set optimizer=%s must find it", n)
	}
	store := newStore(t, dtypes.Float32, nil, nil)
	// GoMLX's own optimizers stay reachable.
	for _, n := range []string{"adam", "rmsprop", "adamax"} {
		_, err := optimizers.New(store.RootScope(), n)
		require.NoError(t, err, n)
	}
	// ⊥Grad around any optimizer by name, GoMLX's adam included.
	opt, err := optimizers.New(store.RootScope(), "perpgrad+lion")
	require.NoError(t, err)
	require.Equal(t, "perpgrad+lion", opt.(*optimizers.PerpGrad).Name())
	_, err = optimizers.New(store.RootScope(), "nope")
	require.ErrorContains(t, err, `unknown optimizer "nope": known optimizers are`)
	require.True(t, strings.Contains(err.Error(), `"stable_spam"`) && strings.Contains(err.Error(), `"rmsprop"`), err.Error())
}
