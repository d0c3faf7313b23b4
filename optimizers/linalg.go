package optimizers

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best with the op names unqualified, as in GoMLX's own optimizers.
)

// GoMLX v0.28.2 has no SVD, QR or eigendecomposition in core/graph, so the low-rank projectors
// (Fira, FRUGAL's SVD subspace) are computed here, in the graph: a symmetric eigendecomposition of
// the Gram matrix by the cyclic Jacobi method in a While loop whose iteration budget is zero except
// on refresh steps (the Gram matrix and the final sorting sit in If branches, see topProjector),
// so the projector never leaves the device and a refresh needs no host round trip. The cost of a
// refresh is O(sweeps·k⁴) for a k-wide Gram matrix: fine for k up to a few hundred.

// jacobiMaxSweeps bounds the Jacobi sweeps; convergence is quadratic and takes 6-10 sweeps for the
// matrix sizes of a low-rank projector (k <= a few hundred).
const jacobiMaxSweeps = 30

// roundRobin returns the pairings of the parallel (round-robin, "chess tournament") Jacobi
// ordering of k (even) indices: k-1 rounds of k/2 disjoint pairs that together cover every pair
// (p, q) exactly once per sweep.
func roundRobin(k int) (p, q [][]int32) {
	players := make([]int32, k)
	for i := range players {
		players[i] = int32(i)
	}
	for range k - 1 {
		pr, qr := make([]int32, k/2), make([]int32, k/2)
		for i := range k / 2 {
			pr[i], qr[i] = players[i], players[k-1-i]
		}
		p, q = append(p, pr), append(q, qr)
		// Keep players[0] fixed, rotate the others by one.
		last := players[k-1]
		copy(players[2:], players[1:k-1])
		players[1] = last
	}
	return p, q
}

// SymEig returns the eigenvalues of the symmetric matrix a [k, k] in descending order ([k]) and
// the matching unit eigenvectors as the columns of vecs [k, k], computed in float64 whatever a's
// dtype (the results are converted back). Each eigenvector's largest-magnitude entry is made
// positive, so the result is deterministic.
//
// Method: cyclic Jacobi rotations with the parallel round-robin ordering (Golub & Van Loan,
// Matrix Computations, 4th ed., §8.5): each round applies k/2 disjoint rotations at once as one
// orthogonal matrix J, A ← Jᵀ A J, V ← V J, until the off-diagonal norm falls below
// 1e-15·‖A‖_F (at most 30 sweeps of k-1 rounds). The rotation of pair (p, q) zeroes a_pq:
// θ = (a_qq − a_pp)/(2 a_pq), t = sign(θ)/(|θ| + √(θ²+1)), c = 1/√(t²+1), s = t·c,
// J_pp = J_qq = c, J_pq = s, J_qp = −s (Numerical Recipes §11.1).
func SymEig(a *Node) (vals, vecs *Node) { return SymEigIf(a, nil) }

// SymEigIf is SymEig run only when active (a boolean scalar; nil means always): when it is false
// the Jacobi loop stops before its first rotation and the result is meaningless, to be discarded
// with Where. It replaces an If around the loop, which the Go backend cannot run (a While inside
// an If branch fails with "cond must be a closure of the current function" in compute v0.1.2).
func SymEigIf(a, active *Node) (vals, vecs *Node) {
	if a.Rank() != 2 || a.Shape().Dim(0) != a.Shape().Dim(1) {
		panic("optimizers.SymEig: want a square matrix, got " + a.Shape().String())
	}
	g := a.Graph()
	outDT := a.DType()
	if a.Shape().Dim(0) == 1 {
		return Reshape(a, 1), ConvertDType(Reshape(lit(g, dtypes.Float64, 1), 1, 1), outDT)
	}
	am, vm := jacobi(a, active)
	vals, vecs = sortEig(am, vm, a.Shape().Dim(0))
	return ConvertDType(vals, outDT), ConvertDType(vecs, outDT)
}

