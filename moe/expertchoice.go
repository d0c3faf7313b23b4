package moe

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	glayers "github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train"
)

// expertChoice computes the expert-choice MoE output for h [..., d]: each expert picks its
// C = ceil(c·T/E) highest-scoring tokens of the batch.
func expertChoice(scope *model.Scope, h *graph.Node, layer int, cfg Config, experts Experts) *graph.Node {
	g := h.Graph()
	dims := h.Shape().Dimensions
	d := dims[len(dims)-1]
	t := h.Shape().Size() / d
	e := cfg.NumExperts
	x := graph.Reshape(h, t, d)
	training := scope.IsTraining(g)
	rs := scope.In("router")
	logits := routerLinear(rs, jitter(rs, x, cfg, training), e, cfg.RouterBias)
	s := graph.Softmax(logits, -1) // [T, E] token-to-expert affinity
	c := min(t, int(math.Ceil(cfg.ExpertChoiceFactor*float64(t)/float64(e))))
	_, idx := graph.TopK(graph.StopGradient(graph.Transpose(s, 0, 1)), c, -1) // [E, C] tokens chosen by each expert
	idx = graph.ConvertDType(idx, dtypes.Int32)
	flat := graph.Reshape(idx, e*c, 1)
	xin := graph.Reshape(graph.Gather(x, flat), e, c, d) // [E, C, d]
	out := graph.Reshape(experts(scope, xin), e*c, d)
	// Gate of each (expert, slot): S[token, expert], differentiable through Gather.
	eIdx := graph.Reshape(graph.Iota(g, shapes.Make(dtypes.Int32, e, c), 0), e*c, 1)
	gate := graph.Gather(s, graph.Concatenate([]*graph.Node{flat, eIdx}, -1)) // [E·C]
	y := graph.ScatterSum(graph.Zeros(g, shapes.Make(x.DType(), t, d)), flat, graph.Mul(out, graph.InsertAxes(gate, -1)), false, false)
	if training {
		pre := cfg.prefix(layer)
		// Tokens processed by 0 experts, and the mean number of experts per token.
		perToken := graph.ScatterSum(graph.Zeros(g, shapes.Make(x.DType(), t)), flat, graph.Ones(g, shapes.Make(x.DType(), e*c)), false, false)
		train.Report(pre+"/unrouted", graph.ReduceAllMean(graph.ConvertDType(graph.Equal(perToken, graph.ZerosLike(perToken)), x.DType())))
		train.Report(pre+"/experts_per_token", graph.ReduceAllMean(perToken))
		train.AddExtraLoss(pre+"/z_loss", weightOr(cfg.ZLossWeight), ZLoss(logits))
	}
	if cfg.SharedHidden > 0 {
		y = graph.Add(y, layers.MLP(scope.In("shared_expert"), x, layers.MLPConfig{Hidden: []int{cfg.SharedHidden}, Out: d, Activation: cfg.Activation}))
	}
	y = graph.Reshape(y, dims...)
	if training && cfg.Dropout > 0 {
		y = glayers.DropoutStatic(scope.In("dropout"), y, cfg.Dropout)
	}
	return y
}

// NewExpertChoice returns an expert-choice MoE layer: experts choose tokens instead of tokens
// choosing experts, so every expert processes exactly C tokens (perfect balance by
// construction, no balance loss) and a token may get 0 or several experts.
//
// Paper: Zhou et al., "Mixture-of-Experts with Expert Choice Routing", NeurIPS 2022,
// arXiv 2202.09368, Eq. (1)-(3).
//
//	S = softmax(x·W) [T, E];  I = top-C over tokens of S^T per expert;  C = ceil(c·T/E)
//	y_t = Σ_{(e, slot): I[e,slot] = t} S[t, e] · E_e(x_t)
//
// Defaults: c = ExpertChoiceFactor = 2; z-loss 1e-3 (no balance loss: balance is exact).
// Deviations: none known. Not causal: a token's routing depends on the other tokens of the
// batch, so it leaks future information in autoregressive training and decoding.
func NewExpertChoice(cfg Config) (layers.FFN, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.Defaults()
	return func(scope *model.Scope, h *graph.Node, layer int, carry layers.Carry) (*graph.Node, layers.Carry) {
		hidden := c.Hidden
		if hidden == 0 {
			hidden = h.Shape().Dim(-1)
		}
		s := &sparse{cfg: c}
		f := expertChoice(scope, h, layer, c, s.expertFFN(hidden))
		if c.Reference {
			return layerNorm(scope, graph.Add(h, f)), carry
		}
		return f, carry
	}, nil
}
