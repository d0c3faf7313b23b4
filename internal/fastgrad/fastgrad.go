// Package fastgrad replaces two of GoMLX's gradient (VJP) rules with mathematically identical
// ones that run much faster on the pure-Go backend. Importing it installs them (train/backend
// and layers import it, so every moeboost program has them).
//
// Why: the Go backend's Transpose and ReduceSum kernels are generic index iterators (measured
// 3.2 ns and 1.5-3 ns per element on a [2048, 256] float32 tensor), while its matmuls run
// AVX-512 kernels (a ReduceSum written as a dot product with a ones vector is 15-30x faster).
// GoMLX's DotGeneral VJP ends every gradient with a Transpose, an identity permutation included
// (a full copy through the iterator), and computes weight gradients as [out, in] followed by an
// explicit Transpose to [in, out]. The broadcast VJP (bias gradients) is a ReduceSum.
//
//   - DotGeneral: each gradient is built with the operand order whose output is already in the
//     input's axis order, so no Transpose is emitted in the common cases (dense layers, batched
//     expert matmuls, attention), and an identity permutation is never emitted. When the lhs of
//     the gradient product is not in the matmul layout (a weight gradient Xᵀ·dY contracts the
//     token axis of both), only the lhs is transposed, explicitly: left to itself the backend
//     would transpose both operands.
//   - BroadcastInDim: when the broadcast axes to sum over are the leading or the trailing ones,
//     the sum is a dot product with a ones vector.
//   - Max and Min (ReLU is Max(x, 0)): GoMLX routes the gradient with Sign(Sign(x-y)+1), and the
//     Go backend's Sign is a branchy scalar loop (24% of an MLP training step). The same
//     indicators are computed branch-free as ceil(m/(m+1e-30)), m = min(max(d, 0), 1), exact for
//     every finite input, denormals included; ties go where GoMLX sends them (Max: the first
//     operand, Min: the second).
//   - Softmax (this package's, used by layers' attention): the backend's fused softmax forward
//     with the closed-form gradient p ⊙ (v − Σ p ⊙ v), instead of graph.Softmax's gradient
//     through a second, decomposed softmax (see Softmax).
//   - LayerNorm (this package's, used by layers.LayerNorm): likewise, the fused layer norm with
//     its closed-form gradient (see LayerNorm).
//
// Anything else (non-default DotGeneral accumulation dtypes, dot products without free axes,
// broadcasts over interleaved axes, or a GoMLX version whose node layout this package does not
// recognize) falls back to GoMLX's own rule. Tests compare both rules on many shapes and check
// finite differences.
package fastgrad

