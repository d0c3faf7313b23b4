package layers

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// RoPE applies rotary position embeddings to x [..., seq, d_h] (d_h even), the position of
// each row being its index on the second-to-last axis.
//
// Paper: Su et al., "RoFormer: Enhanced Transformer with Rotary Position Embedding",
// arXiv:2104.09864, Eq. (34); used on q and k by GLM-130B (Zeng et al., ICLR 2023,
// arXiv:2210.02414, Sec. 2.1).
// Reference code: THUDM/SwissArmyTransformer sat/model/position_embedding/rotary_embeddings.py
// (the "rotate_half" layout GLM-130B uses: pairs (i, i + d_h/2), not interleaved (2i, 2i+1)).
//
//	inv_freq[j] = base^(−2j/d_h), j < d_h/2;  θ = concat(pos·inv_freq, pos·inv_freq)
//	rot(x) = concat(−x[d_h/2:], x[:d_h/2]);   RoPE(x) = x·cos θ + rot(x)·sin θ
//
// base is 10000 in both papers (0 means 10000). The angles are computed in float64 on the
// host side of the graph (constants), then cast to x's dtype.
func RoPE(x *graph.Node, base float64) *graph.Node {
	if base == 0 {
		base = 10000
	}
	rank := x.Rank()
	s, dh := x.Shape().Dim(-2), x.Shape().Dim(-1)
	if dh%2 != 0 {
		panic(fmt.Errorf("rope: head width d_h=%d must be even", dh))
	}
	half := dh / 2
	cosT, sinT := make([]float64, s*dh), make([]float64, s*dh)
	for p := range s {
		for j := range half {
			theta := float64(p) * math.Pow(base, -2*float64(j)/float64(dh))
			c, sn := math.Cos(theta), math.Sin(theta)
			cosT[p*dh+j], cosT[p*dh+j+half] = c, c
			sinT[p*dh+j], sinT[p*dh+j+half] = sn, sn
		}
	}
	g := x.Graph()
	bdims := make([]int, rank)
	for i := range bdims {
		bdims[i] = 1
	}
	bdims[rank-2], bdims[rank-1] = s, dh
	cosN := graph.Reshape(graph.ConvertDType(graph.Const(g, cosT), x.DType()), bdims...)
	sinN := graph.Reshape(graph.ConvertDType(graph.Const(g, sinT), x.DType()), bdims...)
	lo := graph.Slice(x, sliceLast(rank, 0, half)...)
	hi := graph.Slice(x, sliceLast(rank, half, dh)...)
	rot := graph.Concatenate([]*graph.Node{graph.Neg(hi), lo}, -1) // rot(x)
	return graph.Add(graph.Mul(x, cosN), graph.Mul(rot, sinN))     // Eq. (34)
}

func sliceLast(rank, from, to int) []graph.SliceAxisSpec {
	specs := make([]graph.SliceAxisSpec, rank)
	for i := range rank - 1 {
		specs[i] = graph.AxisRange()
	}
	specs[rank-1] = graph.AxisRange(from, to)
	return specs
}

// QKLayerNorm normalizes queries and keys [batch, heads, seq, d_h] over d_h with a learned
// scale and offset per feature (shared by the heads), scopes "q_norm" and "k_norm", before
// their dot product (qk-layernorm).
//
// Paper: Dehghani et al., "Scaling Vision Transformers to 22 Billion Parameters", ICML 2023,
// arXiv:2302.05442; studied at small scale by Wortsman et al., "Small-scale proxies for
// large-scale Transformer training instabilities", ICLR 2024, arXiv:2309.14322, Sec. 3.1.1:
// q = LN(x W_q), k = LN(x W_k), logits = q·kᵀ/√d_h; it bounds attention-logit growth.
// Epsilon 1e-6 (Flax's LayerNorm default, the paper's framework).
func QKLayerNorm(scope *model.Scope, q, k *graph.Node) (*graph.Node, *graph.Node) {
	return LayerNorm(scope.In("q_norm"), q, 1e-6), LayerNorm(scope.In("k_norm"), k, 1e-6)
}

// DeepNormAlpha and DeepNormBeta are GLM-130B's DeepNorm constants for n transformer layers:
// the residual multiplier α = (2N)^(1/2) and the init gain β = (2N)^(−1/2).
//
// Paper: Zeng et al., "GLM-130B: An Open Bilingual Pre-trained Model", ICLR 2023,
// arXiv:2210.02414, Sec. 2.1 and Appendix ("DeepNorm(x) = LayerNorm(α·x + Network(x)),
// α = (2N)^(1/2)", Xavier normal init scaled by β = (2N)^(−1/2) on the FFN, v and output
// projections). DeepNet's own decoder-only rule (Wang et al. 2022, arXiv:2203.00555) is
// α = (2N)^(1/4), β = (8N)^(−1/4); moeboost uses GLM-130B's.
func DeepNormAlpha(n int) float64 { return math.Sqrt(2 * float64(n)) }

// DeepNormBeta is the init gain paired with DeepNormAlpha (see there).
func DeepNormBeta(n int) float64 { return 1 / math.Sqrt(2*float64(n)) }

// XavierNormalInit draws N(0, gain²·2/(fan_in+fan_out)) for matrices (rank ≥ 2; the last two
// axes are [fan_in, fan_out], leading axes such as experts are batch) and zeros for biases and
// other rank ≤ 1 variables, from the store's random state. DeepNorm uses it with gain β.
func XavierNormalInit(scope *model.Scope, gain float64) model.VariableInitializer {
	return fanInit(scope, func(in, out int) float64 { return gain * math.Sqrt(2/float64(in+out)) })
}

// FanInNormalInit draws N(0, gain²/fan_in) for matrices (rank ≥ 2, fan_in the second-to-last
// axis) and zeros for rank ≤ 1 variables: the 1/√fan_in init of Wortsman et al.'s default
// recipe and of μParam (Yang et al. 2022, Table 3).
func FanInNormalInit(scope *model.Scope, gain float64) model.VariableInitializer {
	return fanInit(scope, func(in, _ int) float64 { return gain / math.Sqrt(float64(in)) })
}

func fanInit(scope *model.Scope, std func(in, out int) float64) model.VariableInitializer {
	store := scope.Store()
	return func(g *graph.Graph, shape shapes.Shape) *graph.Node {
		if shape.Rank() <= 1 {
			return graph.Zeros(g, shape)
		}
		in, out := shape.Dim(-2), shape.Dim(-1)
		return graph.MulScalar(store.RandomNormal(g, shape), std(in, out))
	}
}
