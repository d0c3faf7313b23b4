package excelformer

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// Perturbing a less-informative token j must leave the outputs of tokens i < j unchanged and
// (for the check that the test can fail) change token j's own output.
func TestSemiPermeableAttentionMaskProperty(t *testing.T) {
	const b, f, d, h = 2, 4, 6, 2
	r := rand.New(rand.NewPCG(1, 2))
	rnd := func(n int) []float64 {
		o := make([]float64, n)
		for i := range o {
			o[i] = r.NormFloat64()
		}
		return o
	}
	wq, wk, wv := rnd(d*d), rnd(d*d), rnd(d*d)
	exec := graph.MustNewExec(backend.MustDefault(), func(xs []*graph.Node) *graph.Node {
		out, err := SemiPermeableAttention(xs[0], xs[1], xs[2], xs[3], h)
		if err != nil {
			panic(err)
		}
		return out
	})
	call := func(x []float64) []float64 {
		o := exec.MustExec(tensors.FromFlatDataAndDimensions(x, b, f, d),
			tensors.FromFlatDataAndDimensions(wq, d, d), tensors.FromFlatDataAndDimensions(wk, d, d),
			tensors.FromFlatDataAndDimensions(wv, d, d))[0]
		return tensors.MustCopyFlatData[float64](o)
	}
	x := rnd(b * f * d)
	base := call(x)
	for j := 0; j < f; j++ {
		xp := append([]float64(nil), x...)
		for bb := 0; bb < b; bb++ {
			for k := 0; k < d; k++ {
				xp[bb*f*d+j*d+k] += 3
			}
		}
		got := call(xp)
		for bb := 0; bb < b; bb++ {
			for i := 0; i < f; i++ {
				s := bb*f*d + i*d
				if i < j {
					require.InDeltaSlice(t, base[s:s+d], got[s:s+d], 1e-9, "token %d moved when token %d changed", i, j)
				} else if i == j {
					require.NotEqual(t, base[s:s+d], got[s:s+d], "token %d did not react to its own change", i)
				}
			}
		}
	}
	g := graph.NewGraph(backend.MustDefault(), "bad")
	_, err := SemiPermeableAttention(graph.Zeros(g, tensors.FromFlatDataAndDimensions(make([]float64, 6), 1, 6).Shape()), nil, nil, nil, 1)
	require.ErrorContains(t, err, "[batch, f, d]")
}
