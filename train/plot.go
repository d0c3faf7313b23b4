package train

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Series is one named curve: X[i], Y[i]; optional Err[i] draws a ±band (e.g. std over seeds).
type Series struct {
	Name string
	X, Y []float64
	Err  []float64
}

// Chart describes one PNG line chart.
type Chart struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Series                []Series
}

// SavePlot writes chart as a PNG file (the directory is created if needed). NaN and infinite
// points are dropped, so a diverged run does not break the plot.
func SavePlot(path string, chart Chart) error { return SavePlots(path, chart) }

// SavePlots writes charts stacked vertically in one PNG file.
func SavePlots(path string, charts ...Chart) error {
	if len(charts) == 0 {
		return fmt.Errorf("plot %s: no charts", path)
	}
	plots := make([][]*plot.Plot, len(charts))
	for i, c := range charts {
		p, err := buildPlot(c)
		if err != nil {
			return err
		}
		plots[i] = []*plot.Plot{p}
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	width, height := 8*vg.Inch, vg.Length(len(charts))*4*vg.Inch
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(charts), Cols: 1, PadX: vg.Millimeter, PadY: 3 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 2 * vg.Millimeter}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("saving plot %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func buildPlot(chart Chart) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = chart.Title
	p.X.Label.Text = chart.XLabel
	p.Y.Label.Text = chart.YLabel
	if chart.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{}
	}
	if chart.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{}
	}
	p.Add(plotter.NewGrid())
	for i, s := range chart.Series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("plot %q: series %q has %d x values and %d y values", chart.Title, s.Name, len(s.X), len(s.Y))
		}
		pts := make(plotter.XYs, 0, len(s.X))
		var lo, hi plotter.XYs
		for j := range s.X {
			x, y := s.X[j], s.Y[j]
			if !finite(x) || !finite(y) || (chart.LogX && x <= 0) || (chart.LogY && y <= 0) {
				continue
			}
			pts = append(pts, plotter.XY{X: x, Y: y})
			if j < len(s.Err) && finite(s.Err[j]) && s.Err[j] > 0 {
				l := y - s.Err[j]
				if chart.LogY && l <= 0 {
					l = y
				}
				lo = append(lo, plotter.XY{X: x, Y: l})
				hi = append(hi, plotter.XY{X: x, Y: y + s.Err[j]})
			}
		}
		if len(pts) == 0 {
			continue
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("plot %q: %w", chart.Title, err)
		}
		c := plotutil.Color(i)
		line.Color = c
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(s.Name, line)
		for _, band := range []plotter.XYs{lo, hi} {
			if len(band) < 2 {
				continue
			}
			bl, err := plotter.NewLine(band)
			if err != nil {
				return nil, err
			}
			r, g, b, _ := c.RGBA()
			bl.Color = color.RGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 90}
			bl.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			p.Add(bl)
		}
	}
	p.Legend.Top = true
	return p, nil
}
