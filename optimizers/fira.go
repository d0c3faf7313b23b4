package optimizers

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
)

// FiraConfig configures Fira. The zero value is the official defaults plus the projection
// settings of the authors' scripts.
//
// Paper: Chen et al., "Fira: Can We Achieve Full-rank Training of LLMs Under Low-rank
// Constraint?", arXiv:2410.01623.
// Reference code: xichen-fy/Fira optimizer_torch/fira_adamw.py and gradient_projection.py
// (commit 5c28b134).
//
// Rule for a 2-D weight of the low-rank group (see GroupConfig), G its gradient [m, n], P its
// rank-r projector (recomputed from G every update_proj_gap steps, see lowrank.go), t the step:
//
//	R = G·Pᵀ (right) or Pᵀ·G (left)
//	m ← β1·m + (1−β1)·R;  v ← β2·v + (1−β2)·R²;  N = m/(√v + ε)           (shape of R)
//	B(X) = α·X·P (right) or α·P·X (left)
//	φ = ‖N‖/(‖R‖ + 1e-8) per row (right) or per column (left)               (norm-based scaling)
//	S = (G − B(R))·φ
//	limiter (γ = 1.01): t = 1: s = ‖S‖; else ℓ = max(‖S‖/(s + 1e-8), γ)/γ, S ← S/ℓ, s ← ‖S‖/ℓ
//	p ← p − lr·(√(1−β2^t)/(1−β1^t))·(B(N) + S)
//	p ← p·(1 − lr·wd)                                                       (after the step)
//
// Every other tensor takes the plain path, Adam with ε outside: p ← p − lr·(√(1−β2^t)/(1−β1^t))·
// m/(√v + ε), then the same decay.
//
// Quirk kept: the residual subtracts α·(projected part), so with α ≠ 1 it is not the orthogonal
// complement.
//
// Defaults: lr 1e-3, β (0.9, 0.999), ε 1e-6, weight decay 0, correct_bias true; projection
// (the authors' scripts) update_proj_gap 200, α 0.25, proj_type "std". State: for the
// low-rank weights m, v of the shape of R, the projector and one scalar (≈ 2r/n + r/m of an
// m×n weight with m ≥ n); ×2 for the others.
//
// Deviations: the rank defaults to ⌈min(m, n)/4⌉ (the scripts' 128 for a 512-wide model) and is
// clamped to min(m, n). The projector is computed in float64 from the Gram matrix's
// eigenvectors in the graph (the reference runs torch.linalg.svd in float32; the golden tests
// measure the gap); the back-projection side and the norm axis follow the projector kind (the
// code decides them from the low-rank shapes, the same whenever the code runs). Weight decay
// skips biases and norms unless GroupConfig.DecayAll.
type FiraConfig struct {
	LearningRate     float64
	Beta1, Beta2     float64
	Eps              float64
	WeightDecay      float64
	NoBiasCorrection bool
	// Rank of the projection; 0 means ⌈min(m, n)/4⌉ per weight.
	Rank int
	// UpdateProjGap is the projector refresh interval; 0 means 200.
	UpdateProjGap int
	// Alpha scales the back-projection; 0 means 0.25.
	Alpha float64
	// ProjType is "std" (default), "reverse_std", "right" or "left".
	ProjType string
	Groups   GroupConfig
}

func (c FiraConfig) withDefaults() FiraConfig {
	c.LearningRate = orDefault(c.LearningRate, 1e-3)
	c.Beta1 = orDefault(c.Beta1, 0.9)
	c.Beta2 = orDefault(c.Beta2, 0.999)
	c.Eps = orDefault(c.Eps, 1e-6)
	if c.UpdateProjGap == 0 {
		c.UpdateProjGap = 200
	}
	c.Alpha = orDefault(c.Alpha, 0.25)
	if c.ProjType == "" {
		c.ProjType = "std"
	}
	return c
}

// Validate checks the hyperparameters (after defaults).
func (c FiraConfig) Validate() error {
	c = c.withDefaults()
	ck := &checker{name: "fira"}
	ck.lr(c.LearningRate)
	ck.beta(ParamBeta1, c.Beta1)
	ck.beta(ParamBeta2, c.Beta2)
	ck.nonNeg(ParamEpsilon, c.Eps)
	ck.nonNeg(ParamWeightDecay, c.WeightDecay)
	ck.check(c.Rank >= 0, ParamFiraRank, c.Rank, "must be >= 0 (0: a quarter of the smaller dimension)")
	ck.check(c.UpdateProjGap > 0, ParamFiraUpdateProjGap, c.UpdateProjGap, "must be > 0")
	ck.positive(ParamFiraAlpha, c.Alpha)
	ck.check(validProjType(c.ProjType), ParamFiraProjType, c.ProjType, "must be one of "+quoteList(ProjTypes))
	if err := c.Groups.Validate(); err != nil {
		ck.errs = append(ck.errs, err)
	}
	return ck.err()
}

