package trees

import (
	"math"
	"strings"
	"testing"

	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestFromFrame(t *testing.T) {
	csv := "color,w,size,y\nred,1.5,S,0.5\nblue,,M,1\n,2.5,S,2\nred,NA,L,3\n"
	f, err := data.ReadFrame(strings.NewReader(csv), "t", data.ReadOptions{})
	require.NoError(t, err)
	d, names, err := FromFrame(f)
	require.NoError(t, err)
	require.Equal(t, []string{"w", "color", "size"}, names)
	require.Equal(t, 1, d.NumFeatures)
	require.Equal(t, 2, d.CatFeatures)
	require.Equal(t, []string{"red", "S", "blue", "M", "", "S", "red", "L"}, d.Cat)
	require.Equal(t, float32(1.5), d.Num[0])
	require.True(t, math.IsNaN(float64(d.Num[1])))
	require.Equal(t, float32(2.5), d.Num[2])
	require.True(t, math.IsNaN(float64(d.Num[3])))

	// The trees fit this data as it is: missing values and categories included.
	y := make([]float32, f.N)
	for i, v := range f.Y {
		y[i] = float32(v)
	}
	r, err := FitRegressor(d, y, RegressorConfig{Trees: 5, MaxDepth: 2, MinDataInLeaf: 1})
	require.NoError(t, err)
	p, err := r.PredictY(d)
	require.NoError(t, err)
	require.Len(t, p, f.N)

	_, _, err = FromFrame(&data.Frame{})
	require.ErrorContains(t, err, "trees: frame is empty")
}
