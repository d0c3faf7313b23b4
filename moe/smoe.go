package moe

import (
	"fmt"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	glayers "github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train"
)

// Output is what one MoE sublayer computed, for tests and for callers that want more than
// the FFN slot returns.
type Output struct {
	// Y is the combined expert output f(x), the shape of the input.
	Y *graph.Node
	// Routing is the token-choice routing (nil for expert choice).
	Routing *Routing
	// Balance and Z are the unweighted balance loss and router z-loss (nil when not computed).
	Balance, Z *graph.Node
}

// sparse is the shared machinery of every token-choice layer: router, capacity, dispatch,
// losses and metrics. null > 0 adds AdaMoE's null experts.
type sparse struct {
	cfg  Config
	null int
}

// expertFFN is the default Experts: layers.ExpertFFN under scope/experts.
func (s *sparse) expertFFN(hidden int) Experts {
	return func(scope *model.Scope, x *graph.Node) *graph.Node {
		return layers.ExpertFFN(scope.In("experts"), x, layers.ExpertFFNConfig{NumExperts: s.cfg.NumExperts,
			Hidden: hidden, Activation: s.cfg.Activation, NoBias: s.cfg.NoExpertBias})
	}
}

// forward computes f(h) for h [..., d] (flattened to T tokens), adds the extra losses and
// reports the metrics of layer (training graphs only). experts nil means ExpertFFN.
func (s *sparse) forward(scope *model.Scope, h *graph.Node, layer int, experts Experts) Output {
	cfg := s.cfg
	g := h.Graph()
	dims := h.Shape().Dimensions
	d := dims[len(dims)-1]
	t := h.Shape().Size() / d
	x := graph.Reshape(h, t, d)
	training := scope.IsTraining(g)
	n := cfg.NumExperts
	e := n + s.null

	rs := scope.In("router")
	in := jitter(rs, x, cfg, training)
	clean := routerLinear(rs, in, n, cfg.RouterBias)
	if s.null > 0 {
		clean = graph.Concatenate([]*graph.Node{clean, routerLinear(scope.In("null_router"), in, s.null, false)}, -1)
	}
	logits, std := noisyTopK(rs, in, clean, cfg, training)
	r := Route(logits, cfg, n)
	r.Clean, r.NoiseStd = clean, std

	// Capacity per real expert.
	c := t
	if cfg.Dispatch == DispatchCapacity {
		cf := cfg.EvalCapacityFactor
		if training {
			cf = cfg.CapacityFactor
		}
		share := e // AdaMoE expected sizing: balanced share of the n+m experts.
		if s.null > 0 && cfg.TrueCapacity == TrueCapacityTopK {
			share = n
		}
		c = capacity(t, cfg.TopK, share, cf, cfg.MinCapacity)
	}
	r.Assign(c, cfg)

	if experts == nil {
		hidden := cfg.Hidden
		if hidden == 0 {
			hidden = d
		}
		experts = s.expertFFN(hidden)
	}
	y := Dispatch(scope, x, r, experts, cfg.Dispatch == DispatchDense)
	if cfg.SharedHidden > 0 {
		y = graph.Add(y, layers.MLP(scope.In("shared_expert"), x, layers.MLPConfig{Hidden: []int{cfg.SharedHidden}, Out: d, Activation: cfg.Activation}))
	}
	out := Output{Y: graph.Reshape(y, dims...), Routing: r}
	out.Balance = BalanceLoss(r, cfg.BalanceMode, !cfg.NoNullGroupMean)
	out.Z = ZLoss(clean)
	if training {
		s.lossesAndMetrics(r, out, layer)
	}
	if training && cfg.Dropout > 0 {
		out.Y = glayers.DropoutStatic(scope.In("dropout"), out.Y, cfg.Dropout)
	}
	return out
}

// prefix is the metric prefix of a layer: "moe/l3".
func (c Config) prefix(layer int) string { return fmt.Sprintf("%s/l%d", c.Name, layer) }

// lossesAndMetrics adds the weighted losses with train.AddExtraLoss and publishes the layer's
// routing statistics with train.Report (both reach the history, progress bar, JSON and plots).
func (s *sparse) lossesAndMetrics(r *Routing, out Output, layer int) {
	cfg := s.cfg
	pre := cfg.prefix(layer)
	train.AddExtraLoss(pre+"/balance_loss", weightOr(cfg.BalanceWeight), out.Balance)
	train.AddExtraLoss(pre+"/z_loss", weightOr(cfg.ZLossWeight), out.Z)
	if cfg.ImportanceWeight > 0 {
		train.AddExtraLoss(pre+"/importance_loss", cfg.ImportanceWeight, CV2(Importance(r)))
	}
	if cfg.LoadWeight > 0 {
		train.AddExtraLoss(pre+"/load_loss", cfg.LoadWeight, CV2(Load(r)))
	}
	reportRouting(pre, r)
}

