package trees

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// synth is SyntheticRegression for tests and benchmarks, failing tb on an error.
func synth(tb testing.TB, n, features int, seed uint64) (*Data, []float32) {
	tb.Helper()
	d, y, err := SyntheticRegression(n, features, seed)
	require.NoError(tb, err)
	return d, y
}

func TestSyntheticRegressionBadInput(t *testing.T) {
	for _, tc := range []struct {
		n, features int
		want        string
	}{
		{10, 7, "features=7 must be >= 8"},
		{10, 0, "features=0 must be >= 8"},
		{-1, 8, "n=-1 must be >= 0"},
	} {
		_, _, err := SyntheticRegression(tc.n, tc.features, 1)
		require.ErrorContains(t, err, tc.want)
	}
}

// The target is the documented formula: the residual y - f(x) is the noise term, mean about 0
// and standard deviation 0.5.
func TestSyntheticRegressionFormula(t *testing.T) {
	const n, f = 20000, 9
	d, y := synth(t, n, f, 4)
	require.Equal(t, n, len(y))
	var sum, sum2 float64
	for i := 0; i < n; i++ {
		x := d.Num[i*f : (i+1)*f]
		v := float64(x[0]) - 0.5*float64(x[1]) + 0.25*float64(x[2]) + 2*float64(x[3]) - float64(x[4]) +
			math.Sin(2*float64(x[5])) + float64(x[6])*float64(x[7])
		r := float64(y[i]) - v
		sum += r
		sum2 += r * r
	}
	mean := sum / n
	require.InDelta(t, 0, mean, 0.02)
	require.InDelta(t, 0.5, math.Sqrt(sum2/n-mean*mean), 0.02)
}
