package optimizers

import (
	"github.com/gomlx/gomlx/ml/model"
)

// AdamPConfig configures AdamP. The zero value is the official defaults; zero betas/eps/delta
// mean their defaults.
//
// Paper: Heo et al., "AdamP: Slowing Down the Slowdown for Momentum Optimizers on
// Scale-invariant Weights", ICLR 2021, arXiv:2006.08217.
// Reference code: clovaai/AdamP adamp/adamp.py (commit 7f6f0383).
//
// Rule, per tensor (t the step):
//
//	m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//	d = m / (√v/√(1−β2^t) + ε)           (Nesterov: (β1·m + (1−β1)·g) in the numerator)
//	d, s = ProjectRadial(d)              (tensors with > 1 axis; s = wd_ratio if it fired, else 1)
//	p ← p·(1 − lr·wd·s)
//	p ← p − (lr/(1−β1^t))·d
//
// Defaults: lr 1e-3, β (0.9, 0.999), ε 1e-8, weight decay 0, δ 0.1, wd_ratio 0.1, nesterov
// false. State: m, v (×2).
//
// Deviations: weight decay skips biases and norms unless GroupConfig.DecayAll.
type AdamPConfig struct {
	LearningRate float64
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  float64
	// Delta is the cosine threshold δ (the test is cos < δ/√d).
	Delta float64
	// WDRatio scales the weight decay when the projection fires; nil means 0.1.
	WDRatio  *float64
	Nesterov bool
	Groups   GroupConfig
}

func (c AdamPConfig) withDefaults() AdamPConfig {
	c.LearningRate = orDefault(c.LearningRate, 1e-3)
	c.Beta1 = orDefault(c.Beta1, 0.9)
	c.Beta2 = orDefault(c.Beta2, 0.999)
	c.Eps = orDefault(c.Eps, 1e-8)
	c.Delta = orDefault(c.Delta, 0.1)
	if c.WDRatio == nil {
		c.WDRatio = Ptr(0.1)
	}
	return c
}

// Validate checks the hyperparameters (after defaults).
func (c AdamPConfig) Validate() error {
	c = c.withDefaults()
	ck := &checker{name: "adamp"}
	ck.lr(c.LearningRate)
	ck.beta(ParamBeta1, c.Beta1)
	ck.beta(ParamBeta2, c.Beta2)
	ck.nonNeg(ParamEpsilon, c.Eps)
	ck.nonNeg(ParamWeightDecay, c.WeightDecay)
	ck.positive(ParamAdamPDelta, c.Delta)
	ck.nonNeg(ParamAdamPWDRatio, *c.WDRatio)
	if err := c.Groups.Validate(); err != nil {
		ck.errs = append(ck.errs, err)
	}
	return ck.err()
}

// NewAdamP returns AdamP as a chain: Adam moments, radial projection, decoupled weight decay
// (scaled by the projection), step.
func NewAdamP(c AdamPConfig) (*Optimizer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	return NewOptimizer("adamp", c.LearningRate, c.Groups, false,
		ScaleByAdam(AdamOptions{Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps, Nesterov: c.Nesterov}),
		ProjectRadial(c.Delta, *c.WDRatio, c.Eps),
		DecoupledWeightDecay(c.WeightDecay),
		ApplyUpdate(),
	), nil
}

// SGDPConfig configures SGDP. The zero value is the official defaults, except the learning
// rate, which the official code requires and moeboost sets to 0.1 (the paper's ImageNet value).
//
// Paper: Heo et al., ICLR 2021 (as AdamP). Reference code: clovaai/AdamP adamp/sgdp.py.
//
// Rule, per tensor:
//
//	b ← μ·b + (1 − dampening)·g          (b starts at 0: the first step is (1−τ)·g, unlike torch SGD)
//	d = g + μ·b (Nesterov) or d = b
//	d, s = ProjectRadial(d)              (tensors with > 1 axis)
//	p ← p·(1 − lr·wd·s/(1 − μ))
//	p ← p − lr·d
//
// Quirk kept: without Nesterov, d is the momentum buffer itself and the official code projects
// it in place, so when the projection fires the stored momentum is the projected one.
//
// Defaults: lr 0.1, momentum 0, dampening 0, weight decay 0, nesterov false, ε 1e-8, δ 0.1,
// wd_ratio 0.1. State: the momentum buffer (×1, kept even with momentum 0).
//
// Deviations: weight decay skips biases and norms unless GroupConfig.DecayAll.
type SGDPConfig struct {
	LearningRate float64
	Momentum     float64
	Dampening    float64
	WeightDecay  float64
	Nesterov     bool
	Eps          float64
	Delta        float64
	WDRatio      *float64
	Groups       GroupConfig
}

