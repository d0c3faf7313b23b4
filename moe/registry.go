package moe

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/registry"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train"
)

// Factory builds an MoE layer for the FFN slot from a Config.
type Factory func(cfg Config) (layers.FFN, error)

var kinds = registry.NewKind[Factory]("moe_layer")

// Register adds an MoE layer under name (lower snake case), from an init function; it panics
// on a duplicate name.
func Register(name string, f Factory) { kinds.Register(name, f) }

// Names returns the registered MoE layer names, sorted.
func Names() []string { return kinds.Names() }

// New returns the MoE layer registered under name, built from cfg; an unknown name or a bad
// config is an error naming the value and what is allowed.
func New(name string, cfg Config) (layers.FFN, error) {
	f, err := kinds.Get(name)
	if err != nil {
		return nil, fmt.Errorf("moe: %w", err)
	}
	return f(cfg)
}

func init() {
	Register("smoe", NewSMoE)
	Register("momentum", NewMomentumSMoE)
	Register("adam", NewAdamSMoE)
	Register("robust", NewRobustSMoE)
	Register("adamoe", NewAdaMoE)
	Register("expert_choice", NewExpertChoice)
	for _, p := range params {
		train.DeclareParam(p.name, p.def, p.doc)
	}
}

// param is one store parameter read by ConfigFromParams.
type param struct {
	name string
	def  any
	doc  string
	set  func(c *Config, v any)
}

func asInt(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case int64:
		return int(x)
	case int32:
		return int(x)
	case float64:
		return int(x)
	}
	return 0
}

func asFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	case int:
		return float64(x)
	case int64:
		return float64(x)
	}
	return 0
}

// weightParam maps a loss-weight param to Config: 0 from the command line means off.
func weightParam(v any) float64 {
	if w := asFloat(v); w != 0 {
		return w
	}
	return Off
}

