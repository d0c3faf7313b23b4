package fastgrad_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/nn"
	"github.com/moeboost/moeboost/internal/fastgrad"
	"github.com/moeboost/moeboost/internal/gradcheck"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

type lnCase struct {
	dims              []int
	hasGamma, hasBeta bool
}

var lnCases = []lnCase{
	{[]int{4, 7}, true, true},
	{[]int{2, 3, 40}, true, true}, // sums over the last axis and over rows as dot products
	{[]int{2, 3, 40}, false, false},
	{[]int{5, 24}, true, false},
	{[]int{5, 24}, false, true},
	{[]int{32, 64, 128}, true, true}, // the transformer block's shape
}

type lnFn func(x *graph.Node, eps float64, gamma, beta *graph.Node) *graph.Node

func gomlxLayerNorm(x *graph.Node, eps float64, gamma, beta *graph.Node) *graph.Node {
	return nn.LayerNorm(x, []int{x.Rank() - 1}, eps, gamma, beta, nil)
}

// layerNormAndGrads returns y and the gradients of Σ w ⊙ y w.r.t. x, gamma and beta (those given).
func layerNormAndGrads[T float32 | float64](t *testing.T, ln lnFn, c lnCase, x, gamma, beta []T) [][]T {
	t.Helper()
	d := c.dims[len(c.dims)-1]
	pdims := make([]int, len(c.dims))
	for i := range pdims {
		pdims[i] = 1
	}
	pdims[len(pdims)-1] = d
	exec, err := graph.NewExec(backend.MustDefault(), func(xn, gn, bn *graph.Node) []*graph.Node {
		var g, b *graph.Node
		wrt := []*graph.Node{xn}
		if c.hasGamma {
			g = gn
			wrt = append(wrt, gn)
		}
		if c.hasBeta {
			b = bn
			wrt = append(wrt, bn)
		}
		y := ln(xn, 1e-5, g, b)
		w := graph.Sin(graph.IotaFull(y.Graph(), y.Shape()))
		return append([]*graph.Node{y}, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, w)), wrt...)...)
	})
	require.NoError(t, err)
	defer exec.Finalize()
	outs, err := exec.Call(tensors.FromFlatDataAndDimensions(x, c.dims...), tensors.FromFlatDataAndDimensions(gamma, pdims...),
		tensors.FromFlatDataAndDimensions(beta, pdims...))
	require.NoError(t, err)
	var res [][]T
	for _, o := range outs {
		res = append(res, tensors.MustCopyFlatData[T](o))
	}
	return res
}

func TestLayerNormMatchesGoMLX(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, c := range lnCases {
		t.Run(fmt.Sprint(c.dims, c.hasGamma, c.hasBeta), func(t *testing.T) {
			d := c.dims[len(c.dims)-1]
			x, gamma, beta := randFlat(r, c.dims), randFlat(r, []int{d}), randFlat(r, []int{d})
			for i := range x {
				x[i] = 3*x[i] + 1
			}
			if c.hasBeta && !c.hasGamma {
				// nn.LayerNorm's fused forward is wrong here on the Go backend (a lone beta is
				// applied as gamma), so compare with the decomposed form.
				t.Setenv(graph.FusionEnv, "false")
				want := layerNormAndGrads(t, gomlxLayerNorm, c, x, gamma, beta)
				t.Setenv(graph.FusionEnv, "true")
				got := layerNormAndGrads(t, fastgrad.LayerNorm, c, x, gamma, beta)
				for i := range want {
					require.InDeltaSlice(t, want[i], got[i], 1e-9, "output %d", i)
				}
				return
			}
			want := layerNormAndGrads(t, gomlxLayerNorm, c, x, gamma, beta)
			got := layerNormAndGrads(t, fastgrad.LayerNorm, c, x, gamma, beta)
			require.Len(t, got, len(want))
			for i := range want {
				require.InDeltaSlice(t, want[i], got[i], 1e-9, "output %d", i)
			}
			f32 := func(v []float64) []float32 {
				out := make([]float32, len(v))
				for i, e := range v {
					out[i] = float32(e)
				}
				return out
			}
			want32 := layerNormAndGrads(t, gomlxLayerNorm, c, f32(x), f32(gamma), f32(beta))
			got32 := layerNormAndGrads(t, fastgrad.LayerNorm, c, f32(x), f32(gamma), f32(beta))
			require.Equal(t, want32[0], got32[0], "forward: both use the fused kernel")
			for i := 1; i < len(want32); i++ {
				require.InDeltaSlice(t, want32[i], got32[i], 2e-4, "gradient %d", i)
			}
		})
	}
}

func TestLayerNormFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, c := range lnCases[:5] {
		t.Run(fmt.Sprint(c.dims, c.hasGamma, c.hasBeta), func(t *testing.T) {
			d := c.dims[len(c.dims)-1]
			pdims := make([]int, len(c.dims))
			for i := range pdims {
				pdims[i] = 1
			}
			pdims[len(pdims)-1] = d
			x, gamma, beta := randFlat(r, c.dims), randFlat(r, pdims), randFlat(r, pdims)
			res, err := gradcheck.Check(backend.MustDefault(), func(_ *model.Scope, in []*graph.Node) *graph.Node {
				var g, b *graph.Node
				if c.hasGamma {
					g = in[1]
				}
				if c.hasBeta {
					b = in[2]
				}
				y := fastgrad.LayerNorm(in[0], 1e-5, g, b)
				return graph.ReduceAllSum(graph.Mul(y, graph.Cos(graph.IotaFull(y.Graph(), y.Shape()))))
			}, [][]float64{x, gamma, beta}, [][]int{c.dims, pdims, pdims}, 1e-6, 1e-7, 1e-5)
			require.NoError(t, err, res.String())
		})
	}
}

func TestLayerNormUsesFusedKernel(t *testing.T) {
	for _, fusion := range []string{"true", "false"} {
		t.Run("fusion="+fusion, func(t *testing.T) {
			t.Setenv(graph.FusionEnv, fusion)
			g := graph.NewGraph(backend.MustDefault(), "layernorm")
			defer g.Finalize()
			x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, 3, 5))
			y := fastgrad.LayerNorm(x, 1e-5, nil, nil)
			if fusion == "true" {
				require.Equal(t, graph.NodeTypeFusedLayerNorm, y.Type())
			} else {
				require.NotEqual(t, graph.NodeTypeFusedLayerNorm, y.Type())
			}
		})
	}
}
