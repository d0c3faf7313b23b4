package data

import (
	"bytes"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHeavyTailedCounts(t *testing.T) {
	a := HeavyTailedCounts(5000, 7)
	require.Equal(t, 5000, a.N)
	require.Equal(t, 9, a.D)
	require.Len(t, a.X, 5000*9)
	require.Equal(t, Regression, a.Task)
	require.Equal(t, a, HeavyTailedCounts(5000, 7), "deterministic for a seed")
	require.NotEqual(t, a.Y, HeavyTailedCounts(5000, 8).Y)
	mean := meanOf(a.Y)
	var v float64
	for _, y := range a.Y {
		require.Equal(t, math.Trunc(y), y, "counts")
		require.GreaterOrEqual(t, y, 0.0)
		v += (y - mean) * (y - mean)
	}
	sd := math.Sqrt(v / float64(a.N))
	require.InDelta(t, 2.6, mean, 0.3)
	require.Greater(t, (slices.Max(a.Y)-mean)/sd, 8.0, "heavy upper tail")
	// A weak linear signal: least squares beats the mean in-sample by a few percent.
	lin, err := LinearPredict(a, a)
	require.NoError(t, err)
	ratio := RMSE(lin, a.Y) / sd
	require.Less(t, ratio, 0.99)
	require.Greater(t, ratio, 0.9)

	var buf bytes.Buffer
	require.NoError(t, WriteCSV(&buf, a))
	back, err := ReadCSV(&buf, "heavytail", Auto)
	require.NoError(t, err)
	require.Equal(t, Regression, back.Task, "the header marks it as regression")
	require.Equal(t, a.Y, back.Y)
	require.InDeltaSlice(t, a.X, back.X, 1e-6)
	require.ErrorContains(t, WriteCSV(&buf, &Table{Name: "c", Task: Classification}), "regression tables")
}
