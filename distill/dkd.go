package distill

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train"
)

// DKDConfig configures Decoupled Knowledge Distillation.
type DKDConfig struct {
	// Alpha weights TCKD (default 1), Beta weights NCKD (default 8), Temperature T (default 4):
	// mdistiller's CFG.DKD.
	Alpha, Beta, Temperature float64
	// Variant is "mdistiller" (default, the authors' code) or "mdcs" (MDCS's copy, whose TCKD
	// keeps only the non-target mass term).
	Variant string
}

// DKD is Decoupled Knowledge Distillation: KD split into target-class (TCKD) and
// non-target-class (NCKD) parts, weighted separately.
//
// Paper: Zhao et al., "Decoupled Knowledge Distillation", CVPR 2022, arXiv:2203.08679.
// Reference code: megvii-research/mdistiller mdistiller/distillers/DKD.py (dkd_loss); MDCS's
// copy in fistyee/MDCS model/loss.py (dkd_loss).
//
// Rule, with p = softmax(z/T), g the one-hot label, b = [p_g, 1 − p_g] the binary
// target/non-target split and q = softmax(z/T − 1000·g) the distribution over the non-target
// classes:
//
//	TCKD = T²/B · Σ_b KL(b_t ‖ b_s)      NCKD = T²/B · Σ_b KL(q_t ‖ q_s)
//	L = α·TCKD + β·NCKD
//
// KL with sum reduction, divided by B (batchmean). The ground-truth class is masked by
// subtracting 1000 from z/T, as the code does, not by −∞. The "mdcs" variant's TCKD is
// T²/B·Σ_b b_t[1]·(log b_t[1] − log b_s[1]) (its cat_mask returns only the non-target mass).
// Defaults: α = 1, β = 8, T = 4. The distiller's cross-entropy (weight 1) and the warm-up
// min(epoch/20, 1) are separate terms and a Schedule: see the package example.
//
// Deviations: none for the loss value and gradient (golden-tested against both codes).
type DKD struct {
	alpha, beta, t float64
	mdcs           bool
}

// NewDKD validates cfg and returns the loss.
func NewDKD(cfg DKDConfig) (*DKD, error) {
	d := &DKD{alpha: cfg.Alpha, beta: cfg.Beta, t: cfg.Temperature}
	if d.alpha == 0 {
		d.alpha = 1
	}
	if d.beta == 0 {
		d.beta = 8
	}
	if d.t == 0 {
		d.t = 4
	}
	if d.alpha < 0 || d.beta < 0 || !(d.t > 0) {
		return nil, fmt.Errorf("distill: dkd alpha=%g, beta=%g must be >= 0 and temperature=%g > 0", d.alpha, d.beta, d.t)
	}
	switch cfg.Variant {
	case "", "mdistiller":
	case "mdcs":
		d.mdcs = true
	default:
		return nil, fmt.Errorf("distill: dkd variant %q unknown: use \"mdistiller\" or \"mdcs\"", cfg.Variant)
	}
	return d, nil
}

// Check implements Checker.
func (d *DKD) Check(info Info) error { return needTeacher(info, "dkd") }

// Parts returns TCKD and NCKD (each with T², before α and β).
func (d *DKD) Parts(student, teacher, labels *Node) (tckd, nckd *Node) {
	gt := OneHotLike(labels, student)
	other := OneMinus(gt)
	b := float64(student.Shape().Dimensions[0])
	t2 := d.t * d.t
	ps := Softmax(DivScalar(student, d.t), -1)
	pt := Softmax(DivScalar(teacher, d.t), -1)
	// cat_mask: [Σ p·gt, Σ p·other] per row.
	s1, s2 := ReduceSum(Mul(ps, gt), -1), ReduceSum(Mul(ps, other), -1)
	t1, t2m := ReduceSum(Mul(pt, gt), -1), ReduceSum(Mul(pt, other), -1)
	if d.mdcs {
		// MDCS's cat_mask returns only the non-target mass.
		tckd = MulScalar(DivScalar(KLSum(Log(s2), t2m), b), t2)
	} else {
		bs := Stack([]*Node{s1, s2}, -1)
		bt := Stack([]*Node{t1, t2m}, -1)
		tckd = MulScalar(DivScalar(KLSum(Log(bs), bt), b), t2) // TCKD, sum KL · T² / B
	}
	mask := MulScalar(gt, 1000)
	qt := Softmax(Sub(DivScalar(teacher, d.t), mask), -1)
	logqs := LogSoftmax(Sub(DivScalar(student, d.t), mask), -1)
	nckd = MulScalar(DivScalar(KLSum(logqs, qt), b), t2) // NCKD
	return tckd, nckd
}

// Compute returns α·TCKD + β·NCKD.
func (d *DKD) Compute(student, teacher, labels *Node) *Node {
	tckd, nckd := d.Parts(student, teacher, labels)
	return Add(MulScalar(tckd, d.alpha), MulScalar(nckd, d.beta))
}

// Loss implements Term.
func (d *DKD) Loss(ctx *Context) *Node { return d.Compute(ctx.Student, ctx.Teacher, ctx.Labels) }

func init() {
	train.DeclareParam("dkd_alpha", 1.0, "distill: DKD weight of TCKD")
	train.DeclareParam("dkd_beta", 8.0, "distill: DKD weight of NCKD")
	train.DeclareParam("dkd_temperature", 4.0, "distill: DKD temperature")
	f := func(variant string) Factory {
		return func(scope *model.Scope) (Term, error) {
			return NewDKD(DKDConfig{Alpha: model.GetParamOr(scope, "dkd_alpha", 1.0), Beta: model.GetParamOr(scope, "dkd_beta", 8.0),
				Temperature: model.GetParamOr(scope, "dkd_temperature", 4.0), Variant: variant})
		}
	}
	Register("dkd", f("mdistiller"))
	Register("dkd_mdcs", f("mdcs"))
}
