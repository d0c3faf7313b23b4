package moe

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Off disables a loss whose zero weight means "the default": set BalanceWeight or ZLossWeight
// to Off (any negative value) to train without it.
const Off = -1.0

// Gate orders: how the combine weights of the k selected experts are computed.
const (
	// GateTopKSoftmax selects the k largest logits and takes a softmax over those k (fastmoe's
	// naive gate used by MomentumSMoE, Shazeer 2017). Weights sum to 1 over the selected experts.
	GateTopKSoftmax = "topk_softmax"
	// GateSoftmaxTopK takes a softmax over all experts, then keeps the k largest probabilities
	// (Switch, GShard, Mixtral, DeepSpeed, MegaBlocks); Renormalize rescales them to sum 1.
	GateSoftmaxTopK = "softmax_topk"
)

// Selection methods for the top-k indices (both run on stopped scores; gate values are taken
// by a one-hot product, so gradients never pass through the selection).
const (
	// SelectionArgMax takes k rounds of ArgMax, masking each pick (fast on the Go backend).
	SelectionArgMax = "argmax"
	// SelectionTopK uses graph.TopK (a sort; it has no gradient, which is fine here).
	SelectionTopK = "topk"
)

// Dispatch strategies.
const (
	// DispatchCapacity gathers each expert's tokens into C fixed slots (C = ceil(cf·k·T/E));
	// assignments beyond C are dropped (the residual carries the token).
	DispatchCapacity = "capacity"
	// DispatchDropless gives every expert C = T slots: nothing is dropped, the expert compute
	// is that of DispatchDense on a static-shape backend.
	DispatchDropless = "dropless"
	// DispatchDense runs every expert on every token and combines with a [T, E] weight matrix
	// that is zero outside the selection: the exact reference (test oracle).
	DispatchDense = "dense"
)

// Priorities: which assignments keep a capacity slot when an expert is over-subscribed.
const (
	// PrioritySlot: all first choices (in token order) before any second choice (GShard,
	// Tutel, DeepSpeed top2, PyTorch reference of the step-speed benchmark).
	PrioritySlot = "slot"
	// PriorityToken: in token order regardless of the slot (DeepSpeed topkgating
	// drop_policy="position").
	PriorityToken = "token"
	// PriorityScore: per expert, the assignments with the largest router logit (DeepSpeed
	// topkgating drop_policy="probs"; batch-prioritized routing). Slot indices among the kept
	// assignments follow token order.
	PriorityScore = "score"
)

// Balance-loss forms (all are E·Σ_i f_i·P_i with P_i the mean router probability of expert i).
const (
	// BalanceSwitch: f_i = share of the T·k assignments routed to i (Switch, MegaBlocks,
	// DeepSpeed topkgating); 1 at perfect balance.
	BalanceSwitch = "switch"
	// BalanceFirst: f_i = share of first choices (GShard, Tutel gshard_loss, DeepSpeed top1/top2).
	BalanceFirst = "first"
	// BalanceSlots: HF Mixtral's per-slot form Σ_slots Σ_i f_slot,i·P_i = k × BalanceSwitch
	// (AdaMoE's released code).
	BalanceSlots = "slots"
)

// Noise policies (training only).
const (
	NoiseNone = ""
	// NoiseJitter multiplies the router input by U[1-eps, 1+eps] (Switch Transformer).
	NoiseJitter = "jitter"
	// NoiseNoisyTopK adds N(0,1)·(softplus(x·W_noise) + 0.01) to the logits (Shazeer et al. 2017);
	// the smooth load estimate used by LoadWeight then has a gradient.
	NoiseNoisyTopK = "noisy_topk"
)

// True-expert capacity sizing for AdaMoE.
const (
	// TrueCapacityExpected sizes each true expert for the balanced share of the k·T
	// assignments over all n+m experts, ceil(cf·k·T/(n+m)): the FLOP saving is real.
	TrueCapacityExpected = "expected"
	// TrueCapacityTopK sizes it as if every pick were a true expert, ceil(cf·k·T/n): no drops
	// from null-heavy routing, but the cost of plain top-k.
	TrueCapacityTopK = "topk"
)

