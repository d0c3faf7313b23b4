package distill

import (
	"errors"
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/losses"
)

// KDConfig configures Hinton's knowledge distillation (and its logit-standardized variant).
type KDConfig struct {
	// Temperature T > 0 (default 4, the CIFAR setting of Hinton et al. / mdistiller;
	// torchdistill requires it explicitly).
	Temperature float64
	// Alpha is the weight α of the distillation term (default 0.9, mdistiller's KD weight);
	// Float(0) leaves plain cross-entropy.
	Alpha *float64
	// HardWeight is the cross-entropy weight (default 1 − α). torchdistill's (alpha, beta) map
	// to (HardWeight, Alpha).
	HardWeight *float64
	// Standardize applies logit standardization (LSKD) to both logits before dividing by T:
	// z ← (z − mean(z)) / (std(z) + StdEps), std with Bessel's correction (torch.std).
	Standardize bool
	// StdEps is LSKD's ε (default 1e-7).
	StdEps float64
	// SoftOnly reproduces torchdistill's branch taken when alpha is None or 0 or no targets
	// are given: the bare KL, without T² and without weights.
	SoftOnly bool
	// Reduction is torchdistill's: "batchmean" (default: KL summed and divided by B, CE mean),
	// "mean" (KL and CE averaged over all elements) or "sum" (both summed).
	Reduction string
}

// KD is Hinton's knowledge distillation with an explicit T², optionally logit-standardized.
//
// Paper: Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network", NIPS 2014
// workshop, arXiv:1503.02531. LSKD: Sun et al., "Logit Standardization in Knowledge
// Distillation", CVPR 2024, arXiv:2403.01427.
// Reference code: yoshitomo-matsubara/torchdistill torchdistill/losses/mid_level.py (KDLoss,
// LogitStdKDLoss).
//
// Rule, with z_s, z_t [B, C] student and teacher logits and y the labels:
//
//	L = w_hard·CE(z_s, y) + α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T))
//
// CE is the mean over the batch, KL is "batchmean" (summed over classes and batch, divided by
// B), w_hard = 1 − α unless set. Defaults: T = 4, α = 0.9. Shapes: logits [B, C], labels [B]
// or [B, 1].
//
// Deviations: T² is always applied (the rule); torchdistill drops it (and the weights)
// when alpha is None or 0 — reproduce that with SoftOnly. α here weights the distillation term
// (Hinton's convention), so α = 0 is plain cross-entropy; torchdistill's alpha weights the
// cross-entropy.
type KD struct {
	t, alpha, hard, eps float64
	standardize         bool
	softOnly            bool
	reduction           string
}

// NewKD validates cfg and returns the loss.
func NewKD(cfg KDConfig) (*KD, error) {
	t := cfg.Temperature
	if t == 0 {
		t = 4
	}
	if !(t > 0) || math.IsInf(t, 0) {
		return nil, fmt.Errorf("distill: kd temperature=%g must be > 0", t)
	}
	alpha := floatOr(cfg.Alpha, 0.9)
	hard := floatOr(cfg.HardWeight, 1-alpha)
	if math.IsNaN(alpha) || math.IsNaN(hard) || alpha < 0 || hard < 0 {
		return nil, fmt.Errorf("distill: kd alpha=%g and hard weight=%g must be >= 0", alpha, hard)
	}
	eps := cfg.StdEps
	if eps == 0 {
		eps = 1e-7
	}
	if eps < 0 {
		return nil, fmt.Errorf("distill: kd std eps=%g must be > 0", eps)
	}
	switch cfg.Reduction {
	case "":
		cfg.Reduction = "batchmean"
	case "batchmean", "mean", "sum":
	default:
		return nil, fmt.Errorf("distill: kd reduction %q must be batchmean, mean or sum", cfg.Reduction)
	}
	return &KD{t: t, alpha: alpha, hard: hard, eps: eps, standardize: cfg.Standardize, softOnly: cfg.SoftOnly, reduction: cfg.Reduction}, nil
}

// Check implements Checker.
func (k *KD) Check(info Info) error { return needTeacher(info, "kd") }

func needTeacher(info Info, name string) error {
	if !info.HasTeacher {
		return fmt.Errorf("distill: %s needs a teacher (Config.Teacher)", name)
	}
	return nil
}

