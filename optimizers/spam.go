package optimizers

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
)

// SPAMConfig configures SPAM (Spike-Aware Adam with Momentum Reset). The zero value is the
// official defaults; fields where 0 is meaningful but not the default are pointers (nil: the
// default).
//
// Paper: Huang et al., "SPAM: Spike-Aware Adam with Momentum Reset for Stable LLM Training",
// ICLR 2025, arXiv:2501.06842.
// Reference code: TianjinYellow/SPAM-Optimizer galore_torch/SPAM.py (class AdamW, exported
// as SPAM; commit e8185fbe).
//
// Rule, with K the step (1-based) and a warm-up counter c (starting at warmup+1, reset to 0
// after the step before each momentum reset):
//
//	scale = 1 − 0.99·(1 + cos(π·c/(warmup+1)))/2 if c < warmup, else 1
//	if K mod ΔT = 0: m ← 0, v ← 0               (the bias-correction step is not reset)
//	if θ ≠ 0, K ≥ N_a and K mod ΔT ≥ N_a:       (N_a = grad_accu_steps)
//	    g_i ← sign(g_i)·√(θ·v_i) where g_i² > θ·v_i   (v before this step's update)
//	m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//	p ← p − lr·scale·(√(1−β2^K)/(1−β1^K))·m/(√v + ε)   (ε not bias-corrected)
//	p ← p·(1 − lr·wd)                           (after the step, not scaled by the warm-up)
//
// So at every reset step the moments are zeroed and scale = 0.01, which ramps back to 1 over
// warmup steps.
//
// Quirk kept: with N_a ≤ 1 the first step is clipped against v = 0, which zeroes every gradient
// (sign(g)·√0), so v stays 0 and training never starts, as in the code.
//
// Defaults: lr 1e-3, β (0.9, 0.999), ε 1e-6, weight decay 0, correct_bias true, warmup 150,
// θ 5000, ΔT 500, grad_accu_steps 20. State: m, v (×2) and the warm-up counter.
//
// Deviations: the optional random sparse masks ("density" groups, state only on masked entries)
// are not implemented: every tensor takes the dense path. Weight decay skips biases and norms
// unless GroupConfig.DecayAll. ΔT must be > 0 (0 divides by zero in the official code).
type SPAMConfig struct {
	LearningRate     float64
	Beta1, Beta2     float64
	Eps              float64
	WeightDecay      float64
	NoBiasCorrection bool
	// WarmupSteps after each reset; nil means 150.
	WarmupSteps *int
	// Threshold θ of the spike clipping (0 disables it); nil means 5000.
	Threshold *float64
	// DeltaT is the momentum-reset interval ΔT; 0 means 500.
	DeltaT int
	// GradAccuSteps N_a: no clipping before step N_a, nor in the first N_a steps after a reset;
	// nil means 20.
	GradAccuSteps *int
	Groups        GroupConfig
}

func (c SPAMConfig) withDefaults() SPAMConfig {
	c.LearningRate = orDefault(c.LearningRate, 1e-3)
	c.Beta1 = orDefault(c.Beta1, 0.9)
	c.Beta2 = orDefault(c.Beta2, 0.999)
	c.Eps = orDefault(c.Eps, 1e-6)
	if c.WarmupSteps == nil {
		c.WarmupSteps = Ptr(150)
	}
	if c.Threshold == nil {
		c.Threshold = Ptr(5000.0)
	}
	if c.DeltaT == 0 {
		c.DeltaT = 500
	}
	if c.GradAccuSteps == nil {
		c.GradAccuSteps = Ptr(20)
	}
	return c
}

// Validate checks the hyperparameters (after defaults).
func (c SPAMConfig) Validate() error {
	c = c.withDefaults()
	ck := &checker{name: "spam"}
	ck.lr(c.LearningRate)
	ck.beta(ParamBeta1, c.Beta1)
	ck.beta(ParamBeta2, c.Beta2)
	ck.nonNeg(ParamEpsilon, c.Eps)
	ck.nonNeg(ParamWeightDecay, c.WeightDecay)
	ck.check(*c.WarmupSteps >= 0, ParamSPAMWarmupSteps, *c.WarmupSteps, "must be >= 0")
	ck.nonNeg(ParamSPAMThreshold, *c.Threshold)
	ck.check(c.DeltaT > 0, ParamSPAMDeltaT, c.DeltaT, "must be > 0 (the momentum-reset interval)")
	ck.check(*c.GradAccuSteps >= 0, ParamSPAMGradAccuSteps, *c.GradAccuSteps, "must be >= 0")
	if err := c.Groups.Validate(); err != nil {
		ck.errs = append(ck.errs, err)
	}
	return ck.err()
}

