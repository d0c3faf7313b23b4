package moe

import (
	"math"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/layers"
)

// Carry keys of the momentum family (layers.Carry, threaded from block to block by
// layers.Stack; absent means zero, as at the first MoE layer; dense FFN blocks pass them on).
const (
	CarryMomentum = "moe/p"        // heavy-ball buffer p (MomentumSMoE, AdamSMoE)
	CarryAdamM    = "moe/adam_m"   // AdamSMoE first moment
	CarryAdamV    = "moe/adam_v"   // AdamSMoE second moment
	CarryRobust   = "moe/robust_p" // robust-momentum buffer
)

// heavyBall is the MomentumSMoE update given f = f(x) (after dropout), as the official layer
// orders it (CustomizedMoEPositionwiseFFMoM.forward):
//
//	p_new = mu·p + gamma·f                               // Eq. (9) of the paper, code's sign
//	reference (post-LN): y = LN_a(h - p_new)             // block: x <- LN_b(x + y)
//	clean (pre-LN):      y = -p_new                       // block: x <- x - p_new
func heavyBall(scope *model.Scope, h, p, f *graph.Node, cfg Config) (y, pNew *graph.Node) {
	pNew = graph.Add(graph.MulScalar(p, weightOr(cfg.Mu)), graph.MulScalar(f, cfg.Gamma)) // p <- mu p + gamma f
	if cfg.Reference {
		return layerNorm(scope, graph.Sub(h, pNew)), pNew
	}
	return graph.Neg(pNew), pNew
}

// NewMomentumSMoE returns the heavy-ball MomentumSMoE layer: an SMoE whose output drives a
// momentum buffer p threaded across the MoE layers of the stack through layers.Carry.
//
// Paper: Teo & Nguyen, "MomentumSMoE: Integrating Momentum into Sparse Mixture of Experts",
// NeurIPS 2024, arXiv 2410.14574, Eq. (9)-(10).
// Reference code: rachtsy/MomentumSMoE models.py CustomizedMoEPositionwiseFFMoM.
//
//	p_0 = 0;  p_l = mu·p_{l-1} + gamma·f(x_l);  x_{l+1} = x_l - p_l   (paper: x + gamma·(-f + mu·p))
//	clean layout (default, pre-LN block):   f on LN(x), y = -p_l added to the residual
//	reference layout (post-LN block, Config.Reference and layers.BlockConfig.PostLN):
//	                                        x <- LN_b(x + LN_a(x - p_l)), the released code
//
// Defaults: mu 0.7, gamma 1.0 (the released scripts); the SMoE defaults of Config.
// Deviations: the released code applies dropout to f inside the layer: use Config.Dropout and
// leave the block's dropout at 0 to reproduce it; the clean layout is the code's unused
// pre_lnorm branch (x - p with f(LN(x))).
func NewMomentumSMoE(cfg Config) (layers.FFN, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &sparse{cfg: cfg.Defaults()}
	return func(scope *model.Scope, h *graph.Node, layer int, carry layers.Carry) (*graph.Node, layers.Carry) {
		f := s.forward(scope, h, layer, nil).Y
		y, p := heavyBall(scope, h, stateOr(carry, CarryMomentum, h), f, s.cfg)
		return y, with(carry, CarryMomentum, p)
	}, nil
}

// adamStep is the AdamSMoE first-layer update as the official layer orders it
// (CustomizedMoEPositionwiseFFAdam.forward, layerth < 1):
//
//	p_new = mu·p + gamma·f;  m = beta1·m + (1-beta1)·f;  v = beta2·v + (1-beta2)·f²
//	a = gamma1·m/sqrt(v + 1e-8) + h
//	reference: y = LN_a(h - a) (= LN_a(-gamma1·m/sqrt(v+1e-8)): the x terms cancel in the code)
//	clean:     y = -gamma1·m/sqrt(v + 1e-8)   (block: x <- x - gamma1·m/sqrt(v+1e-8))
func adamStep(scope *model.Scope, h, p, m, v, f *graph.Node, cfg Config) (y, pNew, mNew, vNew *graph.Node) {
	pNew = graph.Add(graph.MulScalar(p, weightOr(cfg.Mu)), graph.MulScalar(f, cfg.Gamma))
	mNew = graph.Add(graph.MulScalar(m, cfg.Beta1), graph.MulScalar(f, 1-cfg.Beta1))
	vNew = graph.Add(graph.MulScalar(v, cfg.Beta2), graph.MulScalar(graph.Square(f), 1-cfg.Beta2))
	step := graph.Mul(graph.MulScalar(graph.Inverse(graph.Sqrt(graph.AddScalar(vNew, 1e-8))), cfg.Gamma1), mNew) // gamma1 m / sqrt(v + 1e-8)
	if cfg.Reference {
		a := graph.Add(step, h)
		return layerNorm(scope, graph.Sub(h, a)), pNew, mNew, vNew
	}
	return graph.Neg(step), pNew, mNew, vNew
}

