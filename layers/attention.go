package layers

import (
	"math"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	glayers "github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/fastgrad"
	"github.com/moeboost/moeboost/train"
)

// SelfAttention is multi-head scaled dot-product self-attention (Vaswani et al. 2017,
// "Attention Is All You Need", Eq. 1): softmax(QKᵀ/√d_h)V per head, on x [batch, seq, d] with
// numHeads heads of width d_h = d/numHeads. Projections scope/{q,k,v,out} are Dense layers
// [d, d] with biases; causal masks keys after each query.
//
// It computes in the [batch, heads, seq, d_h] layout: both attention matmuls then batch over
// leading axes and contract the last one, which the Go backend's matmul takes without
// transposing its inputs. GoMLX's attention layer (same maths, more options: set
// BlockConfig.GoMLXAttention) works in [batch, seq, heads, d_h], which moves 1.8x more elements
// through the backend's slow transposes; this layer makes the transformer-block training step
// about 10% faster (BenchmarkTransformerBlockStep).
func SelfAttention(scope *model.Scope, x *graph.Node, numHeads int, causal bool) *graph.Node {
	return SelfAttentionWith(scope, x, AttentionConfig{NumHeads: numHeads, Causal: causal})
}

// AttentionConfig configures SelfAttentionWith. The zero value of every option keeps plain
// SelfAttention (bit-identical).
type AttentionConfig struct {
	NumHeads int
	Causal   bool
	// QKNorm applies QKLayerNorm to queries and keys (Wortsman et al. 2023, Sec. 3.1.1).
	QKNorm bool
	// RoPE rotates queries and keys by their positions (RoPE; GLM-130B), after QKNorm;
	// RoPEBase is its base (0: 10000).
	RoPE     bool
	RoPEBase float64
	// VOInit, when set, initializes the v and out projections (DeepNorm: Xavier normal with
	// gain β); q and k keep the scope's initializer.
	VOInit model.VariableInitializer
	// LogitMetric, when set, publishes the largest |attention logit| of the batch (over the
	// positions the mask keeps, before the softmax) under that name with train.Report: the
	// attention-logit growth metric of Wortsman et al. 2023 (Fig. 2).
	LogitMetric string
}

// SelfAttentionWith is SelfAttention with the options of cfg (see AttentionConfig).
func SelfAttentionWith(scope *model.Scope, x *graph.Node, cfg AttentionConfig) *graph.Node {
	numHeads, causal := cfg.NumHeads, cfg.Causal
	b, s, d := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2)
	hd := d / numHeads
	heads := func(name string) *graph.Node {
		sc := scope.In("%s", name)
		if cfg.VOInit != nil && name == "v" {
			sc = sc.WithInitializer(cfg.VOInit)
		}
		y := glayers.Dense(sc, x, true, d)                                              // [B, S, d]
		return graph.TransposeAllAxes(graph.Reshape(y, b, s, numHeads, hd), 0, 2, 1, 3) // [B, H, S, d_h]
	}
	q, k, v := heads("q"), heads("k"), heads("v")
	if cfg.QKNorm {
		q, k = QKLayerNorm(scope, q, k) // q = LN(x W_q), k = LN(x W_k)
	}
	if cfg.RoPE {
		q, k = RoPE(q, cfg.RoPEBase), RoPE(k, cfg.RoPEBase)
	}
	scores := graph.DotGeneral(q, []int{3}, []int{0, 1}, k, []int{3}, []int{0, 1}) // [B, H, Sq, Sk]
	scores = graph.MulScalar(scores, 1/math.Sqrt(float64(hd)))
	var keep *graph.Node
	if causal {
		g := x.Graph()
		keep = graph.GreaterOrEqual(graph.Iota(g, shapes.Make(x.DType(), s, s), 0),
			graph.Iota(g, shapes.Make(x.DType(), s, s), 1)) // [Sq, Sk]: key <= query
		keep = graph.BroadcastToDims(graph.Reshape(keep, 1, 1, s, s), b, numHeads, s, s)
	}
	if cfg.LogitMetric != "" {
		a := graph.Abs(graph.StopGradient(scores))
		if keep != nil {
			a = graph.Where(keep, a, graph.ZerosLike(a))
		}
		train.Report(cfg.LogitMetric, graph.ReduceAllMax(a))
	}
	if causal {
		scores = graph.Where(keep, scores, graph.Scalar(x.Graph(), x.DType(), math.Inf(-1)))
	}
	p := fastgrad.Softmax(scores, -1)                                         // Eq. (1)
	o := graph.DotGeneral(p, []int{3}, []int{0, 1}, v, []int{2}, []int{0, 1}) // [B, H, S, d_h]
	o = graph.Reshape(graph.TransposeAllAxes(o, 0, 2, 1, 3), b, s, d)         // [B, S, d]
	out := scope.In("out")
	if cfg.VOInit != nil {
		out = out.WithInitializer(cfg.VOInit)
	}
	return glayers.Dense(out, o, true, d)
}
