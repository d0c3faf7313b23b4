package trees

import (
	"fmt"
	"math"
)

// Data is a batch of samples with numeric and categorical features, both row-major:
// Num is [N, NumFeatures] float32 and Cat is [N, CatFeatures] strings. Feature indices used by
// trees (splits, feature weights, importances) put the numeric features first:
// feature f < NumFeatures is Num column f, feature NumFeatures+c is Cat column c.
//
// NaN numeric values are allowed (missing values): each greedy split sends them the way its
// training learned (Split.MissingRight); oblivious splits send them left.
type Data struct {
	N                        int
	NumFeatures, CatFeatures int
	Num                      []float32
	Cat                      []string
}

// Features returns the total number of features.
func (d *Data) Features() int { return d.NumFeatures + d.CatFeatures }

// Validate checks the shapes.
func (d *Data) Validate() error {
	if d == nil {
		return fmt.Errorf("trees: nil data")
	}
	if d.N < 0 || d.NumFeatures < 0 || d.CatFeatures < 0 {
		return fmt.Errorf("trees: data N=%d, NumFeatures=%d, CatFeatures=%d must be >= 0", d.N, d.NumFeatures, d.CatFeatures)
	}
	if d.NumFeatures+d.CatFeatures == 0 {
		return fmt.Errorf("trees: data has no features")
	}
	if len(d.Num) != d.N*d.NumFeatures {
		return fmt.Errorf("trees: len(Num)=%d, want N*NumFeatures=%d*%d", len(d.Num), d.N, d.NumFeatures)
	}
	if len(d.Cat) != d.N*d.CatFeatures {
		return fmt.Errorf("trees: len(Cat)=%d, want N*CatFeatures=%d*%d", len(d.Cat), d.N, d.CatFeatures)
	}
	return nil
}

// NumericData wraps a row-major float32 matrix [n, features] as Data.
func NumericData(x []float32, n, features int) *Data {
	return &Data{N: n, NumFeatures: features, Num: x}
}

// checkGrads validates a gradient matrix [n, outDim].
func checkGrads(g []float32, n, outDim int) error {
	if len(g) != n*outDim {
		return fmt.Errorf("trees: len(grads)=%d, want N*OutDim=%d*%d", len(g), n, outDim)
	}
	for i, v := range g {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("trees: gradient [%d, %d] = %v is not finite", i/outDim, i%outDim, v)
		}
	}
	return nil
}