import (
	"maps"
	"reflect"
	"slices"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

var (
	// originals holds GoMLX's rules, saved before any change.
	originals = maps.Clone(graph.VJPRegistration)

	origDotGeneral = graph.VJPRegistration[graph.NodeTypeDotGeneral]
	origBroadcast  = graph.VJPRegistration[graph.NodeTypeBroadcastInDim]
	origMax        = graph.VJPRegistration[graph.NodeTypeMax]
	origMin        = graph.VJPRegistration[graph.NodeTypeMin]
)

func init() { Install() }

// Install puts the fast rules in GoMLX's VJP registry (idempotent).
func Install() {
	for t, vjp := range originals {
		graph.VJPRegistration[t] = withFastSums(vjp)
	}
	graph.VJPRegistration[graph.NodeTypeDotGeneral] = dotGeneralVJP
	graph.VJPRegistration[graph.NodeTypeBroadcastInDim] = broadcastVJP
	graph.VJPRegistration[graph.NodeTypeMax] = minMaxVJP
	graph.VJPRegistration[graph.NodeTypeMin] = minMaxVJP
	graph.VJPRegistration[graph.NodeTypeFusedSoftmax] = softmaxVJP
	graph.VJPRegistration[graph.NodeTypeFusedLayerNorm] = layerNormVJP
}

// Uninstall restores GoMLX's own rules (for tests and comparisons).
func Uninstall() {
	for t, vjp := range originals {
		graph.VJPRegistration[t] = vjp
	}
	for _, t := range []graph.NodeType{graph.NodeTypeFusedSoftmax, graph.NodeTypeFusedLayerNorm} {
		if _, ok := originals[t]; !ok {
			delete(graph.VJPRegistration, t)
		}
	}
}

// withFastSums wraps a VJP rule: every gradient it returns that is a ReduceSum over leading or
// trailing axes (possibly under a Reshape), typically the gradient of an implicitly broadcast
// operand (a bias), is rebuilt as a dot product with a ones vector. The replaced ReduceSum node
// stays in the graph unused, and the backend does not execute unused nodes.
func withFastSums(vjp graph.VJP) graph.VJP {
	return func(node *graph.Node, vjps []*graph.Node, outShape shapes.Shape) []*graph.Node {
		grads := vjp(node, vjps, outShape)
		for i, g := range grads {
			if g != nil {
				grads[i] = fastSum(g)
			}
		}
		return grads
	}
}

// fastSum returns n, or an equal faster node when n is ReduceSum(x, axes) (or a Reshape of it)
// with axes a prefix or suffix of x's axes.
func fastSum(n *graph.Node) *graph.Node {
	reshapeTo := []int(nil)
	r := n
	if r.Type() == graph.NodeTypeReshape {
		reshapeTo = r.Shape().Dimensions
		r = r.Inputs()[0]
	}
	if r.Type() != graph.NodeTypeReduceSum {
		return n
	}
	p, ok := params(r)
	if !ok {
		return n
	}
	axes, ok := intSlice(p, "axes")
	x := r.Inputs()[0]
	if !ok || len(axes) == 0 || len(axes) == x.Rank() || !x.DType().IsFloat() {
		return n
	}
	sum := sumByDot(x, axes)
	if sum == nil {
		return n
	}
	if reshapeTo != nil {
		return graph.Reshape(sum, reshapeTo...)
	}
	return graph.Reshape(sum, r.Shape().Dimensions...)
}

// sumByDot sums x over axes with a matmul against a ones vector, when axes are the leading or
// trailing axes of x; it returns nil otherwise (or when there is too little to sum).
func sumByDot(x *graph.Node, axes []int) *graph.Node {
	rank := x.Rank()
	axes = slices.Sorted(slices.Values(axes))
	leading := axes[0] == 0 && axes[len(axes)-1] == len(axes)-1
	trailing := axes[len(axes)-1] == rank-1 && axes[0] == rank-len(axes)
	if !leading && !trailing {
		return nil
	}
	reduced := 1
	for _, a := range axes {
		reduced *= x.Shape().Dim(a)
	}
	kept := x.Shape().Size() / max(1, reduced)
	if reduced < 16 || kept == 0 {
		return nil
	}
	ones := graph.Ones(x.Graph(), shapes.Make(x.DType(), 1, reduced))
	if leading { // ones[1, M] · x[M, K] -> [1, K]
		return graph.DotGeneral(ones, []int{1}, nil, graph.Reshape(x, reduced, kept), []int{0}, nil)
	}
	return graph.DotGeneral(graph.Reshape(x, kept, reduced), []int{1}, nil, ones, []int{1}, nil) // [K, 1]
}

// params reads a node's unexported op parameters by reflection (GoMLX exposes no accessor);
// ok is false if the layout is not the one this package knows.
func params(node *graph.Node) (reflect.Value, bool) {
	v := reflect.ValueOf(node).Elem().FieldByName("inputs")
	if !v.IsValid() || v.Kind() != reflect.Interface || v.IsNil() {
		return reflect.Value{}, false
	}
	v = v.Elem()
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return reflect.Value{}, false
	}
	return v.Elem(), true
}

