package optbench

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train/data"
)

// Spike settings: at 10% of the steps, 3% of the gradient entries are multiplied by 1000.
const (
	spikeStepProb  = 0.10
	spikeEntryProb = 0.03
	spikeFactor    = 1000
)

// spikeArms: Adam is moeboost's adamw without weight decay (torch's Adam); SPAM and Stable-SPAM
// run at their paper defaults.
var spikeArms = []struct {
	arm, optimizer string
	params         map[string]any
}{
	{"adam", "adamw", map[string]any{optimizers.ParamWeightDecay: 0.0}},
	{"spam", "spam", nil},
	{"stable_spam", "stable_spam", nil},
}

func runSpikes(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	ignoreData(opts, "spikes", "digits with injected gradient spikes")
	dig, err := data.Builtin("digits")
	if err != nil {
		return nil, err
	}
	steps := 1000
	if opts.Quick {
		steps = 600
	}
	seeds := opts.SeedsOr(3, 2)
	bar := suite.NewProgress(2*len(spikeArms)*seeds*steps, "spikes")
	defer bar.Done()
	var rows []suite.Result
	var lines []string
	var chart suite.Chart
	for _, a := range spikeArms {
		for _, spiky := range []bool{false, true} {
			var losses, accs, ms []float64
			for s := range seeds {
				if err := ctx.Err(); err != nil {
					return rows, err
				}
				run := tabularRun{table: dig, hidden: []int{128, 64}, steps: steps, batch: 64, seed: s + 1,
					optimizer: a.optimizer, params: a.params, extraEvals: true}
				if spiky {
					seed := int64(1000 + s)
					run.wrap = func(opt optimizer.Interface) (optimizer.Interface, error) {
						return NewSpikeInjector(opt, spikeStepProb, spikeEntryProb, spikeFactor, seed)
					}
				}
				acc, res, err := run.run(ctx, opts)
				if err != nil {
					return rows, fmt.Errorf("spikes %s seed %d: %w", a.arm, s+1, err)
				}
				losses = append(losses, res.Final["trainset/loss"])
				accs = append(accs, acc)
				ms = append(ms, res.MsPerStep)
				if s == 0 {
					x, y := res.Curve("trainset/loss")
					chart.Series = append(chart.Series, suite.Series{Name: a.arm + map[bool]string{true: " spikes", false: ""}[spiky], X: x, Y: y})
				}
				bar.Add(steps)
			}
			task := "digits"
			if spiky {
				task = "digits_spikes"
			}
			msMean, _ := suite.MeanStd(ms)
			lossRow := suite.Row("spikes", task, a.arm, "final_loss", losses, msMean, steps)
			accRow := suite.Row("spikes", task, a.arm, "accuracy", accs, msMean, steps)
			for _, r := range []*suite.Result{&lossRow, &accRow} {
				r.Extra["spikes"] = spiky
				r.Extra["spike_step_prob"], r.Extra["spike_entry_prob"], r.Extra["spike_factor"] = spikeStepProb, spikeEntryProb, spikeFactor
			}
			lossRow.Extra["higher_is_better"], accRow.Extra["higher_is_better"] = false, true
			rows = append(rows, lossRow, accRow)
			lines = append(lines, fmt.Sprintf("%-12s %-7v %10.4f ± %-8.4f %8.4f ± %-8.4f", a.arm, spiky, lossRow.Value, lossRow.Std, accRow.Value, accRow.Std))
		}
	}
	opts.Logf("\nGradient spikes on digits (x%d on %.0f%% of the entries at %.0f%% of the steps), %d steps, %d seed(s)",
		spikeFactor, 100*spikeEntryProb, 100*spikeStepProb, steps, seeds)
	opts.Logf("%-12s %-7s %21s %19s", "optimizer", "spikes", "final train loss", "test accuracy")
	opts.Logf("%s", strings.Join(lines, "\n"))
	if p := opts.PlotPath("spikes", "loss"); p != "" {
		chart.Title = "Gradient spikes on digits: loss on the training set (seed 1)"
		chart.XLabel, chart.YLabel, chart.LogY = "step", "loss", true
		if err := suite.SavePlot(p, chart); err != nil {
			return rows, err
		}
		opts.Logf("plot: %s", filepath.Clean(p))
	}
	return rows, nil
}
