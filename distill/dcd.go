package distill

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train"
)

// DCDConfig configures dynamic contrastive distillation.
type DCDConfig struct {
	// Alpha weights the score-matching term (default 0.2) and 1 − Alpha the hard-label term;
	// Temperature T (default 1): both hard-coded at the official call site.
	Alpha, Temperature float64
	// Weighting is "official" (default: the matching term is the plain score MSE, because the
	// code multiplies a scalar MSE by softmax weights that sum to 1) or "per_sample" (what the
	// paper describes: each sample's MSE weighted by softmax_b((1 − w_b)²)).
	Weighting string
}

// DCD is the dynamic contrastive distillation loss for image-text retrieval: each query has a
// vector of matching scores over 1 positive (first) and H hard negatives; the student matches
// the teacher's scores and is trained on the hard labels with per-query weights from the
// teacher's (negative) entropy.
//
// Paper: Rao et al., "Dynamic Contrastive Distillation for Image-Text Retrieval", IEEE TMM
// 2023, arXiv:2207.01426.
// Reference code: raojay7/DCD meter/modules/KD_loss.py.
//
// Rule, with s, y [B, 1+H] teacher and student scores, p_t = softmax(s):
//
//	e_b = Σ_c p_t log p_t;  w_b = e_b / Σ_j e_j          (teacher-entropy weights, Σ w = 1)
//	d = T²·mean((s/T − y/T)²)                              ("official")
//	d = Σ_b softmax_b((1 − w_b)²)·T²·mean_c((s_b − y_b)²/T²) ("per_sample")
//	nll = Σ_b w_b · mean_c BCEWithLogits(y_b, [1, 0, …, 0])
//	L = α·d + (1 − α)·nll
//
// Defaults α = 0.2, T = 1 (the official call site).
//
// Deviations: none with "official" (the default); "per_sample" is the paper's intent.
type DCD struct {
	alpha, t  float64
	perSample bool
}

// NewDCD validates cfg and returns the loss.
func NewDCD(cfg DCDConfig) (*DCD, error) {
	d := &DCD{alpha: cfg.Alpha, t: cfg.Temperature}
	if d.alpha == 0 {
		d.alpha = 0.2
	}
	if d.t == 0 {
		d.t = 1
	}
	if d.alpha < 0 || d.alpha > 1 || !(d.t > 0) {
		return nil, fmt.Errorf("distill: dcd alpha=%g must be in [0, 1] and temperature=%g > 0", d.alpha, d.t)
	}
	switch cfg.Weighting {
	case "", "official":
	case "per_sample":
		d.perSample = true
	default:
		return nil, fmt.Errorf("distill: dcd weighting %q must be \"official\" or \"per_sample\"", cfg.Weighting)
	}
	return d, nil
}

// Check implements Checker.
func (d *DCD) Check(info Info) error { return needTeacher(info, "dcd") }

// Weights returns the teacher-entropy weights w [B] (non-negative, summing to 1).
func (d *DCD) Weights(teacher *Node) *Node {
	pt := Softmax(teacher, -1)
	e := ReduceSum(XLogX(pt), -1) // Σ p log p (≤ 0)
	return StopGradient(Div(e, ReduceAllSum(e)))
}

// Compute returns the loss of student scores y and teacher scores s [B, 1+H].
func (d *DCD) Compute(student, teacher *Node) *Node {
	teacher = StopGradient(teacher)
	w := d.Weights(teacher)
	se := Square(Sub(DivScalar(teacher, d.t), DivScalar(student, d.t)))
	var dist *Node
	if d.perSample {
		v := Softmax(Square(OneMinus(w)), 0)
		dist = MulScalar(ReduceAllSum(Mul(v, ReduceMean(se, -1))), d.t*d.t)
	} else {
		dist = MulScalar(ReduceAllMean(se), d.t*d.t) // the official re-weighting sums to 1: a no-op
	}
	// Hard labels [1, 0, …, 0]: the positive is the first candidate.
	col := Iota(student.Graph(), shapes.Make(dtypes.Int32, student.Shape().Dimensions...), 1)
	target := ConvertDType(Equal(col, ZerosLike(col)), student.DType())
	// BCE with logits: max(y, 0) − y·t + log(1 + exp(−|y|)).
	bce := Add(Sub(Max(student, ZerosLike(student)), Mul(student, target)), Log1p(Exp(Neg(Abs(student)))))
	nll := ReduceAllSum(Mul(w, ReduceMean(bce, -1)))
	return Add(MulScalar(dist, d.alpha), MulScalar(nll, 1-d.alpha))
}

// Loss implements Term (student and teacher outputs are the score vectors).
func (d *DCD) Loss(ctx *Context) *Node { return d.Compute(ctx.Student, ctx.Teacher) }

func init() {
	train.DeclareParam("dcd_alpha", 0.2, "distill: DCD weight of the score-matching term")
	Register("dcd", func(scope *model.Scope) (Term, error) {
		return NewDCD(DCDConfig{Alpha: model.GetParamOr(scope, "dcd_alpha", 0.2), Weighting: model.GetParamOr(scope, "dcd_weighting", "official")})
	})
}
