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
	"github.com/moeboost/moeboost/internal/fastgrad"
	"github.com/moeboost/moeboost/internal/gradcheck"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// softmaxAndGrad returns softmax(x) and ∂(Σ w ⊙ softmax(x))/∂x for a fixed weighting w.
func softmaxAndGrad[T float32 | float64](t *testing.T, softmax func(x *graph.Node, axis int) *graph.Node, x []T, dims []int, axis int) (y, dx []T) {
	t.Helper()
	exec, err := graph.NewExec(backend.MustDefault(), func(xn *graph.Node) []*graph.Node {
		y := softmax(xn, axis)
		w := graph.Sin(graph.IotaFull(y.Graph(), y.Shape()))
		return []*graph.Node{y, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, w)), xn)[0]}
	})
	require.NoError(t, err)
	defer exec.Finalize()
	outs, err := exec.Call(tensors.FromFlatDataAndDimensions(x, dims...))
	require.NoError(t, err)
	return tensors.MustCopyFlatData[T](outs[0]), tensors.MustCopyFlatData[T](outs[1])
}

func gomlxSoftmax(x *graph.Node, axis int) *graph.Node { return graph.Softmax(x, axis) }

var softmaxCases = []struct {
	dims []int
	axis int
}{
	{[]int{5, 7}, -1},            // rows
	{[]int{2, 3, 4, 40}, 3},      // attention scores: the sum over the last axis is a dot product
	{[]int{6, 5}, 0},             // columns
	{[]int{3, 4, 5}, 1},          // a middle axis
	{[]int{1, 1}, -1},            // a single entry: gradient 0
	{[]int{2, 3, 4, 64, 64}, -1}, // large enough for every code path
}

func TestSoftmaxMatchesGoMLX(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, c := range softmaxCases {
		t.Run(fmt.Sprint(c.dims, c.axis), func(t *testing.T) {
			x64 := randFlat(r, c.dims)
			for i := range x64 {
				x64[i] *= 4
			}
			wantY, wantDX := softmaxAndGrad(t, gomlxSoftmax, x64, c.dims, c.axis)
			gotY, gotDX := softmaxAndGrad(t, fastgrad.Softmax, x64, c.dims, c.axis)
			require.InDeltaSlice(t, wantY, gotY, 1e-12)
			require.InDeltaSlice(t, wantDX, gotDX, 1e-12)

			x32 := make([]float32, len(x64))
			for i, v := range x64 {
				x32[i] = float32(v)
			}
			wantY32, wantDX32 := softmaxAndGrad(t, gomlxSoftmax, x32, c.dims, c.axis)
			gotY32, gotDX32 := softmaxAndGrad(t, fastgrad.Softmax, x32, c.dims, c.axis)
			require.Equal(t, wantY32, gotY32, "forward: both use the fused kernel")
			require.InDeltaSlice(t, wantDX32, gotDX32, 1e-6)
		})
	}
}

func TestSoftmaxFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, c := range softmaxCases[:4] {
		t.Run(fmt.Sprint(c.dims, c.axis), func(t *testing.T) {
			x := randFlat(r, c.dims)
			res, err := gradcheck.Check(backend.MustDefault(), func(_ *model.Scope, in []*graph.Node) *graph.Node {
				y := fastgrad.Softmax(in[0], c.axis)
				return graph.ReduceAllSum(graph.Mul(y, graph.Cos(graph.IotaFull(y.Graph(), y.Shape()))))
			}, [][]float64{x}, [][]int{c.dims}, 1e-6, 1e-8, 1e-6)
			require.NoError(t, err, res.String())
		})
	}
}

func TestSoftmaxFallbackWithoutFusion(t *testing.T) {
	t.Setenv(graph.FusionEnv, "false")
	x := randFlat(rand.New(rand.NewPCG(13, 14)), []int{4, 6})
	wantY, wantDX := softmaxAndGrad(t, gomlxSoftmax, x, []int{4, 6}, -1)
	gotY, gotDX := softmaxAndGrad(t, fastgrad.Softmax, x, []int{4, 6}, -1)
	require.Equal(t, wantY, gotY)
	require.Equal(t, wantDX, gotDX)
}

func TestSoftmaxUsesFusedKernel(t *testing.T) {
	for _, fusion := range []string{"true", "false"} {
		t.Run("fusion="+fusion, func(t *testing.T) {
			t.Setenv(graph.FusionEnv, fusion)
			g := graph.NewGraph(backend.MustDefault(), "softmax")
			defer g.Finalize()
			x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, 3, 5))
			y := fastgrad.Softmax(x, -1)
			if fusion == "true" {
				require.Equal(t, graph.NodeTypeFusedSoftmax, y.Type())
			} else {
				require.NotEqual(t, graph.NodeTypeFusedSoftmax, y.Type())
			}
		})
	}
}