// NewFira returns Fira as a chain: low-rank Adam with norm-based scaling of the residual and the
// norm-growth limiter (plain Adam for the other tensors), step, decoupled weight decay.
func NewFira(c FiraConfig) (*Optimizer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	adam := AdamOptions{Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps, EpsOutside: true, NoBiasCorrection: c.NoBiasCorrection}
	fira := PerParam("fira", func(u *Update, p *Param) {
		g := p.U
		if !p.Group.LowRank || p.Rank() != 2 {
			m, v := u.State(p, "exp_avg"), u.State(p, "exp_avg_sq")
			mNew, vNew := ema(u, m.Value(), g, c.Beta1), ema(u, v.Value(), Square(g), c.Beta2)
			m.Set(mNew)
			v.Set(vNew)
			p.U = adamDirection(u, mNew, vNew, adam)
			return
		}
		rows, cols := g.Shape().Dim(0), g.Shape().Dim(1)
		r := lowRankRank(rows, cols, c.Rank, 0.25)
		lr := newLowRank(u, p, g, r, c.UpdateProjGap, c.ProjType)
		R := lr.project(g) // low-rank gradient
		m := u.StateShaped(p, "exp_avg", R.Shape())
		v := u.StateShaped(p, "exp_avg_sq", R.Shape())
		mNew, vNew := ema(u, m.Value(), R, c.Beta1), ema(u, v.Value(), Square(R), c.Beta2)
		m.Set(mNew)
		v.Set(vNew)
		N := Div(mNew, Add(Sqrt(vNew), u.Const(c.Eps))) // m/(√v + ε)
		back := func(x *Node) *Node { return Mul(lr.back(x), u.Const(c.Alpha)) }
		// Norm-based scaling: per row of N and R (right, norm over r) or per column (left).
		axis := 1
		if !lr.right {
			axis = 0
		}
		phi := Div(Sqrt(ReduceAndKeep(Square(N), ReduceSum, axis)),
			Add(Sqrt(ReduceAndKeep(Square(R), ReduceSum, axis)), u.Const(1e-8)))
		S := Mul(Sub(g, back(R)), phi) // (G − B(R))·φ
		// Norm-growth limiter.
		sPrev := u.StateShaped(p, "scaling_grad", shapes.Make(u.DType))
		sn := norm(S)
		first := Equal(u.Step, ScalarOne(u.Graph, dtypes.Int64))
		gamma := u.Const(1.01)
		limiter := Div(Max(Div(sn, Add(sPrev.Value(), u.Const(1e-8))), gamma), gamma)
		limiter = Where(first, u.Const(1), limiter)
		S = Div(S, limiter)
		sPrev.Set(Div(sn, limiter))
		upd := Add(back(N), S)
		if !c.NoBiasCorrection {
			upd = Mul(upd, u.Cast(Div(Sqrt(biasCorrection(u, c.Beta2)), biasCorrection(u, c.Beta1))))
		}
		p.U = upd
	})
	return NewOptimizer("fira", c.LearningRate, c.Groups, true, fira, ApplyUpdate(), DecoupledWeightDecay(c.WeightDecay)), nil
}

// Store params of Fira.
const (
	ParamFiraCorrectBias   = "fira_correct_bias"
	ParamFiraRank          = "fira_rank"
	ParamFiraUpdateProjGap = "fira_update_proj_gap"
	ParamFiraAlpha         = "fira_alpha"
	ParamFiraProjType      = "fira_proj_type"
)

func init() {
	declare(ParamFiraCorrectBias, true, "fira: Adam bias correction")
	declare(ParamFiraRank, 0, "fira: projection rank (0: a quarter of the smaller dimension)")
	declare(ParamFiraUpdateProjGap, 0, "fira: projector refresh interval (default 200)")
	declare(ParamFiraAlpha, 0.0, "fira: back-projection scale α (default 0.25)")
	declare(ParamFiraProjType, "", "fira: projector kind: std, reverse_std, right, left (default std)")
	Register("fira", func(scope *model.Scope) (Interface, error) {
		r := newParamReader(scope, "fira")
		c := FiraConfig{LearningRate: r.lr(), Beta1: r.float(ParamBeta1, 0), Beta2: r.float(ParamBeta2, 0),
			Eps: r.float(ParamEpsilon, 0), WeightDecay: r.float(ParamWeightDecay, 0),
			NoBiasCorrection: !r.bool(ParamFiraCorrectBias, true), Rank: r.int(ParamFiraRank, 0),
			UpdateProjGap: r.int(ParamFiraUpdateProjGap, 0), Alpha: r.float(ParamFiraAlpha, 0),
			ProjType: r.str(ParamFiraProjType, ""), Groups: groupsFromParams(r)}
		if err := r.err(); err != nil {
			return nil, err
		}
		return NewFira(c)
	})
}
