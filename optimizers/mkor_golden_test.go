package optimizers_test

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes/float16"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// mkorModel is the golden files' model, x → conv(3→4, k3, bias) → tanh → flatten → fc1(4→6) →
// tanh → fc2(6→8), with weights in torch's [out, in...] layout. With a 3×3 input and a 3×3
// kernel the convolution has one position, so it is a linear map of the flattened input (the
// patch order (c, kh, kw) is the kernel's flattening order). Every layer is marked for MKOR.
func mkorModel(scope *model.Scope, x, y *graph.Node) *graph.Node {
	g := x.Graph()
	get := func(name string) *model.Variable { return scope.Store().GetVariable("/" + name) }
	dense := func(in *graph.Node, w, b *model.Variable, outFirst bool) *graph.Node {
		wn := w.NodeValue(g)
		m := w.Shape().Dim(0)
		w2 := graph.Reshape(wn, m, -1) // [out, in]
		y := graph.Add(graph.MatMul(in, graph.Transpose(w2, 0, 1)), graph.InsertAxes(b.NodeValue(g), 0))
		return optimizers.MKORLayer(in, y, w, b, outFirst)
	}
	n := x.Shape().Dim(0)
	h := graph.Reshape(x, n, -1) // [N, 27]
	h = graph.Tanh(dense(h, get("conv.weight"), get("conv.bias"), true))
	h = graph.Tanh(dense(h, get("fc1.weight"), get("fc1.bias"), true))
	out := dense(h, get("fc2.weight"), get("fc2.bias"), true)
	d := graph.Sub(out, y)
	return graph.DivScalar(graph.MulScalar(graph.ReduceAllSum(graph.Square(d)), 0.5), float64(n)) // 0.5·Σ(out−y)²/N
}

// runMKORGolden replays the reference trajectory: before each step the params are reset to the
// reference values after the previous step (our optimizer state is kept), as the README asks
// for MKOR, whose float32 reference amplifies rounding through the Sherman–Morrison inverses.
func runMKORGolden(t *testing.T, c *goldenCase) {
	t.Run("replay", func(t *testing.T) { runMKORMode(t, c, true, c.Tolerance["rtol"], c.Tolerance["atol"]) })
	t.Run("closed_loop", func(t *testing.T) {
		runMKORMode(t, c, false, c.Tolerance["rtol_closed_loop"], c.Tolerance["atol_closed_loop"])
	})
}

func runMKORMode(t *testing.T, c *goldenCase, replay bool, rtol, atol float64) {
	traj := mkorTrajectory(t, c, c.Hyperparams, replay, nil)
	worst := 0.0
	for step := range c.Steps {
		worst = math.Max(worst, compareStep(t, step, c.ParamsInitial, traj[step], c.ParamsAfter[step], rtol, atol))
	}
	t.Logf("%d steps within tolerance (rtol %g, atol %g); worst error %.3g of the tolerance", c.Steps, rtol, atol, worst)
}