// jacobi runs the Jacobi rotations on a (k ≥ 2; padded to an even size kp) and returns the
// rotated matrix (diagonal at convergence) and the accumulated rotations, both [kp, kp] float64.
func jacobi(a, active *Node) (am, vm *Node) {
	g := a.Graph()
	const dt = dtypes.Float64
	a = ConvertDType(a, dt)
	k := a.Shape().Dim(0)
	// Symmetrize (guards against rounding asymmetry of GᵀG).
	a = Mul(Add(a, Transpose(a, 0, 1)), lit(g, dt, 0.5))
	scale := Sqrt(ReduceAllSum(Square(a)))
	kp := k + k%2
	if kp != k {
		// Pad to an even size with a decoupled eigenvalue below every true one: -(‖A‖_F + 1).
		a = Pad(a, lit(g, dt, 0), PadAxis{End: 1}, PadAxis{End: 1})
		corner := OneHot(Const(g, []int32{int32(k)}), kp, dt) // [1, kp]
		cornerM := MatMul(Transpose(corner, 0, 1), corner)    // [kp, kp]
		a = Sub(a, Mul(cornerM, Add(scale, lit(g, dt, 1))))
	}
	pTab, qTab := roundRobin(kp)
	rounds := kp - 1
	tol := Mul(Add(scale, lit(g, dt, 1e-300)), lit(g, dt, 1e-15))
	// The While closures may only capture nodes of the main function (GoMLX v0.28.2 creates every
	// closure from the main function), and SymEig may itself run inside an If branch: so the
	// closures build their own constants and everything else travels in the loop state.
	iterShape, mShape, sShape := shapes.Make(dtypes.Int32), shapes.Make(dt, kp, kp), shapes.Make(dt)
	maxIter := lit(g, dtypes.Int32, float64(jacobiMaxSweeps*rounds))
	if active != nil {
		maxIter = Where(active, maxIter, lit(g, dtypes.Int32, 0))
	}
	cond := NewClosure(g, func(g *Graph) []*Node {
		it := Parameter(g, "iter", iterShape)
		am := Parameter(g, "a", mShape)
		_ = Parameter(g, "v", mShape)
		tolN := Parameter(g, "tol", sShape)
		maxN := Parameter(g, "max_iter", iterShape)
		offMask := Sub(lit(g, dt, 1), ConvertDType(Diagonal(g, kp), dt)) // not OneMinus: its cached scalar would cross closures
		off := Sqrt(ReduceAllSum(Square(Mul(am, offMask))))
		return []*Node{LogicalAnd(LessThan(it, maxN), GreaterThan(off, tolN))}
	})
	body := NewClosure(g, func(g *Graph) []*Node {
		// Loop-state parameters used more than once go through one op first (see owned).
		it := owned(Parameter(g, "iter", iterShape))
		am := owned(Parameter(g, "a", mShape))
		vm := Parameter(g, "v", mShape)
		tolN := owned(Parameter(g, "tol", sShape))
		maxN := Parameter(g, "max_iter", iterShape)
		one, two, huge := lit(g, dt, 1), lit(g, dt, 2), lit(g, dt, 1e150)
		round := Rem(it, lit(g, dtypes.Int32, float64(rounds)))
		at := Reshape(round, 1) // Gather index [1] -> row [kp/2] (the Go backend has no DynamicSlice)
		pIdx := Gather(Const(g, pTab), at)
		qIdx := Gather(Const(g, qTab), at)
		ep := OneHot(pIdx, kp, dt) // [kp/2, kp]
		eq := OneHot(qIdx, kp, dt)
		diag := ReduceSum(Mul(am, ConvertDType(Diagonal(g, kp), dt)), 1) // [kp]
		app := ReduceSum(Mul(ep, InsertAxes(diag, 0)), 1)                // [kp/2]
		aqq := ReduceSum(Mul(eq, InsertAxes(diag, 0)), 1)                // [kp/2]
		apq := ReduceSum(Mul(ep, MatMul(eq, am)), 1)                     // [kp/2]: Σ_j Ep[i,j]·A[q_i,j]
		nonzero := GreaterThan(Abs(apq), Mul(tolN, lit(g, dt, 1e-3)))    // skip (near-)zero pairs
		zeros, ones := BroadcastToShape(lit(g, dt, 0), apq.Shape()), BroadcastToShape(one, apq.Shape())
		safeApq := Where(nonzero, apq, ones)           // avoid 0/0
		theta := Div(Sub(aqq, app), Mul(safeApq, two)) // θ = (a_qq − a_pp)/(2 a_pq)
		sgn := Where(GreaterOrEqual(theta, zeros), ones, Neg(ones))
		absT := Abs(theta)
		t := Div(sgn, Add(absT, Sqrt(Add(Square(absT), one)))) // t = sign(θ)/(|θ| + √(θ²+1))
		t = Where(GreaterThan(absT, huge), Div(ones, Mul(theta, two)), t)
		t = Where(nonzero, t, zeros)
		c := Rsqrt(Add(Square(t), one)) // c = 1/√(t²+1)
		s := Mul(t, c)                  // s = t·c
		c2, s2 := InsertAxes(c, -1), InsertAxes(s, -1)
		// J = Epᵀ(c Ep + s Eq) + Eqᵀ(c Eq − s Ep): J_pp = J_qq = c, J_pq = s, J_qp = −s.
		j := Add(MatMul(Transpose(ep, 0, 1), Add(Mul(c2, ep), Mul(s2, eq))),
			MatMul(Transpose(eq, 0, 1), Sub(Mul(c2, eq), Mul(s2, ep))))
		am = MatMul(MatMul(Transpose(j, 0, 1), am), j) // A ← Jᵀ A J
		vm = MatMul(vm, j)                             // V ← V J
		return []*Node{Add(it, lit(g, dtypes.Int32, 1)), am, vm, tolN, maxN}
	})
	eye := Diagonal(g, kp)
	out := While(cond, body, lit(g, dtypes.Int32, 0), a, ConvertDType(eye, dt), tol, maxIter)
	return out[1], out[2]
}

