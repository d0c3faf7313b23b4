package optimizers

import (
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
