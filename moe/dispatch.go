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
// With dense false (gather/scatter, the default path) each kept assignment is scattered into
// slot Index·C + Pos of a [E·C (+1 spare), d] buffer (dropped and null assignments go to the
// spare row), the experts run on [E, C, d] and each assignment gathers its slot back: expert
// FLOPs are C·E/(k·T) = cf times the ideal, no T² term. Gather's gradient is ScatterSum and
// vice versa, so the backward pass has the same structure.
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
	// Flat slot of each assignment: e·C + pos when kept, the spare row n·C otherwise.
	idx := graph.ConvertDType(r.Index, dtypes.Int32)
	pos := graph.ConvertDType(r.Pos, dtypes.Int32)
	kept := graph.GreaterThan(r.Keep, graph.ScalarZero(g, dt))
	slot := graph.Add(graph.MulScalar(idx, c), pos)
	slot = graph.Where(kept, slot, graph.BroadcastToShape(graph.Scalar(g, dtypes.Int32, n*c), slot.Shape()))
	slot = graph.StopGradient(graph.Reshape(slot, k*t, 1)) // [kT, 1] slot-major

	xRep := graph.Reshape(graph.BroadcastPrefix(x, k), k*t, d)                                   // [kT, d]
	buf := graph.ScatterSum(graph.Zeros(g, shapes.Make(dt, n*c+1, d)), slot, xRep, false, false) // [nC+1, d]
	buf = graph.Reshape(graph.Slice(buf, graph.AxisRange(0, n*c)), n, c, d)                      // [n, C, d]
	out := graph.Reshape(experts(scope, buf), n*c, d)
	out = graph.Concatenate([]*graph.Node{out, graph.Zeros(g, shapes.Make(dt, 1, d))}, 0) // spare row reads 0
	y := graph.Gather(out, slot)                                                          // [kT, d]
	y = graph.Mul(y, graph.Reshape(w, k*t, 1))
	return graph.ReduceSum(graph.Reshape(y, k, t, d), 0)
}