func (c SGDPConfig) withDefaults() SGDPConfig {
	c.LearningRate = orDefault(c.LearningRate, 0.1)
	c.Eps = orDefault(c.Eps, 1e-8)
	c.Delta = orDefault(c.Delta, 0.1)
	if c.WDRatio == nil {
		c.WDRatio = Ptr(0.1)
	}
	return c
}

// Validate checks the hyperparameters (after defaults).
func (c SGDPConfig) Validate() error {
	c = c.withDefaults()
	ck := &checker{name: "sgdp"}
	ck.lr(c.LearningRate)
	ck.beta(ParamMomentum, c.Momentum) // the weight decay divides by 1 − μ
	ck.check(isFinite64(c.Dampening) && c.Dampening >= 0 && c.Dampening <= 1, ParamDampening, c.Dampening, "must be in [0, 1]")
	ck.nonNeg(ParamWeightDecay, c.WeightDecay)
	ck.nonNeg(ParamEpsilon, c.Eps)
	ck.positive(ParamAdamPDelta, c.Delta)
	ck.nonNeg(ParamAdamPWDRatio, *c.WDRatio)
	if err := c.Groups.Validate(); err != nil {
		ck.errs = append(ck.errs, err)
	}
	return ck.err()
}

// NewSGDP returns SGDP as a chain: momentum, radial projection (written back into the buffer
// without Nesterov), decoupled weight decay divided by 1 − μ, step.
func NewSGDP(c SGDPConfig) (*Optimizer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	mu := c.Momentum
	return NewOptimizer("sgdp", c.LearningRate, c.Groups, false,
		PerParam("sgdp_momentum", func(u *Update, p *Param) {
			buf := u.State(p, "momentum")
			b := addScaled(u, buf.Value(), mu, p.U, 1-c.Dampening) // b ← μ b + (1−τ) g
			buf.Set(b)
			if c.Nesterov {
				p.U = addScaled(u, p.U, 1, b, mu) // d = g + μ b
			} else {
				p.U = b
			}
		}),
		ProjectRadial(c.Delta, *c.WDRatio, c.Eps),
		PerParam("sgdp_alias", func(u *Update, p *Param) {
			if !c.Nesterov {
				u.State(p, "momentum").Set(p.U) // the in-place projection of d_p is the buffer's
			}
		}),
		DecoupledWeightDecay(c.WeightDecay/(1-mu)),
		ApplyUpdate(),
	), nil
}

// Store params of AdamP and SGDP.
const (
	ParamAdamPDelta   = "adamp_delta"
	ParamAdamPWDRatio = "adamp_wd_ratio"
)

func init() {
	declare(ParamAdamPDelta, 0.0, "adamp/sgdp: cosine threshold δ of the projection test (default 0.1)")
	declare(ParamAdamPWDRatio, 0.0, "adamp/sgdp: weight-decay factor when the projection fires (default 0.1)")
	Register("adamp", func(scope *model.Scope) (Interface, error) {
		r := newParamReader(scope, "adamp")
		c := AdamPConfig{LearningRate: r.lr(), Beta1: r.float(ParamBeta1, 0), Beta2: r.float(ParamBeta2, 0),
			Eps: r.float(ParamEpsilon, 0), WeightDecay: r.float(ParamWeightDecay, 0), Delta: r.float(ParamAdamPDelta, 0),
			WDRatio: r.floatPtr(ParamAdamPWDRatio), Nesterov: r.bool(ParamNesterov, false), Groups: groupsFromParams(r)}
		if err := r.err(); err != nil {
			return nil, err
		}
		return NewAdamP(c)
	})
	Register("sgdp", func(scope *model.Scope) (Interface, error) {
		r := newParamReader(scope, "sgdp")
		c := SGDPConfig{LearningRate: r.lr(), Momentum: r.float(ParamMomentum, 0), Dampening: r.float(ParamDampening, 0),
			WeightDecay: r.float(ParamWeightDecay, 0), Nesterov: r.bool(ParamNesterov, false), Eps: r.float(ParamEpsilon, 0),
			Delta: r.float(ParamAdamPDelta, 0), WDRatio: r.floatPtr(ParamAdamPWDRatio), Groups: groupsFromParams(r)}
		if err := r.err(); err != nil {
			return nil, err
		}
		return NewSGDP(c)
	})
}
