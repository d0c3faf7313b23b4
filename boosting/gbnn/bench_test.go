package gbnn

import (
	"context"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train/backend"
)

// BenchmarkStageFit times one weak-learner fit (one boosting stage) on breast_cancer's 70%
// training split (subsample 0.5: 199 rows × 30 features, J=1, 200 iterations) per solver.
func BenchmarkStageFit(b *testing.B) {
	tr, _, _ := split(b, "breast_cancer", 1)
	for _, solver := range []string{"lbfgs", "adam"} {
		b.Run(solver, func(b *testing.B) {
			cfg := Config{TotalUnits: 1, Eta: 0.1, Solver: solver, Seed: 1}
			b.ResetTimer()
			for range b.N {
				if _, err := Fit(context.Background(), cfg, tr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPredict times predicting breast_cancer's test split with a 200-unit model: the
// host ensemble (stage by stage) and the assembled network through train.Predict.
func BenchmarkPredict(b *testing.B) {
	tr, te, _ := split(b, "breast_cancer", 1)
	m, err := Fit(context.Background(), Config{TotalUnits: 200, UnitsPerStage: 4, Eta: 0.1, Solver: "lbfgs", MaxIter: 5}, tr)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ensemble", func(b *testing.B) {
		for range b.N {
			if _, err := m.Decision(te.X, te.N); err != nil {
				b.Fatal(err)
			}
		}
	})
	store := model.NewStore()
	net, err := m.Assemble(store, dtypes.Float32)
	if err != nil {
		b.Fatal(err)
	}
	bk := backend.MustDefault()
	b.Run("network", func(b *testing.B) {
		for range b.N {
			if _, err := net.Predict(bk, store, te.X, te.N, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
