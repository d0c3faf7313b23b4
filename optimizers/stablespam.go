package optimizers

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
)

// StableSPAMConfig configures Stable-SPAM. The zero value is the official defaults; fields where
// 0 is meaningful but not the default are pointers (nil: the default).
//
// Paper: Huang et al., "Stable-SPAM: How to Train in 4-Bit More Stably than 16-Bit Adam",
// arXiv:2502.17055.
// Reference code: TianjinYellow/StableSPAM galore_torch/stablespam.py (commit 6a66da1e).
//
// Rule, with T the global step, t the bias-correction step (reset to 1 at momentum resets),
// s = η_min + (1−η_min)(1 + cos(πT/(total_T+1)))/2 when total_T is set (not clamped past it),
// else 1:
//
//	p ← p·(1 − lr·wd)                                        (decoupled, first)
//	t ← t + 1
//	adaptive spike clipping (AdaClip), θ = γ3:
//	  M = max|g|;  m_max ← θ·m_max + (1−θ)·M;  m̂ = m_max/(1−θ^t)
//	  g_i ← g_i·m̂/M where |g_i| > m̂
//	adaptive gradient-norm scaling (AdaGN), N = ‖g‖:
//	  m_N ← γ1·s·m_N + (1−γ1·s)·N;  v_N ← γ2·v_N + (1−γ2)·N²
//	  c = (m_N/(1−(γ1·s)^t)) / (√(v_N/(1−γ2^t)) + ε);  g ← g·c/N   (if N > 0)
//	momentum reset when T mod update_proj_gap = 0 (see the quirk): t ← 1
//	β1' = β1·s;  m ← β1'·m + (1−β1')·g;  v ← β2·v + (1−β2)·g²
//	p ← p − (lr/(1−β1'^t))·m/(√v/√(1−β2^t) + ε)            (AMSGrad: max of v)
//
// Quirks kept: on a reset step the update uses and advances the old moments with t = 1; the
// advanced moments are then dropped for zeros (the code binds them to locals before resetting
// the state). m_max, m_N, v_N are not reset, only their bias correction restarts. At t = 1
// nothing is clipped (m̂ = M). The AMSGrad maximum is not reset.
//
// Defaults: lr 1e-3, β (0.9, 0.999), ε 1e-8, weight decay 0, γ1 0.7 (−1 means β1), γ2 0.9,
// γ3 0.999, total_T none, η_min 0.5, update_proj_gap 1000 (0: no reset), amsgrad false.
// State: m, v (×2; ×3 with AMSGrad) and three scalars per tensor.
//
// Deviations: t is shared by all tensors (the code keeps one per tensor, always equal). Weight
// decay skips biases and norms unless GroupConfig.DecayAll.
type StableSPAMConfig struct {
	LearningRate float64
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  float64
	AMSGrad      bool
	// Gamma1 (−1: β1), Gamma2, Gamma3 (θ of the clipping); nil means 0.7, 0.9, 0.999.
	Gamma1, Gamma2, Gamma3 *float64
	// TotalT turns on the cosine schedule s of β1 and γ1 (0: off).
	TotalT int
	// EtaMin is the schedule's floor; nil means 0.5.
	EtaMin *float64
	// UpdateProjGap is the momentum-reset interval (0: never); nil means 1000.
	UpdateProjGap *int
	Groups        GroupConfig
}

func (c StableSPAMConfig) withDefaults() StableSPAMConfig {
	c.LearningRate = orDefault(c.LearningRate, 1e-3)
	c.Beta1 = orDefault(c.Beta1, 0.9)
	c.Beta2 = orDefault(c.Beta2, 0.999)
	c.Eps = orDefault(c.Eps, 1e-8)
	if c.Gamma1 == nil {
		c.Gamma1 = Ptr(0.7)
	}
	if *c.Gamma1 == -1 {
		c.Gamma1 = Ptr(c.Beta1)
	}
	if c.Gamma2 == nil {
		c.Gamma2 = Ptr(0.9)
	}
	if c.Gamma3 == nil {
		c.Gamma3 = Ptr(0.999)
	}
	if c.EtaMin == nil {
		c.EtaMin = Ptr(0.5)
	}
	if c.UpdateProjGap == nil {
		c.UpdateProjGap = Ptr(1000)
	}
	return c
}

