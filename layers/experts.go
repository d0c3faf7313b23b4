package layers

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// ExpertMatmul multiplies each expert's token slots by its own weights:
// x [E, C, d] · w [E, d, h] → [E, C, h], one DotGeneral batched over experts. Its gradient is
// GoMLX's DotGeneral gradient (no custom gradient; checked by finite differences in the tests).
func ExpertMatmul(x, w *graph.Node) *graph.Node {
	xs, ws := x.Shape(), w.Shape()
	if xs.Rank() != 3 || ws.Rank() != 3 || xs.Dim(0) != ws.Dim(0) || xs.Dim(2) != ws.Dim(1) {
		panic(fmt.Sprintf("layers.ExpertMatmul: want x [E, C, d] and w [E, d, h], got x %s and w %s", xs, ws))
	}
	return graph.DotGeneral(x, []int{2}, []int{0}, w, []int{1}, []int{0})
}

// ExpertFFNConfig configures ExpertFFN.
type ExpertFFNConfig struct {
	NumExperts, Hidden int
	// Activation between the two matmuls (default "gelu").
	Activation string
	// NoBias drops the per-expert biases.
	NoBias bool
}

// ExpertFFN applies E independent two-layer FFNs to their dispatched slots:
// x [E, C, d] → act(x·W1[e] + b1[e])·W2[e] + b2[e] → [E, C, d]. Variables under scope:
// w1 [E, d, H], b1 [E, 1, H], w2 [E, H, d], b2 [E, 1, d]; weights initialized like a Dense
// layer of the same fan-in (ExpertHe: He-normal over each expert's own fan-in).
func ExpertFFN(scope *model.Scope, x *graph.Node, cfg ExpertFFNConfig) *graph.Node {
	e, d := x.Shape().Dim(0), x.Shape().Dim(2)
	if e != cfg.NumExperts {
		panic(fmt.Sprintf("layers.ExpertFFN: x has %d experts, config %d", e, cfg.NumExperts))
	}
	dt := x.DType()
	w1 := scope.WithInitializer(ExpertHe(scope)).VariableWithShape("w1", shapes.Make(dt, e, d, cfg.Hidden)).NodeValue(x.Graph())
	w2 := scope.WithInitializer(ExpertHe(scope)).VariableWithShape("w2", shapes.Make(dt, e, cfg.Hidden, d)).NodeValue(x.Graph())
	h := ExpertMatmul(x, w1)
	if !cfg.NoBias {
		b1 := scope.WithInitializer(initializer.Zero).VariableWithShape("b1", shapes.Make(dt, e, 1, cfg.Hidden)).NodeValue(x.Graph())
		h = graph.Add(h, b1)
	}
	act := cfg.Activation
	if act == "" {
		act = "gelu"
	}
	h = Activation(act, h)
	y := ExpertMatmul(h, w2)
	if !cfg.NoBias {
		b2 := scope.WithInitializer(initializer.Zero).VariableWithShape("b2", shapes.Make(dt, e, 1, d)).NodeValue(x.Graph())
		y = graph.Add(y, b2)
	}
	return y
}

// ExpertHe initializes stacked per-expert weights [E, in, out] as E independent Dense
// layers: N(0, 2/in) (He et al. 2015), not GoMLX's default which would take E·in as fan-in.
func ExpertHe(scope *model.Scope) model.VariableInitializer {
	store := scope.Store()
	return func(g *graph.Graph, shape shapes.Shape) *graph.Node {
		fanIn := shape.Dim(-2)
		return graph.MulScalar(store.RandomNormal(g, shape), math.Sqrt(2/float64(max(1, fanIn))))
	}
}
