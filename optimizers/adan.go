package optimizers

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
)

// AdanConfig configures Adan. The zero value is the official defaults; zero betas/eps mean
// their defaults.
//
// Paper: Xie et al., "Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing Deep
// Models", TPAMI 2024, arXiv:2208.06677.
// Reference code: sail-sg/Adan adan.py (commit 2c65beaf).
//
// The betas follow the code's convention, 1 − the paper's β: the paper's (0.02, 0.08, 0.01)
// are (0.98, 0.92, 0.99) here.
//
// Rule, per tensor (t the step; g after the optional global clipping
// g ← g·min(max_grad_norm/(‖g‖_global + ε), 1)):
//
//	Δ = g − g_prev                        (g_prev = g at t = 1, so Δ₁ = 0)
//	m ← β1·m + (1−β1)·g
//	v ← β2·v + (1−β2)·Δ
//	n ← β3·n + (1−β3)·(g + β2·Δ)²
//	η = lr / (√n/√(1−β3^t) + ε)
//	p ← (p − η·(m/(1−β1^t) + β2·v/(1−β2^t))) / (1 + lr·wd)    (no_prox: p·(1 − lr·wd) − ...)
//	g_prev ← g
//
// Defaults: lr 1e-3, β (0.98, 0.92, 0.99), ε 1e-8, weight decay 0, max_grad_norm 0 (off),
// no_prox false. State: m, v, n and g_prev (×4).
//
// Deviations: the step count is the optimizer's (the code counts per param group; the same
// with one group); weight decay skips biases and norms unless GroupConfig.DecayAll.
type AdanConfig struct {
	LearningRate        float64
	Beta1, Beta2, Beta3 float64
	Eps                 float64
	WeightDecay         float64
	MaxGradNorm         float64
	NoProx              bool
	Groups              GroupConfig
}

func (c AdanConfig) withDefaults() AdanConfig {
	c.LearningRate = orDefault(c.LearningRate, 1e-3)
	c.Beta1 = orDefault(c.Beta1, 0.98)
	c.Beta2 = orDefault(c.Beta2, 0.92)
	c.Beta3 = orDefault(c.Beta3, 0.99)
	c.Eps = orDefault(c.Eps, 1e-8)
	return c
}

// Validate checks the hyperparameters (after defaults).
func (c AdanConfig) Validate() error {
	c = c.withDefaults()
	ck := &checker{name: "adan"}
	ck.lr(c.LearningRate)
	ck.beta(ParamBeta1, c.Beta1)
	ck.beta(ParamBeta2, c.Beta2)
	ck.beta(ParamBeta3, c.Beta3)
	ck.nonNeg(ParamEpsilon, c.Eps)
	ck.nonNeg(ParamWeightDecay, c.WeightDecay)
	ck.nonNeg(ParamAdanMaxGradNorm, c.MaxGradNorm)
	if err := c.Groups.Validate(); err != nil {
		ck.errs = append(ck.errs, err)
	}
	return ck.err()
}

// NewAdan returns Adan as a chain: global-norm clipping, the three moments, step, proximal (or
// decoupled) weight decay.
func NewAdan(c AdanConfig) (*Optimizer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	moments := PerParam("adan_moments", func(u *Update, p *Param) {
		m, v, n := u.State(p, "exp_avg"), u.State(p, "exp_avg_diff"), u.State(p, "exp_avg_sq")
		prev := u.State(p, "pre_grad")
		g := p.U
		first := Equal(u.Step, ScalarOne(u.Graph, dtypes.Int64))
		diff := Where(first, ZerosLike(g), Sub(g, prev.Value())) // Δ = g − g_prev (0 at t = 1)
		mNew := ema(u, m.Value(), g, c.Beta1)                    // m ← β1 m + (1−β1) g
		vNew := ema(u, v.Value(), diff, c.Beta2)                 // v ← β2 v + (1−β2) Δ
		nes := addScaled(u, g, 1, diff, c.Beta2)                 // g + β2 Δ
		nNew := ema(u, n.Value(), Square(nes), c.Beta3)          // n ← β3 n + (1−β3)(g + β2 Δ)²
		m.Set(mNew)
		v.Set(vNew)
		n.Set(nNew)
		prev.Set(g)
		den := Add(Div(Sqrt(nNew), u.Cast(Sqrt(biasCorrection(u, c.Beta3)))), u.Const(c.Eps))
		s1 := u.Cast(Reciprocal(biasCorrection(u, c.Beta1)))              // 1/(1−β1^t)
		s2 := u.Cast(Div(u.Const64(c.Beta2), biasCorrection(u, c.Beta2))) // β2/(1−β2^t)
		p.U = Add(Mul(Div(mNew, den), s1), Mul(Div(vNew, den), s2))
	})
	ts := []Transform{ClipByGlobalNorm(c.MaxGradNorm, c.Eps), moments}
	if c.NoProx {
		ts = append(ts, DecoupledWeightDecay(c.WeightDecay), ApplyUpdate())
	} else {
		ts = append(ts, ApplyUpdate(), ProximalWeightDecay(c.WeightDecay))
	}
	return NewOptimizer("adan", c.LearningRate, c.Groups, false, ts...), nil
}

// Store params of Adan.
const (
	ParamAdanMaxGradNorm = "adan_max_grad_norm"
	ParamAdanNoProx      = "adan_no_prox"
)

func init() {
	declare(ParamAdanMaxGradNorm, 0.0, "adan: global gradient-norm clipping threshold (0: off)")
	declare(ParamAdanNoProx, false, "adan: decoupled weight decay p·(1−lr·wd) instead of the proximal p/(1+lr·wd)")
	Register("adan", func(scope *model.Scope) (Interface, error) {
		r := newParamReader(scope, "adan")
		c := AdanConfig{LearningRate: r.lr(), Beta1: r.float(ParamBeta1, 0), Beta2: r.float(ParamBeta2, 0),
			Beta3: r.float(ParamBeta3, 0), Eps: r.float(ParamEpsilon, 0), WeightDecay: r.float(ParamWeightDecay, 0),
			MaxGradNorm: r.float(ParamAdanMaxGradNorm, 0), NoProx: r.bool(ParamAdanNoProx, false), Groups: groupsFromParams(r)}
		if err := r.err(); err != nil {
			return nil, err
		}
		return NewAdan(c)
	})
}
