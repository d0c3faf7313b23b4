package trees

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// SyntheticRegression returns n samples of a regression problem with the given number of
// standard-normal features (at least 8) and the target
//
//	y = x0 - 0.5 x1 + 0.25 x2 + 2 x3 - x4 + sin(2 x5) + x6 x7 + 0.5 noise,
//
// the data of the trees-speed benchmark (linear plus sine plus an interaction plus noise, as
// the research notes' XGBoost timing used). The PCG stream (seed, 0x5eed) makes it identical
// on every machine. The target reads features 0..7, so features below 8 (or a negative n) is
// an error.
func SyntheticRegression(n, features int, seed uint64) (*Data, []float32, error) {
	if features < 8 {
		return nil, nil, fmt.Errorf("trees: SyntheticRegression features=%d must be >= 8 (the target reads x0..x7)", features)
	}
	if n < 0 {
		return nil, nil, fmt.Errorf("trees: SyntheticRegression n=%d must be >= 0", n)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	x := make([]float32, n*features)
	y := make([]float32, n)
	for i := 0; i < n; i++ {
		row := x[i*features : (i+1)*features]
		for j := range row {
			row[j] = float32(rng.NormFloat64())
		}
		v := float64(row[0]) - 0.5*float64(row[1]) + 0.25*float64(row[2]) + 2*float64(row[3]) - float64(row[4]) +
			math.Sin(2*float64(row[5])) + float64(row[6])*float64(row[7]) + 0.5*rng.NormFloat64()
		y[i] = float32(v)
	}
	return NumericData(x, n, features), y, nil
}
