package imitation

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX's graph-building style
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// adamGroup is torch.optim.Adam (β 0.9/0.999, ε 1e-8 added to sqrt(v)/sqrt(1-β2^t), no weight
// decay) over one group of variables, kept in the store under /adam/NAME.
//
// SAC updates three groups (actor, critics, temperature) in one graph, each with its own Adam
// as the official agent has three torch optimizers; the project's registered optimizers keep
// one step counter per optimizer name in a store, so two instances of "adam" in one graph
// would share it.
type adamGroup struct {
	name string
	lr   float64
}

// apply updates vars with grads in graph g.
func (a adamGroup) apply(store *model.Store, vars []*model.Variable, grads []*Node) {
	if len(vars) == 0 {
		return
	}
	const b1, b2, eps = 0.9, 0.999, 1e-8
	g := grads[0].Graph()
	stepVar := store.VariableWithValue(model.JoinPath("/adam", a.name, "step"), float32(0)).SetTrainable(false)
	t := AddScalar(stepVar.NodeValue(g), 1)
	stepVar.SetNodeValue(t)
	bc1 := OneMinus(Pow(Scalar(g, dtypes.Float32, b1), t))
	bc2 := Sqrt(OneMinus(Pow(Scalar(g, dtypes.Float32, b2), t)))
	for i, v := range vars {
		gr := grads[i]
		path := model.JoinPath("/adam", a.name, v.Path())
		mv := store.VariableWithShape(path+"/m", v.Shape(), initializer.Zero).SetTrainable(false)
		vv := store.VariableWithShape(path+"/v", v.Shape(), initializer.Zero).SetTrainable(false)
		m := Add(MulScalar(mv.NodeValue(g), b1), MulScalar(gr, 1-b1))
		s := Add(MulScalar(vv.NodeValue(g), b2), MulScalar(Square(gr), 1-b2))
		mv.SetNodeValue(m)
		vv.SetNodeValue(s)
		denom := AddScalar(Div(Sqrt(s), bc2), eps)
		step := MulScalar(Div(Div(m, bc1), denom), a.lr)
		v.SetNodeValue(Sub(v.NodeValue(g), step))
	}
}

// trainables returns the trainable variables under scope (store order) and their value nodes in g.
func trainables(scope *model.Scope, g *Graph) ([]*model.Variable, []*Node) {
	var vars []*model.Variable
	var nodes []*Node
	for v := range scope.IterVariables() {
		if v.Trainable {
			vars = append(vars, v)
			nodes = append(nodes, v.NodeValue(g))
		}
	}
	return vars, nodes
}
