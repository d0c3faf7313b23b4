package optimizers

import (
	"fmt"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/ml/model"
)

// AdamWConfig configures AdamW. The zero value is torch.optim.AdamW's defaults; a zero beta or
// eps means its default (use a tiny positive value for an almost-zero one).
//
// Paper: Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019,
// arXiv:1711.05101 (Adam: Kingma & Ba, ICLR 2015, arXiv:1412.6980).
// Reference code: pytorch/pytorch torch/optim/adamw.py (1.13, _single_tensor_adamw).
//
// Rule, per tensor, g the gradient, t the step:
//
//	p ← p·(1 − lr·wd)                                   (decoupled decay, first)
//	m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//	p ← p − (lr/(1−β1^t))·m / (√v/√(1−β2^t) + ε)          (AMSGrad: max of v so far)
//
// Defaults: lr 1e-3, β (0.9, 0.999), ε 1e-8, weight decay 0.01 (torch's default). State: m, v
// (×2 the parameters; ×3 with AMSGrad).
//
// Deviations: weight decay skips biases and norm scales unless GroupConfig.DecayAll (torch
// decays every tensor of its param group). L2 switches to torch.optim.Adam's coupled decay.
type AdamWConfig struct {
	LearningRate float64
	Beta1, Beta2 float64
	Eps          float64
	// WeightDecay is the decoupled rate; nil means 0.01.
	WeightDecay *float64
	AMSGrad     bool
	// L2 applies the weight decay as torch.optim.Adam does, g ← g + wd·p, instead of decoupled.
	L2 bool
	// IndependentDecay decays by the schedule's multiplier instead of the learning rate,
	// p ← p·(1 − s_t·wd) (Wortsman et al. 2023, arXiv:2309.14322, Sec. 3.2.2; see
	// IndependentWeightDecay); s_t is the step's learning rate over LearningRate.
	IndependentDecay bool
	// LRScale, when set, multiplies each parameter's learning rate by LRScale(path, shape)
	// (per-layer learning rates such as μParam's; see ScaleLearningRate).
	LRScale func(path string, shape shapes.Shape) float64
	Groups  GroupConfig
}

func (c AdamWConfig) withDefaults() AdamWConfig {
	c.LearningRate = orDefault(c.LearningRate, 1e-3)
	c.Beta1 = orDefault(c.Beta1, 0.9)
	c.Beta2 = orDefault(c.Beta2, 0.999)
	c.Eps = orDefault(c.Eps, 1e-8)
	if c.WeightDecay == nil {
		c.WeightDecay = Ptr(0.01)
	}
	return c
}

// Validate checks the hyperparameters (after defaults).
func (c AdamWConfig) Validate() error {
	c = c.withDefaults()
	ck := &checker{name: "adamw"}
	ck.lr(c.LearningRate)
	ck.beta(ParamBeta1, c.Beta1)
	ck.beta(ParamBeta2, c.Beta2)
	ck.nonNeg(ParamEpsilon, c.Eps)
	ck.nonNeg(ParamWeightDecay, *c.WeightDecay)
	if c.L2 && c.IndependentDecay {
		ck.errs = append(ck.errs, fmt.Errorf("adamw: %s=true and %s=true exclude each other (coupled vs independent decay)", ParamAdamL2, ParamIndependentDecay))
	}
	if err := c.Groups.Validate(); err != nil {
		ck.errs = append(ck.errs, err)
	}
	return ck.err()
}

// NewAdamW returns AdamW as a chain: decoupled weight decay, Adam moments, step.
func NewAdamW(c AdamWConfig) (*Optimizer, error) {
	return newAdamW("adamw", c)
}

func newAdamW(name string, c AdamWConfig) (*Optimizer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	wd := *c.WeightDecay
	decay := DecoupledWeightDecay(wd) // p ← p·(1 − lr·wd)
	if c.L2 {
		decay = L2WeightDecay(wd) // g ← g + wd·p
	}
	if c.IndependentDecay {
		decay = IndependentWeightDecay(wd, c.LearningRate) // p ← p·(1 − s_t·wd)
	}
	chain := []Transform{decay, ScaleByAdam(AdamOptions{Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps, AMSGrad: c.AMSGrad})}
	if c.LRScale != nil {
		chain = append(chain, ScaleLearningRate(c.LRScale))
	}
	return NewOptimizer(name, c.LearningRate, c.Groups, false, append(chain, ApplyUpdate())...), nil
}

func adamWFromParams(r *paramReader) AdamWConfig {
	return AdamWConfig{
		LearningRate:     r.lr(),
		Beta1:            r.float(ParamBeta1, 0),
		Beta2:            r.float(ParamBeta2, 0),
		Eps:              r.float(ParamEpsilon, 0),
		WeightDecay:      r.floatPtr(ParamWeightDecay),
		AMSGrad:          r.bool(ParamAMSGrad, false),
		L2:               r.bool(ParamAdamL2, false),
		IndependentDecay: r.bool(ParamIndependentDecay, false),
		Groups:           groupsFromParams(r),
	}
}

// ParamAdamL2 selects torch.optim.Adam's coupled (L2) weight decay in "adamw".
const ParamAdamL2 = "adam_l2"

// ParamIndependentDecay selects independent weight decay (not scaled by the learning rate) in
// "adamw".
const ParamIndependentDecay = "independent_weight_decay"

func init() {
	declare(ParamIndependentDecay, false, "adamw: weight decay p·(1 − s_t·wd) follows the schedule but not the learning rate (Wortsman et al. 2023)")
	declare(ParamAdamL2, false, "adamw: coupled L2 weight decay (torch.optim.Adam) instead of decoupled")
	Register("adamw", func(scope *model.Scope) (Interface, error) {
		r := newParamReader(scope, "adamw")
		c := adamWFromParams(r)
		if err := r.err(); err != nil {
			return nil, err
		}
		return NewAdamW(c)
	})
}
