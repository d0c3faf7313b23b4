// Package mlpbench is the `mlp` benchmark, the suite's first: a multi-layer perceptron trained
// with AdamW, a cosine schedule and early stopping on a validation split, on `digits`
// (classification, test accuracy) and `diabetes` (regression, test RMSE in the target's
// units), or on any numeric CSV given with -data.
//
// Splits per seed: 20% test (the same split as the baselines), then ValidFraction (15%) of the
// rest for validation; the network trains on the remaining 68%. Early stopping (train.Run's
// EarlyStopping) monitors valid/loss every Steps/15 steps and stops after Patience (4)
// evaluations without improvement; as in Keras' default (restore_best_weights=False) the
// reported test metric is that of the weights at the stop, not of the best validation point.
// Extra["stopped_at_per_seed"] records the step each seed stopped at.
package mlpbench

import (
	"context"
	"fmt"
	"math"
	"path/filepath"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

func init() {
	suite.Register("mlp", suite.Func{
		Desc: "MLP (AdamW, cosine) on digits (accuracy) and diabetes (RMSE), or on -data FILE.csv",
		Fn:   run,
	})
}

// Spec is one task of the benchmark.
type Spec struct {
	Table        *data.Table
	Hidden       []int
	Steps, Batch int
	LR           float64
	Dropout      float64
}

func specs(opts suite.Options) ([]Spec, error) {
	if opts.DataFile != "" {
		t, err := opts.LoadTable(data.Auto)
		if err != nil {
			return nil, err
		}
		return []Spec{{Table: t, Hidden: []int{256, 128}, Steps: 2000, Batch: 64, LR: 1e-3, Dropout: 0.1}}, nil
	}
	dig, err := data.Builtin("digits")
	if err != nil {
		return nil, err
	}
	dia, err := data.Builtin("diabetes")
	if err != nil {
		return nil, err
	}
	return []Spec{
		{Table: dig, Hidden: []int{256, 128}, Steps: 1500, Batch: 64, LR: 1e-3, Dropout: 0.1},
		{Table: dia, Hidden: []int{64}, Steps: 300, Batch: 64, LR: 3e-3, Dropout: 0.3},
	}, nil
}

// ValidFraction of the training split is held out for early stopping; Patience is the number of
// evaluations without a better validation loss before training stops.
const (
	ValidFraction = 0.15
	Patience      = 4
)

// Trial trains one seed of spec and returns the test metric (accuracy or RMSE in original
// units), the result and the metric's name.
func Trial(ctx context.Context, opts suite.Options, spec Spec, steps int, seed int) (float64, *train.Result, string, error) {
	t := spec.Table
	trainT, testT, err := t.Split(0.2, uint64(seed))
	if err != nil {
		return 0, nil, "", err
	}
	fitT, validT, err := trainT.Split(ValidFraction, uint64(seed)+0x7a11d)
	if err != nil {
		return 0, nil, "", err
	}
	scaler, fitS, others := data.Standardize(fitT, true, validT, testT)
	validS, testS := others[0], others[1]
	trainDS, err := data.NewTrainBatches(fitS, spec.Batch, uint64(seed))
	if err != nil {
		return 0, nil, "", err
	}
	validDS, err := data.NewEvalBatches(validS, 1024)
	if err != nil {
		return 0, nil, "", err
	}
	testDS, err := data.NewEvalBatches(testS, 1024)
	if err != nil {
		return 0, nil, "", err
	}
	out, loss, metrics, metric := 1, "mse", []string{"mse"}, "rmse"
	if t.Task == data.Classification {
		out, loss, metrics, metric = t.NumClasses, "cross_entropy", []string{"accuracy"}, "accuracy"
	}
	mlp := layers.MLPConfig{Hidden: spec.Hidden, Out: out, Dropout: spec.Dropout}
	modelFn := func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		return []*graph.Node{layers.MLP(scope.In("mlp"), in[0], mlp)}
	}
	res, err := train.Run(ctx, train.Config{
		Name: fmt.Sprintf("%s/seed%d", t.Name, seed), Backend: opts.Backend, Seed: int64(seed), Model: modelFn,
		Loss: loss, Optimizer: "adamw", LearningRate: spec.LR, Steps: steps, Train: trainDS,
		Schedule: train.ScheduleConfig{Kind: "cosine", WarmupSteps: steps / 20, MinFactor: 0.05},
		Eval:     []train.EvalSet{{Name: "valid", Data: validDS}, {Name: "test", Data: testDS}},
		Metrics:  metrics, EvalEvery: max(1, steps/15),
		EarlyStopping: train.EarlyStopping{Monitor: "valid/loss", Mode: "min", Patience: Patience},
		Progress:      true,
	})
	if err != nil {
		return 0, nil, "", err
	}
	if metric == "accuracy" {
		return res.Final["test/accuracy"], res, metric, nil
	}
	// RMSE in the target's original units, from the model's predictions.
	xs := make([]float32, len(testS.X))
	for i, v := range testS.X {
		xs[i] = float32(v)
	}
	pred, err := res.Predict(tensors.FromFlatDataAndDimensions(xs, testS.N, testS.D))
	if err != nil {
		return 0, nil, "", err
	}
	p := tensors.MustCopyFlatData[float32](pred[0])
	var se float64
	for i, y := range testT.Y {
		d := scaler.UnscaleY(float64(p[i])) - y
		se += d * d
	}
	return math.Sqrt(se / float64(testT.N)), res, metric, nil
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	ss, err := specs(opts)
	if err != nil {
		return nil, err
	}
	seeds := opts.SeedsOr(3, 1)
	var rows []suite.Result
	for _, spec := range ss {
		steps := spec.Steps
		if opts.Quick {
			steps = steps / 3
		}
		var vals, ms, stopped []float64
		var metricChart, lossChart suite.Chart
		var metric string
		for s := range seeds {
			v, res, m, err := Trial(ctx, opts, spec, steps, s+1)
			if err != nil {
				return rows, fmt.Errorf("%s seed %d: %w", spec.Table.Name, s+1, err)
			}
			metric = m
			vals = append(vals, v)
			ms = append(ms, res.MsPerStep)
			stopped = append(stopped, float64(res.Steps))
			curve := "test/accuracy"
			if m == "rmse" {
				curve = "test/rmse"
			}
			x, y := res.Curve(curve)
			metricChart.Series = append(metricChart.Series, suite.Series{Name: fmt.Sprintf("seed %d", s+1), X: x, Y: y})
			lx, ly := res.Curve("train/loss")
			lossChart.Series = append(lossChart.Series, suite.Series{Name: fmt.Sprintf("seed %d", s+1), X: lx, Y: ly})
		}
		msMean, _ := suite.MeanStd(ms)
		row := suite.Row("mlp", spec.Table.Name, "mlp-adamw", metric, vals, msMean, steps)
		row.Extra["hidden"] = spec.Hidden
		row.Extra["stopped_at_per_seed"] = stopped
		row.Extra["early_stopping"] = fmt.Sprintf("valid/loss, patience %d evaluations, %.0f%% of the training split held out", Patience, 100*ValidFraction)
		row.Extra["higher_is_better"] = metric == "accuracy"
		if names := suite.ClassNamesExtra(spec.Table); names != nil && opts.DataFile != "" {
			row.Extra["class_names"] = names // class id i is the label text names[i]
		}
		rows = append(rows, row)
		opts.Logf("mlp %-12s %s = %.4f ± %.4f over %d seeds (%.3f ms/step, %d steps)", spec.Table.Name, metric, row.Value, row.Std, seeds, msMean, steps)
		base, err := baselineRows(opts, spec.Table, seeds)
		if err != nil {
			return rows, err
		}
		rows = append(rows, base...)
		if p := opts.PlotPath("mlp", spec.Table.Name); p != "" {
			unit := ""
			if metric == "rmse" {
				unit = " (standardized target)"
			}
			metricChart.Title = fmt.Sprintf("MLP on %s: test %s%s", spec.Table.Name, metric, unit)
			metricChart.XLabel, metricChart.YLabel = "step", metric
			lossChart.Title = fmt.Sprintf("MLP on %s: training loss (mean between evaluations)", spec.Table.Name)
			lossChart.XLabel, lossChart.YLabel, lossChart.LogY = "step", "loss", true
			if err := suite.SavePlots(p, metricChart, lossChart); err != nil {
				return rows, err
			}
			opts.Logf("plot: %s", filepath.Clean(p))
		}
	}
	return rows, nil
}