// reportRouting publishes tokens per expert (min, max, std, before dropping), utilization
// (min and max of count_i / (k·T/E), 1 = fair share), dead experts (count 0), the dropped
// fraction of valid assignments, the router entropy (nats) and, with null experts, the
// realized true experts per token (before and after dropping).
func reportRouting(pre string, r *Routing) {
	counts := graph.StopGradient(r.Counts)
	fair := float64(r.K*r.T) / float64(r.E)
	mean := graph.ReduceAllMean(counts)
	std := graph.Sqrt(graph.ReduceAllMean(graph.Square(graph.Sub(counts, mean))))
	train.Report(pre+"/tokens_min", graph.ReduceAllMin(counts))
	train.Report(pre+"/tokens_max", graph.ReduceAllMax(counts))
	train.Report(pre+"/tokens_std", std)
	train.Report(pre+"/util_min", graph.DivScalar(graph.ReduceAllMin(counts), fair))
	train.Report(pre+"/util_max", graph.DivScalar(graph.ReduceAllMax(counts), fair))
	dead := graph.ReduceAllSum(graph.ConvertDType(graph.Equal(counts, graph.ZerosLike(counts)), counts.DType()))
	train.Report(pre+"/dead_experts", dead)
	valid := graph.ReduceAllSum(r.Valid)
	kept := graph.ReduceAllSum(r.Keep)
	train.Report(pre+"/dropped", graph.Div(graph.Sub(valid, kept), graph.MaxScalar(valid, 1)))
	train.Report(pre+"/entropy", RouterEntropy(r))
	if r.Real < r.E {
		train.Report(pre+"/true_per_token", graph.DivScalar(valid, float64(r.T)))
		train.Report(pre+"/kept_true_per_token", graph.DivScalar(kept, float64(r.T)))
	}
}

// layerNorm is the LayerNorm LN_a owned by an MoE layer (eps 1e-5, PyTorch's default), with
// variables under scope/ln_a.
func layerNorm(scope *model.Scope, x *graph.Node) *graph.Node {
	return layers.LayerNorm(scope.In("ln_a"), x, 1e-5)
}

// NewSMoE returns a sparse MoE feed-forward layer (token-choice top-k routing, capacity
// dispatch, Switch balance and z-losses) for the FFN slot of layers.Block/Stack.
//
// Paper: Shazeer et al., "Outrageously Large Neural Networks: The Sparsely-Gated
// Mixture-of-Experts Layer", ICLR 2017, arXiv 1701.06538; Fedus et al., "Switch
// Transformers", arXiv 2101.03961; Lepikhin et al., "GShard", arXiv 2006.16668.
// Reference code: rachtsy/MomentumSMoE (fastmoe naive gate, the baseline it wraps),
// microsoft/DeepSpeed deepspeed/moe/sharded_moe.py, microsoft/tutel, databricks/megablocks.
//
//	f(x) = Σ_{j<k} g_j(x) · E_{e_j}(x),  e = top-k of router(x)
//	clean layout:     y = f(h)               (the block adds it: x + f(LN(x)) pre-LN)
//	reference layout: y = LN_a(h + f(h))     (with a post-LN block: x <- LN_b(x + LN_a(x + f(x))),
//	                                          the official MomentumSMoE baseline's double norm)
//
// Shapes: h [..., d] -> y [..., d]. Defaults: see Config (E 8, k 2, top-k-then-softmax,
// capacity 1.25 train / 2.0 eval, balance 0.01, z-loss 1e-3, expert hidden d, ReLU).
// Deviations: the official LM runs are dropless (set Dispatch: DispatchDropless) and train
// without an effective balance loss (set BalanceWeight: Off).
func NewSMoE(cfg Config) (layers.FFN, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &sparse{cfg: cfg.Defaults()}
	return func(scope *model.Scope, h *graph.Node, layer int, carry layers.Carry) (*graph.Node, layers.Carry) {
		f := s.forward(scope, h, layer, nil).Y
		if s.cfg.Reference {
			return layerNorm(scope, graph.Add(h, f)), carry
		}
		return f, carry
	}, nil
}

// stateOr returns carry[key] or zeros shaped like h.
func stateOr(carry layers.Carry, key string, h *graph.Node) *graph.Node {
	if p, ok := carry[key]; ok && p != nil {
		return p
	}
	return graph.ZerosLike(h)
}

// depth returns how many MoE layers of this family ran before (a shape-only counter kept in
// the carry: a [n] node whose length is the count) and the carry entry for n+1.
func depth(carry layers.Carry, h *graph.Node) (int, *graph.Node) {
	n := 0
	if c, ok := carry["moe/depth"]; ok && c != nil {
		n = c.Shape().Dim(0)
	}
	return n, graph.Zeros(h.Graph(), shapes.Make(h.DType(), n+1))
}

// with returns a copy of carry with the given entries set.
func with(carry layers.Carry, kv ...any) layers.Carry {
	out := layers.Carry{}
	for k, v := range carry {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1].(*graph.Node)
	}
	return out
}
