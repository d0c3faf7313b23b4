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
