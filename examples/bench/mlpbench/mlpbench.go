// Package mlpbench is the `mlp` benchmark, the suite's first: a multi-layer perceptron trained
// with AdamW, a cosine schedule and early stopping on the validation split, on `digits`
// (classification, test accuracy) and `diabetes` (regression, test RMSE in the target's
// units), or on any numeric CSV given with -data.
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

// Trial trains one seed of spec and returns the test metric (accuracy or RMSE in original
// units), the result and the metric's name.
func Trial(ctx context.Context, opts suite.Options, spec Spec, steps int, seed int) (float64, *train.Result, string, error) {
	t := spec.Table
	trainT, testT, err := t.Split(0.2, uint64(seed))
	if err != nil {
		return 0, nil, "", err
	}
	scaler, trainS, others := data.Standardize(trainT, true, testT)
	testS := others[0]
	trainDS, err := data.NewTrainBatches(trainS, spec.Batch, uint64(seed))
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
		Eval:     []train.EvalSet{{Name: "test", Data: testDS}}, Metrics: metrics, EvalEvery: max(1, steps/15),
		Progress: true,
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
		var vals, ms []float64
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
