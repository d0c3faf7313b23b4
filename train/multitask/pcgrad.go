package multitask

import (
	"math/rand/v2"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX graph-building style
)

// pcgradEps is added to ‖g_j‖² in the projection, as LibMTL's PCGrad (LibMTL/weighting/PCGrad.py).
const pcgradEps = 1e-8

// PCGrad combines per-task gradients of the shared parameters by gradient surgery.
//
// Paper: Tianhe Yu, Saurabh Kumar, Abhishek Gupta, Sergey Levine, Karol Hausman, Chelsea Finn,
// "Gradient Surgery for Multi-Task Learning", NeurIPS 2020, arXiv 2001.06782, Alg. 1.
// Reference code: github.com/tianheyu927/PCGrad (PCGrad_tf.py) and the PyTorch version Rep-MTL
// builds on, LibMTL/weighting/PCGrad.py (median-research-group/LibMTL).
//
// grads is [T, P] (one flattened shared-parameter gradient per task); order is [T, T] int32, row
// i the (random) order in which task i's gradient visits the tasks. For each i, starting from
// g_i^PC = g_i and for each j in order[i]:
//
//	if ⟨g_i^PC, g_j⟩ < 0:  g_i^PC ← g_i^PC − ⟨g_i^PC, g_j⟩ / (‖g_j‖² + 1e-8) · g_j     (Alg. 1, line 6)
//
// projecting onto the normal plane of the original g_j (not its projected version), j = i
// included (a no-op, ⟨g_i, g_i⟩ ≥ 0), exactly as LibMTL's loop. The result is Σ_i g_i^PC
// (LibMTL and the TF code sum; Pytorch-PCGrad's default averages, a 1/T rescaling).
func PCGrad(grads, order *Node) *Node {
	T := grads.Shape().Dim(0)
	dt := grads.DType()
	sq := ReduceAndKeep(Square(grads), ReduceSum, -1) // ‖g_j‖², [T, 1]
	oh := OneHot(order, T, dt)                        // [T(i), T(k), T(j)]
	pc := grads
	for k := 0; k < T; k++ {
		sel := Squeeze(Slice(oh, AxisRange(), AxisElem(k), AxisRange()), 1) // [T, T]: row i picks j = order[i][k]
		gj := MatMul(sel, grads)                                            // g_j for each i, [T, P]
		nj := MatMul(sel, sq)                                               // ‖g_j‖², [T, 1]
		dot := ReduceAndKeep(Mul(pc, gj), ReduceSum, -1)                    // ⟨g_i^PC, g_j⟩, [T, 1]
		coef := Where(LessThan(dot, ZerosLike(dot)), Div(dot, AddScalar(nj, pcgradEps)), ZerosLike(dot))
		pc = Sub(pc, Mul(coef, gj)) // Alg. 1, line 6
	}
	return ReduceSum(pc, 0)
}

// RandomOrders returns T random permutations of 0..T-1 (row i: task i's visiting order), drawn
// like LibMTL's random.shuffle of the task indices for each task.
func RandomOrders(r *rand.Rand, T int) [][]int32 {
	out := make([][]int32, T)
	for i := range out {
		row := make([]int32, T)
		for j := range row {
			row[j] = int32(j)
		}
		r.Shuffle(T, func(a, b int) { row[a], row[b] = row[b], row[a] })
		out[i] = row
	}
	return out
}
