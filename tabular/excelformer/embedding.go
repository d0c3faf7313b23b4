package excelformer

import (
	"github.com/gomlx/gomlx/core/graph"
)

// GLUEmbed is ExcelFormer's GLU-style feature tokenizer: for x [batch, f] and per-feature
// parameters w1, b1, w2, b2 [f, d] it returns E [batch, f, d] with
//
//	E[b,i,:] = (w1[i]*x[b,i] + b1[i]) * tanh(w2[i]*x[b,i] + b2[i])
//
// (paper Sec. 4, GLU embedding; bin/excel_former.py tokenizer). The caller owns the parameters
// (variables of its scope); this function is the pure rule, so it can be checked by hand.
func GLUEmbed(x, w1, b1, w2, b2 *graph.Node) *graph.Node {
	xe := graph.InsertAxes(x, -1)                                                      // [batch, f, 1]
	lin := graph.Add(graph.Mul(xe, graph.InsertAxes(w1, 0)), graph.InsertAxes(b1, 0))  // [batch, f, d]
	gate := graph.Add(graph.Mul(xe, graph.InsertAxes(w2, 0)), graph.InsertAxes(b2, 0)) // [batch, f, d]
	return graph.Mul(lin, graph.Tanh(gate))
}

// TanGLU is the reference code's tanglu activation used by the attentive FFN: for z [..., 2d]
// it returns z[..., :d] * tanh(z[..., d:]) (lib/deep.py tanglu; the block is
// x + TanGLU(Linear_{d->2d}(LayerNorm(x))) with no second projection).
func TanGLU(z *graph.Node) *graph.Node {
	last := z.Rank() - 1
	d := z.Shape().Dim(last) / 2
	a := graph.SliceAxis(z, last, graph.AxisRange(0, d))
	g := graph.SliceAxis(z, last, graph.AxisRange(d, 2*d))
	return graph.Mul(a, graph.Tanh(g))
}
