package optimizers_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

func TestSymEigMatchesGonum(t *testing.T) {
	b := backend.MustDefault()
	for _, k := range []int{1, 2, 3, 6, 9, 16} {
		rng := rand.New(rand.NewPCG(uint64(k), 7))
		x := mat.NewDense(k+3, k, nil)
		for i := range k + 3 {
			for j := range k {
				x.Set(i, j, rng.NormFloat64())
			}
		}
		var a mat.SymDense
		a.SymOuterK(1, x.T())
		flat := make([]float64, k*k)
		for i := range k {
			for j := range k {
				flat[i*k+j] = a.At(i, j)
			}
		}
		out := graph.MustExecOnceN(b, func(m *graph.Node) []*graph.Node {
			v, w := optimizers.SymEig(m)
			return []*graph.Node{v, w}
		}, tensors.FromFlatDataAndDimensions(flat, k, k))
		vals := tensors.MustCopyFlatData[float64](out[0])
		vecs := tensors.MustCopyFlatData[float64](out[1])
		var es mat.EigenSym
		require.True(t, es.Factorize(&a, true))
		want := es.Values(nil) // ascending
		var ev mat.Dense
		es.VectorsTo(&ev)
		for r := range k {
			require.InDelta(t, want[k-1-r], vals[r], 1e-10*math.Max(1, math.Abs(want[k-1-r])), "k=%d eigenvalue %d", k, r)
			// Same vector up to sign.
			dot := 0.0
			for i := range k {
				dot += vecs[i*k+r] * ev.At(i, k-1-r)
			}
			require.InDelta(t, 1, math.Abs(dot), 1e-8, "k=%d eigenvector %d", k, r)
		}
	}
}

// The eigendecomposition gated by a flag: inactive, the loop does not run (and the caller
// discards the result); two of them of the same size in one graph.
func TestSymEigIf(t *testing.T) {
	b := backend.MustDefault()
	a := tensors.FromFlatDataAndDimensions([]float64{2, 1, 0, 1, 3, 1, 0, 1, 4}, 3, 3)
	for _, active := range []bool{true, false} {
		out := graph.MustExecOnceN(b, func(m, flag *graph.Node) []*graph.Node {
			v1, _ := optimizers.SymEigIf(m, flag)
			v2, _ := optimizers.SymEigIf(graph.MulScalar(m, 2), flag)
			return []*graph.Node{v1, v2}
		}, a, active)
		want := []float64{3 + math.Sqrt(3), 3, 3 - math.Sqrt(3)}
		v1 := tensors.MustCopyFlatData[float64](out[0])
		v2 := tensors.MustCopyFlatData[float64](out[1])
		if active {
			require.InDeltaSlice(t, want, v1, 1e-12)
			require.InDeltaSlice(t, []float64{2 * want[0], 2 * want[1], 2 * want[2]}, v2, 1e-12)
		} else {
			require.InDeltaSlice(t, []float64{4, 3, 2}, v1, 1e-12) // the unrotated diagonal, sorted
		}
	}
}