// Config configures every MoE layer of this package. The zero value means the defaults below
// (documented per field); fields that a variant does not use are ignored by it. Validate
// checks it and fills in the defaults (Defaults returns the filled copy).
type Config struct {
	// NumExperts E (default 8). For AdaMoE it is the number n of true experts.
	NumExperts int
	// TopK k experts per token (default 2; AdaMoE: default 3).
	TopK int
	// Hidden is each expert's hidden width (default: the model width d, as MomentumSMoE's
	// scripts use inner-hid-sz = hid-sz).
	Hidden int
	// Activation between the expert matmuls (default "relu", fastmoe's experts).
	Activation string
	// NoExpertBias drops the experts' biases.
	NoExpertBias bool
	// RouterBias adds a bias to the router (fastmoe's naive gate has one; Switch, Mixtral and
	// MegaBlocks do not; default off).
	RouterBias bool

	// Gate is GateTopKSoftmax (default) or GateSoftmaxTopK.
	Gate string
	// Renormalize rescales the softmax_topk weights to sum 1 over the selected experts
	// (GShard, Mixtral, DeepSpeed top2); the denominator is clamped at machine epsilon.
	Renormalize bool
	// RenormalizeKept renormalizes over the experts that kept a capacity slot, after
	// dropping (DeepSpeed topkgating); otherwise weights are computed before dropping.
	RenormalizeKept bool
	// Selection is SelectionArgMax (default) or SelectionTopK.
	Selection string
	// Noise is NoiseNone (default), NoiseJitter or NoiseNoisyTopK; NoiseEps is the jitter
	// half-width (default 0.01).
	Noise    string
	NoiseEps float64

	// Dispatch is DispatchCapacity (default), DispatchDropless or DispatchDense.
	Dispatch string
	// CapacityFactor cf in training (default 1.25) and EvalCapacityFactor in evaluation
	// (default 2.0); C = min(T, max(ceil(cf·k·T/E), MinCapacity)).
	CapacityFactor, EvalCapacityFactor float64
	// MinCapacity is the smallest number of slots per expert (default 4, DeepSpeed's default).
	MinCapacity int
	// Priority is PrioritySlot (default), PriorityToken or PriorityScore.
	Priority string

	// BalanceWeight is the weight of the balance loss (default 0.01; Off disables) and
	// BalanceMode its form (BalanceSwitch default, BalanceFirst, BalanceSlots).
	BalanceWeight float64
	BalanceMode   string
	// ZLossWeight is the weight of the ST-MoE router z-loss (default 1e-3; Off disables).
	ZLossWeight float64
	// ImportanceWeight and LoadWeight weight Shazeer's CV²(importance) and CV²(load) losses
	// (default 0 = off; the paper used 0.1 each).
	ImportanceWeight, LoadWeight float64

	// SharedHidden > 0 adds an always-on shared expert d -> SharedHidden -> d (DeepSeekMoE).
	SharedHidden int
	// Dropout on the MoE output f(x), training only, before any momentum update (default 0).
	Dropout float64

	// Reference selects the official post-LN "reference" layout: the layer owns a LayerNorm
	// LN_a and returns LN_a(x ∓ ...) for a post-LN block (layers.BlockConfig.PostLN) to wrap
	// as LN_b(x + ·). Default: the clean form (y added to the residual stream).
	Reference bool

	// Mu (default 0.7) and Gamma (default 1.0) of heavy-ball MomentumSMoE: p <- Mu·p + Gamma·f(x).
	// As for every field, 0 means the default; Mu = Off (any negative value) runs with mu = 0
	// (no momentum), as does the store parameter moe_mu=0.
	Mu, Gamma float64
	// AdamSMoE: Beta1 (0.9), Beta2 (0.999), Gamma1 (1.0) and AdamLayers, the number of first
	// MoE layers that take the Adam step (default 1, as the official code).
	Beta1, Beta2, Gamma1 float64
	AdamLayers           int
	// Robust momentum: Rho (default 0.2) and Kappa (default 1.25, must be > 1).
	Rho, Kappa float64

	// NullExperts m for AdaMoE (default 4); NoNullGroupMean turns off the null-group mean of
	// the balance loss (the released code's effective behaviour); TrueCapacity sizes the true
	// experts' capacity (TrueCapacityExpected default, TrueCapacityTopK).
	NullExperts     int
	NoNullGroupMean bool
	TrueCapacity    string

	// ExpertChoiceFactor c of expert-choice routing: each expert takes C = ceil(c·T/E) tokens
	// (default 2).
	ExpertChoiceFactor float64

	// Name prefixes the reported metrics and extra losses (default "moe"): "moe/l0/...".
	Name string
}

// Defaults returns c with every zero field replaced by its default (variant-independent).
func (c Config) Defaults() Config {
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setF := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	setS := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	setInt(&c.NumExperts, 8)
	setInt(&c.TopK, 2)
	setS(&c.Activation, "relu")
	setS(&c.Gate, GateTopKSoftmax)
	setS(&c.Selection, SelectionArgMax)
	setF(&c.NoiseEps, 0.01)
	setS(&c.Dispatch, DispatchCapacity)
	setF(&c.CapacityFactor, 1.25)
	setF(&c.EvalCapacityFactor, 2.0)
	setInt(&c.MinCapacity, 4)
	setS(&c.Priority, PrioritySlot)
	setF(&c.BalanceWeight, 0.01)
	setS(&c.BalanceMode, BalanceSwitch)
	setF(&c.ZLossWeight, 1e-3)
	setF(&c.Mu, 0.7)
	setF(&c.Gamma, 1.0)
	setF(&c.Beta1, 0.9)
	setF(&c.Beta2, 0.999)
	setF(&c.Gamma1, 1.0)
	setInt(&c.AdamLayers, 1)
	setF(&c.Rho, 0.2)
	setF(&c.Kappa, 1.25)
	setInt(&c.NullExperts, 4)
	setS(&c.TrueCapacity, TrueCapacityExpected)
	setF(&c.ExpertChoiceFactor, 2)
	setS(&c.Name, "moe")
	return c
}