// NewAdamSMoE returns AdamSMoE: the first AdamLayers MoE layers take an Adam-like step on the
// expert output, later ones heavy-ball momentum (state m, v, p threaded through the carry).
//
// Paper: Teo & Nguyen, "MomentumSMoE", NeurIPS 2024, arXiv 2410.14574, Sec. 3.2 (AdamSMoE).
// Reference code: rachtsy/MomentumSMoE models.py CustomizedMoEPositionwiseFFAdam.
//
//	MoE layer i < AdamLayers: see adamStep (m, v zero-initialized, so at the first layer
//	  m/sqrt(v) ≈ 3.16·sign(f): a normalized sign step)
//	later MoE layers: p <- mu·p + gamma·f; x <- x - p (or LN_b(x + LN_a(x - p)) in reference)
//
// Defaults: beta1 0.9, beta2 0.999, gamma1 1.0, mu 0.7, gamma 1.0, AdamLayers 1.
// Training note: with the zero-initialised state the first layer's step
// 0.1·f/sqrt(0.001·f² + 1e-8) saturates at ±3.16 once |f| ≫ 3e-3; its derivative
// 1e-9/(0.001·f² + 1e-8)^1.5 is ≈ 0.03 at |f| = 0.1 and ≈ 3e-5 at |f| = 1, so that layer's
// experts learn mostly through the buffer p handed to the later layers. Both layouts (and the
// official layer in PyTorch, examples/bench/moelm/official_adam_ref.py) train worse than SMoE
// in a 2-layer char LM for this reason; testdata/golden/moe/adamsmoe_stack_s1.json checks this
// layer against the official one over 3 stacked post-LN blocks.
// Deviations: the code picks the Adam layer by block index (layerth < 1); this counts MoE
// layers (the same when every block is MoE). In the clean layout the step keeps the residual
// (x - step); the code's cancellation drops x, which the reference layout reproduces.
func NewAdamSMoE(cfg Config) (layers.FFN, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &sparse{cfg: cfg.Defaults()}
	return func(scope *model.Scope, h *graph.Node, layer int, carry layers.Carry) (*graph.Node, layers.Carry) {
		f := s.forward(scope, h, layer, nil).Y
		n, next := depth(carry, h)
		p := stateOr(carry, CarryMomentum, h)
		if n < s.cfg.AdamLayers {
			y, p, m, v := adamStep(scope, h, p, stateOr(carry, CarryAdamM, h), stateOr(carry, CarryAdamV, h), f, s.cfg)
			return y, with(carry, CarryMomentum, p, CarryAdamM, m, CarryAdamV, v, "moe/depth", next)
		}
		y, p := heavyBall(scope, h, p, f, s.cfg)
		return y, with(carry, CarryMomentum, p, "moe/depth", next)
	}, nil
}

// RobustCoefficients returns the robust momentum method's coefficients for rho and kappa
// (L = 1): alpha = kappa·rho³/(kappa-1), beta = kappa·(1-rho)²·(1+rho),
// eps = rho³/((kappa-1)·(1-rho)²·(1+rho)). rho 0.2, kappa 1.25 give 0.04, 0.96, 0.0417.
func RobustCoefficients(rho, kappa float64) (alpha, beta, eps float64) {
	alpha = kappa * math.Pow(rho, 3) / (kappa - 1)
	beta = kappa * (1 - rho) * (1 - rho) * (1 + rho)
	eps = math.Pow(rho, 3) / ((kappa - 1) * (1 - rho) * (1 - rho) * (1 + rho))
	return
}

// NewRobustSMoE returns Robust MomentumSMoE: the experts are evaluated at a look-ahead point
// and the buffer follows the robust momentum method (Cyrus et al. 2018).
//
// Paper: Teo & Nguyen, "MomentumSMoE", NeurIPS 2024, arXiv 2410.14574 (Robust MomentumV-MoE).
// Reference code: rachtsy/vmoe (the vision MoE block with robust momentum).
//
//	z = y + eps·beta·p;  g = f(z);  p <- -g + alpha·p;  x <- x + beta·p
//	clean layout (pre-LN block): y = LN(x) given by the block, returns beta·p
//	reference layout (post-LN block): y = LN_a(x), the block then applies LN_b(x + beta·p),
//	as the vision code's x_next = LN(x + beta·p)
//
// Defaults: rho 0.2, kappa 1.25 (alpha 0.04, beta 0.96, eps ≈ 0.042).
// Deviations: in the reference layout the attention sublayer is post-LN (layers.Block), the
// vision code's is pre-LN.
func NewRobustSMoE(cfg Config) (layers.FFN, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &sparse{cfg: cfg.Defaults()}
	alpha, beta, eps := RobustCoefficients(s.cfg.Rho, s.cfg.Kappa)
	return func(scope *model.Scope, h *graph.Node, layer int, carry layers.Carry) (*graph.Node, layers.Carry) {
		p := stateOr(carry, CarryRobust, h)
		y := h
		if s.cfg.Reference {
			y = layerNorm(scope, h)
		}
		z := graph.Add(y, graph.MulScalar(p, eps*beta)) // look-ahead point
		gOut := s.forward(scope, z, layer, nil).Y
		p = graph.Add(graph.Neg(gOut), graph.MulScalar(p, alpha)) // p <- -g + alpha p
		return graph.MulScalar(p, beta), with(carry, CarryRobust, p)
	}, nil
}