// Standardize is LSKD's z ← (z − mean) / (std + eps) over the last axis, std with Bessel's
// correction as torch.std.
func Standardize(z *Node, eps float64) *Node {
	c := float64(z.Shape().Dimensions[z.Rank()-1])
	mean := ReduceAndKeep(z, ReduceMean, -1)
	d := Sub(z, mean)
	std := Sqrt(DivScalar(ReduceAndKeep(Square(d), ReduceSum, -1), c-1))
	return Div(d, AddScalar(std, eps))
}

// Parts returns the cross-entropy and KL(softmax(z_t/T) ‖ softmax(z_s/T)) (without T²),
// reduced as configured (batchmean: CE mean, KL sum / B).
func (k *KD) Parts(student, teacher, labels *Node) (hard, soft *Node) {
	s, t := student, teacher
	if k.standardize {
		s, t = Standardize(s, k.eps), Standardize(t, k.eps)
	}
	logps, pt := LogSoftmax(DivScalar(s, k.t), -1), Softmax(DivScalar(t, k.t), -1)
	switch k.reduction {
	case "sum":
		soft = KLSum(logps, pt)
	case "mean":
		soft = DivScalar(KLSum(logps, pt), float64(logps.Shape().Size()))
	default:
		soft = KLBatchMean(logps, pt)
	}
	if labels != nil {
		hard = CrossEntropyPerExample(student, labels)
		if k.reduction == "sum" {
			hard = ReduceAllSum(hard)
		} else {
			hard = ReduceAllMean(hard)
		}
	}
	return hard, soft
}

// Compute returns the loss for logits [B, C] and labels.
func (k *KD) Compute(student, teacher, labels *Node) *Node {
	hard, soft := k.Parts(student, teacher, labels)
	if k.softOnly || labels == nil {
		return soft
	}
	total := MulScalar(soft, k.alpha*k.t*k.t) // α·T²·KL
	if k.hard != 0 {
		total = Add(MulScalar(hard, k.hard), total)
	}
	return total
}

// Loss implements Term.
func (k *KD) Loss(ctx *Context) *Node { return k.Compute(ctx.Student, ctx.Teacher, ctx.Labels) }

// HardLabel is the supervised term: a registered train/losses loss (default "cross_entropy";
// also "stablemax_ce", "focal", "logit_adjusted_ce", "dice", ...) of the student's prediction
// against the labels.
type HardLabel struct {
	// Name is the registered loss name.
	Name string
	fn   losses.Fn
}

// NewHardLabel returns the hard-label term for a registered loss, configured from scope's
// params (nil scope: defaults).
func NewHardLabel(scope *model.Scope, name string) (*HardLabel, error) {
	if name == "" {
		name = "cross_entropy"
	}
	if scope == nil {
		scope = model.NewStore().RootScope()
	}
	fn, err := losses.New(scope, name)
	if err != nil {
		return nil, fmt.Errorf("distill: hard-label term: %w", err)
	}
	return &HardLabel{Name: name, fn: fn}, nil
}

// Loss implements Term.
func (h *HardLabel) Loss(ctx *Context) *Node {
	if h.fn == nil {
		panic(errors.New("distill: HardLabel must be built with NewHardLabel"))
	}
	l := h.fn([]*Node{ExpandAxes(ctx.Labels, -1)}, []*Node{ctx.Student})
	if !l.IsScalar() {
		l = ReduceAllMean(l)
	}
	return l
}

func init() {
	train.DeclareParam("kd_temperature", 4.0, "distill: KD/LSKD temperature T")
	train.DeclareParam("kd_alpha", 0.9, "distill: KD weight α of the distillation term (CE weight 1 − α)")
	train.DeclareParam("distill_hard_loss", "cross_entropy", "distill: registered loss of the \"ce\" term")
	kdFactory := func(standardize bool) Factory {
		return func(scope *model.Scope) (Term, error) {
			return NewKD(KDConfig{Temperature: model.GetParamOr(scope, "kd_temperature", 4.0),
				Alpha: paramFloat(scope, "kd_alpha"), Standardize: standardize})
		}
	}
	Register("kd", kdFactory(false))
	Register("lskd", kdFactory(true))
	Register("ce", func(scope *model.Scope) (Term, error) {
		return NewHardLabel(scope, model.GetParamOr(scope, "distill_hard_loss", "cross_entropy"))
	})
}
