package trees_test

import (
	"fmt"

	"github.com/moeboost/moeboost/boosting/trees"
)

// Grow two trees on gradients of a two-output loss, as one actor-critic update step would,
// with different learning rates for the two outputs.
func Example() {
	// Four samples with one numeric feature; gradients push outputs up on the left half and
	// down on the right half.
	d := trees.NumericData([]float32{-2, -1, 1, 2}, 4, 1)
	grads := []float32{
		-1, -2,
		-1, -2,
		1, 2,
		1, 2,
	}
	e, err := trees.New(trees.Config{OutDim: 2, NumFeatures: 1,
		Tree: trees.TreeConfig{MaxDepth: 1, Grow: trees.Greedy, Score: trees.L2},
		LRs:  []trees.LR{{Start: 0, Stop: 1, Init: 0.5}, {Start: 1, Stop: 2, Init: 0.1}}})
	if err != nil {
		panic(err)
	}
	for i := 0; i < 2; i++ {
		if err := e.Step(d, grads); err != nil {
			panic(err)
		}
	}
	pred, _ := e.Predict(d, nil)
	fmt.Println(e.NumTrees(), e.Tree(0).Splits[0].Threshold)
	fmt.Printf("%.2f\n", pred)
	// Output:
	// 2 -1
	// [1.00 0.40 1.00 0.40 -1.00 -0.40 -1.00 -0.40]
}

// Fit the squared-loss regressor.
func ExampleFitRegressor() {
	d, y, err := trees.SyntheticRegression(2000, 8, 1)
	if err != nil {
		panic(err)
	}
	r, err := trees.FitRegressor(d, y, trees.RegressorConfig{Trees: 50, MaxDepth: 4, LearningRate: 0.2, Threads: 1})
	if err != nil {
		panic(err)
	}
	p, _ := r.PredictY(d)
	fmt.Println(r.NumTrees(), trees.RMSE(p, y) < 1.0)
	// Output: 50 true
}
