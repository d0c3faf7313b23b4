package imbalance

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/losses"
)

// FocalConfig configures the focal loss.
type FocalConfig struct {
	// Gamma is the focusing exponent γ (default 2).
	Gamma *float64
	// Alpha is the class-balance weight α of the positive class in the binary (sigmoid) case
	// (default 0.25, torchvision's sigmoid_focal_loss); nil in the multi-class case means no
	// α weighting. A negative value disables it in the binary case too.
	Alpha *float64
	// Reduction is "mean" (default), "sum" or "none".
	Reduction string
}

// Focal is the focal loss, which down-weights well-classified examples.
//
// Paper: Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, arXiv:1708.02002.
// Reference code: torchvision.ops.sigmoid_focal_loss (binary); the softmax form is the
// paper's multi-class generalization as used in long-tail code bases.
//
// Rule. Multi-class (logits [B, C], labels [B]): ℓ_b = −α_b·(1 − p_{b,y})^γ·log p_{b,y} with
// p = softmax(z) (α_b = 1 unless Alpha is set, then α for every class). Binary (logits [N, 1],
// 0/1 labels): p = σ(z), p_t = p·y + (1 − p)(1 − y), ℓ = −α_t·(1 − p_t)^γ·log p_t with
// α_t = α·y + (1 − α)(1 − y), log p_t computed as −BCEWithLogits. γ = 0 and no α is
// cross-entropy.
//
// Deviations: none.
type Focal struct {
	gamma float64
	// classAlpha (multi-class) and binaryAlpha (binary) are α, or < 0 for no α weighting.
	classAlpha, binaryAlpha float64
	reduction               string
}

// NewFocal validates cfg and returns the loss.
func NewFocal(cfg FocalConfig) (*Focal, error) {
	f := &Focal{gamma: 2, classAlpha: -1, binaryAlpha: 0.25, reduction: cfg.Reduction}
	if cfg.Gamma != nil {
		f.gamma = *cfg.Gamma
	}
	if cfg.Alpha != nil {
		f.classAlpha, f.binaryAlpha = *cfg.Alpha, *cfg.Alpha
	}
	if f.gamma < 0 || math.IsNaN(f.gamma) {
		return nil, fmt.Errorf("focal: gamma=%g must be >= 0", f.gamma)
	}
	if f.binaryAlpha > 1 || math.IsNaN(f.binaryAlpha) {
		return nil, fmt.Errorf("focal: alpha=%g must be in [0, 1] (or negative for none)", f.binaryAlpha)
	}
	switch f.reduction {
	case "":
		f.reduction = "mean"
	case "mean", "sum", "none":
	default:
		return nil, fmt.Errorf("focal: reduction %q must be mean, sum or none", f.reduction)
	}
	return f, nil
}

func (f *Focal) modulate(pt, logpt *Node) *Node {
	l := Neg(logpt)
	if f.gamma != 0 {
		l = Mul(Pow(OneMinus(pt), Scalar(pt.Graph(), pt.DType(), f.gamma)), l) // (1 − p_t)^γ
	}
	return l
}

// Compute returns the loss of logits [B, C] or [N, 1] against labels.
func (f *Focal) Compute(logits, labels *Node) *Node {
	var l *Node
	c := logits.Shape().Dimensions[logits.Rank()-1]
	if c == 1 {
		y := ConvertDType(labels, logits.DType())
		// log p_t = −BCEWithLogits(z, y) = −(max(z,0) − z·y + log(1 + e^−|z|)).
		logpt := Neg(Add(Sub(Max(logits, ZerosLike(logits)), Mul(logits, y)), Log1p(Exp(Neg(Abs(logits))))))
		l = f.modulate(Exp(logpt), logpt)
		if f.binaryAlpha >= 0 {
			at := Add(MulScalar(y, f.binaryAlpha), MulScalar(OneMinus(y), 1-f.binaryAlpha))
			l = Mul(at, l)
		}
	} else {
		logp := LogSoftmax(logits, -1)
		lab := labels
		if lab.Rank() == 2 {
			lab = Reshape(lab, lab.Shape().Dimensions[0])
		}
		oh := OneHot(ConvertDType(lab, labelsDType), c, logits.DType())
		logpt := ReduceSum(Mul(logp, oh), -1)
		l = f.modulate(Exp(logpt), logpt)
		if f.classAlpha >= 0 {
			l = MulScalar(l, f.classAlpha)
		}
	}
	switch f.reduction {
	case "sum":
		return ReduceAllSum(l)
	case "none":
		return l
	}
	return ReduceAllMean(l)
}

func init() {
	train.DeclareParam("focal_gamma", 2.0, "imbalance: focal loss γ")
	losses.Register("focal", func(scope *model.Scope) (losses.Fn, error) {
		f, err := NewFocal(FocalConfig{Gamma: Float(model.GetParamOr(scope, "focal_gamma", 2.0))})
		if err != nil {
			return nil, err
		}
		return func(labels, predictions []*Node) *Node { return f.Compute(predictions[0], labels[0]) }, nil
	})
}
