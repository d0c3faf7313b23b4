package imbalance

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/losses"
)

// DiceConfig configures the self-adjusting Dice loss.
type DiceConfig struct {
	// Smooth s (default 1, the paper's scripts; the code's default is 1e-4).
	Smooth *float64
	// Alpha is the self-adjusting exponent α in p̃ = (1 − p)^α·p (default 0.01, the scripts;
	// Float(0) is plain Dice, the code's default).
	Alpha *float64
	// Denominator is "square" (default, the scripts' --dice_square: Σp̃² + Σy² per example) or
	// "batch" (the code's square_denominator=False: Σp̃ + Σy over the whole batch).
	Denominator string
	// OHEMRatio > 0 keeps only the hardest negatives (see Dice); default 0.
	OHEMRatio float64
	// Reduction over examples: "mean" (default), "sum" or "none".
	Reduction string
	// Probabilities says the inputs are already probabilities (with_logits=False).
	Probabilities bool
}

// Dice is the self-adjusting Dice loss (DSC), an F1-oriented loss for imbalanced data.
//
// Paper: Li et al., "Dice Loss for Data-imbalanced NLP Tasks", ACL 2020, arXiv:1911.02855.
// Reference code: ShannonAI/dice_loss_for_NLP loss/dice_loss.py (DiceLoss).
//
// Rule. Multi-class (logits [B, C], C > 1, integer labels): p = softmax(z), for each class c
// p̃ = (1 − p_c)^α·p_c and y the one-hot column;
//
//	square: ℓ_bc = 1 − (2·p̃_b·y_b + s)/(p̃_b² + y_b² + s)            (per example)
//	batch:  ℓ_bc = 1 − (2·p̃_b·y_b + s)/(Σ_b' p̃_b' + Σ_b' y_b' + s)   (batch-wide denominator)
//	ℓ_b = Σ_c ℓ_bc, reduced by mean (default), sum or none.
//
// Binary (logits [N, 1], 0/1 labels [N, 1]): p = sigmoid(z) flattened, one batch-level
// ℓ = 1 − (2·Σp̃y + s)/(Σp̃ + Σy + s) (square: Σp̃² + Σy²).
// OHEM (binary, as the code): keep = min(⌊#pos·ratio⌋, #neg); the threshold is element
// [−keep+1] of the sorted negative scores — which, because the code selects with an [N, 1]
// mask from an [N] vector, hold every score once per negative row; negatives with p ≤
// threshold are zeroed in both p and y. OHEM (multi-class): per class c, keep = min(⌊#pos·
// ratio/C⌋, #neg); when keep > 0, rows are kept if positive or (argmax = c and p_c ≥
// threshold), threshold = the [−keep+1] element of the sorted negative scores of class c.
//
// Defaults: s = 1, α = 0.01, square denominator (the scripts); set Smooth 1e-4, Alpha 0,
// Denominator "batch" for the code's defaults.
//
// Deviations: the official multi-class OHEM branch raises (an operator-precedence bug)
// whenever it would keep anything; the intended selection is implemented. No input mask.
type Dice struct {
	smooth, alpha, ohem float64
	square, probs       bool
	reduction           string
}

// NewDice validates cfg and returns the loss.
func NewDice(cfg DiceConfig) (*Dice, error) {
	d := &Dice{smooth: 1, alpha: 0.01, ohem: cfg.OHEMRatio, probs: cfg.Probabilities, reduction: cfg.Reduction}
	if cfg.Smooth != nil {
		d.smooth = *cfg.Smooth
	}
	if cfg.Alpha != nil {
		d.alpha = *cfg.Alpha
	}
	if d.smooth < 0 || math.IsNaN(d.smooth) {
		return nil, fmt.Errorf("dice: smooth=%g must be >= 0", d.smooth)
	}
	if d.alpha < 0 || math.IsNaN(d.alpha) {
		return nil, fmt.Errorf("dice: alpha=%g must be >= 0", d.alpha)
	}
	if d.ohem < 0 || math.IsNaN(d.ohem) {
		return nil, fmt.Errorf("dice: ohem_ratio=%g must be >= 0", d.ohem)
	}
	switch cfg.Denominator {
	case "", "square":
		d.square = true
	case "batch":
	default:
		return nil, fmt.Errorf("dice: denominator %q must be \"square\" or \"batch\"", cfg.Denominator)
	}
	switch d.reduction {
	case "":
		d.reduction = "mean"
	case "mean", "sum", "none":
	default:
		return nil, fmt.Errorf("dice: reduction %q must be mean, sum or none", d.reduction)
	}
	return d, nil
}