// Validate checks the hyperparameters (after defaults).
func (c StableSPAMConfig) Validate() error {
	c = c.withDefaults()
	ck := &checker{name: "stable_spam"}
	ck.lr(c.LearningRate)
	ck.beta(ParamBeta1, c.Beta1)
	ck.beta(ParamBeta2, c.Beta2)
	ck.nonNeg(ParamEpsilon, c.Eps)
	ck.nonNeg(ParamWeightDecay, c.WeightDecay)
	ck.beta(ParamStableSPAMGamma1, *c.Gamma1)
	ck.beta(ParamStableSPAMGamma2, *c.Gamma2)
	ck.beta(ParamStableSPAMGamma3, *c.Gamma3)
	ck.check(c.TotalT >= 0, ParamStableSPAMTotalT, c.TotalT, "must be >= 0 (0: no schedule)")
	ck.check(isFinite64(*c.EtaMin) && *c.EtaMin >= 0 && *c.EtaMin <= 1, ParamStableSPAMEtaMin, *c.EtaMin, "must be in [0, 1]")
	ck.check(*c.UpdateProjGap >= 0, ParamStableSPAMUpdateProjGap, *c.UpdateProjGap, "must be >= 0 (0: no reset)")
	if err := c.Groups.Validate(); err != nil {
		ck.errs = append(ck.errs, err)
	}
	return ck.err()
}

// NewStableSPAM returns Stable-SPAM as a chain: decoupled weight decay, schedule and step
// counters, adaptive spike clipping, adaptive norm scaling, Adam with the reset quirk, step.
func NewStableSPAM(c StableSPAMConfig) (*Optimizer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	g1, g2, theta, gap := *c.Gamma1, *c.Gamma2, *c.Gamma3, int64(*c.UpdateProjGap)
	schedule := Func("stable_spam_schedule", func(u *Update) {
		i64 := func(v int64) *Node { return Scalar(u.Graph, dtypes.Int64, v) }
		s := u.Const64(1)
		if c.TotalT > 0 {
			// CosineAnnealingLR(T_max = total_T + 1) closed form at epoch T, from 1 down to η_min.
			cosT := Cos(MulScalar(u.StepF(), math.Pi/float64(c.TotalT+1)))
			s = AddScalar(MulScalar(AddScalar(cosT, 1), (1-*c.EtaMin)/2), *c.EtaMin)
		}
		u.Put("s", s) // float64
		tState := u.Global("t", int64(0))
		t := Add(tState.Value(), i64(1))
		reset := ConvertDType(ZerosLike(t), dtypes.Bool)
		if gap > 0 {
			reset = Equal(Rem(u.Step, i64(gap)), i64(0))
		}
		u.Put("reset", reset)
		u.Put("t", ConvertDType(t, dtypes.Float64))                              // for m_max, m_N, v_N
		u.Put("tb", Where(reset, u.Const64(1), ConvertDType(t, dtypes.Float64))) // for the moments
		tState.Set(Where(reset, i64(1), t))
	})
	stable := PerParam("stable_spam", func(u *Update, p *Param) {
		s, t, tb, reset := u.Get("s"), u.Get("t"), u.Get("tb"), u.Get("reset")
		g := p.U
		// AdaClip.
		mMax := u.StateShaped(p, "m_max_t", scalarShape(u))
		big := ReduceAllMax(Abs(g))                                                   // M
		mMaxNew := Add(Mul(mMax.Value(), u.Const(theta)), Mul(big, u.Const(1-theta))) // m_max ← θ m_max + (1−θ) M
		mMax.Set(mMaxNew)
		mHat := Div(mMaxNew, u.Cast(OneMinus(Pow(u.Const64(theta), t)))) // m̂ = m_max/(1−θ^t)
		clip := GreaterThan(Abs(g), mHat)
		g = Where(clip, Mul(Div(g, big), mHat), g) // g·m̂/M where |g| > m̂
		// AdaGN.
		n := norm(g)
		gs := Mul(u.Const64(g1), s) // γ1·s (float64)
		mN, vN := u.StateShaped(p, "m_norm_t", scalarShape(u)), u.StateShaped(p, "v_norm_t", scalarShape(u))
		gsC := u.Cast(gs)
		mNNew := Add(Mul(gsC, mN.Value()), Mul(OneMinus(gsC), n))                 // m_N ← γ1 s m_N + (1−γ1 s) N
		vNNew := Add(Mul(u.Const(g2), vN.Value()), Mul(u.Const(1-g2), Square(n))) // v_N ← γ2 v_N + (1−γ2) N²
		mN.Set(mNNew)
		vN.Set(vNNew)
		mNHat := Div(mNNew, u.Cast(OneMinus(Pow(gs, t))))
		vNHat := Div(vNNew, u.Cast(OneMinus(Pow(u.Const64(g2), t))))
		cN := Div(mNHat, Add(Sqrt(vNHat), u.Const(c.Eps)))
		g = Where(GreaterThan(n, u.Const(0)), Mul(Div(g, n), cN), g) // g·c/N
		// Adam with β1' = β1·s; on a reset step the old moments are advanced with t = 1 and
		// then replaced by zeros.
		b1 := Mul(u.Const64(c.Beta1), s) // float64
		b1C := u.Cast(b1)
		m, v := u.State(p, "exp_avg"), u.State(p, "exp_avg_sq")
		mNew := emaNode(m.Value(), g, b1C)
		vNew := ema(u, v.Value(), Square(g), c.Beta2)
		rb := BroadcastToShape(reset, mNew.Shape())
		m.Set(Where(rb, ZerosLike(mNew), mNew))
		v.Set(Where(rb, ZerosLike(vNew), vNew))
		den := vNew
		if c.AMSGrad {
			vmax := u.State(p, "max_exp_avg_sq")
			den = Max(vmax.Value(), vNew)
			vmax.Set(den)
		}
		bc1 := OneMinus(Pow(b1, tb))
		bc2 := OneMinus(Pow(u.Const64(c.Beta2), tb))
		denom := Add(Div(Sqrt(den), u.Cast(Sqrt(bc2))), u.Const(c.Eps))
		p.U = Mul(Div(mNew, denom), u.Cast(Reciprocal(bc1)))
	})
	return NewOptimizer("stable_spam", c.LearningRate, c.Groups, false,
		DecoupledWeightDecay(c.WeightDecay), schedule, stable, ApplyUpdate()), nil
}

