// Command train fits an MLP to a CSV or Parquet file (header of names detected, label last
// unless -label, string class labels, categorical columns one-hot, missing values an error
// unless -impute) or a bundled dataset,
// with every moeboost training feature on flags: a progress bar, -set hyperparameters,
// schedules, checkpoints that resume exactly, JSON and PNG curves. Copy it as a starting point.
//
//	GOEXPERIMENT=simd go run ./examples/train -data digits -steps 2000 -checkpoint /tmp/ckpt -plot /tmp/digits.png
//	GOEXPERIMENT=simd go run ./examples/train -data my.csv -set "optimizer=sgd;learning_rate=0.05"
//	GOEXPERIMENT=simd go run ./examples/train -data titanic.csv -label Survived -impute median
//
// The class-name mapping (class id -> label text) is printed, and written with the feature
// names to data.json in the -checkpoint directory, beside the model.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
)

// Options are the command's flags.
type Options struct {
	Data, Set, Backend, Checkpoint, JSON, Plot, Schedule, Hidden, Optimizer string
	// Header, Label, Task, Categorical and Impute say how a -data file is read (see
	// data.ParseOptions).
	Header, Label, Task, Categorical, Impute string
	Steps, Batch, Seed                       int
	LR, TestFraction, Clip                   float64
}

func main() {
	var o Options
	flag.StringVar(&o.Data, "data", "digits", "bundled dataset ("+strings.Join(data.BuiltinNames(), ", ")+"), CSV (gzip ok) or .parquet file")
	flag.StringVar(&o.Header, "header", "auto", "whether the CSV's first line is column names: auto, yes, no")
	flag.StringVar(&o.Label, "label", "", "label column: a name, or a 0-based index (negative from the end); default the last")
	flag.StringVar(&o.Task, "task", "auto", "auto, classification or regression")
	flag.StringVar(&o.Categorical, "categorical", "", "comma-separated columns to read as categorical even when numeric")
	flag.StringVar(&o.Impute, "impute", "none", "missing numeric cells: none (an error naming the column), mean, median")
	flag.StringVar(&o.Set, "set", "", `hyperparameters "k=v;k2=v2" (e.g. "optimizer=sgd;learning_rate=0.05")`)
	flag.StringVar(&o.Backend, "backend", "", "compute backend (default: go:parallelism=-1; see README)")
	flag.StringVar(&o.Checkpoint, "checkpoint", "", "checkpoint directory: resumes from it if it holds checkpoints")
	flag.StringVar(&o.JSON, "json", "", "write the run's history as JSON")
	flag.StringVar(&o.Plot, "plot", "", "write loss and metric curves as PNG")
	flag.StringVar(&o.Schedule, "schedule", "cosine", "learning-rate schedule: constant, warmup, cosine, linear, wsd")
	flag.StringVar(&o.Hidden, "hidden", "256,128", "hidden layer widths")
	flag.StringVar(&o.Optimizer, "optimizer", "adamw", "optimizer (any registered name)")
	flag.IntVar(&o.Steps, "steps", 2000, "training steps (global step to reach when resuming)")
	flag.IntVar(&o.Batch, "batch", 64, "batch size")
	flag.IntVar(&o.Seed, "seed", 1, "random seed (split, shuffling, initialization)")
	flag.Float64Var(&o.LR, "lr", 1e-3, "base learning rate")
	flag.Float64Var(&o.TestFraction, "test", 0.2, "fraction of the data held out for evaluation")
	flag.Float64Var(&o.Clip, "clip", 0, "clip gradients to this global norm (0: off)")
	verbose := flag.Bool("v", false, "verbose logs: the optimizer's parameter-group line lists every tensor")
	flag.Parse()
	optimizers.SetVerbose(*verbose)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o Options, out io.Writer) error {
	var hidden []int
	for _, h := range strings.Split(o.Hidden, ",") {
		if strings.TrimSpace(h) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(h))
		if err != nil || n < 1 {
			return fmt.Errorf("-hidden %q: want comma-separated positive widths", o.Hidden)
		}
		hidden = append(hidden, n)
	}
	table, err := loadTable(o, out)
	if err != nil {
		return err
	}
	trainT, testT, err := table.Split(o.TestFraction, uint64(o.Seed))
	if err != nil {
		return err
	}
	_, trainT, rest := data.Standardize(trainT, true, testT)
	trainDS, err := data.NewTrainBatches(trainT, o.Batch, uint64(o.Seed))
	if err != nil {
		return err
	}
	testDS, err := data.NewEvalBatches(rest[0], 1024)
	if err != nil {
		return err
	}
	cfgName, source := backend.Resolve(o.Backend)
	cfgName = backend.Normalize(cfgName)
	b, err := backend.New(cfgName)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s (from %s)\n", backend.Describe(b, cfgName), source)
	backend.WarnIfNoSIMD(b)

	outDim, loss, metrics := 1, "mse", []string{"mse"}
	if table.Task == data.Classification {
		outDim, loss, metrics = table.NumClasses, "cross_entropy", []string{"accuracy"}
	}
	mlp := layers.MLPConfig{Hidden: hidden, Out: outDim}
	if err := mlp.Validate(); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %d examples x %d features, %s; training on %d, evaluating on %d\n",
		table.Name, table.N, table.D, table.Task, trainT.N, testT.N)
	res, err := train.Run(ctx, train.Config{
		Name: table.Name, Backend: b, Seed: int64(o.Seed), Settings: o.Set,
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			return []*graph.Node{layers.MLP(scope.In("mlp"), in[0], mlp)}
		},
		Loss: loss, Optimizer: o.Optimizer, LearningRate: o.LR, ClipGlobalNorm: o.Clip,
		Schedule: train.ScheduleConfig{Kind: o.Schedule, WarmupSteps: o.Steps / 20, TotalSteps: o.Steps},
		Steps:    o.Steps, Train: trainDS, Eval: []train.EvalSet{{Name: "test", Data: testDS}}, Metrics: metrics,
		CheckpointDir: o.Checkpoint, Progress: true, Out: out, JSONPath: o.JSON, PlotPath: o.Plot,
	})
	if err != nil {
		return err
	}
	if res.StartStep > 0 {
		fmt.Fprintf(out, "resumed from step %d\n", res.StartStep)
	}
	fmt.Fprintf(out, "done: %d steps, %.3f ms/step, %.1f s; final %s\n", res.Steps, res.MsPerStep, res.WallSeconds,
		strings.Join(finalLine(res.Final), " "))
	return nil
}