func intSlice(v reflect.Value, field string) ([]int, bool) {
	f := v.FieldByName(field)
	if !f.IsValid() || f.Kind() != reflect.Slice {
		return nil, false
	}
	out := make([]int, f.Len())
	for i := range out {
		e := f.Index(i)
		if e.Kind() != reflect.Int {
			return nil, false
		}
		out[i] = int(e.Int())
	}
	return out, true
}

// dotAxes are the axes of one DotGeneral operand.
type dotAxes struct {
	batch, contracting, cross []int
}

func freeAxes(rank int, batch, contracting []int) []int {
	var out []int
	for a := range rank {
		if !slices.Contains(batch, a) && !slices.Contains(contracting, a) {
			out = append(out, a)
		}
	}
	return out
}

func dotGeneralVJP(node *graph.Node, vjps []*graph.Node, outShape shapes.Shape) []*graph.Node {
	p, ok := params(node)
	if !ok {
		return origDotGeneral(node, vjps, outShape)
	}
	lc, ok1 := intSlice(p, "lhsContractingAxes")
	lb, ok2 := intSlice(p, "lhsBatchAxes")
	rc, ok3 := intSlice(p, "rhsContractingAxes")
	rb, ok4 := intSlice(p, "rhsBatchAxes")
	cfg := p.FieldByName("config")
	if !(ok1 && ok2 && ok3 && ok4) || !cfg.IsValid() || !defaultConfig(cfg) {
		return origDotGeneral(node, vjps, outShape)
	}
	ins := node.Inputs()
	lhs, rhs, v := ins[0], ins[1], vjps[0]
	if lhs.DType() != rhs.DType() || v.DType() != lhs.DType() {
		return origDotGeneral(node, vjps, outShape)
	}
	L := dotAxes{lb, lc, freeAxes(lhs.Rank(), lb, lc)}
	R := dotAxes{rb, rc, freeAxes(rhs.Rank(), rb, rc)}
	if len(L.cross) == 0 || len(R.cross) == 0 {
		return origDotGeneral(node, vjps, outShape) // Vector-like products: GoMLX's broadcast-multiply path.
	}
	nb := len(lb)
	// v is [batch..., lhs cross..., rhs cross...].
	vBatch := iota(0, nb)
	vL := iota(nb, len(L.cross))
	vR := iota(nb+len(L.cross), len(R.cross))
	return []*graph.Node{
		grad(lhs, L, v, vBatch, vL, vR, rhs, R),
		grad(rhs, R, v, vBatch, vR, vL, lhs, L),
	}
}

// grad returns ∂/∂this: contract v's positions of other's cross axes (vOther) with other's
// cross axes, batching over the batch axes. The free axes left are this's cross axes (from v,
// at vThis) and other's contracting axes, which pair with this's contracting axes.
func grad(this *graph.Node, T dotAxes, v *graph.Node, vBatch, vThis, vOther []int, other *graph.Node, O dotAxes) *graph.Node {
	// The axis of `this` that each output position of the two operand orders maps to.
	otherFree := freeAxes(other.Rank(), O.batch, O.cross) // = other's contracting axes, ascending.
	fromOther := make([]int, len(otherFree))
	for i, a := range otherFree {
		fromOther[i] = T.contracting[slices.Index(O.contracting, a)]
	}
	fromV := make([]int, len(vThis)) // v's free axes left: this's cross axes, ascending.
	copy(fromV, T.cross)
	orderA := slices.Concat(T.batch, fromV, fromOther) // DotGeneral(v, other)
	orderB := slices.Concat(T.batch, fromOther, fromV) // DotGeneral(other, v)
	// Pick the operand order that moves the fewest elements through the backend's slow
	// transposes: of its inputs (when their axes are not in a matmul layout) and of the output
	// (when not already in this's axis order).
	costA := layoutCost(v, vOther, vBatch, other, O.cross, O.batch) + outputCost(this, orderA)
	costB := layoutCost(other, O.cross, O.batch, v, vOther, vBatch) + outputCost(this, orderB)
	var g *graph.Node
	order := orderA
	if costB < costA {
		g, order = dotLHSInLayout(other, O.cross, O.batch, v, vOther, vBatch), orderB
	} else {
		g = dotLHSInLayout(v, vOther, vBatch, other, O.cross, O.batch)
	}
	if isIdentity(order) {
		return g
	}
	perm := make([]int, len(order)) // perm[axis of this] = position in g.
	for pos, axis := range order {
		perm[axis] = pos
	}
	return graph.TransposeAllAxes(g, perm...)
}

