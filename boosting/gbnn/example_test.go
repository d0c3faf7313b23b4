package gbnn_test

import (
	"context"
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/boosting/gbnn"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
)

// Fit GBNN on iris, assemble the stages into one network and serve it (all stages, then only
// the first half).
func Example() {
	tab, _ := data.Builtin("iris")
	tr, te, _ := tab.Split(0.3, 1)
	_, tr, others := data.Standardize(tr, false, te)
	te = others[0]

	cfg := gbnn.Config{TotalUnits: 20, UnitsPerStage: 2, Eta: 0.1, Solver: gbnn.SolverLBFGS, Seed: 1}
	m, err := gbnn.Fit(context.Background(), cfg, tr)
	if err != nil {
		panic(err)
	}
	store := model.NewStore()
	net, err := m.Assemble(store, dtypes.Float32)
	if err != nil {
		panic(err)
	}
	for _, keep := range []int{net.Stages, net.Stages / 2} {
		out, err := net.Predict(backend.MustDefault(), store, te.X, te.N, keep) // [N, 3] logits
		if err != nil {
			panic(err)
		}
		acc := gbnn.Score(m.Kind, net.Classify(out, te.N), te.Y)
		fmt.Printf("%d of %d stages (%d hidden units): accuracy >= 0.9: %v\n", keep, net.Stages, keep*net.UnitsPerStage, acc >= 0.9)
	}
	// Output:
	// 10 of 10 stages (20 hidden units): accuracy >= 0.9: true
	// 5 of 10 stages (10 hidden units): accuracy >= 0.9: true
}
