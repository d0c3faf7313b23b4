package optimizers

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
)

// AdaBeliefConfig configures AdaBelief. The zero value is the official defaults (adabelief-pytorch
// 0.2.1): the boolean fields are named so that false is the default.
//
// Paper: Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
// Gradients", NeurIPS 2020, arXiv:2010.07468.
// Reference code: juntang-zhuang/Adabelief-Optimizer
// pypi_packages/adabelief_pytorch0.2.1/adabelief_pytorch/AdaBelief.py (commit 2855178e).
//
// Rule, per tensor (t the step):
//
//	p ← p·(1 − lr·wd)  (decoupled; p·(1 − wd) with fixed_decay; g ← g + wd·p when not decoupled)
//	m ← β1·m + (1−β1)·g;  s ← β2·s + (1−β2)·(g − m)²;  s ← s + ε   (the ε stays in the state)
//	rectified (default, RAdam's): ρ∞ = 2/(1−β2) − 1, ρ_t = ρ∞ − 2tβ2^t/(1−β2^t);
//	  ρ_t ≥ 5: p ← p − lr·k_t·m/(√s + ε),  k_t = √((1−β2^t)(ρ_t−4)(ρ_t−2)ρ∞/((ρ∞−4)ρ_t(ρ∞−2)))/(1−β1^t)
//	  else:    p ← p − lr·m/(1−β1^t)   (degenerated_to_sgd; no step without it)
//	not rectified: p ← p − (lr/(1−β1^t))·m/(√s/√(1−β2^t) + ε)   (AMSGrad: s_max = max(s_max, s))
//
// Defaults: lr 1e-3, β (0.9, 0.999), ε 1e-16, weight decay 0, weight_decouple true,
// fixed_decay false, rectify true, degenerated_to_sgd true, amsgrad false. State: m, s (×2;
// ×3 with AMSGrad). With β2 = 0.999 the first 5 steps take the SGD branch.
//
// Quirk kept: the rectified branch ignores s_max even with AMSGrad, as the code does.
//
// Deviations: weight decay skips biases and norms unless GroupConfig.DecayAll.
type AdaBeliefConfig struct {
	LearningRate float64
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  float64
	AMSGrad      bool
	// CoupledWeightDecay is weight_decouple=False: g ← g + wd·p.
	CoupledWeightDecay bool
	// FixedDecay is fixed_decay=True: p ← p·(1 − wd), independent of the learning rate.
	FixedDecay bool
	// NoRectify is rectify=False.
	NoRectify bool
	// NoDegenerateToSGD is degenerated_to_sgd=False: no step while ρ_t < 5.
	NoDegenerateToSGD bool
	Groups            GroupConfig
}

func (c AdaBeliefConfig) withDefaults() AdaBeliefConfig {
	c.LearningRate = orDefault(c.LearningRate, 1e-3)
	c.Beta1 = orDefault(c.Beta1, 0.9)
	c.Beta2 = orDefault(c.Beta2, 0.999)
	c.Eps = orDefault(c.Eps, 1e-16)
	return c
}

// Validate checks the hyperparameters (after defaults).
func (c AdaBeliefConfig) Validate() error {
	c = c.withDefaults()
	ck := &checker{name: "adabelief"}
	ck.lr(c.LearningRate)
	ck.beta(ParamBeta1, c.Beta1)
	ck.beta(ParamBeta2, c.Beta2)
	ck.nonNeg(ParamEpsilon, c.Eps)
	ck.nonNeg(ParamWeightDecay, c.WeightDecay)
	if err := c.Groups.Validate(); err != nil {
		ck.errs = append(ck.errs, err)
	}
	return ck.err()
}

