package layers

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	glayers "github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/attention"
	"github.com/gomlx/gomlx/ml/layers/norm"
	"github.com/gomlx/gomlx/ml/model"
)

// Carry is state threaded through a Stack from block to block by the FFN slot, e.g.
// MomentumSMoE's momentum p. Keys are owned by the FFN that sets them; nil means empty.
type Carry map[string]*graph.Node

// FFN is the feed-forward slot of a transformer block. It receives the block's normalized input
// h [batch, seq, d] (pre-LN: LN(x); post-LN: x + attention, before its LN), the layer index and
// the carried state, and returns the update y [batch, seq, d] that the block adds to the
// residual stream, plus the carry for the next block. Dense FFNs ignore the carry.
type FFN func(scope *model.Scope, h *graph.Node, layer int, carry Carry) (y *graph.Node, next Carry)

// DenseFFN is the standard position-wise feed-forward network d -> hidden -> d.
func DenseFFN(hidden int, activation string) FFN {
	return func(scope *model.Scope, h *graph.Node, _ int, carry Carry) (*graph.Node, Carry) {
		d := h.Shape().Dim(-1)
		return MLP(scope, h, MLPConfig{Hidden: []int{hidden}, Out: d, Activation: activation}), carry
	}
}

// BlockConfig configures a transformer block.
type BlockConfig struct {
	// DModel is the width of the residual stream; NumHeads divides it.
	DModel, NumHeads int
	// FFNHidden is the hidden width of the default dense FFN (default 4·DModel).
	FFNHidden int
	// Activation of the default FFN (default "gelu").
	Activation string
	// FFN replaces the dense feed-forward network (e.g. an MoE layer).
	FFN FFN
	// Causal masks attention to earlier positions (language models).
	Causal bool
	// Dropout after attention and FFN (training only).
	Dropout float64
	// PostLN selects the original post-LN layout x = LN(x + f(x)) instead of pre-LN
	// x = x + f(LN(x)).
	PostLN bool
	// Norm is "layer" (default) or "rms".
	Norm string
	// GoMLXAttention uses GoMLX's attention layer instead of SelfAttention (the same maths with
	// more options; moeboost's is faster on the Go backend).
	GoMLXAttention bool
	// QKNorm, RoPE and RoPEBase are SelfAttentionWith's options (qk-layernorm, Wortsman et
	// al. 2023; rotary embeddings, GLM-130B); not available with GoMLXAttention.
	QKNorm, RoPE bool
	RoPEBase     float64
	// DeepNorm selects GLM-130B's DeepNorm post-LN block, x = LN(α·x + f(x)) with
	// α = DeepNormAlpha(DeepNormLayers), and initializes the FFN and the attention's v and out
	// projections with XavierNormalInit(β = DeepNormBeta(DeepNormLayers)) (Zeng et al.,
	// arXiv:2210.02414, Sec. 2.1). It implies the post-LN layout. Stack sets DeepNormLayers to
	// its depth when it is 0.
	DeepNorm       bool
	DeepNormLayers int
	// AttnLogitMetric, when set, is a prefix: each block publishes its largest |attention
	// logit| as "<prefix>/l<layer>/max_attn_logit" (see AttentionConfig.LogitMetric).
	AttnLogitMetric string
}

// Validate reports a bad configuration.
func (c BlockConfig) Validate() error {
	if c.DModel < 1 || c.NumHeads < 1 || c.DModel%c.NumHeads != 0 {
		return fmt.Errorf("block: d_model=%d must be a positive multiple of num_heads=%d", c.DModel, c.NumHeads)
	}
	if c.FFNHidden < 0 {
		return fmt.Errorf("block: ffn_hidden=%d must be >= 0", c.FFNHidden)
	}
	if c.Dropout < 0 || c.Dropout >= 1 {
		return fmt.Errorf("block: dropout=%g must be in [0, 1)", c.Dropout)
	}
	if c.Norm != "" && c.Norm != "layer" && c.Norm != "rms" {
		return fmt.Errorf("block: norm=%q must be \"layer\" or \"rms\"", c.Norm)
	}
	if c.GoMLXAttention && (c.QKNorm || c.RoPE || c.AttnLogitMetric != "") {
		return fmt.Errorf("block: go_mlx_attention=true does not support qk_norm, rope or the attention-logit metric; use moeboost's SelfAttention")
	}
	if c.RoPE && (c.DModel/c.NumHeads)%2 != 0 {
		return fmt.Errorf("block: rope needs an even head width, got d_model/num_heads=%d", c.DModel/c.NumHeads)
	}
	if c.RoPEBase < 0 {
		return fmt.Errorf("block: rope_base=%g must be >= 0 (0: 10000)", c.RoPEBase)
	}
	if c.DeepNormLayers < 0 || (c.DeepNorm && c.DeepNormLayers == 0) {
		return fmt.Errorf("block: deep_norm_layers=%d must be >= 1 with deep_norm (Stack sets it to its depth)", c.DeepNormLayers)
	}
	return ValidActivation(c.Activation)
}