// loadTable returns the bundled dataset o.Data, or reads the file with the data flags, prints
// its summary (with the class-name mapping) and saves the mapping beside the checkpoints.
func loadTable(o Options, out io.Writer) (*data.Table, error) {
	dopts, err := data.ParseOptions(o.Header, o.Label, o.Task, o.Categorical, o.Impute)
	if err != nil {
		return nil, err
	}
	if slices.Contains(data.BuiltinNames(), o.Data) {
		return data.Builtin(o.Data)
	}
	f, err := data.LoadFrame(o.Data, dopts.Read)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("-data %q is neither a builtin (%q) nor an existing file", o.Data, data.BuiltinNames())
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "data %s\n", f.Describe())
	table, err := f.ToDense(dopts.Dense)
	if err != nil {
		return nil, err
	}
	if o.Checkpoint != "" {
		if err := os.MkdirAll(o.Checkpoint, 0o755); err != nil {
			return nil, err
		}
		meta := map[string]any{"source": o.Data, "task": table.Task.String(), "label": table.LabelName,
			"class_names": table.ClassNames, "feature_names": table.FeatureNames, "impute": dopts.Dense.Impute.String()}
		raw, err := json.MarshalIndent(meta, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(o.Checkpoint, "data.json"), append(raw, '\n'), 0o644); err != nil {
			return nil, err
		}
	}
	return table, nil
}

func finalLine(m map[string]float64) []string {
	var parts []string
	for _, k := range []string{"test/accuracy", "test/rmse", "test/loss", "train/loss"} {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%.4f", k, v))
		}
	}
	return parts
}
