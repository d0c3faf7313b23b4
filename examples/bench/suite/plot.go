package suite

import (
	"fmt"
	"path/filepath"

	"github.com/moeboost/moeboost/train"
)

// Series, Chart, SavePlot and Progress are train's plotting and progress helpers, re-exported
// for benchmarks.
type (
	Series   = train.Series
	Chart    = train.Chart
	Progress = train.Progress
)

// SavePlots writes charts stacked in one PNG file; see train.SavePlots.
func SavePlots(path string, charts ...Chart) error { return train.SavePlots(path, charts...) }

// SavePlot writes chart as a PNG file; see train.SavePlot.
func SavePlot(path string, chart Chart) error { return train.SavePlot(path, chart) }

// NewProgress starts a one-line progress bar on stderr; see train.NewProgress.
func NewProgress(total int, desc string) *Progress { return train.NewProgress(total, desc) }

// PlotPath returns the path for a plot of this benchmark in o.PlotDir, or "" when plots are off.
func (o Options) PlotPath(benchmark, name string) string {
	if o.PlotDir == "" {
		return ""
	}
	return filepath.Join(o.PlotDir, fmt.Sprintf("%s-%s.png", benchmark, name))
}