// sortEig returns the eigenvalues (descending, [k]) and eigenvectors (columns, [k, k]) from the
// Jacobi result, dropping the padding. It only uses closure-safe constants, so it can run inside
// an If branch.
func sortEig(am, vm *Node, k int) (sortedVals, sortedVecs *Node) {
	g := am.Graph()
	const dt = dtypes.Float64
	kp := am.Shape().Dim(0)
	eye := Diagonal(g, kp)
	lam := ReduceSum(Mul(am, ConvertDType(eye, dt)), 1) // [kp]
	// Sort descending with ranks (no TopK/Sort needed): rank_i = #{j: λ_j > λ_i} + #{j < i: λ_j = λ_i}.
	li, lj := InsertAxes(lam, -1), InsertAxes(lam, 0) // [kp,1], [1,kp]
	idx := Iota(g, shapes.Make(dtypes.Int32, kp), 0)
	ii, jj := InsertAxes(idx, -1), InsertAxes(idx, 0)
	before := LogicalOr(GreaterThan(lj, li), LogicalAnd(Equal(lj, li), LessThan(jj, ii))) // [kp(i), kp(j)]
	rank := ReduceSum(ConvertDType(before, dtypes.Int32), 1)                              // [kp]
	perm := OneHot(rank, kp, dt)                                                          // perm[i, r] = 1 iff rank_i = r
	sortedVals = ReduceSum(Mul(li, perm), 0)                                              // [kp]
	sortedVecs = MatMul(vm, perm)                                                         // column r = eigenvector of rank r
	// Deterministic signs: the largest-magnitude entry of each eigenvector is positive.
	amax := ArgMax(Abs(sortedVecs), 0)                                           // [kp]
	pick := ReduceSum(Mul(Transpose(OneHot(amax, kp, dt), 0, 1), sortedVecs), 0) // [kp]
	pz, po := BroadcastToShape(lit(g, dt, 0), pick.Shape()), BroadcastToShape(lit(g, dt, 1), pick.Shape())
	sign := Where(GreaterOrEqual(pick, pz), po, Neg(po))
	sortedVecs = Mul(sortedVecs, InsertAxes(sign, 0))
	if kp != k {
		sortedVals = Slice(sortedVals, AxisRange(0, k))
		sortedVecs = Slice(sortedVecs, AxisRange(0, k), AxisRange(0, k))
	}
	return sortedVals, sortedVecs
}

