package optimizers

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
)

// SGDConfig configures SGD with (Nesterov) momentum. The zero value is SGD with momentum 0.9
// and learning rate 0.01, no weight decay.
//
// Paper: Sutskever et al., "On the importance of initialization and momentum in deep
// learning", ICML 2013 (Nesterov form).
// Reference code: pytorch/pytorch torch/optim/sgd.py (1.13, _single_tensor_sgd).
//
// Rule, per tensor:
//
//	d = g + wd·p                        (coupled weight decay, torch's)
//	b = d at the first step, else b ← μ·b + (1 − dampening)·d
//	d = d + μ·b (Nesterov) or d = b
//	p ← p − lr·d
//
// Defaults: lr 0.01, momentum 0.9, dampening 0, nesterov false, weight decay 0. State: the
// momentum buffer (×1; none when momentum is 0).
//
// Deviations: torch.optim.SGD has no default learning rate and momentum 0; moeboost's "sgd" is
// SGD with momentum (0.9) out of the box (set momentum=0 for plain SGD). It replaces GoMLX's
// "sgd" (which decays the learning rate as 1/√step). Weight decay skips biases and norms unless
// GroupConfig.DecayAll.
type SGDConfig struct {
	LearningRate float64
	// Momentum μ; nil means 0.9.
	Momentum    *float64
	Dampening   float64
	Nesterov    bool
	WeightDecay float64
	Groups      GroupConfig
}

func (c SGDConfig) withDefaults() SGDConfig {
	c.LearningRate = orDefault(c.LearningRate, 0.01)
	if c.Momentum == nil {
		c.Momentum = Ptr(0.9)
	}
	return c
}

// Validate checks the hyperparameters (after defaults).
func (c SGDConfig) Validate() error {
	c = c.withDefaults()
	ck := &checker{name: "sgd"}
	ck.lr(c.LearningRate)
	ck.beta(ParamMomentum, *c.Momentum)
	ck.check(isFinite64(c.Dampening) && c.Dampening >= 0 && c.Dampening <= 1, ParamDampening, c.Dampening, "must be in [0, 1]")
	ck.nonNeg(ParamWeightDecay, c.WeightDecay)
	ck.check(!c.Nesterov || (*c.Momentum > 0 && c.Dampening == 0), ParamNesterov, c.Nesterov,
		"needs momentum > 0 and dampening = 0 (torch's rule)")
	if err := c.Groups.Validate(); err != nil {
		ck.errs = append(ck.errs, err)
	}
	return ck.err()
}

// NewSGD returns SGD as a chain: L2 weight decay, momentum, step.
func NewSGD(c SGDConfig) (*Optimizer, error) { return newSGD("sgd", c) }

func newSGD(name string, c SGDConfig) (*Optimizer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	return NewOptimizer(name, c.LearningRate, c.Groups, false,
		L2WeightDecay(c.WeightDecay),
		TorchMomentum(*c.Momentum, c.Dampening, c.Nesterov),
		ApplyUpdate(),
	), nil
}

// TorchMomentum is torch.optim.SGD's momentum: the buffer (state "momentum_buffer") starts as
// the first update, then b ← μ·b + (1−dampening)·U; U ← U + μ·b (Nesterov) or U ← b.
func TorchMomentum(mu, dampening float64, nesterov bool) Transform {
	return PerParam("torch_momentum", func(u *Update, p *Param) {
		if mu == 0 {
			return
		}
		buf := u.State(p, "momentum_buffer")
		first := Equal(u.Step, ScalarOne(u.Graph, dtypes.Int64))
		b := Add(Mul(buf.Value(), u.Const(mu)), Mul(p.U, u.Const(1-dampening))) // b ← μ b + (1−τ) d
		b = Where(first, p.U, b)                                                // b₁ = d₁
		buf.Set(b)
		if nesterov {
			p.U = Add(p.U, Mul(b, u.Const(mu))) // d + μ b
		} else {
			p.U = b
		}
	})
}

func sgdFromParams(r *paramReader) SGDConfig {
	return SGDConfig{
		LearningRate: r.lr(),
		Momentum:     r.floatPtr(ParamMomentum),
		Dampening:    r.float(ParamDampening, 0),
		Nesterov:     r.bool(ParamNesterov, false),
		WeightDecay:  r.float(ParamWeightDecay, 0),
		Groups:       groupsFromParams(r),
	}
}

func init() {
	Register("sgd", func(scope *model.Scope) (Interface, error) {
		r := newParamReader(scope, "sgd")
		c := sgdFromParams(r)
		if err := r.err(); err != nil {
			return nil, err
		}
		return NewSGD(c)
	})
}