// NewSPAM returns SPAM as a chain: warm-up/reset schedule, momentum reset, spike clipping,
// Adam moments (ε outside), warm-up scaling, step, decoupled weight decay.
func NewSPAM(c SPAMConfig) (*Optimizer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	warm, dT, accu := *c.WarmupSteps, int64(c.DeltaT), int64(*c.GradAccuSteps)
	schedule := Func("spam_schedule", func(u *Update) {
		i64 := func(v int64) *Node { return Scalar(u.Graph, dtypes.Int64, v) }
		k := u.Step // K, 1-based
		cur := u.Global("current_step", int64(warm+1))
		cv := cur.Value()
		// dr(c) = 0.99·(1 + cos(π c/(warmup+1)))/2 for c < warmup (CosineAnnealingLR's closed form).
		cf := ConvertDType(cv, dtypes.Float64)
		dr := MulScalar(AddScalar(Cos(MulScalar(cf, math.Pi/float64(warm+1))), 1), 0.99/2)
		dr = Where(GreaterOrEqual(cv, i64(int64(warm))), u.Const64(0), dr)
		u.Put("scale", u.Cast(OneMinus(dr)))
		phase := Rem(k, i64(dT))
		u.Put("reset", Equal(phase, i64(0)))                                                      // K mod ΔT = 0
		u.Put("clip", LogicalAnd(GreaterOrEqual(k, i64(accu)), GreaterOrEqual(phase, i64(accu)))) // K ≥ N_a, K mod ΔT ≥ N_a
		next := Where(Equal(Rem(Add(k, i64(1)), i64(dT)), i64(0)), i64(0), Add(cv, i64(1)))
		cur.Set(next)
	})
	reset := PerParam("spam_reset", func(u *Update, p *Param) {
		r := u.Get("reset")
		for _, name := range []string{"exp_avg", "exp_avg_sq"} {
			s := u.State(p, name)
			s.Set(Where(BroadcastToShape(r, s.Value().Shape()), ZerosLike(s.Value()), s.Value()))
		}
	})
	warmScale := PerParam("spam_warmup_scale", func(u *Update, p *Param) { p.U = Mul(p.U, u.Get("scale")) })
	return NewOptimizer("spam", c.LearningRate, c.Groups, false,
		schedule,
		reset,
		ClipSpikes(*c.Threshold, "exp_avg_sq", func(u *Update) *Node { return u.Get("clip") }),
		ScaleByAdam(AdamOptions{Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps, EpsOutside: true, NoBiasCorrection: c.NoBiasCorrection}),
		warmScale,
		ApplyUpdate(),
		DecoupledWeightDecay(c.WeightDecay),
	), nil
}

// Store params of SPAM.
const (
	ParamSPAMCorrectBias   = "spam_correct_bias"
	ParamSPAMWarmupSteps   = "spam_warmup_steps"
	ParamSPAMThreshold     = "spam_threshold"
	ParamSPAMDeltaT        = "spam_delta_t"
	ParamSPAMGradAccuSteps = "spam_grad_accu_steps"
)

func init() {
	declare(ParamSPAMCorrectBias, true, "spam: Adam bias correction")
	declare(ParamSPAMWarmupSteps, 0, "spam: cosine warm-up steps after each momentum reset (default 150)")
	declare(ParamSPAMThreshold, 0.0, "spam: spike threshold θ (g² > θ·v is clipped; default 5000)")
	declare(ParamSPAMDeltaT, 0, "spam: momentum-reset interval ΔT (default 500)")
	declare(ParamSPAMGradAccuSteps, 0, "spam: steps without clipping at the start and after each reset (default 20)")
	Register("spam", func(scope *model.Scope) (Interface, error) {
		r := newParamReader(scope, "spam")
		c := SPAMConfig{LearningRate: r.lr(), Beta1: r.float(ParamBeta1, 0), Beta2: r.float(ParamBeta2, 0),
			Eps: r.float(ParamEpsilon, 0), WeightDecay: r.float(ParamWeightDecay, 0),
			NoBiasCorrection: !r.bool(ParamSPAMCorrectBias, true), WarmupSteps: r.intPtr(ParamSPAMWarmupSteps),
			Threshold: r.floatPtr(ParamSPAMThreshold), DeltaT: r.int(ParamSPAMDeltaT, 0),
			GradAccuSteps: r.intPtr(ParamSPAMGradAccuSteps), Groups: groupsFromParams(r)}
		if err := r.err(); err != nil {
			return nil, err
		}
		return NewSPAM(c)
	})
}
