package optbench

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train/data"
)

// tableTask is one dataset of the optimizer table.
type tableTask struct {
	table          *data.Table
	hidden         []int
	steps, batch   int
	metric         string
	higherIsBetter bool
}

// tableTasks are the optimizer table's datasets: digits and diabetes, or with -data the file
// alone (a classification file reports test accuracy, a regression file test RMSE in the
// target's units), with digits' MLP, steps and batch.
func tableTasks(opts suite.Options) ([]tableTask, error) {
	if opts.DataFile != "" {
		t, err := opts.LoadTable(data.Auto)
		if err != nil {
			return nil, err
		}
		task := tableTask{table: t, hidden: []int{128, 64}, steps: 600, batch: 64, metric: "rmse"}
		if t.Task == data.Classification {
			task.metric, task.higherIsBetter = "accuracy", true
		}
		if opts.Quick {
			task.steps = 400
		}
		return []tableTask{task}, nil
	}
	dig, err := data.Builtin("digits")
	if err != nil {
		return nil, err
	}
	dia, err := data.Builtin("diabetes")
	if err != nil {
		return nil, err
	}
	tasks := []tableTask{
		{table: dig, hidden: []int{128, 64}, steps: 600, batch: 64, metric: "accuracy", higherIsBetter: true},
		{table: dia, hidden: []int{64}, steps: 400, batch: 32, metric: "rmse"},
	}
	if opts.Quick {
		tasks[0].steps, tasks[1].steps = 400, 300
	}
	return tasks, nil
}

// tableArms are the optimizers of the table: every registered one except "perpgrad", which
// is perpgrad+adamw under its parameter-selected name, and the pruning wrappers "masked..."
// (train/prune), which without masks are their inner optimizer.
func tableArms() []string {
	var arms []string
	for _, n := range optimizers.Names() {
		if n != "perpgrad" && !strings.HasPrefix(n, "masked") {
			arms = append(arms, n)
		}
	}
	return arms
}

// tableVariants are extra arms at the default learning rate: documented switches of an
// optimizer that change its behaviour on these tasks.
var tableVariants = []struct {
	arm, optimizer string
	params         map[string]any
}{
	// SGD-SaI's official g-SNR of a one-element tensor (diabetes' output bias) is |g|/ε and
	// diverges; the switch uses 1.
	{"sgd_sai@safe_scalars", "sgd_sai", map[string]any{optimizers.ParamSGDSaISafeScalars: true}},
}

// defaultLR is the paper default learning rate of a registered optimizer.
func defaultLR(name string) (float64, error) {
	opt, err := optimizers.New(nil, name)
	if err != nil {
		return 0, err
	}
	d, ok := opt.(interface{ DefaultLearningRate() float64 })
	if !ok {
		return 0, fmt.Errorf("%s has no default learning rate", name)
	}
	return d.DefaultLearningRate(), nil
}

// diverged reports whether a run stopped on a non-finite loss or gradient (train's NaN policy).
func diverged(err error) bool { return strings.Contains(err.Error(), "is not finite") }

// sweepFactors are the learning-rate multipliers of the sweep (full mode only).
var sweepFactors = []float64{0.3, 3}

func runTable(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	tasks, err := tableTasks(opts)
	if err != nil {
		return nil, err
	}
	seeds := opts.SeedsOr(3, 1)
	factors := []float64{1}
	if !opts.Quick {
		factors = append(factors, sweepFactors...)
	}
	arms := tableArms()
	total := 0
	for _, t := range tasks {
		total += (len(arms)*len(factors) + len(tableVariants)) * seeds * t.steps
	}
	bar := suite.NewProgress(total, "optimizers")
	defer bar.Done()
	var rows []suite.Result
	for _, task := range tasks {
		var lines []string
		var chart suite.Chart
		type spec struct {
			arm, name string
			params    map[string]any
			factors   []float64
		}
		var specs []spec
		for _, name := range arms {
			specs = append(specs, spec{name, name, nil, factors})
		}
		for _, v := range tableVariants {
			specs = append(specs, spec{v.arm, v.optimizer, v.params, []float64{1}})
		}
		for _, sp := range specs {
			name := sp.name
			lr0, err := defaultLR(name)
			if err != nil {
				return rows, err
			}
			for _, f := range sp.factors {
				lr := lr0 * f
				arm := sp.arm
				if f != 1 {
					arm = fmt.Sprintf("%s@lr=%.3g", name, lr)
				}
				params := map[string]any{optimizers.ParamLearningRate: lr}
				for k, v := range sp.params {
					params[k] = v
				}
				var vals, ms []float64
				var ratio float64
				for s := range seeds {
					if err := ctx.Err(); err != nil {
						return rows, err
					}
					run := tabularRun{table: task.table, hidden: task.hidden, steps: task.steps, batch: task.batch,
						seed: s + 1, optimizer: name, params: params}
					v, res, err := run.run(ctx, opts)
					if err != nil && diverged(err) {
						// A diverged run is a result (NaN), not a failure of the benchmark.
						opts.Logf("%s %s seed %d diverged: %v", task.table.Name, arm, s+1, err)
						v, err = math.NaN(), nil
					}
					if err != nil {
						return rows, fmt.Errorf("%s %s seed %d: %w", task.table.Name, arm, s+1, err)
					}
					vals, ms = append(vals, v), append(ms, res.MsPerStep)
					if ratio, err = stateRatio(res.Store, name); err != nil {
						return rows, err
					}
					if f == 1 && s == 0 && sp.params == nil {
						x, y := res.Curve("test/" + map[bool]string{true: "accuracy", false: "rmse"}[task.higherIsBetter])
						chart.Series = append(chart.Series, suite.Series{Name: name, X: x, Y: y})
					}
					bar.Add(task.steps)
				}
				msMean, _ := suite.MeanStd(ms)
				row := suite.Row("optimizers", task.table.Name, arm, task.metric, vals, msMean, task.steps)
				row.Extra["per_seed"] = jsonSafe(vals) // a diverged seed is null
				row.Extra["higher_is_better"] = task.higherIsBetter
				row.Extra["learning_rate"] = lr
				row.Extra["state_bytes_ratio"] = ratio
				rows = append(rows, row)
				lines = append(lines, fmt.Sprintf("%-22s %9.3g %8.4f ± %-8.4f %8.3f %8.3f", arm, lr, row.Value, row.Std, msMean, ratio))
				if f == 1 && sp.params == nil {
					st := suite.Row("optimizers", task.table.Name, name, "state_bytes_ratio", []float64{ratio}, msMean, task.steps)
					rows = append(rows, st)
				}
			}
		}
		if rows, lines, err = addBaselines(rows, lines, task.table, seeds); err != nil {
			return rows, err
		}
		opts.Logf("\nOptimizers on %s (%d steps, batch %d, %d seed(s)): test %s", task.table.Name, task.steps, task.batch, seeds, task.metric)
		opts.Logf("%-22s %9s %19s %8s %8s", "optimizer", "lr", task.metric+" (mean ± std)", "ms/step", "state/p")
		opts.Logf("%s", strings.Join(lines, "\n"))
		if p := opts.PlotPath("optimizers", task.table.Name); p != "" {
			chart.Title = fmt.Sprintf("Optimizers at paper defaults on %s: test %s (seed 1)", task.table.Name, task.metric)
			chart.XLabel, chart.YLabel = "step", task.metric
			if err := suite.SavePlot(p, chart); err != nil {
				return rows, err
			}
			opts.Logf("plot: %s", filepath.Clean(p))
		}
	}
	return rows, nil
}
