// Package tabularbench is the `tabular` benchmark: which learner to use on a tabular task.
// ExcelFormer (tabular/excelformer) against GBNN (boosting/gbnn), the boosted trees ("gbt",
// regression only: the tree learner fits squared loss), an MLP (one hidden layer of 128 ReLU
// units, Adam 1e-3) and the constant (training mean / majority class) and linear (least
// squares; for classification one-vs-rest least squares, argmax) baselines.
//
// Protocol: data.Table.KFold(5, seed 1), the split of the gbnn benchmark, on every bundled
// dataset (iris, breast_cancer, diabetes, digits) or on the -data CSV alone (read with the
// project's CSV options: -header, -label, -task, -categorical, -impute). Features
// standardized on each training fold, the regression target too (RMSE in original units).
// Metric: accuracy (classification) or RMSE (regression), mean ± std over folds, and fit
// seconds per fold (noisy on a shared machine).
//
// Rows: Task = dataset, Arm = excelformer | gbnn | gbt | mlp | constant | linear, one value
// per fold; Extra: higher_is_better, fit_seconds (per fold), baseline. Plot: tabular.png, the
// metric of every arm relative to the constant baseline per dataset.
package tabularbench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/boosting"
	"github.com/moeboost/moeboost/boosting/gbnn"
	_ "github.com/moeboost/moeboost/boosting/trees"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/tabular/excelformer"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

const benchName = "tabular"

func init() {
	suite.Register(benchName, suite.Func{
		Desc: "choose a tabular learner: ExcelFormer vs GBNN vs boosted trees (gbt) vs MLP vs constant/linear baselines, k-fold accuracy/RMSE and fit time on the bundled sets or -data",
		Fn:   run,
	})
}

// Arms in table order.
var Arms = []string{"excelformer", "gbnn", "gbt", "mlp", suite.ArmConstant, suite.ArmLinear}

// Setup is one benchmark configuration.
type Setup struct {
	Datasets     []string
	DataFile     string
	KFold, Folds int
	Excel        excelformer.LearnerConfig
	GBNNUnits    int // GBNN total hidden units
	MLPSteps     int
}

// DefaultSetup returns the full or quick configuration.
func DefaultSetup(quick bool) Setup {
	// Batch 64 instead of the reference's rule (512 up to 32 features): attention costs
	// batch·f²·d per step, and 2 shared cores fit 150 steps of 64 rows, 2 layers, per fold.
	ex := excelformer.DefaultLearnerConfig()
	ex.Batch, ex.Layers, ex.Steps = 64, 2, 150
	if quick {
		ex.Layers, ex.Steps = 2, 60
		return Setup{Datasets: data.BuiltinNames(), KFold: 5, Folds: 1, Excel: ex, GBNNUnits: 20, MLPSteps: 300}
	}
	return Setup{Datasets: data.BuiltinNames(), KFold: 5, Folds: 5, Excel: ex, GBNNUnits: 200, MLPSteps: 1000}
}

// Validate checks a setup.
func (s Setup) Validate() error {
	switch {
	case s.KFold < 2:
		return fmt.Errorf("tabular bench: kfold=%d must be >= 2", s.KFold)
	case s.Folds < 1 || s.Folds > s.KFold:
		return fmt.Errorf("tabular bench: folds=%d must be in [1, kfold=%d]", s.Folds, s.KFold)
	case s.GBNNUnits < 1:
		return fmt.Errorf("tabular bench: gbnn units=%d must be >= 1", s.GBNNUnits)
	case s.MLPSteps < 1:
		return fmt.Errorf("tabular bench: mlp steps=%d must be >= 1", s.MLPSteps)
	}
	return s.Excel.Validate()
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	s := DefaultSetup(opts.Quick)
	if opts.Seeds > 0 {
		s.Folds = min(opts.Seeds, s.KFold)
	}
	s.DataFile = opts.DataFile
	if opts.TextFile != "" {
		opts.Logf("tabular: -text does not apply (tabular data only); use -data")
	}
	return Run(ctx, opts, s)
}

