package moe

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// cumsumBlock is the block length of BlockedCumSum: a [64, 64] triangular matmul per block.
const cumsumBlock = 64

// BlockedCumSum is the inclusive cumulative sum of x [N, F] along axis 0, computed as
// triangular matmuls: within each block of 64 rows a [64, 64] lower-triangular ones matrix,
// then the block totals' exclusive prefix (recursively) added back. It equals graph.CumSum(x, 0)
// (exactly for integer-valued float inputs below 2^24 in float32), but graph.CumSum lowers to
// a window reduction that costs O(N²) on the Go backend: over [4096, 8] it is what made an
// MoE training step 6x slower (research/gomlx.md; BenchmarkCumSum measures both). It is
// differentiable (matmuls and reshapes only).
func BlockedCumSum(x *graph.Node) *graph.Node {
	n, f := x.Shape().Dim(0), x.Shape().Dim(1)
	g, dt := x.Graph(), x.DType()
	if n <= cumsumBlock {
		return graph.Einsum("ij,jf->if", lowerOnes(g, dt, n), x)
	}
	nb := (n + cumsumBlock - 1) / cumsumBlock
	if pad := nb*cumsumBlock - n; pad > 0 {
		x = graph.Concatenate([]*graph.Node{x, graph.Zeros(g, shapes.Make(dt, pad, f))}, 0)
	}
	blocks := graph.Reshape(x, nb, cumsumBlock, f)                                                        // [nb, B, F]
	within := graph.Einsum("ij,bjf->bif", lowerOnes(g, dt, cumsumBlock), blocks)                          // [nb, B, F]
	totals := graph.Reshape(graph.Slice(within, graph.AxisRange(), graph.AxisElem(cumsumBlock-1)), nb, f) // [nb, F]
	offsets := graph.Sub(BlockedCumSum(totals), totals)                                                   // exclusive prefix [nb, F]
	out := graph.Add(within, graph.InsertAxes(offsets, 1))
	return graph.Slice(graph.Reshape(out, nb*cumsumBlock, f), graph.AxisRange(0, n))
}

// lowerOnes is the [n, n] matrix with ones on and below the diagonal.
func lowerOnes(g *graph.Graph, dt dtypes.DType, n int) *graph.Node {
	rows := graph.Iota(g, shapes.Make(dtypes.Int32, n, n), 0)
	cols := graph.Iota(g, shapes.Make(dtypes.Int32, n, n), 1)
	return graph.ConvertDType(graph.GreaterOrEqual(rows, cols), dt)
}