func oneOf(field, v string, allowed ...string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = fmt.Sprintf("%q", a)
	}
	return fmt.Errorf("moe: %s=%q must be one of %s", field, v, strings.Join(q, ", "))
}

// Validate checks the configuration (after defaults) and returns an error naming the bad
// value and what is allowed, e.g. "moe: top_k=5 must be in [1, num_experts=4]".
func (c Config) Validate() error {
	c = c.Defaults()
	if c.NumExperts < 1 {
		return fmt.Errorf("moe: num_experts=%d must be >= 1", c.NumExperts)
	}
	if c.TopK < 1 || c.TopK > c.NumExperts {
		return fmt.Errorf("moe: top_k=%d must be in [1, num_experts=%d]", c.TopK, c.NumExperts)
	}
	if c.Hidden < 0 {
		return fmt.Errorf("moe: hidden=%d must be >= 0 (0: the model width)", c.Hidden)
	}
	if err := oneOf("activation", c.Activation, "relu", "gelu", "silu", "swish", "tanh", "identity", "none"); err != nil {
		return err
	}
	checks := []error{
		oneOf("gate", c.Gate, GateTopKSoftmax, GateSoftmaxTopK),
		oneOf("selection", c.Selection, SelectionArgMax, SelectionTopK),
		oneOf("noise", c.Noise, NoiseNone, NoiseJitter, NoiseNoisyTopK),
		oneOf("dispatch", c.Dispatch, DispatchCapacity, DispatchDropless, DispatchDense),
		oneOf("priority", c.Priority, PrioritySlot, PriorityToken, PriorityScore),
		oneOf("balance_mode", c.BalanceMode, BalanceSwitch, BalanceFirst, BalanceSlots),
		oneOf("true_capacity", c.TrueCapacity, TrueCapacityExpected, TrueCapacityTopK),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	pos := func(name string, v float64) error {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("moe: %s=%g must be > 0", name, v)
		}
		return nil
	}
	for _, e := range []error{
		pos("capacity_factor", c.CapacityFactor), pos("eval_capacity_factor", c.EvalCapacityFactor),
		pos("expert_choice_factor", c.ExpertChoiceFactor), pos("gamma", c.Gamma), pos("gamma1", c.Gamma1),
	} {
		if e != nil {
			return e
		}
	}
	if c.NoiseEps < 0 || c.NoiseEps >= 1 {
		return fmt.Errorf("moe: noise_eps=%g must be in [0, 1)", c.NoiseEps)
	}
	if c.MinCapacity < 1 {
		return fmt.Errorf("moe: min_capacity=%d must be >= 1", c.MinCapacity)
	}
	if c.ImportanceWeight < 0 || c.LoadWeight < 0 {
		return fmt.Errorf("moe: importance_weight=%g and load_weight=%g must be >= 0", c.ImportanceWeight, c.LoadWeight)
	}
	if c.SharedHidden < 0 {
		return fmt.Errorf("moe: shared_hidden=%d must be >= 0", c.SharedHidden)
	}
	if c.Dropout < 0 || c.Dropout >= 1 {
		return fmt.Errorf("moe: dropout=%g must be in [0, 1)", c.Dropout)
	}
	if c.Mu >= 1 || math.IsNaN(c.Mu) {
		return fmt.Errorf("moe: mu=%g must be in [0, 1) (or Off for 0)", c.Mu)
	}
	if c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1 {
		return fmt.Errorf("moe: beta1=%g and beta2=%g must be in [0, 1)", c.Beta1, c.Beta2)
	}
	if c.AdamLayers < 0 {
		return fmt.Errorf("moe: adam_layers=%d must be >= 0", c.AdamLayers)
	}
	if c.Rho <= 0 || c.Rho >= 1 {
		return fmt.Errorf("moe: rho=%g must be in (0, 1)", c.Rho)
	}
	if !(c.Kappa > 1) {
		return fmt.Errorf("moe: kappa=%g must be > 1 (the robust-momentum coefficients divide by kappa-1)", c.Kappa)
	}
	if c.NullExperts < 0 {
		return fmt.Errorf("moe: null_experts=%d must be >= 0", c.NullExperts)
	}
	if c.Name == "" || strings.ContainsAny(c.Name, " \t\n") {
		return fmt.Errorf("moe: name=%q must be a non-empty word", c.Name)
	}
	return nil
}

// weightOr maps a configured loss weight to the weight used: negative (Off) is 0.
func weightOr(w float64) float64 {
	if w < 0 {
		return 0
	}
	return w
}