func (c BlockConfig) normalize(scope *model.Scope, x *graph.Node) *graph.Node {
	if c.Norm == "rms" {
		return norm.RMSNorm(scope, x).Done()
	}
	return LayerNorm(scope, x, 1e-5)
}

// Block applies one transformer block to x [batch, seq, d] and returns the new residual stream
// and carry. Pre-LN (default): x += Attn(LN1(x)); x += FFN(LN2(x)). Post-LN: x = LN1(x +
// Attn(x)); x = LN2(x + FFN(x)). DeepNorm: x = LN1(α·x + Attn(x)); x = LN2(α·x + FFN(x)).
func Block(scope *model.Scope, x *graph.Node, layer int, cfg BlockConfig, carry Carry) (*graph.Node, Carry) {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	ffn := cfg.FFN
	if ffn == nil {
		hidden := cfg.FFNHidden
		if hidden == 0 {
			hidden = 4 * cfg.DModel
		}
		act := cfg.Activation
		if act == "" {
			act = "gelu"
		}
		ffn = DenseFFN(hidden, act)
	}
	attn := func(h *graph.Node) *graph.Node {
		var a *graph.Node
		if cfg.GoMLXAttention {
			a = attention.SelfAttention(scope.In("attention"), h, cfg.NumHeads, cfg.DModel/cfg.NumHeads).
				WithCausalMask(cfg.Causal).Done()
		} else {
			ac := AttentionConfig{NumHeads: cfg.NumHeads, Causal: cfg.Causal, QKNorm: cfg.QKNorm, RoPE: cfg.RoPE, RoPEBase: cfg.RoPEBase}
			if cfg.DeepNorm {
				ac.VOInit = XavierNormalInit(scope, DeepNormBeta(cfg.DeepNormLayers))
			}
			if cfg.AttnLogitMetric != "" {
				ac.LogitMetric = fmt.Sprintf("%s/l%d/max_attn_logit", cfg.AttnLogitMetric, layer)
			}
			a = SelfAttentionWith(scope.In("attention"), h, ac)
		}
		if cfg.Dropout > 0 {
			a = glayers.DropoutStatic(scope.In("attention"), a, cfg.Dropout)
		}
		return a
	}
	ff := func(h *graph.Node) *graph.Node {
		var y *graph.Node
		fs := scope.In("ffn")
		if cfg.DeepNorm {
			fs = fs.WithInitializer(XavierNormalInit(scope, DeepNormBeta(cfg.DeepNormLayers)))
		}
		y, carry = ffn(fs, h, layer, carry)
		if cfg.Dropout > 0 {
			y = glayers.DropoutStatic(scope.In("ffn"), y, cfg.Dropout)
		}
		return y
	}
	if cfg.DeepNorm {
		alpha := DeepNormAlpha(cfg.DeepNormLayers)
		x = cfg.normalize(scope.In("ln1"), graph.Add(graph.MulScalar(x, alpha), attn(x))) // LN(α·x + Attn(x))
		x = cfg.normalize(scope.In("ln2"), graph.Add(graph.MulScalar(x, alpha), ff(x)))   // LN(α·x + FFN(x))
		return x, carry
	}
	if cfg.PostLN {
		x = cfg.normalize(scope.In("ln1"), graph.Add(x, attn(x)))
		x = cfg.normalize(scope.In("ln2"), graph.Add(x, ff(x)))
		return x, carry
	}
	x = graph.Add(x, attn(cfg.normalize(scope.In("ln1"), x)))
	x = graph.Add(x, ff(cfg.normalize(scope.In("ln2"), x)))
	return x, carry
}

// Stack applies n blocks (scopes "block0", "block1", ...), threading the carry, then a final
// norm in the pre-LN layout.
func Stack(scope *model.Scope, x *graph.Node, n int, cfg BlockConfig) *graph.Node {
	var carry Carry
	if cfg.DeepNorm && cfg.DeepNormLayers == 0 {
		cfg.DeepNormLayers = n
	}
	for i := range n {
		x, carry = Block(scope.In("block%d", i), x, i, cfg, carry)
	}
	if !cfg.PostLN && !cfg.DeepNorm {
		x = cfg.normalize(scope.In("ln_final"), x)
	}
	return x
}
