package excelformer

import (
	"math"
	"os"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func TestGLUEmbedHand(t *testing.T) {
	// batch 2, f 2, d 2.
	x := []float64{1, -2, 0.5, 3}
	w1 := []float64{1, 2, -1, 0.5}
	b1 := []float64{0, 1, 2, -1}
	w2 := []float64{0.5, -1, 1, 0}
	b2 := []float64{0, 0.5, -0.5, 1}
	exec := graph.MustNewExec(backend.MustDefault(), func(xs []*graph.Node) *graph.Node {
		return GLUEmbed(xs[0], xs[1], xs[2], xs[3], xs[4])
	})
	out := exec.MustExec(
		tensors.FromFlatDataAndDimensions(x, 2, 2),
		tensors.FromFlatDataAndDimensions(w1, 2, 2),
		tensors.FromFlatDataAndDimensions(b1, 2, 2),
		tensors.FromFlatDataAndDimensions(w2, 2, 2),
		tensors.FromFlatDataAndDimensions(b2, 2, 2),
	)[0]
	require.Equal(t, []int{2, 2, 2}, out.Shape().Dimensions)
	got := tensors.MustCopyFlatData[float64](out)
	for b := 0; b < 2; b++ {
		for i := 0; i < 2; i++ {
			for k := 0; k < 2; k++ {
				xv := x[b*2+i]
				p := i*2 + k
				want := (w1[p]*xv + b1[p]) * math.Tanh(w2[p]*xv+b2[p])
				require.InDelta(t, want, got[b*4+i*2+k], 1e-12, "b=%d i=%d k=%d", b, i, k)
			}
		}
	}
}

func TestTanGLUHand(t *testing.T) {
	z := []float64{1, -2, 0.5, 3, 4, -1, 2, 0}
	exec := graph.MustNewExec(backend.MustDefault(), TanGLU)
	got := tensors.MustCopyFlatData[float64](exec.MustExec(tensors.FromFlatDataAndDimensions(z, 2, 4))[0])
	want := []float64{1 * math.Tanh(0.5), -2 * math.Tanh(3), 4 * math.Tanh(2), -1 * math.Tanh(0)}
	require.InDeltaSlice(t, want, got, 1e-12)
}