// dotLHSInLayout is DotGeneral(lhs, lc, lb, rhs, rc, rb), with lhs first transposed to
// [batch..., free..., contracting...] when its axes are not in the backend's matmul layout.
// The backend transposes such an lhs with the same permutation anyway, but it then also
// transposes the rhs to its [batch, free, contracting] layout even when the rhs was already in
// the [batch, contracting, free] layout its matmul takes: a weight gradient Xᵀ·dY (contracting
// the token axis of both) moved both activations through the slow generic transpose, now only
// one. The product is unchanged (same kernel, same summation order).
func dotLHSInLayout(lhs *graph.Node, lc, lb []int, rhs *graph.Node, rc, rb []int) *graph.Node {
	if matmulSide(lhs.Rank(), lc, lb, true) || !matmulSide(rhs.Rank(), rc, rb, false) {
		return graph.DotGeneral(lhs, lc, lb, rhs, rc, rb)
	}
	free := freeAxes(lhs.Rank(), lb, lc)
	perm := slices.Concat(lb, free, lc) // perm[new axis] = old axis.
	nb, nf := len(lb), len(free)
	return graph.DotGeneral(graph.TransposeAllAxes(lhs, perm...), iota(nb+nf, len(lc)), iota(0, nb), rhs, rc, rb)
}

// layoutCost estimates how many elements the Go backend transposes to run
// DotGeneral(lhs, lc, lb, rhs, rc, rb): it wants batch axes leading, the lhs contracting axis
// last and the rhs contracting axis right after the batch axes or last (adjacent axes of the
// same role merge first).
func layoutCost(lhs *graph.Node, lc, lb []int, rhs *graph.Node, rc, rb []int) int {
	cost := 0
	if !matmulSide(lhs.Rank(), lc, lb, true) {
		cost += lhs.Shape().Size()
	}
	if !matmulSide(rhs.Rank(), rc, rb, false) {
		cost += rhs.Shape().Size()
	}
	return cost
}

// matmulSide reports whether an operand's axes already fit the backend's matmul layout:
// [batch..., cross..., contracting...] for the lhs; for the rhs also [batch..., contracting..., cross...].
func matmulSide(rank int, contracting, batch []int, lhs bool) bool {
	if !isIdentity(batch) || !consecutive(contracting) {
		return false
	}
	free := rank - len(batch) - len(contracting)
	last := len(contracting) > 0 && contracting[len(contracting)-1] == rank-1
	if lhs {
		return last || free == 0
	}
	first := len(contracting) > 0 && contracting[0] == len(batch)
	return last || first || free == 0
}

func consecutive(axes []int) bool {
	for i := 1; i < len(axes); i++ {
		if axes[i] != axes[i-1]+1 {
			return false
		}
	}
	return true
}

func outputCost(this *graph.Node, order []int) int {
	if isIdentity(order) {
		return 0
	}
	return this.Shape().Size()
}

func defaultConfig(cfg reflect.Value) bool {
	for _, f := range []string{"AccumulatorDType", "OutputDType"} {
		fv := cfg.FieldByName(f)
		if !fv.IsValid() || !fv.CanInt() || dtypes.DType(fv.Int()) != dtypes.InvalidDType {
			return false
		}
	}
	return true
}

