package fastgrad

import (
	"os"
	"slices"
	"strconv"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Softmax is graph.Softmax(x, axis) computed by the backend's fused softmax kernel, with the
// closed-form gradient ∂L/∂x = p ⊙ (v − Σ_axis p ⊙ v) (p the softmax output, v = ∂L/∂p).
//
// graph.Softmax also runs the fused kernel forward, but hands the gradient to its decomposed
// form (max, subtract, exp, sum, divide), so a training step computes the softmax twice (fused
// for the value, decomposed for the gradient's intermediates) and then differentiates the
// division chain: about a dozen element-wise passes over the scores against four here. The
// forward value is the fused kernel's, as with graph.Softmax; the gradient is the same
// function, rounded differently.
//
// It falls back to graph.Softmax when fusion is off (GOMLX_FUSION=false), when the backend has
// no fused softmax for x (e.g. its dtype), or when this GoMLX version's node layout is not the
// one this package reads.
func Softmax(x *graph.Node, axis int) *graph.Node {
	if axis < 0 {
		axis += x.Rank()
	}
	if !fusionEnabled() || !x.DType().IsFloat() {
		return graph.Softmax(x, axis)
	}
	var out *graph.Node
	if err := exceptions.TryCatch[error](func() { out = graph.BackendFusedSoftmax(x, axis) }); err != nil {
		if compute.IsNotImplemented(err) {
			return graph.Softmax(x, axis)
		}
		panic(err)
	}
	if a, ok := softmaxAxis(out); !ok || a != axis {
		return graph.Softmax(x, axis) // The fused node is left unused (the backend skips it).
	}
	return out
}

// fusionEnabled reads GoMLX's GOMLX_FUSION switch (default true), as graph.Softmax does.
func fusionEnabled() bool {
	v, ok := os.LookupEnv(graph.FusionEnv)
	if !ok || v == "" {
		return true
	}
	b, err := strconv.ParseBool(v)
	return err != nil || b
}

// softmaxAxis reads the axis of a FusedSoftmax node.
func softmaxAxis(node *graph.Node) (int, bool) {
	if node.Type() != graph.NodeTypeFusedSoftmax {
		return 0, false
	}
	p, ok := params(node)
	if !ok {
		return 0, false
	}
	f := p.FieldByName("axis")
	if !f.IsValid() || !f.CanInt() {
		return 0, false
	}
	return int(f.Int()), true
}

// softmaxVJP is the VJP of FusedSoftmax nodes built by Softmax: dx = p ⊙ (v − Σ_axis p ⊙ v).
// (graph.Softmax's fused nodes never reach it: GoMLX differentiates their decomposed form.)
func softmaxVJP(node *graph.Node, vjps []*graph.Node, _ shapes.Shape) []*graph.Node {
	axis, ok := softmaxAxis(node)
	if !ok {
		exceptions.Panicf("fastgrad: cannot read the axis of %s (GoMLX node layout changed?)", node)
	}
	p, v := node, vjps[0]
	pv := graph.Mul(p, v)
	var s *graph.Node
	if axis == p.Rank()-1 {
		if sum := sumByDot(pv, []int{axis}); sum != nil {
			keep := slices.Clone(pv.Shape().Dimensions)
			keep[axis] = 1
			s = graph.Reshape(sum, keep...)
		}
	}
	if s == nil {
		s = graph.ReduceAndKeep(pv, graph.ReduceSum, axis)
	}
	return []*graph.Node{graph.Sub(pv, graph.Mul(p, s))}
}
