package moe

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// Experts maps the dispatched slots x [E, C, d] of E experts to their outputs [E, C, d]
// (usually layers.ExpertFFN; tests plug in stand-ins such as one linear map per expert).
type Experts func(scope *model.Scope, x *graph.Node) *graph.Node

// Dispatch runs the experts on the tokens x [T, d] routed by r (after r.Assign) and returns
// the combined output y [T, d]:
//
//	y_t = Σ_j Gates[j,t] · Keep[j,t] · expert_{Index[j,t]}(x_t)
//
// With dense false (gather, the default path) each kept assignment owns slot Index·C + Pos of
// its expert's [C, d] buffer: the buffer [E, C, d] gathers the token of each slot (computed by
// scattering token indices, a [k·T] integer scatter), the experts run on it and each assignment
// gathers its slot back: expert FLOPs are C·E/(k·T) = cf times the ideal, no T² term. Empty
// slots hold a copy of token 0 whose outputs are never read (exact zeros in every gradient).
// Gather's gradient is a ScatterSum. Gathering the buffer instead of scattering k copies of the
// tokens into a zeroed buffer (as DeepSpeed's einsum dispatch or a ScatterSum would) moves
// fewer elements through the Go backend's generic kernels: no [k, T, d] copy of the tokens, no
// zero fill, no spare row (BenchmarkMoEBlockStep).
//
// With dense true every real expert runs on every token ([E, T, d]) and the outputs are mixed
// with the [T, E] weight matrix that is zero outside the kept assignments: E/k times the ideal
// FLOPs, exact, the reference the tests compare the gather/scatter path with.
func Dispatch(scope *model.Scope, x *graph.Node, r *Routing, experts Experts, dense bool) *graph.Node {
	g, dt := x.Graph(), x.DType()
	t, d, k, n := r.T, x.Shape().Dim(-1), r.K, r.Real
	w := graph.Mul(r.Gates, r.Keep) // [k, T] combine weight of each assignment (0 if dropped or null)
	if dense {
		realMask := r.Mask
		if n < r.E {
			realMask = graph.Slice(r.Mask, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(0, n))
		}
		wTE := graph.ReduceSum(graph.Mul(realMask, graph.InsertAxes(w, -1)), 0) // [T, n]
		out := experts(scope, graph.BroadcastPrefix(x, n))                      // [n, T, d]
		return graph.Einsum("te,etd->td", wTE, out)
	}
	c := r.Capacity
	// Flat slot of each assignment, slot-major [kT]: e·C + pos when kept. Dropped and null
	// assignments point at slot 0 with combine weight 0 (w is Gates·Keep), so they add exact
	// zeros to the output and to every gradient.
	idx := graph.ConvertDType(r.Index, dtypes.Int32)
	pos := graph.ConvertDType(r.Pos, dtypes.Int32)
	kept := graph.GreaterThan(r.Keep, graph.ScalarZero(g, dt))
	slot := graph.Add(graph.MulScalar(idx, c), pos)
	zero := graph.ZerosLike(slot)
	slot = graph.StopGradient(graph.Reshape(graph.Where(kept, slot, zero), k*t, 1)) // [kT, 1]

	// Token of each slot [nC]: kept assignments scatter their token index into their slot (each
	// slot has at most one), the others into a spare entry nC. Empty slots read token 0; their
	// expert outputs are never gathered back, so their gradients are exact zeros.
	spare := graph.BroadcastToShape(graph.Scalar(g, dtypes.Int32, n*c), zero.Shape())
	target := graph.Reshape(graph.Where(kept, graph.Reshape(slot, k, t), spare), k*t, 1)
	tokens := graph.Reshape(graph.Iota(g, shapes.Make(dtypes.Int32, k, t), 1), k*t)
	tokenOf := graph.ScatterSum(graph.Zeros(g, shapes.Make(dtypes.Int32, n*c+1)), target, tokens, false, false)
	tokenOf = graph.StopGradient(graph.Reshape(graph.Slice(tokenOf, graph.AxisRange(0, n*c)), n*c, 1)) // [nC, 1]

	buf := graph.Reshape(graph.Gather(x, tokenOf), n, c, d) // [n, C, d]
	out := graph.Reshape(experts(scope, buf), n*c, d)
	y := graph.Gather(out, slot) // [kT, d]
	y = graph.Mul(y, graph.Reshape(w, k*t, 1))
	return graph.ReduceSum(graph.Reshape(y, k, t, d), 0)
}
