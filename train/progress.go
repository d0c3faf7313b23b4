package train

import (
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress is a one-line progress bar on stderr (train.Run's, and for long work outside a
// training loop: tree fitting, rollouts, sweeps). When stderr is not a terminal (CI logs,
// pipes) it stays silent, since a redrawn bar would only fill the log.
type Progress struct{ bar *progressbar.ProgressBar }

// NewProgress starts a bar of total units described by desc.
func NewProgress(total int, desc string) *Progress {
	if !term.IsTerminal(int(os.Stderr.Fd())) && os.Getenv("MOEBOOST_PROGRESS") != "1" {
		return &Progress{}
	}
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
func (p *Progress) Add(n int) {
	if p.bar != nil {
		_ = p.bar.Add(n)
	}
}

// Describe replaces the bar's description (e.g. with the latest metric).
func (p *Progress) Describe(desc string) {
	if p.bar != nil {
		p.bar.Describe(desc)
	}
}

// Done finishes and clears the bar.
func (p *Progress) Done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
