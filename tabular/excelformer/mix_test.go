package excelformer

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSemiPermeableMask(t *testing.T) {
	for _, f := range []int{1, 2, 5} {
		m, err := SemiPermeableMask(f)
		require.NoError(t, err)
		require.Len(t, m, f)
		for i := 0; i < f; i++ {
			for j := 0; j < f; j++ {
				if j <= i {
					require.Equal(t, 0.0, m[i][j], "f=%d i=%d j=%d", f, i, j)
				} else {
					require.Equal(t, MaskNegative, m[i][j], "f=%d i=%d j=%d", f, i, j)
				}
			}
		}
	}
	_, err := SemiPermeableMask(0)
	require.ErrorContains(t, err, "f=0")
}

func TestFeatMixLambda(t *testing.T) {
	ibar, err := NormalizeMI([]float64{3, 1, 0, 4})
	require.NoError(t, err)
	require.InDeltaSlice(t, []float64{0.375, 0.125, 0, 0.5}, ibar, 1e-15)
	cases := []struct {
		keep []bool
		want float64
	}{
		{[]bool{true, true, true, true}, 1},
		{[]bool{false, false, false, false}, 0},
		{[]bool{true, false, true, false}, 0.375},
		{[]bool{false, true, false, true}, 0.625},
	}
	for _, c := range cases {
		got, err := FeatMixLambda(c.keep, ibar)
		require.NoError(t, err)
		require.InDelta(t, c.want, got, 1e-15, "keep=%v", c.keep)
	}
	require.InDelta(t, 0.625*2+0.375*10, MixTarget(0.625, 2, 10), 1e-15)
	_, err = FeatMixLambda([]bool{true}, ibar)
	require.ErrorContains(t, err, "must match")
	_, err = NormalizeMI([]float64{1, -2})
	require.ErrorContains(t, err, "mi[1]=-2")
	eq, err := NormalizeMI([]float64{0, 0})
	require.NoError(t, err)
	require.Equal(t, []float64{0.5, 0.5}, eq)
}

func TestHidMix(t *testing.T) {
	a := [][]float64{{1, 2, 3}, {4, 5, 6}}
	b := [][]float64{{-1, -2, -3}, {-4, -5, -6}}
	got, err := HidMix(a, b, []bool{true, false, true})
	require.NoError(t, err)
	require.Equal(t, [][]float64{{1, -2, 3}, {4, -5, 6}}, got)
	_, err = HidMix(a, b, []bool{true})
	require.ErrorContains(t, err, "must match")
}