// params are the store parameters (set with -set "moe=momentum;moe_num_experts=8;...").
var params = []param{
	{"moe", "smoe", "MoE layer: one of moe.Names()", nil},
	{"moe_num_experts", 8, "experts E (AdaMoE: true experts n)", func(c *Config, v any) { c.NumExperts = asInt(v) }},
	{"moe_top_k", 0, "experts per token k (0: 2, AdaMoE 3)", func(c *Config, v any) { c.TopK = asInt(v) }},
	{"moe_hidden", 0, "expert hidden width (0: model width)", func(c *Config, v any) { c.Hidden = asInt(v) }},
	{"moe_activation", "relu", "expert activation", func(c *Config, v any) { c.Activation = fmt.Sprint(v) }},
	{"moe_router_bias", false, "router bias", func(c *Config, v any) { c.RouterBias, _ = v.(bool) }},
	{"moe_gate", "", "topk_softmax or softmax_topk (empty: layer default)", func(c *Config, v any) { c.Gate = fmt.Sprint(v) }},
	{"moe_renormalize", false, "renormalize softmax_topk weights over the selection", func(c *Config, v any) { c.Renormalize, _ = v.(bool) }},
	{"moe_selection", SelectionArgMax, "argmax or topk", func(c *Config, v any) { c.Selection = fmt.Sprint(v) }},
	{"moe_noise", "", "router noise: jitter or noisy_topk (empty: none)", func(c *Config, v any) { c.Noise = fmt.Sprint(v) }},
	{"moe_noise_eps", 0.01, "jitter half-width", func(c *Config, v any) { c.NoiseEps = asFloat(v) }},
	{"moe_dispatch", DispatchCapacity, "capacity, dropless or dense", func(c *Config, v any) { c.Dispatch = fmt.Sprint(v) }},
	{"moe_capacity_factor", 1.25, "capacity factor (training)", func(c *Config, v any) { c.CapacityFactor = asFloat(v) }},
	{"moe_eval_capacity_factor", 2.0, "capacity factor (evaluation)", func(c *Config, v any) { c.EvalCapacityFactor = asFloat(v) }},
	{"moe_min_capacity", 4, "minimum slots per expert", func(c *Config, v any) { c.MinCapacity = asInt(v) }},
	{"moe_priority", PrioritySlot, "slot, token or score", func(c *Config, v any) { c.Priority = fmt.Sprint(v) }},
	{"moe_balance_weight", 0.01, "balance loss weight (0: off)", func(c *Config, v any) { c.BalanceWeight = weightParam(v) }},
	{"moe_balance_mode", BalanceSwitch, "switch, first or slots", func(c *Config, v any) { c.BalanceMode = fmt.Sprint(v) }},
	{"moe_z_weight", 1e-3, "router z-loss weight (0: off)", func(c *Config, v any) { c.ZLossWeight = weightParam(v) }},
	{"moe_importance_weight", 0.0, "CV² importance loss weight", func(c *Config, v any) { c.ImportanceWeight = asFloat(v) }},
	{"moe_load_weight", 0.0, "CV² load loss weight", func(c *Config, v any) { c.LoadWeight = asFloat(v) }},
	{"moe_shared_hidden", 0, "shared always-on expert hidden width (0: none)", func(c *Config, v any) { c.SharedHidden = asInt(v) }},
	{"moe_dropout", 0.0, "dropout on the MoE output", func(c *Config, v any) { c.Dropout = asFloat(v) }},
	{"moe_reference", false, "official post-LN reference layout", func(c *Config, v any) { c.Reference, _ = v.(bool) }},
	{"moe_mu", 0.7, "MomentumSMoE mu (0: no momentum)", func(c *Config, v any) { c.Mu = weightParam(v) }},
	{"moe_gamma", 1.0, "MomentumSMoE gamma", func(c *Config, v any) { c.Gamma = asFloat(v) }},
	{"moe_beta1", 0.9, "AdamSMoE beta1", func(c *Config, v any) { c.Beta1 = asFloat(v) }},
	{"moe_beta2", 0.999, "AdamSMoE beta2", func(c *Config, v any) { c.Beta2 = asFloat(v) }},
	{"moe_gamma1", 1.0, "AdamSMoE gamma1", func(c *Config, v any) { c.Gamma1 = asFloat(v) }},
	{"moe_adam_layers", 1, "AdamSMoE: MoE layers taking the Adam step", func(c *Config, v any) { c.AdamLayers = asInt(v) }},
	{"moe_rho", 0.2, "robust momentum rho", func(c *Config, v any) { c.Rho = asFloat(v) }},
	{"moe_kappa", 1.25, "robust momentum kappa (> 1)", func(c *Config, v any) { c.Kappa = asFloat(v) }},
	{"moe_null_experts", 4, "AdaMoE null experts m", func(c *Config, v any) { c.NullExperts = asInt(v) }},
	{"moe_null_group_mean", true, "AdaMoE: null-group mean in the balance loss", func(c *Config, v any) { b, _ := v.(bool); c.NoNullGroupMean = !b }},
	{"moe_true_capacity", TrueCapacityExpected, "AdaMoE true-expert capacity: expected or topk", func(c *Config, v any) { c.TrueCapacity = fmt.Sprint(v) }},
	{"moe_expert_choice_factor", 2.0, "expert choice: tokens per expert = c·T/E", func(c *Config, v any) { c.ExpertChoiceFactor = asFloat(v) }},
}

// ConfigFromParams reads the layer name (param "moe") and its Config from the store params
// of scope (defaults above for unset ones; all declared for -set) and validates them.
func ConfigFromParams(scope *model.Scope) (name string, cfg Config, err error) {
	name = model.GetParamOr(scope, "moe", "smoe")
	for _, p := range params[1:] {
		if v, ok := scope.GetParam(p.name); ok {
			p.set(&cfg, v)
		}
	}
	if _, err := kinds.Get(name); err != nil {
		return name, cfg, fmt.Errorf("moe: -set moe=%q: %w", name, err)
	}
	f, _ := kinds.Get(name)
	if _, err := f(cfg); err != nil {
		return name, cfg, err
	}
	return name, cfg, nil
}

// FromParams returns an FFN that, at graph building, reads the layer and its Config from the
// store params (ConfigFromParams) and runs it. A bad setting panics during graph building with
// the validation error (train.Run returns it as an error); call ConfigFromParams first to
// report it earlier.
func FromParams() layers.FFN {
	var ffn layers.FFN
	return func(scope *model.Scope, h *graph.Node, layer int, carry layers.Carry) (*graph.Node, layers.Carry) {
		if ffn == nil {
			name, cfg, err := ConfigFromParams(scope)
			if err != nil {
				panic(err)
			}
			if ffn, err = New(name, cfg); err != nil {
				panic(err)
			}
		}
		return ffn(scope, h, layer, carry)
	}
}
