package layers_test

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/norm"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// lnRun builds ln in a fresh store (gain and offset set to random values after the first
// call), returns its output, the gradients of Σ w ⊙ y w.r.t. x and every trainable variable
// (by name), and the variables' names.
func lnRun(t *testing.T, params map[string]any, ln func(scope *model.Scope, x *graph.Node) *graph.Node, x *tensors.Tensor) (y []float64, grads map[string][]float64) {
	t.Helper()
	store := model.NewStore()
	store.SetParams(params)
	var names []string
	fn := func(scope *model.Scope, xn *graph.Node) []*graph.Node {
		out := ln(scope.In("norm"), xn)
		w := graph.Sin(graph.IotaFull(out.Graph(), out.Shape()))
		wrt := []*graph.Node{xn}
		names = []string{"x"}
		for v := range scope.Store().IterVariables() {
			if v.Trainable {
				wrt = append(wrt, v.NodeValue(xn.Graph()))
				names = append(names, v.Path())
			}
		}
		return append([]*graph.Node{out}, graph.Gradient(graph.ReduceAllSum(graph.Mul(out, w)), wrt...)...)
	}
	exec, err := model.NewExec(backend.MustDefault(), store, fn)
	require.NoError(t, err)
	_, err = exec.Call(x) // creates the variables
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(5, 6))
	for v := range store.IterVariables() {
		if v.Trainable {
			vals := randFlat(r, v.Shape().Size())
			v.MustSetValue(tensors.FromFlatDataAndDimensions(vals, v.Shape().Dimensions...))
		}
	}
	outs, err := exec.Call(x)
	require.NoError(t, err)
	grads = map[string][]float64{}
	for i, name := range names {
		grads[name] = tensors.MustCopyFlatData[float64](outs[i+1])
	}
	return tensors.MustCopyFlatData[float64](outs[0]), grads
}

func TestLayerNormMatchesGoMLX(t *testing.T) {
	x := tensors.FromFlatDataAndDimensions(randFlat(rand.New(rand.NewPCG(1, 2)), 3*5*24), 3, 5, 24)
	for _, tc := range []struct {
		name   string
		params map[string]any
	}{
		{"defaults", nil},
		{"no-centering: GoMLX's own layer", map[string]any{norm.ParamLayerNormCenter: false}},
		{"l2: GoMLX's own layer", map[string]any{norm.ParamLayerNormL2Regularization: 0.1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantY, want := lnRun(t, tc.params, func(scope *model.Scope, x *graph.Node) *graph.Node {
				return norm.LayerNorm(scope, x, -1).Epsilon(1e-5).Done()
			}, x)
			gotY, got := lnRun(t, tc.params, func(scope *model.Scope, x *graph.Node) *graph.Node {
				return layers.LayerNorm(scope, x, 1e-5)
			}, x)
			require.Equal(t, slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got)), "same variables")
			require.Contains(t, got, "/norm/layer_normalization/gain")
			require.InDeltaSlice(t, wantY, gotY, 1e-12)
			for name := range want {
				require.InDeltaSlice(t, want[name], got[name], 1e-9, name)
			}
		})
	}
}

// Without a learned gain only the offset exists, and the output is (x − μ)/√(σ² + ε) + β
// (GoMLX's own layer returns β ⊙ x̂ there on the Go backend: a lone offset is read as the gain
// by the fused kernel of compute v0.1.2).
func TestLayerNormWithoutGain(t *testing.T) {
	const n, d, eps = 4, 6, 1e-5
	xs := randFlat(rand.New(rand.NewPCG(3, 4)), n*d)
	x := tensors.FromFlatDataAndDimensions(xs, n, d)
	y, grads := lnRun(t, map[string]any{norm.ParamLayerNormLearnedGain: false}, func(scope *model.Scope, x *graph.Node) *graph.Node {
		return layers.LayerNorm(scope, x, eps)
	}, x)
	require.Equal(t, []string{"/norm/layer_normalization/offset", "x"}, slices.Sorted(maps.Keys(grads)))
	// lnRun set the offset to random values: read β from row 0 (y − x̂) and check every row is
	// x̂ + β (the buggy fused kernel gives β ⊙ x̂ instead).
	for r := range n {
		row := xs[r*d : (r+1)*d]
		mu, v := 0.0, 0.0
		for _, a := range row {
			mu += a / d
		}
		for _, a := range row {
			v += (a - mu) * (a - mu) / d
		}
		for c := range d {
			xhat := (row[c] - mu) / math.Sqrt(v+eps)
			beta := y[c] - (xs[c]-mean(xs[:d]))/math.Sqrt(variance(xs[:d])+eps) // row 0 gives β
			require.InDelta(t, xhat+beta, y[r*d+c], 1e-9, "row %d col %d", r, c)
		}
	}
}

func mean(x []float64) float64 {
	s := 0.0
	for _, a := range x {
		s += a
	}
	return s / float64(len(x))
}

func variance(x []float64) float64 {
	m, s := mean(x), 0.0
	for _, a := range x {
		s += (a - m) * (a - m)
	}
	return s / float64(len(x))
}
