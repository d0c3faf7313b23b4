package optimizers

import (
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
)

// The weight-decay transforms act only on the parameters of the decay group (see GroupConfig)
// and only when the rate is positive, like the reference codes' `if weight_decay > 0`. Where
// they sit in a chain is part of each optimizer's rule: before the step (AdamW, AdamP, Lion,
// AdaBelief, Stable-SPAM, SGD-SaI), after it (SPAM, Fira) or as Adan's proximal division.

// DecoupledWeightDecay shrinks the parameters, p ← p·(1 − lr·wd·s) (Loshchilov & Hutter 2019),
// where s is the parameter's WDScale (1 unless a projection set it).
func DecoupledWeightDecay(wd float64) Transform {
	return PerParam("decoupled_weight_decay", func(u *Update, p *Param) {
		if wd <= 0 || !p.Group.Decay {
			return
		}
		rate := Mul(u.LR, u.Const(wd))
		if p.WDScale != nil {
			rate = Mul(rate, p.WDScale)
		}
		p.Value = Mul(p.Value, OneMinus(rate)) // p ← p·(1 − lr·wd·s)
	})
}

// FixedWeightDecay shrinks the parameters by a rate independent of the learning rate,
// p ← p·(1 − wd) (AdaBelief's fixed_decay).
func FixedWeightDecay(wd float64) Transform {
	return PerParam("fixed_weight_decay", func(u *Update, p *Param) {
		if wd <= 0 || !p.Group.Decay {
			return
		}
		p.Value = Mul(p.Value, u.Const(1-wd))
	})
}

// IndependentWeightDecay shrinks the parameters by a rate that follows the learning-rate
// schedule but not the learning rate itself, p ← p·(1 − s_t·wd) with s_t = lr_t/peakLR the
// schedule's multiplier (peakLR: the optimizer's base learning rate).
//
// Paper: Wortsman et al., "Small-scale proxies for large-scale Transformer training
// instabilities", ICLR 2024, arXiv:2309.14322, Sec. 3.2.2 ("independent weight decay",
// Loshchilov & Hutter 2019's fully decoupled form): θ ← θ − s_t·η·adam_dir − s_t·λ·θ, whereas
// AdamW's default (torch, optax) decays by s_t·η·λ·θ. Default there λ = 1e-4.
func IndependentWeightDecay(wd, peakLR float64) Transform {
	return PerParam("independent_weight_decay", func(u *Update, p *Param) {
		if wd <= 0 || !p.Group.Decay {
			return
		}
		rate := Mul(Div(u.LR, u.Const(peakLR)), u.Const(wd)) // s_t·λ
		if p.WDScale != nil {
			rate = Mul(rate, p.WDScale)
		}
		p.Value = Mul(p.Value, OneMinus(rate)) // p ← p·(1 − s_t·λ)
	})
}

// ScaleLearningRate multiplies the update of each parameter by scale(path, shape) (per-layer
// learning rates, e.g. μParam's fan-in rule): applied before ApplyUpdate, it turns lr·U into
// lr·scale·U. A scale of 1 leaves the parameter's update untouched.
func ScaleLearningRate(scale func(path string, shape shapes.Shape) float64) Transform {
	return PerParam("scale_learning_rate", func(u *Update, p *Param) {
		if s := scale(p.Path, p.Var.Shape()); s != 1 {
			p.U = Mul(p.U, u.Const(s))
		}
	})
}

// ProximalWeightDecay divides the parameters after the step, p ← p/(1 + lr·wd) (Adan's default
// proximal form).
func ProximalWeightDecay(wd float64) Transform {
	return PerParam("proximal_weight_decay", func(u *Update, p *Param) {
		if wd <= 0 || !p.Group.Decay {
			return
		}
		p.Value = Div(p.Value, Add(u.Const(1), Mul(u.LR, u.Const(wd)))) // p ← p/(1 + lr·wd)
	})
}

// L2WeightDecay adds the L2 penalty's gradient to the update, U ← U + wd·p (coupled weight
// decay: torch SGD/Adam's weight_decay, AdaBelief with weight_decouple=False).
func L2WeightDecay(wd float64) Transform {
	return PerParam("l2_weight_decay", func(u *Update, p *Param) {
		if wd == 0 || !p.Group.Decay {
			return
		}
		p.U = Add(p.U, Mul(p.Value, u.Const(wd))) // g ← g + wd·p
	})
}