// mkorTrajectory runs MKOR with the given hyperparameters (named as in the official code) on
// the case's model, inputs and targets and returns the params after every step (replay: reset
// to the reference's before each step). inverses, when set, receives every factor-inverse
// state value after the last step.
func mkorTrajectory(t *testing.T, c *goldenCase, hyper map[string]any, replay bool, inverses *[][]float64) [][][]float64 {
	h := newHP(hyper)
	h.out[optimizers.ParamDecayAll] = true
	h.num("lr", optimizers.ParamLearningRate)
	h.num("weight_decay", optimizers.ParamWeightDecay)
	h.num("momentum", optimizers.ParamMomentum)
	h.integer("inv_freq", optimizers.ParamMKORInvFreq)
	h.num("stat_decay", optimizers.ParamMKORStatDecay)
	h.num("stabilization_factor", optimizers.ParamMKORStabilizationFactor)
	h.boolean("half_precision", optimizers.ParamMKORHalfPrecision)
	h.integer("grad_accum_steps", optimizers.ParamMKORGradAccumSteps)
	h.str("optimizer", optimizers.ParamMKORBase)
	h.num("grad_scale", optimizers.ParamMKORGradScale)
	h.num("clipping_value", optimizers.ParamMKORClippingValue)
	h.integer("warmup_steps", optimizers.ParamMKORWarmupSteps)
	params, err := h.done()
	require.NoError(t, err)
	store := newStore(t, dtypes.Float64, c.ParamsInitial, params)
	opt, err := optimizers.New(store.RootScope(), "mkor")
	require.NoError(t, err)
	vars := []*model.Variable{}
	for _, p := range c.ParamsInitial {
		vars = append(vars, store.GetVariable("/"+p.Name))
	}
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, x, y *graph.Node) *graph.Node {
		loss := mkorModel(scope, x, y)
		opt.UpdateGraph(scope, x.Graph(), loss)
		return loss
	})
	require.NoError(t, err)
	inShape, tgtShape := c.Model.InputShape, c.Model.TargetShape
	st := &stepper{store: store, vars: vars, dt: dtypes.Float64}
	var traj [][][]float64
	for step := range c.Steps {
		if replay && step > 0 {
			st.setValues(t, c.ParamsAfter[step-1])
		}
		_, err := exec.Exec(makeTensor(dtypes.Float64, c.Inputs[step], inShape), makeTensor(dtypes.Float64, c.Targets[step], tgtShape))
		require.NoError(t, err)
		traj = append(traj, st.values())
	}
	if inverses != nil {
		for v := range store.IterVariables() {
			if n := v.Name(); n == "a_inv" || n == "g_inv" {
				*inverses = append(*inverses, flat64(v.MustValue()))
			}
		}
	}
	return traj
}

// MKOR's warm-up and half-precision switches against the official code's vectors:
//   - warm-up: with warmup_steps >= the case's steps, every step updates the factors, so
//     inv_freq 10 with warm-up must follow the reference trajectory of inv_freq 1
//     (MKOR_freq1_momentum_model), which inv_freq 10 without warm-up does not;
//   - half precision: every stored factor inverse is a float16 value, and each replayed step
//     stays within 20x the float32 replay rtol (closed-loop atol) of the reference while differing from the
//     full-precision run.
func TestMKORWarmupAndHalfPrecision(t *testing.T) {
	_, cases := loadGoldenCases(t)
	c, ok := cases["MKOR_freq1_momentum_model"]
	require.True(t, ok, "golden case MKOR_freq1_momentum_model")
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range c.Hyperparams {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	rtol, atol := c.Tolerance["rtol"], c.Tolerance["atol"]
	worst := func(traj [][][]float64) float64 {
		w := 0.0
		for step := range c.Steps {
			w = math.Max(w, worstRatio(traj[step], c.ParamsAfter[step], rtol, atol))
		}
		return w
	}
	warm := mkorTrajectory(t, c, with("inv_freq", 10.0, "warmup_steps", float64(c.Steps)), true, nil)
	require.LessOrEqual(t, worst(warm), 1.0, "inv_freq 10 + warm-up over every step = the inv_freq 1 reference")
	noWarm := mkorTrajectory(t, c, with("inv_freq", 10.0), true, nil)
	require.Greater(t, worst(noWarm), 1.0, "without warm-up inv_freq 10 leaves the inv_freq 1 reference")

	var inv [][]float64
	half := mkorTrajectory(t, c, with("half_precision", true), true, &inv)
	require.Len(t, inv, 6, "a_inv and g_inv of three layers")
	for _, xs := range inv {
		for _, x := range xs {
			require.Equal(t, x, float16.From(x).Float64(), "stored inverse %g is not a float16 value", x)
		}
	}
	full := mkorTrajectory(t, c, c.Hyperparams, true, nil)
	// float16 inverses carry about 5e-4 relative error per entry: replayed steps are compared
	// with 20x the float32 replay rtol and the closed-loop atol.
	rc, ac := 20*rtol, c.Tolerance["atol_closed_loop"]
	moved := 0.0
	for step := range c.Steps {
		require.NoError(t, diffStep(step, c.ParamsInitial, half[step], c.ParamsAfter[step], rc, ac))
		moved = math.Max(moved, worstRatio(half[step], full[step], 1e-9, 1e-12))
	}
	require.Greater(t, moved, 1.0, "float16 rounding of the inverses changes the trajectory")
}