// TopSingularVectors returns the projector of the best rank-r approximation of the matrix m
// [rows, cols], as Fira/GaLore's "std" projection takes it from torch.linalg.svd(m) = U S Vh:
// when rows >= cols the "right" projector Vh[:r] ([r, cols]), else the "left" projector
// U[:, :r] ([rows, r]). It is computed from the eigenvectors of the smaller Gram matrix (mᵀm or
// m mᵀ) in float64; singular vectors are unique up to sign, and the sign here is deterministic
// (see SymEig).
func TopSingularVectors(m *Node, r int) (proj *Node, right bool) {
	right = m.Shape().Dim(0) >= m.Shape().Dim(1)
	return topProjector(m, r, right, nil), right
}

// gatedCompute runs fn(inputs) only when active (a boolean scalar) and returns its outputs, or
// zeros of outShapes when inactive. It is a While loop with an iteration budget of 1 or 0 that
// carries the inputs in its state: the Go backend's If gave nondeterministic wrong results in
// the optimizer graphs (compute v0.1.2, most likely the buffer reuse around branch captures),
// while a While whose state carries every value it reads has been reliable. fn runs inside the
// loop body: it may only use its arguments and constants made with lit.
func gatedCompute(active *Node, inputs []*Node, outShapes []shapes.Shape, fn func(g *Graph, ins []*Node) []*Node) []*Node {
	g := active.Graph()
	budget := Where(active, lit(g, dtypes.Int32, 1), lit(g, dtypes.Int32, 0))
	n := len(inputs)
	state := []*Node{lit(g, dtypes.Int32, 0), budget}
	state = append(state, inputs...)
	for _, sh := range outShapes {
		state = append(state, BroadcastToShape(lit(g, sh.DType, 0), sh))
	}
	params := func(g *Graph) []*Node {
		ps := []*Node{Parameter(g, "i", shapes.Make(dtypes.Int32)), Parameter(g, "budget", shapes.Make(dtypes.Int32))}
		for i, in := range inputs {
			ps = append(ps, Parameter(g, fmt.Sprintf("in%d", i), in.Shape()))
		}
		for i, sh := range outShapes {
			ps = append(ps, Parameter(g, fmt.Sprintf("out%d", i), sh))
		}
		return ps
	}
	cond := NewClosure(g, func(g *Graph) []*Node {
		ps := params(g)
		return []*Node{LessThan(ps[0], ps[1])}
	})
	body := NewClosure(g, func(g *Graph) []*Node {
		ps := params(g)
		ins := make([]*Node, n)
		for i := range n {
			ins[i] = owned(ps[2+i])
		}
		outs := fn(g, ins)
		res := []*Node{Add(ps[0], lit(g, dtypes.Int32, 1)), ps[1]}
		res = append(res, ins...)
		return append(res, outs...)
	})
	out := While(cond, body, state...)
	return out[2+n:]
}

// owned returns x through one elementwise op, a fresh buffer. On the Go backend (compute v0.1.2)
// buffer reuse does not see every reader of a value that crosses a closure boundary: a closure
// parameter used by several ops, or a node captured by an If branch and also consumed in the
// main function, can be overwritten in place while it is still being read ("op Add reused input
// 0 as output ...", or silently wrong, nondeterministic values). So values captured by a branch
// are first routed through owned in the main function (no other consumer there), and
// loop-state parameters used several times go through owned inside the body.
func owned(x *Node) *Node { return Mul(x, lit(x.Graph(), x.DType(), 1)) }

// lit returns a scalar constant that is never shared through GoMLX's scalar cache. GoMLX v0.28.2
// caches scalar constants per graph, not per function, so a scalar first created inside one
// closure (an If or While body) and then reused by a sibling closure fails with "uses a node from
// a different function scope". Code that runs inside closures (the projector refresh, SGD-SaI's
// g-SNR) builds its constants with lit and avoids helpers that take cached scalars (MulScalar,
// AddScalar, OneMinus, OnesLike...).
func lit(g *Graph, dt dtypes.DType, v float64) *Node {
	return Reshape(ConstAsDType(g, dt, []float64{v}))
}

// isFinite64 reports whether x is a finite float (used by validation).
func isFinite64(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
