package optimizers_test

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train/backend"
)

// An optimizer is chosen by name from the store params (what -set "optimizer=lion;..." sets)
// and used like any GoMLX optimizer: here Lion minimizes (x − 3)² from x = 0, moving by
// lr = 0.5 per step (the sign of the momentum): six steps reach the minimum.
func Example() {
	store := model.NewStore()
	store.SetParams(map[string]any{"learning_rate": 0.5, optimizers.ParamLogGroups: false})
	x, _ := store.RootScope().CreateVariable("x", tensors.FromValue([]float64{0}))
	opt, err := optimizers.New(store.RootScope(), "lion")
	if err != nil {
		panic(err)
	}
	step, _ := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, g *graph.Graph) *graph.Node {
		loss := graph.ReduceAllSum(graph.Square(graph.AddScalar(x.NodeValue(g), -3)))
		opt.UpdateGraph(scope, g, loss)
		return loss
	})
	for range 6 {
		_, _ = step.Exec()
	}
	fmt.Println(optimizers.Names()[:4], x.MustValue().Value(), dtypes.Float64)
	// Output: [adabelief adamp adamw adan] [3] Float64
}