func scalarShape(u *Update) shapes.Shape { return shapes.Make(u.DType) }

// Store params of Stable-SPAM.
const (
	ParamStableSPAMGamma1        = "stable_spam_gamma1"
	ParamStableSPAMGamma2        = "stable_spam_gamma2"
	ParamStableSPAMGamma3        = "stable_spam_gamma3"
	ParamStableSPAMTotalT        = "stable_spam_total_t"
	ParamStableSPAMEtaMin        = "stable_spam_eta_min"
	ParamStableSPAMUpdateProjGap = "stable_spam_update_proj_gap"
)

func init() {
	declare(ParamStableSPAMGamma1, 0.0, "stable_spam: γ1 of the norm EMA (default 0.7; -1: β1)")
	declare(ParamStableSPAMGamma2, 0.0, "stable_spam: γ2 of the squared-norm EMA (default 0.9)")
	declare(ParamStableSPAMGamma3, 0.0, "stable_spam: γ3 = θ of the max-gradient EMA (default 0.999)")
	declare(ParamStableSPAMTotalT, 0, "stable_spam: length of the cosine schedule of β1 and γ1 (0: off)")
	declare(ParamStableSPAMEtaMin, 0.0, "stable_spam: floor of that schedule (default 0.5)")
	declare(ParamStableSPAMUpdateProjGap, 0, "stable_spam: momentum-reset interval (default 1000; 0: never)")
	Register("stable_spam", func(scope *model.Scope) (Interface, error) {
		r := newParamReader(scope, "stable_spam")
		c := StableSPAMConfig{LearningRate: r.lr(), Beta1: r.float(ParamBeta1, 0), Beta2: r.float(ParamBeta2, 0),
			Eps: r.float(ParamEpsilon, 0), WeightDecay: r.float(ParamWeightDecay, 0), AMSGrad: r.bool(ParamAMSGrad, false),
			Gamma1: r.floatPtr(ParamStableSPAMGamma1), Gamma2: r.floatPtr(ParamStableSPAMGamma2), Gamma3: r.floatPtr(ParamStableSPAMGamma3),
			TotalT: r.int(ParamStableSPAMTotalT, 0), EtaMin: r.floatPtr(ParamStableSPAMEtaMin),
			UpdateProjGap: r.intPtr(ParamStableSPAMUpdateProjGap), Groups: groupsFromParams(r)}
		if err := r.err(); err != nil {
			return nil, err
		}
		return NewStableSPAM(c)
	})
}
