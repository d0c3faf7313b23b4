package optimizers_test

import (
	"math"
	"testing"

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
	h := newHP(c.Hyperparams)
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
	worst := 0.0
	for step := range c.Steps {
		if replay && step > 0 {
			st.setValues(t, c.ParamsAfter[step-1])
		}
		_, err := exec.Exec(makeTensor(dtypes.Float64, c.Inputs[step], inShape), makeTensor(dtypes.Float64, c.Targets[step], tgtShape))
		require.NoError(t, err)
		worst = math.Max(worst, compareStep(t, step, c.ParamsInitial, st.values(), c.ParamsAfter[step], rtol, atol))
	}
	t.Logf("%d steps within tolerance (rtol %g, atol %g); worst error %.3g of the tolerance", c.Steps, rtol, atol, worst)
}
