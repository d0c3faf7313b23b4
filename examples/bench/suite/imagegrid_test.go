package suite

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSaveImageGrid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "grid.png")
	black := []float64{0, 0, 0, 0}
	ramp := []float64{0, 0.5, 1, 2} // 2 is clipped to white
	require.NoError(t, SaveImageGrid(path, [][][]float64{{black, ramp}, {ramp}}, 2, 3))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	// 2 columns and 2 rows of (2+1)·3 pixels plus a 3-pixel margin.
	require.Equal(t, 2*9+3, img.Bounds().Dx())
	require.Equal(t, 2*9+3, img.Bounds().Dy())
	gray := func(x, y int) uint32 { r, _, _, _ := img.At(x, y).RGBA(); return r >> 8 }
	require.Equal(t, uint32(0), gray(3, 3), "the black cell")
	require.Equal(t, uint32(255), gray(0, 0), "margin")
	require.Equal(t, uint32(128), gray(3+9+3, 3), "ramp value 0.5 (second cell, second pixel)")
	require.Equal(t, uint32(255), gray(3+9+3, 3+3), "ramp value 2 clipped to white")
	require.ErrorContains(t, SaveImageGrid(path, [][][]float64{{{1, 2, 3}}}, 2, 1), "cell (0, 0) has 3 values")
}
