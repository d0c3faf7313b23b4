package train

import (
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress is a one-line progress bar on stderr for long work that is not a train.Loop (tree
// fitting, environment rollouts, sweeps). train.Run has its own.
type Progress struct{ bar *progressbar.ProgressBar }

// NewProgress starts a bar of total units described by desc.
func NewProgress(total int, desc string) *Progress {
	return &Progress{bar: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionThrottle(250*time.Millisecond),
		progressbar.OptionSetTheme(progressbar.ThemeASCII),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprint(os.Stderr, "") }),
	)}
}

// Add advances the bar by n units.
func (p *Progress) Add(n int) { _ = p.bar.Add(n) }

// Describe replaces the bar's description (e.g. with the latest metric).
func (p *Progress) Describe(desc string) { p.bar.Describe(desc) }

// Done finishes and clears the bar.
func (p *Progress) Done() { _ = p.bar.Finish() }
