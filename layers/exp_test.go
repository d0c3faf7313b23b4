package layers_test

import (
	"fmt"
	"testing"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/moeboost/moeboost/layers"
)

func reluMask(x *graph.Node) *graph.Node {
	a := graph.Max(x, graph.ZerosLike(x))
	mask := graph.StopGradient(graph.Ceil(graph.Div(a, graph.AddScalar(a, 1e-30))))
	return graph.Mul(x, mask)
}

func denseMM(scope *model.Scope, x *graph.Node, out int) *graph.Node {
	g := x.Graph()
	n, in := x.Shape().Dim(0), x.Shape().Dim(1)
	w := scope.VariableWithShape("weights", shapes.Make(x.DType(), in, out)).NodeValue(g)
	b := scope.WithInitializer(initializer.Zero).VariableWithShape("biases", shapes.Make(x.DType(), 1, out)).NodeValue(g)
	ones := graph.Ones(g, shapes.Make(x.DType(), n, 1))
	return graph.Add(graph.Dot(x, w).Product(), graph.Dot(ones, b).Product())
}

func denseGo(scope *model.Scope, x *graph.Node, out int) *graph.Node {
	return layers.MLP(scope, x, layers.MLPConfig{Out: out})
}

func BenchmarkExpMLP(b *testing.B) {
	for rep := 0; rep < 2; rep++ {
		for _, v := range []struct {
			name  string
			relu  func(*graph.Node) *graph.Node
			dense func(*model.Scope, *graph.Node, int) *graph.Node
		}{
			{"base", layers.Relu, denseGo},
			{"relumask", reluMask, denseGo},
			{"mmdense", layers.Relu, denseMM},
			{"both", reluMask, denseMM},
		} {
			b.Run(fmt.Sprintf("%s-%d", v.name, rep), func(b *testing.B) {
				benchStep(b, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
					x := v.relu(v.dense(scope.In("l0"), in[0], 256))
					x = v.relu(v.dense(scope.In("l1"), x, 256))
					return []*graph.Node{v.dense(scope.In("l2"), x, 1)}
				}, []int{256, 64}, []int{256, 1})
			})
		}
	}
}