// Float returns a pointer to v (for the optional config fields).
func Float(v float64) *float64 { return &v }

func (d *Dice) adjust(p *Node) *Node {
	if d.alpha == 0 {
		return p
	}
	return Mul(Pow(OneMinus(p), Scalar(p.Graph(), p.DType(), d.alpha)), p) // p̃ = (1 − p)^α·p
}

// diceTerm is 1 − (2·Σ_last(p·y) + s)/den for p, y [N, 1] ([N] after the last-axis sums).
func (d *Dice) diceTerm(p, y *Node, perExample bool) *Node {
	p = d.adjust(p)
	inter := ReduceSum(Mul(p, y), -1)
	var den *Node
	switch {
	case d.square && perExample:
		den = Add(ReduceSum(Square(p), -1), ReduceSum(Square(y), -1))
	case d.square:
		den = Add(ReduceAllSum(Square(p)), ReduceAllSum(Square(y)))
	default:
		den = Add(ReduceAllSum(p), ReduceAllSum(y))
	}
	return OneMinus(Div(AddScalar(MulScalar(inter, 2), d.smooth), AddScalar(den, d.smooth)))
}

// kthSmallest returns the value at 0-based ascending position q (int32 scalar) of the values
// [N] where valid [N] (bool) holds; it is a constant for the gradient.
func kthSmallest(values, valid, q *Node) *Node {
	v := StopGradient(values)
	vi, vj := ExpandAxes(v, 1), ExpandAxes(v, 0) // [N,1] (i), [1,N] (j)
	validI := ConvertDType(ExpandAxes(valid, 1), dtypes.Int32)
	less := ReduceSum(Mul(validI, ConvertDType(LessThan(vi, vj), dtypes.Int32)), 0)
	leq := ReduceSum(Mul(validI, ConvertDType(LessOrEqual(vi, vj), dtypes.Int32)), 0)
	sel := LogicalAnd(valid, LogicalAnd(LessOrEqual(less, q), LessThan(q, leq)))
	low := BroadcastToShape(Scalar(v.Graph(), v.DType(), math.Inf(-1)), v.Shape())
	return ReduceAllMax(Where(sel, v, low))
}

// Compute returns the loss for inputs [B, C] (C > 1, integer labels [B] or [B, 1]) or [N, 1]
// (binary, 0/1 labels [N, 1]).
func (d *Dice) Compute(input, target *Node) *Node {
	c := input.Shape().Dimensions[input.Rank()-1]
	if c == 1 {
		return d.binary(input, target) // A scalar: its mean or sum is itself.
	}
	loss := d.multiClass(input, target, c)
	switch d.reduction {
	case "sum":
		return ReduceAllSum(loss)
	case "none":
		return loss
	}
	return ReduceAllMean(loss)
}

