package excelformer

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// SemiPermeableAttention is ExcelFormer's semi-permeable attention over feature tokens x
// [batch, f, d] already sorted by descending mutual information, with projections wq, wk, wv
// [d, d] and nHeads heads (d_head = d/nHeads):
//
//	A = softmax(Q K^T / sqrt(d_head) + M),  M[i,j] = 0 if j <= i else -1e4,  out = A V
//
// so token i reads only tokens at least as informative as itself (paper Sec. 4; the additive
// mask of bin/excel_former.py). Returns [batch, f, d] (heads concatenated; the output projection,
// used by the reference only when nHeads > 1, is left to the caller).
func SemiPermeableAttention(x, wq, wk, wv *graph.Node, nHeads int) (*graph.Node, error) {
	if x.Rank() != 3 {
		return nil, fmt.Errorf("excelformer: attention input must be [batch, f, d], got shape %s", x.Shape())
	}
	b, f, d := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2)
	if nHeads < 1 || d%nHeads != 0 {
		return nil, fmt.Errorf("excelformer: n_heads=%d must be >= 1 and divide d=%d", nHeads, d)
	}
	dh := d / nHeads
	split := func(w *graph.Node) *graph.Node { // [b, f, d] -> [b, f, h, dh]
		return graph.Reshape(graph.Einsum("bfd,de->bfe", x, w), b, f, nHeads, dh)
	}
	q, k, v := split(wq), split(wk), split(wv)
	scores := graph.Einsum("bqhe,bkhe->bhqk", q, k) // [b, h, f, f]
	scores = graph.MulScalar(scores, 1/math.Sqrt(float64(dh)))
	g := x.Graph()
	i := graph.Iota(g, shapes.Make(x.DType(), f, f), 0)
	j := graph.Iota(g, shapes.Make(x.DType(), f, f), 1)
	mask := graph.Where(graph.GreaterThan(j, i), graph.Scalar(g, x.DType(), MaskNegative), graph.Scalar(g, x.DType(), 0)) // [f, f]
	scores = graph.Add(scores, graph.Reshape(mask, 1, 1, f, f))
	attn := graph.Softmax(scores, -1)
	out := graph.Einsum("bhqk,bkhe->bqhe", attn, v) // [b, f, h, dh]
	return graph.Reshape(out, b, f, d), nil
}
