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

// applyTransforms runs a chain of transforms (without a step) on one [2, 3] parameter with the
// given gradient and returns the resulting update U.
func applyTransforms(t *testing.T, w, g []float64, ts ...optimizers.Transform) []float64 {
	store := newStore(t, dtypes.Float64, []tensorSpec{{Name: "w", Shape: []int{2, 3}, Values: w}}, nil)
	var out *graph.Node
	capture := optimizers.Func("capture", func(u *optimizers.Update) { out = u.Params[0].U })
	opt := optimizers.NewOptimizer("test", 1, optimizers.GroupConfig{Quiet: true}, false, append(ts, capture)...)
	v := store.GetVariable("/w")
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, grad *graph.Node) *graph.Node {
		_ = v.NodeValue(grad.Graph())
		opt.UpdateGraphWithGradients(scope, []*graph.Node{grad}, dtypes.Float64)
		return out
	})
	require.NoError(t, err)
	res, err := exec.Exec(makeTensor(dtypes.Float64, g, []int{2, 3}))
	require.NoError(t, err)
	return flat64(res[0])
}

func dot64(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func TestOrthogonalizeGradient(t *testing.T) {
	w := []float64{1, -2, 0.5, 3, 0.1, -1}
	g := []float64{0.3, 0.2, -0.7, 1.1, -0.4, 0.9}
	u := applyTransforms(t, w, g, optimizers.OrthogonalizeGradient())
	require.InDelta(t, 0, dot64(u, w), 1e-12, "⊥Grad: orthogonal to the weights")
	require.InDelta(t, math.Sqrt(dot64(g, g)), math.Sqrt(dot64(u, u)), 1e-12, "⊥Grad: norm preserved")
}

func TestProjectRadialAndClip(t *testing.T) {
	w := []float64{1, -2, 0.5, 3, 0.1, -1}
	// A gradient orthogonal to each row of w (scale-invariant weight): the projection fires and
	// removes the rows' radial component from the update.
	g := []float64{2, 1, 0, 0, 10, 1}
	require.InDelta(t, 0, dot64(g[:3], w[:3]), 1e-12)
	require.InDelta(t, 0, dot64(g[3:], w[3:]), 1e-12)
	upd := []float64{1, 1, 1, 1, 1, 1} // an update with a radial component
	setU := optimizers.PerParam("set_u", func(u *optimizers.Update, p *optimizers.Param) {
		p.U = graph.Const(u.Graph, [][]float64{upd[:3], upd[3:]})
	})
	u := applyTransforms(t, w, g, setU, optimizers.ProjectRadial(0.1, 0.1, 1e-8))
	require.InDelta(t, 0, dot64(u[:3], w[:3]), 1e-7, "row 0 projected")
	require.InDelta(t, 0, dot64(u[3:], w[3:]), 1e-7, "row 1 projected")
	// A gradient aligned with w: no projection.
	u = applyTransforms(t, w, w, setU, optimizers.ProjectRadial(0.1, 0.1, 1e-8))
	require.Equal(t, upd, u)
	// Global-norm clipping to 1.
	u = applyTransforms(t, w, []float64{3, 0, 0, 4, 0, 0}, optimizers.ClipByGlobalNorm(1, 0))
	require.InDeltaSlice(t, []float64{0.6, 0, 0, 0.8, 0, 0}, u, 1e-15)
	// SPAM spike clipping against a zero second moment clips everything to 0.
	u = applyTransforms(t, w, g, optimizers.ClipSpikes(5000, "exp_avg_sq", nil))
	require.Equal(t, []float64{0, 0, 0, 0, 0, 0}, u)
}

// SGD-SaI's g-SNR of a one-element tensor is |g|/ε as in the official code (std undefined → 0),
// unless SafeScalars.
func TestSGDSaIScalarQuirk(t *testing.T) {
	for _, safe := range []bool{false, true} {
		store := newStore(t, dtypes.Float64, []tensorSpec{{Name: "b", Shape: []int{1}, Values: []float64{0}}},
			map[string]any{optimizers.ParamSGDSaISafeScalars: safe, optimizers.ParamWeightDecay: 0.0})
		st := newStepper(t, store, newOptimizer(t, store, "sgd_sai"), dtypes.Float64)
		st.step(t, [][]float64{{0.5}})
		want := -0.01 * 0.5 / 1e-8 * 0.5 // lr·gsnr·b with gsnr = |g|/ε
		if safe {
			want = -0.01 * 0.5
		}
		require.InDelta(t, want, st.values()[0][0], 1e-9*math.Abs(want))
	}
}
