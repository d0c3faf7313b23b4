package distill

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX's idiom for graph maths.
)

// This file holds the small graph helpers every loss shares. All of them work in the dtype of
// their input (float32 or float64) and keep gradients exact.

// FlatLabels returns class labels as int32 [B], accepting [B] or [B, 1] of any integer dtype.
func FlatLabels(labels *Node) *Node {
	if labels.Rank() == 2 {
		labels = Reshape(labels, labels.Shape().Dimensions[0])
	}
	if labels.DType() != dtypes.Int32 {
		labels = ConvertDType(labels, dtypes.Int32)
	}
	return labels
}

// OneHotLike returns one-hot rows [B, C] in the dtype of like for labels [B] or [B, 1].
func OneHotLike(labels *Node, like *Node) *Node {
	c := like.Shape().Dimensions[like.Rank()-1]
	return OneHot(FlatLabels(labels), c, like.DType())
}

// LogSumExp reduces axis with log Σ exp, stably (the shift by the stopped-gradient maximum
// cancels exactly in the gradient). keep keeps the reduced axis with size 1.
func LogSumExp(x *Node, axis int, keep bool) *Node {
	m := StopGradient(ReduceAndKeep(x, ReduceMax, axis))
	// Rows that are all −∞ (fully masked) would give −∞ − (−∞) = NaN: shift by 0 there.
	m = Where(IsFinite(m), m, ZerosLike(m))
	out := Add(Log(ReduceAndKeep(Exp(Sub(x, m)), ReduceSum, axis)), m)
	if !keep {
		out = Squeeze(out, axis)
	}
	return out
}

// LogSumExpAll reduces every axis with log Σ exp to a scalar.
func LogSumExpAll(x *Node) *Node {
	flat := Reshape(x, x.Shape().Size())
	return LogSumExp(flat, 0, false)
}

// CrossEntropyMean is −(1/B) Σ_b log softmax(z_b)[y_b] (PyTorch's F.cross_entropy, mean).
func CrossEntropyMean(logits, labels *Node) *Node {
	return ReduceAllMean(CrossEntropyPerExample(logits, labels))
}

// CrossEntropyPerExample is −log softmax(z_b)[y_b], shape [B].
func CrossEntropyPerExample(logits, labels *Node) *Node {
	logp := LogSoftmax(logits, -1)
	return Neg(ReduceSum(Mul(logp, OneHotLike(labels, logits)), -1))
}

// XLogX is x·log x with 0·log 0 = 0 (PyTorch's xlogy convention in kl_div), safe in the
// gradient at x = 0.
func XLogX(x *Node) *Node {
	pos := GreaterThan(x, ZerosLike(x))
	safe := Where(pos, x, OnesLike(x))
	return Where(pos, Mul(x, Log(safe)), ZerosLike(x))
}

// KLSum is Σ target·(log target − logInput) over every element: PyTorch's
// F.kl_div(logInput, target, reduction="sum").
func KLSum(logInput, target *Node) *Node {
	return ReduceAllSum(Sub(XLogX(target), Mul(target, logInput)))
}

// KLBatchMean is KLSum divided by the batch size (the first axis): PyTorch's "batchmean".
func KLBatchMean(logInput, target *Node) *Node {
	return DivScalar(KLSum(logInput, target), float64(logInput.Shape().Dimensions[0]))
}

// L2NormalizeRows is F.normalize(x, p=2, dim=axis, eps): x / max(‖x‖₂, eps). A zero vector
// maps to 0 with a zero (not NaN) gradient, as in PyTorch.
func L2NormalizeRows(x *Node, axis int, eps float64) *Node {
	sq := ReduceAndKeep(Square(x), ReduceSum, axis)
	den := Sqrt(Max(sq, Scalar(x.Graph(), x.DType(), eps*eps)))
	return Div(x, den)
}

// FlattenBatch reshapes [B, ...] to [B, prod(...)] (PyTorch's flatten(1)).
func FlattenBatch(x *Node) *Node {
	if x.Rank() == 2 {
		return x
	}
	b := x.Shape().Dimensions[0]
	return Reshape(x, b, x.Shape().Size()/b)
}

// SmoothL1 is PyTorch's smooth_l1_loss with beta = 1, reduced with "mean" or "sum".
func SmoothL1(x, y *Node, reduction string) *Node {
	d := Abs(Sub(x, y))
	one := OnesLike(d)
	l := Where(LessThan(d, one), MulScalar(Square(d), 0.5), SubScalar(d, 0.5))
	if reduction == "sum" {
		return ReduceAllSum(l)
	}
	return ReduceAllMean(l)
}

// maskFloat converts a boolean node to the dtype of like (1 or 0), without gradient.
func maskFloat(b *Node, like *Node) *Node {
	return StopGradient(ConvertDType(b, like.DType()))
}

// scalarLike returns a scalar constant in the dtype of like.
func scalarLike(like *Node, v float64) *Node {
	return Scalar(like.Graph(), like.DType(), v)
}

// softplusInverse is log(exp(x) − 1) computed as TensorFlow Probability (and Distiller's port)
// does: log x below exp(log ε + 2), x itself above −(log ε + 2), else x + log(−expm1(−x)).
func softplusInverse(x *Node) *Node {
	eps := 2.220446049250313e-16 // float64 machine epsilon
	if x.DType() == dtypes.Float32 {
		eps = 1.1920928955078125e-07
	}
	threshold := math.Log(eps) + 2
	small := LessThan(x, scalarLike(x, math.Exp(threshold)))
	large := GreaterThan(x, scalarLike(x, -threshold))
	safe := Where(LogicalOr(small, large), OnesLike(x), x)
	// −expm1(−x) = 1 − exp(−x).
	y := Add(safe, Log(Neg(expm1(Neg(safe)))))
	return Where(small, Log(Where(small, x, OnesLike(x))), Where(large, x, y))
}

// expm1 is exp(x) − 1, accurate near 0 (GoMLX's Expm1 has no gradient): a 4-term series for
// |x| < 1e-3, exp(x) − 1 elsewhere.
func expm1(x *Node) *Node {
	near := LessThan(Abs(x), scalarLike(x, 1e-3))
	small := Where(near, x, ZerosLike(x))
	x2 := Mul(small, small)
	series := Add(small, Add(MulScalar(x2, 0.5), Add(MulScalar(Mul(x2, small), 1.0/6), MulScalar(Mul(x2, x2), 1.0/24))))
	return Where(near, series, SubScalar(Exp(x), 1))
}
