package layers

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// Embedding looks up ids (int, any shape [...]) in the table scope/embeddings [vocab, d]
// (initialized N(0, 0.02) as GPT-2) and returns [..., d]. TiedOutput reuses the same table.
func Embedding(scope *model.Scope, ids *graph.Node, dtype dtypes.DType, vocab, d int) *graph.Node {
	table := embeddingTable(scope, ids.Graph(), dtype, vocab, d)
	return graph.Gather(table, graph.InsertAxes(ids, -1))
}

func embeddingTable(scope *model.Scope, g *graph.Graph, dtype dtypes.DType, vocab, d int) *graph.Node {
	return scope.WithInitializer(normalInit(scope, 0.02)).
		VariableWithShape("embeddings", shapes.Make(dtype, vocab, d)).NodeValue(g)
}

// TiedOutput projects h [..., d] to logits [..., vocab] with the transpose of the embedding
// table created by Embedding under the same scope (weight tying, Press & Wolf 2017). GoMLX
// scopes may be entered once per graph: pass the very scope given to Embedding, or enter it
// again with scope.Shared(name).
func TiedOutput(scope *model.Scope, h *graph.Node, vocab int) *graph.Node {
	d := h.Shape().Dim(-1)
	table := embeddingTable(scope, h.Graph(), h.DType(), vocab, d)
	return graph.DotGeneral(h, []int{h.Rank() - 1}, nil, table, []int{1}, nil)
}

// PositionalEmbedding adds a learned position table scope/positions [seq, d] to x [batch, seq, d].
func PositionalEmbedding(scope *model.Scope, x *graph.Node) *graph.Node {
	s, d := x.Shape().Dim(1), x.Shape().Dim(2)
	pos := scope.WithInitializer(normalInit(scope, 0.02)).
		VariableWithShape("positions", shapes.Make(x.DType(), s, d)).NodeValue(x.Graph())
	return graph.Add(x, graph.InsertAxes(pos, 0))
}

// normalInit draws N(0, std²) from the store's random state (so Config.Seed controls it).
func normalInit(scope *model.Scope, std float64) model.VariableInitializer {
	store := scope.Store()
	return func(g *graph.Graph, shape shapes.Shape) *graph.Node {
		return graph.MulScalar(store.RandomNormal(g, shape), std)
	}
}

// ShrinkGradient returns x unchanged in the forward pass with its gradient multiplied by
// alpha: GLM-130B's embedding gradient shrink (EGS) with alpha = 0.1 on the word embeddings.
//
// Paper: Zeng et al., "GLM-130B: An Open Bilingual Pre-trained Model", ICLR 2023,
// arXiv:2210.02414, Sec. 3 "Embedding Layer Gradient Shrink": word_embedding =
// word_embedding·α + word_embedding.detach()·(1 − α).
//
// Deviation: written as x + (α − 1)·(x − stopgrad(x)), whose second term is exactly zero in the
// forward pass, so the value is bit-identical to x (the paper's form rounds α·x + (1 − α)·x);
// the gradient is the same, α.
func ShrinkGradient(x *graph.Node, alpha float64) *graph.Node {
	if alpha == 1 {
		return x
	}
	zero := graph.Sub(x, graph.StopGradient(x))         // 0, with gradient 1
	return graph.Add(x, graph.MulScalar(zero, alpha-1)) // value x, gradient α
}