func broadcastVJP(node *graph.Node, vjps []*graph.Node, outShape shapes.Shape) []*graph.Node {
	p, ok := params(node)
	if !ok {
		return origBroadcast(node, vjps, outShape)
	}
	axes, ok := intSlice(p, "broadcastAxes")
	if !ok {
		return origBroadcast(node, vjps, outShape)
	}
	x, v := node.Inputs()[0], vjps[0]
	out := v.Shape()
	if !v.DType().IsFloat() || v.DType() != x.DType() || len(axes) != x.Rank() {
		return origBroadcast(node, vjps, outShape)
	}
	kept := make([]bool, out.Rank())
	for in, oa := range axes {
		if x.Shape().Dim(in) == out.Dim(oa) {
			kept[oa] = true
		}
	}
	// Summed axes must be a prefix or a suffix of v's axes, the kept ones contiguous.
	first, last := slices.Index(kept, true), -1
	for i, k := range kept {
		if k {
			last = i
		}
	}
	if first < 0 {
		return origBroadcast(node, vjps, outShape)
	}
	for i := first; i <= last; i++ {
		if !kept[i] {
			return origBroadcast(node, vjps, outShape)
		}
	}
	if first > 0 && last < out.Rank()-1 {
		return origBroadcast(node, vjps, outShape)
	}
	reduced, keptSize := 1, 1
	for i, k := range kept {
		if k {
			keptSize *= out.Dim(i)
		} else {
			reduced *= out.Dim(i)
		}
	}
	if reduced == 1 || reduced < 16 {
		return origBroadcast(node, vjps, outShape)
	}
	g := v.Graph()
	ones := graph.Ones(g, shapes.Make(v.DType(), 1, reduced))
	var sum *graph.Node
	if first > 0 { // Sum over leading axes: ones[1, M] · v[M, K].
		sum = graph.DotGeneral(ones, []int{1}, nil, graph.Reshape(v, reduced, keptSize), []int{0}, nil)
	} else { // Sum over trailing axes: v[K, M] · ones[1, M]ᵀ.
		sum = graph.DotGeneral(graph.Reshape(v, keptSize, reduced), []int{1}, nil, ones, []int{1}, nil)
	}
	return []*graph.Node{graph.Reshape(sum, x.Shape().Dimensions...)}
}

func iota(start, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + i
	}
	return out
}

func isIdentity(p []int) bool {
	for i, a := range p {
		if a != i {
			return false
		}
	}
	return true
}

// minMaxVJP routes v to the operand that was selected, as GoMLX's rule does, with a branch-free
// indicator (see the package doc).
func minMaxVJP(node *graph.Node, vjps []*graph.Node, outShape shapes.Shape) []*graph.Node {
	ins := node.Inputs()
	x, y, v := ins[0], ins[1], vjps[0]
	if !x.DType().IsFloat() || !x.Shape().Equal(y.Shape()) || !x.Shape().Equal(v.Shape()) {
		if node.Type() == graph.NodeTypeMin {
			return origMin(node, vjps, outShape)
		}
		return origMax(node, vjps, outShape)
	}
	// pos(d) = [d > 0], exact for finite d: m/(m+1e-30) is in (0, 1] for m in (0, 1], denormals included.
	pos := func(d *graph.Node) *graph.Node {
		m := graph.Min(graph.Max(d, graph.ZerosLike(d)), graph.OnesLike(d))
		return graph.Ceil(graph.Div(m, graph.AddScalar(m, 1e-30)))
	}
	var first, other *graph.Node
	if node.Type() == graph.NodeTypeMin {
		first = pos(graph.Sub(y, x)) // GoMLX: x gets the gradient iff x < y (ties go to y).
		other = graph.OneMinus(first)
	} else {
		other = pos(graph.Sub(y, x)) // GoMLX: x gets the gradient iff x >= y (ties go to x).
		first = graph.OneMinus(other)
	}
	return []*graph.Node{graph.Mul(v, first), graph.Mul(v, other)}
}
