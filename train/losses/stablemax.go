package losses

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// StableS is StableMax's replacement for exp:
//
//	s(x) = x + 1            for x ≥ 0
//	s(x) = 1/(1 − x + ε)    for x < 0,   ε = 1e-30
//
// continuous with a continuous first derivative at 0, and growing only linearly, so large logits
// cannot push probabilities to exactly 1 (the "Softmax Collapse" of float32 softmax).
//
// Paper: Prieto, Barsbey, Mediano & Birdal, "Grokking at the Edge of Numerical Stability",
// ICLR 2025, arXiv:2501.04697.
// Reference code: LucasPrietoAl/grokking-at-the-edge-of-numerical-stability utils.py (s,
// log_stablemax, stablemax_cross_entropy; commit 0cc9e8dc).
//
// Deviations: the negative branch is evaluated on min(x, 0), so the branch not taken never
// divides by ~0 (same values; finite gradients everywhere).
func StableS(x *graph.Node) *graph.Node {
	neg := graph.Min(x, graph.ZerosLike(x))
	negBranch := graph.Reciprocal(graph.AddScalar(graph.Neg(neg), 1+1e-30)) // 1/(1 − x + ε)
	return graph.Where(graph.LessThan(x, graph.ZerosLike(x)), negBranch, graph.AddScalar(x, 1))
}

// StableMax returns s(x_i)/Σ_j s(x_j) over the last axis of logits (probabilities).
func StableMax(logits *graph.Node) *graph.Node {
	s := StableS(logits)
	return graph.Div(s, graph.ReduceAndKeep(s, graph.ReduceSum, -1))
}

// LogStableMax returns log(s(x_i)/Σ_j s(x_j)) over the last axis, as the reference computes it.
func LogStableMax(logits *graph.Node) *graph.Node {
	return graph.Log(StableMax(logits))
}

// StableMaxCrossEntropy is the StableMax cross-entropy of integer labels ([batch] or
// [batch, 1]) and logits [batch, classes]: the per-example loss −log StableMax(x)[label],
// [batch]. As the reference, it is computed in float64 (the logits are converted first); the
// result is converted back to the logits' dtype, so a float32 model keeps a float32 loss (and
// float32 optimizer state) while the loss and its gradient are evaluated in float64.
func StableMaxCrossEntropy(labels, logits *graph.Node) *graph.Node {
	dt := logits.DType()
	x := graph.ConvertDType(logits, dtypes.Float64)
	classes := x.Shape().Dim(-1)
	if labels.Rank() == x.Rank() {
		labels = graph.Reshape(labels, labels.Shape().Dimensions[:labels.Rank()-1]...)
	}
	oneHot := graph.OneHot(graph.ConvertDType(labels, dtypes.Int32), classes, dtypes.Float64)
	loss := graph.Neg(graph.ReduceSum(graph.Mul(oneHot, LogStableMax(x)), -1)) // −log StableMax(x)[y]
	return graph.ConvertDType(loss, dt)
}

// stableMaxLoss adapts StableMaxCrossEntropy to the loss registry (labels[0], predictions[0]).
func stableMaxLoss(labels, predictions []*graph.Node) *graph.Node {
	return StableMaxCrossEntropy(labels[0], predictions[0])
}

func init() {
	// Labels: int class ids [batch] or [batch,1]; predictions: logits [batch, classes].
	Register("stablemax_ce", func(*model.Scope) (Fn, error) { return stableMaxLoss, nil })
}
