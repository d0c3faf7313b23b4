package fastgrad

import (
	"reflect"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/nn"
	"github.com/gomlx/gomlx/support/exceptions"
)

// LayerNorm is nn.LayerNorm(x, [last axis], epsilon, gamma, beta, nil) (Ba et al. 2016, "Layer
// Normalization", Eq. 3-4: y = (x − μ)/√(σ² + ε)·γ + β over the last axis), computed by the
// backend's fused kernel, with the closed-form gradient over rows of width D:
//
//	x̂ = (x − μ)·r, r = 1/√(σ² + ε), g = v·γ
//	∂L/∂x = r·(g − mean(g) − x̂·mean(g·x̂)),  ∂L/∂γ = Σ_rows v·x̂,  ∂L/∂β = Σ_rows v
//
// nn.LayerNorm runs the same fused kernel forward but differentiates a second, decomposed
// layer norm (two generic reductions and seven element-wise passes forward, about fourteen
// backward); here the backward pass is ten element-wise passes and sums computed as dot
// products with a ones vector. gamma and beta are nil or shaped [1, ..., 1, D] (as GoMLX's
// norm.LayerNorm passes them). Forward values are the fused kernel's, as with nn.LayerNorm; the
// gradients are the same functions, rounded differently.
//
// It falls back to nn.LayerNorm when fusion is off (GOMLX_FUSION=false), when the backend has
// no fused layer norm for x, or when this GoMLX version's node layout is not the one this
// package reads.
func LayerNorm(x *graph.Node, epsilon float64, gamma, beta *graph.Node) *graph.Node {
	last := x.Rank() - 1
	fallback := func() *graph.Node { return nn.LayerNorm(x, []int{last}, epsilon, gamma, beta, nil) }
	if !fusionEnabled() || !x.DType().IsFloat() || last < 0 {
		return fallback()
	}
	if gamma == nil && beta != nil {
		// The Go backend (compute v0.1.2) reads its inputs positionally and would apply a lone
		// beta as gamma; a gain of ones is exact.
		gamma = graph.OnesLike(beta)
	}
	var out *graph.Node
	if err := exceptions.TryCatch[error](func() { out = graph.BackendFusedLayerNorm(x, []int{last}, epsilon, gamma, beta) }); err != nil {
		if compute.IsNotImplemented(err) {
			return fallback()
		}
		panic(err)
	}
	if _, ok := layerNormParams(out); !ok {
		return fallback() // The fused node is left unused (the backend skips it).
	}
	return out
}

type layerNormArgs struct {
	epsilon           float64
	hasGamma, hasBeta bool
}

// layerNormParams reads a FusedLayerNorm node's parameters; ok only for a single last axis.
func layerNormParams(node *graph.Node) (layerNormArgs, bool) {
	var a layerNormArgs
	if node.Type() != graph.NodeTypeFusedLayerNorm {
		return a, false
	}
	p, ok := params(node)
	if !ok {
		return a, false
	}
	axes, ok := intSlice(p, "axes")
	if !ok || len(axes) != 1 || axes[0] != node.Rank()-1 {
		return a, false
	}
	eps := p.FieldByName("epsilon")
	if !eps.IsValid() || !eps.CanFloat() {
		return a, false
	}
	a.epsilon = eps.Float()
	for _, f := range []struct {
		name string
		has  *bool
	}{{"gamma", &a.hasGamma}, {"beta", &a.hasBeta}} {
		v := p.FieldByName(f.name)
		if !v.IsValid() || v.Kind() != reflect.Pointer {
			return a, false
		}
		*f.has = !v.IsNil()
	}
	return a, true
}

// layerNormVJP is the VJP of FusedLayerNorm nodes built by LayerNorm (nn.LayerNorm's fused
// nodes never reach it: GoMLX differentiates their decomposed form).
func layerNormVJP(node *graph.Node, vjps []*graph.Node, _ shapes.Shape) []*graph.Node {
	a, ok := layerNormParams(node)
	if !ok {
		exceptions.Panicf("fastgrad: cannot read the parameters of %s (GoMLX node layout changed?)", node)
	}
	ins := node.Inputs()
	x, v := ins[0], vjps[0]
	var gamma *graph.Node
	if a.hasGamma {
		gamma = ins[1]
	}
	last := x.Rank() - 1
	d := x.Shape().Dim(last)
	rowMean := func(t *graph.Node) *graph.Node { // mean over the last axis, kept as [..., 1]
		return graph.DivScalar(sumLastKeep(t), float64(d))
	}
	mu := rowMean(x)
	xc := graph.Sub(x, mu)
	r := graph.Rsqrt(graph.AddScalar(rowMean(graph.Mul(xc, xc)), a.epsilon)) // [..., 1]
	xhat := graph.Mul(xc, r)
	g := v
	if gamma != nil {
		g = graph.Mul(v, gamma)
	}
	dx := graph.Mul(graph.Sub(graph.Sub(g, rowMean(g)), graph.Mul(xhat, rowMean(graph.Mul(g, xhat)))), r)
	grads := []*graph.Node{dx}
	if a.hasGamma {
		grads = append(grads, sumRowsLike(graph.Mul(v, xhat), ins[1]))
	}
	if a.hasBeta {
		grads = append(grads, sumRowsLike(v, ins[len(ins)-1]))
	}
	return grads
}

// sumLastKeep sums t over its last axis, keeping it as size 1 (a dot product with ones when
// large enough).
func sumLastKeep(t *graph.Node) *graph.Node {
	last := t.Rank() - 1
	keep := slices.Clone(t.Shape().Dimensions)
	keep[last] = 1
	if s := sumByDot(t, []int{last}); s != nil {
		return graph.Reshape(s, keep...)
	}
	return graph.ReduceAndKeep(t, graph.ReduceSum, last)
}

// sumRowsLike sums t over every axis but the last and reshapes it to like's shape ([1,...,D]).
func sumRowsLike(t, like *graph.Node) *graph.Node {
	lead := make([]int, t.Rank()-1)
	for i := range lead {
		lead[i] = i
	}
	if len(lead) == 0 {
		return graph.Reshape(t, like.Shape().Dimensions...)
	}
	if s := sumByDot(t, lead); s != nil {
		return graph.Reshape(s, like.Shape().Dimensions...)
	}
	return graph.Reshape(graph.ReduceSum(t, lead...), like.Shape().Dimensions...)
}
