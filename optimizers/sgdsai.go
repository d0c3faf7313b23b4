package optimizers

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
)

// SGDSaIConfig configures SGD-SaI (SGD with momentum and scaling at initialization). The zero
// value is the official defaults.
//
// Paper: Xu et al., "No More Adam: Learning Rate Scaling at Initialization is All You Need",
// arXiv:2412.11768.
// Reference code: AnonymousAlethiometer/SGD_SaI sgd_sai/sgd_sai.py (class SGD_sai, v1.0.3,
// commit e2130803).
//
// Rule, per tensor:
//
//	at the first step only: gsnr = ‖g₁‖ / (std(g₁) + ε)   (std unbiased; 0 for one element)
//	b = g at the first step, else b ← μ·b + (1−μ)·g
//	p ← p·(1 − lr·wd) − lr·gsnr·b
//
// Defaults: lr 1e-2, momentum 0.9, ε 1e-8, weight decay 1e-2 (decoupled, on by default).
// State: the momentum buffer (×1) and one scalar per tensor. The g-SNR is frozen from the first
// gradient forever.
//
// Quirk kept: a one-element tensor (e.g. the bias of a single regression output) has an
// undefined std, which the code turns into 0, so its g-SNR is |g|/ε (about 1e8) and training
// usually diverges; SafeScalars (a switch, off by default) uses g-SNR 1 for such tensors.
//
// Deviations: momentum 0 crashes the official code (the buffer is never created); here it
// means b = g. Weight decay skips biases and norms unless GroupConfig.DecayAll.
type SGDSaIConfig struct {
	LearningRate float64
	// Momentum μ; nil means 0.9.
	Momentum *float64
	Eps      float64
	// WeightDecay is the decoupled rate; nil means 1e-2.
	WeightDecay *float64
	// SafeScalars gives one-element tensors a g-SNR of 1 instead of the code's |g|/ε.
	SafeScalars bool
	Groups      GroupConfig
}

func (c SGDSaIConfig) withDefaults() SGDSaIConfig {
	c.LearningRate = orDefault(c.LearningRate, 1e-2)
	c.Eps = orDefault(c.Eps, 1e-8)
	if c.Momentum == nil {
		c.Momentum = Ptr(0.9)
	}
	if c.WeightDecay == nil {
		c.WeightDecay = Ptr(1e-2)
	}
	return c
}

// Validate checks the hyperparameters (after defaults).
func (c SGDSaIConfig) Validate() error {
	c = c.withDefaults()
	ck := &checker{name: "sgd_sai"}
	ck.lr(c.LearningRate)
	ck.beta(ParamMomentum, *c.Momentum)
	ck.nonNeg(ParamEpsilon, c.Eps)
	ck.nonNeg(ParamWeightDecay, *c.WeightDecay)
	if err := c.Groups.Validate(); err != nil {
		ck.errs = append(ck.errs, err)
	}
	return ck.err()
}

// NewSGDSaI returns SGD-SaI as a chain: decoupled weight decay, g-SNR-scaled momentum, step.
func NewSGDSaI(c SGDSaIConfig) (*Optimizer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	mu := *c.Momentum
	return NewOptimizer("sgd_sai", c.LearningRate, c.Groups, false,
		DecoupledWeightDecay(*c.WeightDecay),
		PerParam("sgd_sai", func(u *Update, p *Param) {
			g := p.U
			first := Equal(u.Step, ScalarOne(u.Graph, dtypes.Int64))
			gsnr := u.StateShaped(p, "gsnr", shapes.Make(u.DType))
			// The g-SNR is computed once, at the first step (gatedCompute: later steps skip its
			// reductions).
			fresh := gatedCompute(first, []*Node{g}, []shapes.Shape{shapes.Make(u.DType)},
				func(gr *Graph, ins []*Node) []*Node {
					if c.SafeScalars && ins[0].Shape().Size() == 1 {
						return []*Node{lit(gr, u.DType, 1)}
					}
					return []*Node{gSNR(ins[0], c.Eps)}
				})[0]
			snr := Where(first, fresh, gsnr.Value())
			gsnr.Set(snr)
			b := g
			if mu > 0 {
				buf := u.State(p, "momentum_buffer")
				b = Where(first, g, addScaled(u, buf.Value(), mu, g, 1-mu)) // b ← μ b + (1−μ) g
				buf.Set(b)
			}
			p.U = Mul(b, snr)
		}),
		ApplyUpdate(),
	), nil
}

// gSNR is ‖g‖/(std(g) + ε) with the unbiased standard deviation (0 for a single element, as
// torch's nan_to_num of its NaN). It runs inside a loop body (gatedCompute), so its constants
// are closure-safe (see lit) and its sums are plain reductions.
func gSNR(g *Node, eps float64) *Node {
	gr, dt := g.Graph(), g.DType()
	n := g.Shape().Size()
	nrm := Sqrt(ReduceAllSum(Square(g)))
	std := lit(gr, dt, 0)
	if n > 1 {
		mean := Div(ReduceAllSum(g), lit(gr, dt, float64(n)))
		std = Sqrt(Div(ReduceAllSum(Square(Sub(g, mean))), lit(gr, dt, float64(n-1)))) // unbiased
	}
	return Div(nrm, Add(std, lit(gr, dt, eps)))
}

// ParamSGDSaISafeScalars selects SGDSaIConfig.SafeScalars.
const ParamSGDSaISafeScalars = "sgd_sai_safe_scalars"

func init() {
	declare(ParamSGDSaISafeScalars, false, "sgd_sai: g-SNR 1 for one-element tensors (the code's is |g|/eps)")
	Register("sgd_sai", func(scope *model.Scope) (Interface, error) {
		r := newParamReader(scope, "sgd_sai")
		c := SGDSaIConfig{LearningRate: r.lr(), Momentum: r.floatPtr(ParamMomentum), Eps: r.float(ParamEpsilon, 0),
			WeightDecay: r.floatPtr(ParamWeightDecay), SafeScalars: r.bool(ParamSGDSaISafeScalars, false), Groups: groupsFromParams(r)}
		if err := r.err(); err != nil {
			return nil, err
		}
		return NewSGDSaI(c)
	})
}
