package optimizers

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
)

// LionConfig configures Lion (EvoLved Sign Momentum). The zero value is the paper's defaults; a
// zero beta means its default.
//
// Paper: Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023,
// arXiv:2302.06675.
// Reference code: google/automl lion/lion_pytorch.py (commit 6a54c874; lucidrains/lion-pytorch
// has the same rule).
//
// Rule, per tensor:
//
//	p ← p·(1 − lr·wd)                    (decoupled decay, first)
//	p ← p − lr·sign(β1·m + (1−β1)·g)      (sign(0) = 0)
//	m ← β2·m + (1−β2)·g
//
// Defaults: lr 1e-4, β (0.9, 0.99), weight decay 0. State: m (×1). No bias correction, no ε.
//
// Deviations: lucidrains' optional decoupled_weight_decay (wd divided by the initial lr) is not
// provided; weight decay skips biases and norms unless GroupConfig.DecayAll.
type LionConfig struct {
	LearningRate float64
	Beta1, Beta2 float64
	WeightDecay  float64
	Groups       GroupConfig
}

func (c LionConfig) withDefaults() LionConfig {
	c.LearningRate = orDefault(c.LearningRate, 1e-4)
	c.Beta1 = orDefault(c.Beta1, 0.9)
	c.Beta2 = orDefault(c.Beta2, 0.99)
	return c
}

// Validate checks the hyperparameters (after defaults).
func (c LionConfig) Validate() error {
	c = c.withDefaults()
	ck := &checker{name: "lion"}
	ck.lr(c.LearningRate)
	ck.beta(ParamBeta1, c.Beta1)
	ck.beta(ParamBeta2, c.Beta2)
	ck.nonNeg(ParamWeightDecay, c.WeightDecay)
	if err := c.Groups.Validate(); err != nil {
		ck.errs = append(ck.errs, err)
	}
	return ck.err()
}

// NewLion returns Lion as a chain: decoupled weight decay, sign of the interpolated momentum,
// step.
func NewLion(c LionConfig) (*Optimizer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	return NewOptimizer("lion", c.LearningRate, c.Groups, false,
		DecoupledWeightDecay(c.WeightDecay),
		PerParam("lion_sign", func(u *Update, p *Param) {
			m := u.State(p, "exp_avg")
			g := p.U
			p.U = Sign(ema(u, m.Value(), g, c.Beta1)) // sign(β1 m + (1−β1) g)
			m.Set(ema(u, m.Value(), g, c.Beta2))      // m ← β2 m + (1−β2) g
		}),
		ApplyUpdate(),
	), nil
}

func init() {
	Register("lion", func(scope *model.Scope) (Interface, error) {
		r := newParamReader(scope, "lion")
		c := LionConfig{LearningRate: r.lr(), Beta1: r.float(ParamBeta1, 0), Beta2: r.float(ParamBeta2, 0),
			WeightDecay: r.float(ParamWeightDecay, 0), Groups: groupsFromParams(r)}
		if err := r.err(); err != nil {
			return nil, err
		}
		return NewLion(c)
	})
}