// NewAdaBelief returns AdaBelief as a chain: weight decay, belief moments with the persistent ε
// and the rectification, step.
func NewAdaBelief(c AdaBeliefConfig) (*Optimizer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	var decay Transform
	switch {
	case c.CoupledWeightDecay:
		decay = L2WeightDecay(c.WeightDecay)
	case c.FixedDecay:
		decay = FixedWeightDecay(c.WeightDecay)
	default:
		decay = DecoupledWeightDecay(c.WeightDecay)
	}
	b1, b2 := c.Beta1, c.Beta2
	belief := PerParam("adabelief", func(u *Update, p *Param) {
		m, s := u.State(p, "exp_avg"), u.State(p, "exp_avg_var")
		g := p.U
		mNew := ema(u, m.Value(), g, b1)                    // m ← β1 m + (1−β1) g
		sNew := ema(u, s.Value(), Square(Sub(g, mNew)), b2) // s ← β2 s + (1−β2)(g − m)²
		sNew = Add(sNew, u.Const(c.Eps))                    // s ← s + ε, in the state
		m.Set(mNew)
		s.Set(sNew)
		bc1 := biasCorrection(u, b1)
		bc2 := biasCorrection(u, b2)
		sDen := sNew
		if c.AMSGrad {
			smax := u.State(p, "max_exp_avg_var")
			sDen = Max(smax.Value(), sNew)
			smax.Set(sDen)
		}
		if c.NoRectify {
			den := Add(Div(Sqrt(sDen), u.Cast(Sqrt(bc2))), u.Const(c.Eps))
			p.U = Mul(Div(mNew, den), u.Cast(Reciprocal(bc1)))
			return
		}
		// RAdam rectification, in float64 like the code's Python scalars.
		t := u.StepF()
		rhoInf := 2/(1-b2) - 1
		b2t := Pow(u.Const64(b2), t)
		rho := Sub(u.Const64(rhoInf), Div(Mul(Mul(u.Const64(2), t), b2t), OneMinus(b2t))) // ρ_t
		k := Sqrt(Mul(Mul(Mul(OneMinus(b2t), Div(AddScalar(rho, -4), u.Const64(rhoInf-4))),
			Div(AddScalar(rho, -2), rho)), u.Const64(rhoInf/(rhoInf-2))))
		k = Div(k, bc1)
		rectified := Mul(Div(mNew, Add(Sqrt(sNew), u.Const(c.Eps))), u.Cast(k)) // k_t·m/(√s + ε)
		sgd := Mul(mNew, u.Cast(Reciprocal(bc1)))                               // m/(1−β1^t)
		if c.NoDegenerateToSGD {
			sgd = ZerosLike(mNew)
		}
		useRect := GreaterOrEqual(rho, u.Const64(5))
		p.U = Where(BroadcastToShape(useRect, mNew.Shape()), rectified, sgd)
	})
	return NewOptimizer("adabelief", c.LearningRate, c.Groups, false, decay, belief, ApplyUpdate()), nil
}

// Store params of AdaBelief (true/false as in the official code).
const (
	ParamAdaBeliefWeightDecouple   = "adabelief_weight_decouple"
	ParamAdaBeliefFixedDecay       = "adabelief_fixed_decay"
	ParamAdaBeliefRectify          = "adabelief_rectify"
	ParamAdaBeliefDegeneratedToSGD = "adabelief_degenerated_to_sgd"
)

func init() {
	declare(ParamAdaBeliefWeightDecouple, true, "adabelief: decoupled weight decay (false: L2 on the gradient)")
	declare(ParamAdaBeliefFixedDecay, false, "adabelief: weight decay independent of the learning rate")
	declare(ParamAdaBeliefRectify, true, "adabelief: RAdam rectification")
	declare(ParamAdaBeliefDegeneratedToSGD, true, "adabelief: SGD steps while the rectification is off (ρ_t < 5)")
	Register("adabelief", func(scope *model.Scope) (Interface, error) {
		r := newParamReader(scope, "adabelief")
		c := AdaBeliefConfig{LearningRate: r.lr(), Beta1: r.float(ParamBeta1, 0), Beta2: r.float(ParamBeta2, 0),
			Eps: r.float(ParamEpsilon, 0), WeightDecay: r.float(ParamWeightDecay, 0), AMSGrad: r.bool(ParamAMSGrad, false),
			CoupledWeightDecay: !r.bool(ParamAdaBeliefWeightDecouple, true), FixedDecay: r.bool(ParamAdaBeliefFixedDecay, false),
			NoRectify: !r.bool(ParamAdaBeliefRectify, true), NoDegenerateToSGD: !r.bool(ParamAdaBeliefDegeneratedToSGD, true),
			Groups: groupsFromParams(r)}
		if err := r.err(); err != nil {
			return nil, err
		}
		return NewAdaBelief(c)
	})
}