func (d *Dice) multiClass(input, target *Node, c int) *Node {
	g := input.Graph()
	p := input
	if !d.probs {
		p = Softmax(input, -1)
	}
	var labels, y *Node
	if target.Rank() == 2 && target.Shape().Dimensions[1] == c {
		// One-hot (or soft) targets: the code's index_label_position=False.
		y = ConvertDType(target, input.DType())
		labels = ArgMax(y, -1, dtypes.Int32)
	} else {
		labels = target
		if labels.Rank() == 2 {
			labels = Reshape(labels, labels.Shape().Dimensions[0])
		}
		labels = ConvertDType(labels, dtypes.Int32)
		y = OneHot(labels, c, input.DType())
	}
	b := input.Shape().Dimensions[0]
	var argmax *Node
	if d.ohem > 0 {
		argmax = ArgMax(p, -1, dtypes.Int32)
	}
	var total *Node
	for k := range c {
		pk := Slice(p, AxisRange(), AxisElem(k)) // [B, 1]
		yk := Slice(y, AxisRange(), AxisElem(k))
		if d.ohem > 0 {
			pos := Equal(labels, Scalar(g, dtypes.Int32, k))
			neg := LogicalNot(pos)
			posNum := ReduceAllSum(ConvertDType(pos, dtypes.Int32))
			negNum := ReduceAllSum(ConvertDType(neg, dtypes.Int32))
			keep := Min(ConvertDType(Floor(MulScalar(ConvertDType(posNum, dtypes.Float64), d.ohem/float64(c))), dtypes.Int32), negNum)
			// Python index −keep+1 into the ascending negative scores: 0 when keep = 1.
			q := Where(Equal(keep, Scalar(g, dtypes.Int32, 1)), Scalar(g, dtypes.Int32, 0), AddScalar(Sub(negNum, keep), 1))
			scores := Reshape(pk, b)
			threshold := kthSmallest(scores, neg, q)
			cond := LogicalOr(LogicalAnd(Equal(argmax, Scalar(g, dtypes.Int32, k)), GreaterOrEqual(scores, threshold)), pos)
			cond = LogicalOr(cond, LessOrEqual(keep, Scalar(g, dtypes.Int32, 0))) // keep = 0: no selection
			m := ExpandAxes(ConvertDType(cond, input.DType()), -1)
			pk, yk = Mul(pk, m), Mul(yk, m)
		}
		l := d.diceTerm(pk, yk, true) // [B]
		if total == nil {
			total = l
		} else {
			total = Add(total, l)
		}
	}
	return total
}

func (d *Dice) binary(input, target *Node) *Node {
	g := input.Graph()
	n := input.Shape().Size()
	p := Reshape(input, n)
	if !d.probs {
		p = Sigmoid(p)
	}
	y := ConvertDType(Reshape(target, n), input.DType())
	if d.ohem > 0 {
		half := Scalar(g, input.DType(), 0.5)
		pos := GreaterThan(y, half)
		neg := LogicalNot(pos)
		posNum := ReduceAllSum(ConvertDType(pos, dtypes.Int32))
		negNum := ReduceAllSum(ConvertDType(neg, dtypes.Int32))
		keep := Min(ConvertDType(Floor(MulScalar(ConvertDType(posNum, dtypes.Float64), d.ohem)), dtypes.Int32), negNum)
		// The official sorted list holds every score once per negative row (L = N·#neg);
		// index −keep+1 (1 when keep = 0, 0 when keep = 1) falls on the score of ascending
		// rank ⌊q/#neg⌋ among all N scores.
		one := Scalar(g, dtypes.Int32, 1)
		total := MulScalar(negNum, n)
		q := Where(Equal(keep, Scalar(g, dtypes.Int32, 0)), one,
			Where(Equal(keep, one), Scalar(g, dtypes.Int32, 0), AddScalar(Sub(total, keep), 1)))
		r := Div(q, Max(negNum, one))
		all := OnesLike(ConvertDType(pos, dtypes.Int32))
		threshold := kthSmallest(p, Equal(all, OnesLike(all)), r)
		cond := LogicalOr(GreaterThan(p, threshold), pos)
		m := ConvertDType(cond, input.DType())
		p, y = Mul(p, m), Mul(y, m)
	}
	// One batch-level dice over all N elements.
	return Reshape(d.diceTerm(ExpandAxes(p, 0), ExpandAxes(y, 0), false))
}

func init() {
	train.DeclareParam("dice_smooth", 1.0, "imbalance: Dice smooth s")
	train.DeclareParam("dice_alpha", 0.01, "imbalance: Dice self-adjusting exponent α")
	train.DeclareParam("dice_denominator", "square", "imbalance: Dice denominator (square or batch)")
	train.DeclareParam("dice_ohem_ratio", 0.0, "imbalance: Dice OHEM ratio")
	losses.Register("dice", func(scope *model.Scope) (losses.Fn, error) {
		d, err := NewDice(DiceConfig{Smooth: Float(model.GetParamOr(scope, "dice_smooth", 1.0)), Alpha: Float(model.GetParamOr(scope, "dice_alpha", 0.01)),
			Denominator: model.GetParamOr(scope, "dice_denominator", "square"), OHEMRatio: model.GetParamOr(scope, "dice_ohem_ratio", 0.0)})
		if err != nil {
			return nil, err
		}
		return func(labels, predictions []*Node) *Node { return d.Compute(predictions[0], labels[0]) }, nil
	})
}
