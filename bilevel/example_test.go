package bilevel_test

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/moeboost/moeboost/bilevel"
	"github.com/moeboost/moeboost/train/backend"
)

// A toy bilevel problem: the lower level tracks x, y*(x) = argmin_y ½(y − 2x)², and the upper
// level wants y*(x) = 1, so x* = 0.5.
func Example() {
	p := &bilevel.Problem{
		Name: "toy", X0: []float64{0}, Y0: []float64{0},
		Lower: func(x, y *graph.Node) *graph.Node {
			return graph.MulScalar(graph.ReduceAllSum(graph.Square(graph.Sub(y, graph.MulScalar(x, 2)))), 0.5)
		},
		Upper: func(x, y *graph.Node) *graph.Node {
			return graph.MulScalar(graph.ReduceAllSum(graph.Square(graph.AddScalar(y, -1))), 0.5)
		},
	}
	o, err := bilevel.NewOracle(backend.MustDefault(), p)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer o.Close()
	m, err := bilevel.New("aid")
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := bilevel.Solve(context.Background(), o, m, 200, nil); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("x = %.3f, y = %.3f\n", m.X()[0], m.Y()[0])
	// Output: x = 0.500, y = 1.000
}
