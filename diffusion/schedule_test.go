package diffusion

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCosineAlphaBar(t *testing.T) {
	_, err := CosineAlphaBar(0)
	require.ErrorContains(t, err, "T=0")
	ab, err := CosineAlphaBar(1000)
	require.NoError(t, err)
	require.Len(t, ab, 1001)
	for i := 1; i < len(ab); i++ {
		require.Less(t, ab[i], ab[i-1], "t=%d", i)
	}
	// Without the clip ᾱ_t = f(t)/f(0) exactly; the clip only bites at the last steps.
	f := func(x float64) float64 { c := math.Cos((x + 0.008) / 1.008 * math.Pi / 2); return c * c }
	for _, tt := range []int{1, 250, 500, 900} {
		require.InDelta(t, f(float64(tt)/1000)/f(0), ab[tt], 1e-12, "t=%d", tt)
	}
	require.Greater(t, ab[1000], 0.0)
	require.Less(t, ab[1000], 1e-4)
}

// With the true x0 and ε, x0 recovery is exact and a DDIM step lands on the forward marginal
// √ᾱ_prev·x0 + √(1-ᾱ_prev)·ε of the same noise.
func TestX0FromEpsAndDDIMStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x0, eps := randVec(rng, 20), randVec(rng, 20)
	for _, tc := range []struct{ ab, abPrev float64 }{{0.3, 0.6}, {0.01, 0.2}, {0.9, 1}} {
		xt := make([]float64, len(x0))
		for i := range xt {
			xt[i] = math.Sqrt(tc.ab)*x0[i] + math.Sqrt(1-tc.ab)*eps[i]
		}
		require.InDeltaSlice(t, x0, X0FromEps(xt, eps, tc.ab), 1e-9)
		got := DDIMStep(xt, x0, tc.ab, tc.abPrev)
		for i := range got {
			require.InDelta(t, math.Sqrt(tc.abPrev)*x0[i]+math.Sqrt(1-tc.abPrev)*eps[i], got[i], 1e-9)
		}
	}
}