// Run runs the benchmark with setup s.
func Run(ctx context.Context, opts suite.Options, s Setup) ([]suite.Result, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	o := opts // -data with the -header, -label, -task, -categorical and -impute flags
	o.DataFile = s.DataFile
	tables, err := o.DataOrBuiltin(data.Auto, s.Datasets...)
	if err != nil {
		return nil, err
	}
	bar := suite.NewProgress(len(tables)*s.Folds*len(Arms), benchName)
	defer bar.Done()
	var rows []suite.Result
	type cell struct{ vals, secs []float64 }
	type summary struct {
		name, metric string
		res          map[string]*cell
	}
	var sums []summary
	for _, tab := range tables {
		trains, tests, err := tab.KFold(s.KFold, 1)
		if err != nil {
			return rows, fmt.Errorf("tabular bench: %s: %w", tab.Name, err)
		}
		metric := "accuracy"
		if tab.Task == data.Regression {
			metric = "rmse"
		}
		res := map[string]*cell{}
		for f := range s.Folds {
			sc, tr, others := data.Standardize(trains[f], tab.Task == data.Regression, tests[f])
			te := others[0]
			unscale := 1.0
			if tab.Task == data.Regression {
				unscale = sc.YStd
			}
			for _, arm := range Arms {
				if err := ctx.Err(); err != nil {
					return rows, err
				}
				bar.Describe(fmt.Sprintf("%s %s fold %d/%d", arm, tab.Name, f+1, s.Folds))
				start := time.Now()
				pred, err := fitPredict(ctx, s, arm, tr, te, uint64(f+1))
				secs := time.Since(start).Seconds()
				bar.Add(1)
				if err == errNotApplicable {
					continue
				}
				if err != nil {
					return rows, fmt.Errorf("tabular bench: %s %s fold %d: %w", arm, tab.Name, f, err)
				}
				c := res[arm]
				if c == nil {
					c = &cell{}
					res[arm] = c
				}
				c.vals = append(c.vals, score(tab.Task, pred, te.Y)*unscale)
				c.secs = append(c.secs, secs)
			}
		}
		for _, arm := range Arms {
			c, ok := res[arm]
			if !ok {
				continue
			}
			row := suite.Row(benchName, tab.Name, arm, metric, c.vals, 0, 0)
			row.Extra["higher_is_better"] = metric == "accuracy"
			row.Extra["folds"] = fmt.Sprintf("%d of %d-fold CV", s.Folds, s.KFold)
			row.Extra["fit_seconds"] = c.secs
			if arm == suite.ArmConstant || arm == suite.ArmLinear {
				row.Extra["baseline"] = true
				row = row.AsAnchor()
			}
			rows = append(rows, row)
		}
		sums = append(sums, summary{tab.Name, metric, res})
	}
	bar.Done()
	if opts.Out != nil {
		fmt.Fprintf(opts.Out, "\ntabular: %d of %d-fold CV (seed 1); ExcelFormer d=%d, %d layers, %d heads, %d Adam steps; GBNN %d units; MLP 128 ReLU, %d steps; mean ± std over folds (fit seconds per fold in brackets)\n",
			s.Folds, s.KFold, s.Excel.DToken, s.Excel.Layers, s.Excel.Heads, s.Excel.Steps, s.GBNNUnits, s.MLPSteps)
		w := tabwriter.NewWriter(opts.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "dataset\tmetric\t"+strings.Join(Arms, "\t")+"\tbest\t")
		for _, sm := range sums {
			line := []string{sm.name, sm.metric}
			best, bestV := "", math.NaN()
			for _, a := range Arms {
				c, ok := sm.res[a]
				if !ok {
					line = append(line, "-")
					continue
				}
				m, sd := suite.MeanStd(c.vals)
				ms, _ := suite.MeanStd(c.secs)
				line = append(line, fmt.Sprintf("%.3f ± %.3f [%.1fs]", m, sd, ms))
				if math.IsNaN(bestV) || (sm.metric == "accuracy" && m > bestV) || (sm.metric == "rmse" && m < bestV) {
					best, bestV = a, m
				}
			}
			fmt.Fprintln(w, strings.Join(append(line, best), "\t")+"\t")
		}
		w.Flush()
		fmt.Fprintln(opts.Out, "constant: training mean / majority class; linear: least squares (classification: one-vs-rest least squares, argmax); gbt fits regression only (-)")
	}
	if path := opts.PlotPath(benchName, "scores"); path != "" {
		var charts []suite.Chart
		for _, sm := range sums {
			ch := suite.Chart{Title: fmt.Sprintf("tabular %s: %s by learner (x = arm: %s; mean ± std over folds)", sm.name, sm.metric, strings.Join(Arms, ", ")), XLabel: "arm", YLabel: sm.metric}
			for i, a := range Arms {
				if c, ok := sm.res[a]; ok {
					m, sd := suite.MeanStd(c.vals)
					ch.Series = append(ch.Series, suite.Series{Name: a, X: []float64{float64(i + 1)}, Y: []float64{m}, Err: []float64{sd}})
				}
			}
			charts = append(charts, ch)
		}
		if err := suite.SavePlots(path, charts...); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

var errNotApplicable = fmt.Errorf("arm does not apply to this task")

// fitPredict fits arm on tr and predicts te.
func fitPredict(ctx context.Context, s Setup, arm string, tr, te *data.Table, seed uint64) ([]float64, error) {
	cls := tr.Task == data.Classification
	switch arm {
	case "excelformer":
		c := s.Excel
		c.Seed = seed
		l, err := excelformer.NewLearner(c)
		if err != nil {
			return nil, err
		}
		return fitLearner(ctx, l, tr, te)
	case "gbnn":
		store := model.NewStore()
		cfg, err := gbnn.ConfigFromScope(store.RootScope())
		if err != nil {
			return nil, err
		}
		cfg.TotalUnits = s.GBNNUnits
		l, err := gbnn.New(cfg)
		if err != nil {
			return nil, err
		}
		return fitLearner(ctx, l, tr, te)
	case "gbt":
		if cls {
			return nil, errNotApplicable
		}
		l, err := boosting.NewLearner(model.NewStore().RootScope(), "gbt")
		if err != nil {
			return nil, err
		}
		return fitLearner(ctx, l, tr, te)
	case "mlp":
		return mlp(ctx, s, tr, te, seed)
	case suite.ArmConstant:
		if !cls {
			return data.MeanPredict(tr, te)
		}
		counts := make([]int, tr.NumClasses)
		for _, y := range tr.Y {
			counts[int(y)]++
		}
		maj := float64(slices.Index(counts, slices.Max(counts)))
		out := make([]float64, te.N)
		for i := range out {
			out[i] = maj
		}
		return out, nil
	case suite.ArmLinear:
		if !cls {
			return data.LinearPredict(tr, te)
		}
		best := make([]float64, te.N)
		out := make([]float64, te.N)
		for k := range tr.NumClasses {
			one := *tr
			one.Task, one.Y = data.Regression, make([]float64, tr.N)
			for i, y := range tr.Y {
				if int(y) == k {
					one.Y[i] = 1
				}
			}
			tk := *te
			tk.Task = data.Regression
			p, err := data.LinearPredict(&one, &tk)
			if err != nil {
				return nil, err
			}
			for i, v := range p {
				if k == 0 || v > best[i] {
					best[i], out[i] = v, float64(k)
				}
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown arm %q (known: %v)", arm, Arms)
}

func fitLearner(ctx context.Context, l boosting.Learner, tr, te *data.Table) ([]float64, error) {
	if err := l.Fit(ctx, tr); err != nil {
		return nil, err
	}
	return l.Predict(te.X, te.N)
}

// mlp trains x -> ReLU(x W1 + b1) W2 + b2 (128 units) with Adam 1e-3 on cross-entropy / MSE.
func mlp(ctx context.Context, s Setup, tr, te *data.Table, seed uint64) ([]float64, error) {
	const units = 128
	outputs, loss := 1, "mse"
	if tr.Task == data.Classification {
		outputs, loss = tr.NumClasses, "cross_entropy"
	}
	batches, err := data.NewTrainBatches(tr, min(256, tr.N), seed)
	if err != nil {
		return nil, err
	}
	cfg := train.Config{
		Name: "mlp", Store: model.NewStore(), Seed: int64(seed),
		Params: map[string]any{optimizers.ParamLogGroups: false},
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			x := in[0]
			m := scope.In("mlp")
			h1, o := m.In("hidden"), m.In("output")
			w1 := h1.VariableWithShape("weights", shapes.Make(dtypes.Float32, tr.D, units)).ValueGraph(x)
			b1 := h1.VariableWithShape("biases", shapes.Make(dtypes.Float32, units)).ValueGraph(x)
			w2 := o.VariableWithShape("weights", shapes.Make(dtypes.Float32, units, outputs)).ValueGraph(x)
			b2 := o.VariableWithShape("biases", shapes.Make(dtypes.Float32, outputs)).ValueGraph(x)
			h := activation.Relu(graph.Add(graph.Dot(x, w1).Product(), graph.ExpandLeftToRank(b1, 2)))
			return []*graph.Node{graph.Add(graph.Dot(h, w2).Product(), graph.ExpandLeftToRank(b2, 2))}
		},
		Loss: loss, Optimizer: "adam", LearningRate: 1e-3, Steps: s.MLPSteps, EvalEvery: s.MLPSteps, Train: batches,
	}
	res, err := train.Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return res.PredictRows(te.X, te.N, te.D)
}

// score is accuracy (classification) or RMSE (regression).
func score(task data.Task, pred, y []float64) float64 {
	if task == data.Regression {
		return data.RMSE(pred, y)
	}
	c := 0
	for i, p := range pred {
		if p == y[i] {
			c++
		}
	}
	return float64(c) / float64(len(y))
}
