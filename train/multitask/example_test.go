package multitask_test

import (
	"context"
	"fmt"

	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/multitask"
)

// Two tasks on one trunk, trained with the Rep-MTL regularizers on top of equal weighting.
func Example() {
	be := backend.MustDefault()
	fmt.Println(multitask.Names())
	ds := &multitask.Dataset{N: 64, D: 2, X: make([]float64, 128), Y: [][]float64{make([]float64, 64), make([]float64, 64)}}
	for i := 0; i < 64; i++ {
		a, b := float64(i%8)/4-1, float64(i/8)/4-1
		ds.X[2*i], ds.X[2*i+1] = a, b
		if a > 0 {
			ds.Y[0][i] = 1 // class: sign of the first input
		}
		ds.Y[1][i] = a + b // value: their sum
	}
	cfg := multitask.Config{
		Tasks: []multitask.Task{
			{Name: "sign", Kind: multitask.Classification, Classes: 2},
			{Name: "sum", Kind: multitask.Regression},
		},
		Hidden: []int{16}, Combiner: "rep-mtl", Batch: 16, Epochs: 40, LR: 1e-2, Seed: 1,
	}
	net, err := multitask.Fit(context.Background(), be, cfg, ds)
	if err != nil {
		fmt.Println(err)
		return
	}
	first, last := net.History[0], net.History[len(net.History)-1]
	fmt.Println(net.Describe())
	fmt.Println("losses fell:", last.Losses[0] < first.Losses[0]/2, last.Losses[1] < first.Losses[1]/2)
	// Output:
	// [equal pcgrad rep-mtl]
	// rep-mtl(λ_tsr=0.1, λ_csa=0.1, τ=0.1)
	// losses fell: true true
}
