package suite

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

// SaveImageGrid writes grayscale images as one PNG grid: rows[r][c] is a flat side×side image
// with values in [0, 1] (0 black, 1 white; clipped), drawn zoom×zoom pixels per value with a
// white gap of zoom pixels between cells. The directory is created if needed.
func SaveImageGrid(path string, rows [][][]float64, side, zoom int) error {
	if side < 1 || zoom < 1 {
		return fmt.Errorf("image grid: side %d and zoom %d must be ≥ 1", side, zoom)
	}
	cols := 0
	for r, row := range rows {
		cols = max(cols, len(row))
		for c, cell := range row {
			if len(cell) != side*side {
				return fmt.Errorf("image grid: cell (%d, %d) has %d values; a %d×%d image needs %d", r, c, len(cell), side, side, side*side)
			}
		}
	}
	cell := (side + 1) * zoom
	img := image.NewGray(image.Rect(0, 0, cols*cell+zoom, len(rows)*cell+zoom))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for r, row := range rows {
		for c, v := range row {
			for p, x := range v {
				g := color.Gray{Y: uint8(math.Round(255 * min(max(x, 0), 1)))}
				for dy := range zoom {
					for dx := range zoom {
						img.SetGray(zoom+c*cell+(p%side)*zoom+dx, zoom+r*cell+(p/side)*zoom+dy, g)
					}
				}
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
