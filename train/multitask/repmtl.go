package multitask

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX graph-building style
	"github.com/gomlx/gomlx/support/exceptions"
)

// RepMTLConfig holds the Rep-MTL regularizer settings. Zero fields mean the defaults.
//
// Paper: Zedong Wang, Siyuan Li, Dan Xu, "Rep-MTL: Unleashing the Power of Representation-level
// Task Saliency for Multi-Task Learning", ICCV 2025, arXiv 2507.21049.
// Reference code: github.com/Jacky1128/Rep-MTL holds only a README (checked at commit ecef712:
// "working on cleaning and organizing our codebase"), so no coefficient, temperature or
// normalization could be checked against released code; see the package doc.
type RepMTLConfig struct {
	// TSRWeight is λ_tsr, the weight of the task-specific saliency regulation (entropy) term.
	// Default 0.1 (our choice from the {0.01, 0.1, 1} grid of the seed notes; unverified).
	TSRWeight float64
	// CSAWeight is λ_csa, the weight of the cross-task saliency alignment (contrastive) term.
	// Default 0.1 (same status).
	CSAWeight float64
	// Tau is the InfoNCE temperature of the alignment term. Default 0.1.
	Tau float64
	// NoTSR and NoCSA switch one term off (for ablations: the zero weight means "default").
	NoTSR, NoCSA bool
}

// Default values of RepMTLConfig.
const (
	DefaultTSRWeight = 0.1
	DefaultCSAWeight = 0.1
	DefaultTau       = 0.1
	// saliencyEps keeps the task shares, the log and the normalization finite where every
	// task's saliency is zero (a dead ReLU unit of the representation).
	saliencyEps = 1e-8
)

// WithDefaults returns c with its zero fields set to the defaults.
func (c RepMTLConfig) WithDefaults() RepMTLConfig {
	if c.TSRWeight == 0 {
		c.TSRWeight = DefaultTSRWeight
	}
	if c.CSAWeight == 0 {
		c.CSAWeight = DefaultCSAWeight
	}
	if c.Tau == 0 {
		c.Tau = DefaultTau
	}
	if c.NoTSR {
		c.TSRWeight = 0
	}
	if c.NoCSA {
		c.CSAWeight = 0
	}
	return c
}

// Validate reports a bad setting, naming the value and what is allowed.
func (c RepMTLConfig) Validate() error {
	d := c.WithDefaults()
	switch {
	case !(d.TSRWeight >= 0) || math.IsInf(d.TSRWeight, 0):
		return fmt.Errorf("multitask: rep-mtl tsr_weight=%g must be finite and ≥ 0", c.TSRWeight)
	case !(d.CSAWeight >= 0) || math.IsInf(d.CSAWeight, 0):
		return fmt.Errorf("multitask: rep-mtl csa_weight=%g must be finite and ≥ 0", c.CSAWeight)
	case !(d.Tau > 0) || math.IsInf(d.Tau, 0):
		return fmt.Errorf("multitask: rep-mtl tau=%g must be finite and > 0", c.Tau)
	}
	return nil
}

// Saliency returns the representation-level task saliency S_t = ∂L_t/∂Z of each task loss with
// respect to the shared representation z ([B, D]), built so that it can be differentiated again
// (the regularizers shape the trunk and heads through it, as the paper's second-order terms).
func Saliency(losses []*Node, z *Node) []*Node {
	out := make([]*Node, len(losses))
	for t, l := range losses {
		out[t] = Gradient(l, z)[0] // S_t = ∂L_t/∂Z, [B, D]
	}
	return out
}

// RepMTLTerms returns the two Rep-MTL regularizers of task saliencies sal (one [B, D] node per
// task, T ≥ 2):
//
//	s_t[b,d]   = |S_t[b,d]|                                   saliency magnitude
//	P[b,d,t]   = s_t[b,d] / (Σ_t' s_t'[b,d] + ε)              task shares at each unit
//	TSR        = mean_{b,d} −Σ_t P[b,d,t]·log(P[b,d,t] + ε)    entropy: low where one task owns a unit
//	u_t[b]     = s_t[b,:] / sqrt(‖s_t[b,:]‖² + ε)              sample-wise saliency direction
//	CSA        = mean over ordered pairs t≠t' of
//	             mean_b −log softmax_{b'}(⟨u_t[b], u_t'[b']⟩/τ)[b]   positives: the same sample
//
// with ε = 1e-8. The paper aggregates B×C×H×W saliency over channels and applies the entropy at
// each spatial position; a [B, D] MLP representation has no spatial axis, so each unit d is a
// position here (see the package doc's Deviations).
func RepMTLTerms(sal []*Node, tau float64) (tsr, csa *Node) {
	if len(sal) < 2 {
		exceptions.Panicf("multitask: Rep-MTL needs at least 2 tasks, got %d", len(sal))
	}
	T := len(sal)
	mag := make([]*Node, T)
	for t, s := range sal {
		if s.Rank() != 2 {
			exceptions.Panicf("multitask: saliency of task %d has shape %s, want [batch, features]", t, s.Shape())
		}
		mag[t] = Abs(s) // s_t = |S_t|
	}
	g := sal[0].Graph()
	dt := sal[0].DType()
	stacked := Stack(mag, -1)                                              // [B, D, T]
	total := AddScalar(ReduceAndKeep(stacked, ReduceSum, -1), saliencyEps) // [B, D, 1]
	p := Div(stacked, total)                                               // task shares P
	ent := Neg(ReduceSum(Mul(p, Log(AddScalar(p, saliencyEps))), -1))      // [B, D] entropy
	tsr = ReduceAllMean(ent)                                               // TSR

	units := make([]*Node, T)
	for t, m := range mag {
		norm := Sqrt(AddScalar(ReduceAndKeep(Square(m), ReduceSum, -1), saliencyEps))
		units[t] = Div(m, norm) // u_t, [B, D]
	}
	B := sal[0].Shape().Dim(0)
	eye := OneHot(Iota(g, shapes.Make(dtypes.Int32, B), 0), B, dt) // [B, B] positives on the diagonal
	csa = ScalarZero(g, dt)
	pairs := 0
	for a := 0; a < T; a++ {
		for b := a + 1; b < T; b++ {
			// logits of (a, b) are M = u_a·u_bᵀ/τ; those of (b, a) are Mᵀ, so the (b, a) term is
			// the softmax down M's columns.
			logits := DivScalar(MatMul(units[a], Transpose(units[b], 0, 1)), tau) // [B, B]
			ab := Neg(ReduceAllMean(ReduceSum(Mul(eye, LogSoftmax(logits, -1)), -1)))
			ba := Neg(ReduceAllMean(ReduceSum(Mul(eye, LogSoftmax(logits, 0)), 0)))
			csa = Add(csa, Add(ab, ba))
			pairs += 2
		}
	}
	csa = DivScalar(csa, float64(pairs))
	return tsr, csa
}
