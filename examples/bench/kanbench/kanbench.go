// Package kanbench is the `kan` benchmark: KAT's GR-KAN feed-forward network (group-rational
// KAN, Yang & Wang, ICLR 2025) against the GELU MLP FFN at equal width (parameters equal up to
// the 2·(6 + 4·G) rational coefficients per FFN), and FlashKAT's backward pass against GoMLX's
// plain autodiff of the same forward graph.
//
// Tasks:
//   - "ffn-step": forward and forward+backward time of one FFN (d -> h -> d) on the moe-lm
//     full-size token batch, and of one group-rational unit alone on the hidden activations;
//     the backward time is (forward+backward) − forward, and "backward_speedup" is the ratio
//     autodiff / FlashKAT of it;
//   - "digits" (or the -data CSV, a classification table): a residual FFN classifier, test
//     accuracy and ms per training step;
//   - "opticks" (or the -text file): moe-lm's char-level transformer LM with the FFN slot
//     filled by each arm, validation bits per character and ms per training step.
//
// Arms: "gelu-mlp" (the anchor), "gr-kan" (FlashKAT backward), "gr-kan-autodiff" (the same
// model differentiated by GoMLX; same numbers up to rounding, different speed).
package kanbench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/norm"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/examples/bench/moelm"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

func init() {
	suite.Register("kan", suite.Func{
		Desc: "KAT's GR-KAN FFN vs GELU MLP FFN (digits accuracy, moe-lm bpc, ms/step) and FlashKAT's backward vs autodiff (ffn-step timings); -data FILE (classification) and -text FILE replace digits and the Opticks corpus",
		Fn:   run,
	})
}

// Arm names.
const (
	ArmMLP         = "gelu-mlp"
	ArmKAN         = "gr-kan"
	ArmKANAutodiff = "gr-kan-autodiff"
)

// Setup sizes one run of the benchmark.
type Setup struct {
	// Step timing: Tokens rows of width D through an FFN of hidden width Hidden, Reps timed
	// calls after Warmup untimed ones (the fastest is reported, as Python's timeit does: load from
	// other processes only ever adds time, so the minimum is the least noisy estimate and the
	// backward difference below stays positive even when one call is interrupted).
	Tokens, D, Hidden, Reps, Warmup int
	// Digits: model width, FFN hidden width, residual FFN blocks, steps, batch, learning rate.
	DigitsD, DigitsHidden, DigitsBlocks, DigitsSteps, DigitsBatch int
	DigitsLR                                                      float64
	// LM is moe-lm's size; its dense FFN is d -> 2·ExpertHidden -> d, the GR-KAN the same.
	LM moelm.Size
	// Groups of the rationals (KAT: 8).
	Groups int
	// Seeds per arm; LMArms and DigitsArms are the trained arms.
	Seeds              int
	LMArms, DigitsArms []string
}

// DefaultSetup is the full run (a few minutes per task on 2 cores) or the quick one.
func DefaultSetup(quick bool) Setup {
	s := Setup{
		Tokens: 2048, D: 64, Hidden: 256, Reps: 30, Warmup: 3,
		DigitsD: 64, DigitsHidden: 128, DigitsBlocks: 2, DigitsSteps: 1500, DigitsBatch: 64, DigitsLR: 1e-3,
		LM:     moelm.Size{Seq: 64, Batch: 32, D: 64, Layers: 2, Heads: 4, ExpertHidden: 128, Steps: 600, EvalEvery: 100, LR: 3e-3, MaxValid: 20000},
		Groups: 8, Seeds: 3,
		// The LM trains gr-kan-autodiff no more: it is the same model as gr-kan (a full run of
		// 2026-12-05 gave 2.6624 vs 2.6623 bpc) and cost a third of the full run's time; digits
		// still trains both gradient forms and ffn-step times both.
		LMArms: []string{ArmMLP, ArmKAN}, DigitsArms: []string{ArmMLP, ArmKAN, ArmKANAutodiff},
	}
	if quick {
		s.Reps = 10
		s.DigitsSteps = 400
		s.LM = moelm.Size{Seq: 32, Batch: 16, D: 32, Layers: 2, Heads: 2, ExpertHidden: 64, Steps: 400, EvalEvery: 50, LR: 1e-2, MaxValid: 4000}
		s.Seeds = 1
	}
	return s
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	s := DefaultSetup(opts.Quick)
	s.Seeds = opts.SeedsOr(s.Seeds, 1)
	return Run(ctx, opts, s)
}

// ffnFor returns arm's FFN of hidden width h.
func ffnFor(arm string, h, groups int) (layers.FFN, error) {
	switch arm {
	case ArmMLP:
		return layers.DenseFFN(h, "gelu"), nil
	case ArmKAN:
		return layers.KANFFN(layers.KANConfig{Hidden: h, Groups: groups, Gradient: layers.KANGradFlashKAT})
	case ArmKANAutodiff:
		return layers.KANFFN(layers.KANConfig{Hidden: h, Groups: groups, Gradient: layers.KANGradAutodiff})
	}
	return nil, fmt.Errorf("kan: arm %q unknown; known: %q, %q, %q", arm, ArmMLP, ArmKAN, ArmKANAutodiff)
}

// ffnParams is the parameter count of arm's FFN d -> h -> d.
func ffnParams(arm string, d, h, groups int) int {
	if arm == ArmMLP {
		return 2*d*h + h + d
	}
	return layers.KANParams(d, layers.KANConfig{Hidden: h, Groups: groups})
}

// Run executes the benchmark with setup s.
func Run(ctx context.Context, opts suite.Options, s Setup) ([]suite.Result, error) {
	if s.Seeds < 1 {
		return nil, fmt.Errorf("kan: seeds=%d must be >= 1", s.Seeds)
	}
	var rows []suite.Result
	step, err := stepRows(ctx, opts, s)
	rows = append(rows, step...)
	if err != nil {
		return rows, err
	}
	dig, digChart, err := digitsRows(ctx, opts, s)
	rows = append(rows, dig...)
	if err != nil {
		return rows, err
	}
	lm, lmChart, err := lmRows(ctx, opts, s)
	rows = append(rows, lm...)
	if err != nil {
		return rows, err
	}
	printTable(opts, s, rows)
	if p := opts.PlotPath("kan", "curves"); p != "" {
		if err := suite.SavePlots(p, digChart, lmChart); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// timing is the fastest forward and forward+backward wall time of one call, in ms.
type timing struct{ fwd, fwdBwd float64 }

// timedExec is one compiled function of the timing task and its inputs.
type timedExec struct {
	exec *model.Exec
	x, g *tensors.Tensor
	ms   []float64
}

// newTimed compiles fn(x) -> y, forward only (backward=false) or with the gradients of Σ y·g
// with respect to x and every variable.
func newTimed(opts suite.Options, seed, rows, width int, backward bool, fn func(scope *model.Scope, x *graph.Node) *graph.Node) (*timedExec, error) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x6b616e))
	xs := make([]float32, rows*width)
	gs := make([]float32, rows*width)
	for i := range xs {
		xs[i], gs[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(int64(seed)); err != nil {
		return nil, err
	}
	exec, err := model.NewExec(opts.Backend, store, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		y := fn(scope, in[0])
		if !backward {
			return []*graph.Node{y}
		}
		loss := graph.ReduceAllSum(graph.Mul(y, in[1]))
		wrt := []*graph.Node{in[0]}
		for v := range scope.IterVariables() {
			if v.Trainable {
				wrt = append(wrt, v.NodeValue(in[0].Graph()))
			}
		}
		return graph.Gradient(loss, wrt...)
	})
	if err != nil {
		return nil, err
	}
	return &timedExec{exec: exec, x: tensors.FromFlatDataAndDimensions(xs, rows, width), g: tensors.FromFlatDataAndDimensions(gs, rows, width)}, nil
}

// call runs the function once and records its wall time when record is set.
func (t *timedExec) call(record bool) error {
	t0 := time.Now()
	res, err := t.exec.Call(t.x, t.g)
	if err != nil {
		return err
	}
	for _, r := range res {
		r.MustFinalizeAll()
	}
	if record {
		t.ms = append(t.ms, float64(time.Since(t0).Microseconds())/1000)
	}
	return nil
}

func (t *timedExec) best() float64 { return slices.Min(t.ms) }

// stepRows times the FFNs and the rational unit alone.
func stepRows(ctx context.Context, opts suite.Options, s Setup) ([]suite.Result, error) {
	type unit struct {
		arm   string
		width int
		fn    func(scope *model.Scope, x *graph.Node) *graph.Node
	}
	var units []unit
	for _, arm := range []string{ArmMLP, ArmKAN, ArmKANAutodiff} {
		ffn, err := ffnFor(arm, s.Hidden, s.Groups)
		if err != nil {
			return nil, err
		}
		units = append(units, unit{arm, s.D, func(scope *model.Scope, x *graph.Node) *graph.Node {
			y, _ := ffn(scope, x, 0, nil)
			return y
		}})
	}
	gelu, err := layers.RationalInitFor("gelu")
	if err != nil {
		return nil, err
	}
	for _, grad := range []string{layers.KANGradFlashKAT, layers.KANGradAutodiff} {
		units = append(units, unit{"rational-" + grad, s.Hidden, func(scope *model.Scope, x *graph.Node) *graph.Node {
			num := scope.WithInitializer(func(g *graph.Graph, sh shapes.Shape) *graph.Node {
				return graph.ConvertDType(graph.Const(g, gelu.Num[:]), sh.DType)
			}).VariableWithShape("numerator", shapes.Make(x.DType(), 6)).NodeValue(x.Graph())
			den := scope.WithInitializer(func(g *graph.Graph, sh shapes.Shape) *graph.Node {
				vals := make([]float64, 0, 4*s.Groups)
				for range s.Groups {
					vals = append(vals, gelu.Den[:]...)
				}
				return graph.ConvertDType(graph.Reshape(graph.Const(g, vals), s.Groups, 4), sh.DType)
			}).VariableWithShape("denominator", shapes.Make(x.DType(), s.Groups, 4)).NodeValue(x.Graph())
			return layers.GroupRational(x, num, den, grad)
		}})
	}
	// Every unit's forward and forward+backward functions are compiled first, then called in
	// round-robin order, so that load from other processes hits all arms alike.
	prog := suite.NewProgress(s.Seeds*(s.Warmup+s.Reps), "kan ffn-step")
	defer prog.Done()
	per := map[string][]timing{}
	for seed := 1; seed <= s.Seeds; seed++ {
		var execs []*timedExec
		for _, u := range units {
			for _, backward := range []bool{false, true} {
				te, err := newTimed(opts, seed, s.Tokens, u.width, backward, u.fn)
				if err != nil {
					return nil, fmt.Errorf("kan ffn-step %s: %w", u.arm, err)
				}
				execs = append(execs, te)
			}
		}
		for rep := range s.Warmup + s.Reps {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			for _, te := range execs {
				if err := te.call(rep >= s.Warmup); err != nil {
					return nil, fmt.Errorf("kan ffn-step: %w", err)
				}
			}
			prog.Add(1)
		}
		for i, u := range units {
			per[u.arm] = append(per[u.arm], timing{fwd: execs[2*i].best(), fwdBwd: execs[2*i+1].best()})
			execs[2*i].exec.Finalize()
			execs[2*i+1].exec.Finalize()
		}
	}
	var rows []suite.Result
	col := func(arm string, f func(timing) float64) []float64 {
		var v []float64
		for _, t := range per[arm] {
			v = append(v, f(t))
		}
		return v
	}
	for _, u := range units {
		fwd := suite.Row("kan", "ffn-step", u.arm, "ms_forward", col(u.arm, func(t timing) float64 { return t.fwd }), 0, 0)
		bwd := suite.Row("kan", "ffn-step", u.arm, "ms_backward", col(u.arm, func(t timing) float64 { return t.fwdBwd - t.fwd }), 0, 0)
		for _, r := range []*suite.Result{&fwd, &bwd} {
			r.Extra["higher_is_better"] = false
			r.Extra["tokens"], r.Extra["width"] = s.Tokens, u.width
			if !isRational(u.arm) {
				r.Extra["hidden"], r.Extra["params"] = s.Hidden, ffnParams(u.arm, s.D, s.Hidden, s.Groups)
			}
			if u.arm == ArmMLP {
				*r = r.AsAnchor()
			}
		}
		rows = append(rows, fwd, bwd)
	}
	for _, pair := range [][3]string{{"ffn", ArmKANAutodiff, ArmKAN}, {"rational", "rational-autodiff", "rational-flashkat"}} {
		auto, flash := per[pair[1]], per[pair[2]]
		var sp []float64
		for i := range auto {
			sp = append(sp, (auto[i].fwdBwd-auto[i].fwd)/(flash[i].fwdBwd-flash[i].fwd))
		}
		r := suite.Row("kan", "ffn-step", "flashkat-vs-autodiff-"+pair[0], "backward_speedup", sp, 0, 0)
		r.Extra["higher_is_better"] = true
		rows = append(rows, r)
	}
	return rows, nil
}

func isRational(arm string) bool { return len(arm) > 9 && arm[:9] == "rational-" }

// digitsRows trains the residual-FFN classifier per arm and seed.
func digitsRows(ctx context.Context, opts suite.Options, s Setup) ([]suite.Result, suite.Chart, error) {
	var chart suite.Chart
	var t *data.Table
	var err error
	task := "digits"
	if opts.DataFile != "" {
		if t, err = opts.LoadTable(data.Classification); err != nil {
			return nil, chart, err
		}
		task = t.Name
	} else if t, err = data.Builtin("digits"); err != nil {
		return nil, chart, err
	}
	if t.Task != data.Classification {
		return nil, chart, fmt.Errorf("kan: -data %s must be a classification table (got a regression target)", opts.DataFile)
	}
	opts.Logf("kan %s: %d rows, %d features, %d classes; d=%d, %d residual FFN blocks of hidden %d, %d steps, %d seed(s)",
		task, t.N, t.D, t.NumClasses, s.DigitsD, s.DigitsBlocks, s.DigitsHidden, s.DigitsSteps, s.Seeds)
	chart.Title, chart.XLabel, chart.YLabel = "kan: "+task+" validation loss", "step", "cross-entropy"
	var rows []suite.Result
	for _, arm := range s.DigitsArms {
		var acc, ms []float64
		var curves [][]float64
		var steps []float64
		for seed := 1; seed <= s.Seeds; seed++ {
			if err := ctx.Err(); err != nil {
				return rows, chart, err
			}
			a, res, err := digitsTrial(ctx, opts, s, t, arm, seed)
			if err != nil {
				return rows, chart, fmt.Errorf("kan %s %s seed %d: %w", task, arm, seed, err)
			}
			acc, ms = append(acc, a), append(ms, res.MsPerStep)
			st, v := res.Curve("valid/loss")
			steps, curves = st, append(curves, v)
		}
		m, _ := suite.MeanStd(ms)
		r := suite.Row("kan", task, arm, "accuracy", acc, m, s.DigitsSteps)
		r.Extra["higher_is_better"] = true
		r.Extra["ms_per_step_per_seed"] = ms
		r.Extra["params"] = s.DigitsBlocks * ffnParams(arm, s.DigitsD, s.DigitsHidden, s.Groups)
		if arm == ArmMLP {
			r = r.AsAnchor()
		}
		rows = append(rows, r)
		chart.Series = append(chart.Series, meanSeries(arm, steps, curves))
	}
	return rows, chart, nil
}

// digitsTrial trains one seed: x -> Dense(d) -> [x += FFN(LN(x))]×blocks -> LN -> Dense(classes),
// AdamW with a cosine schedule, 20% test and 15% of the rest for validation.
func digitsTrial(ctx context.Context, opts suite.Options, s Setup, t *data.Table, arm string, seed int) (float64, *train.Result, error) {
	ffn, err := ffnFor(arm, s.DigitsHidden, s.Groups)
	if err != nil {
		return 0, nil, err
	}
	trainT, testT, err := t.Split(0.2, uint64(seed))
	if err != nil {
		return 0, nil, err
	}
	fitT, validT, err := trainT.Split(0.15, uint64(seed)+0x7a11d)
	if err != nil {
		return 0, nil, err
	}
	_, fitS, others := data.Standardize(fitT, true, validT, testT)
	trainDS, err := data.NewTrainBatches(fitS, s.DigitsBatch, uint64(seed))
	if err != nil {
		return 0, nil, err
	}
	validDS, err := data.NewEvalBatches(others[0], 1024)
	if err != nil {
		return 0, nil, err
	}
	testDS, err := data.NewEvalBatches(others[1], 1024)
	if err != nil {
		return 0, nil, err
	}
	classes := t.NumClasses
	modelFn := func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		h := layers.MLP(scope.In("in"), in[0], layers.MLPConfig{Out: s.DigitsD})
		for b := range s.DigitsBlocks {
			bs := scope.In("block%d", b)
			y, _ := ffn(bs.In("ffn"), norm.LayerNorm(bs.In("ln"), h, -1).Done(), b, nil)
			h = graph.Add(h, y)
		}
		h = norm.LayerNorm(scope.In("ln_final"), h, -1).Done()
		return []*graph.Node{layers.MLP(scope.In("head"), h, layers.MLPConfig{Out: classes})}
	}
	steps := s.DigitsSteps
	res, err := train.Run(ctx, train.Config{
		Name: fmt.Sprintf("kan/%s/%s/seed%d", t.Name, arm, seed), Backend: opts.Backend, Seed: int64(seed), Model: modelFn,
		Loss: "cross_entropy", Optimizer: "adamw", LearningRate: s.DigitsLR, Steps: steps, Train: trainDS,
		Schedule: train.ScheduleConfig{Kind: "cosine", WarmupSteps: steps / 20, MinFactor: 0.05},
		Eval:     []train.EvalSet{{Name: "valid", Data: validDS}, {Name: "test", Data: testDS}},
		Metrics:  []string{"accuracy"}, EvalEvery: max(1, steps/10),
		Progress: true,
	})
	if err != nil {
		return 0, nil, err
	}
	return res.Final["test/accuracy"], res, nil
}

// lmRows trains moe-lm's language model with each arm in the FFN slot.
func lmRows(ctx context.Context, opts suite.Options, s Setup) ([]suite.Result, suite.Chart, error) {
	var chart suite.Chart
	text, task := moelm.Opticks(), "opticks"
	if opts.TextFile != "" {
		b, err := os.ReadFile(opts.TextFile)
		if err != nil {
			return nil, chart, fmt.Errorf("kan: %w", err)
		}
		text, task = string(b), "text"
	}
	corpus, err := moelm.NewCorpus(text)
	if err != nil {
		return nil, chart, err
	}
	size := s.LM
	opts.Logf("kan %s: %d train / %d validation characters; d=%d, %d layers, seq %d, batch %d, FFN hidden %d, %d steps, %d seed(s)",
		task, len(corpus.Train), len(corpus.Vali), size.D, size.Layers, size.Seq, size.Batch, 2*size.ExpertHidden, size.Steps, s.Seeds)
	chart.Title, chart.XLabel, chart.YLabel = "kan: "+task+" validation bits per character", "step", "bpc"
	var rows []suite.Result
	for _, armName := range s.LMArms {
		name := armName
		arm := moelm.Arm{Name: "kan-" + name}
		if name != ArmMLP {
			arm.FFN = func(sz moelm.Size) (layers.FFN, error) { return ffnFor(name, 2*sz.ExpertHidden, s.Groups) }
		}
		var bpc, ms []float64
		var curves [][]float64
		var steps []float64
		for seed := 1; seed <= s.Seeds; seed++ {
			if err := ctx.Err(); err != nil {
				return rows, chart, err
			}
			r, err := moelm.Trial(ctx, opts, corpus, size, arm, seed, false)
			if err != nil {
				return rows, chart, fmt.Errorf("kan %s %s seed %d: %w", task, name, seed, err)
			}
			bpc, ms = append(bpc, r.BPC), append(ms, r.MsPerStep)
			steps, curves = r.Steps, append(curves, r.BPCCurve)
		}
		m, _ := suite.MeanStd(ms)
		row := suite.Row("kan", task, name, "bpc", bpc, m, size.Steps)
		row.Extra["higher_is_better"] = false
		row.Extra["ms_per_step_per_seed"] = ms
		row.Extra["ffn_params"] = size.Layers * ffnParams(name, size.D, 2*size.ExpertHidden, s.Groups)
		if name == ArmMLP {
			row = row.AsAnchor()
		}
		rows = append(rows, row)
		chart.Series = append(chart.Series, meanSeries(name, steps, curves))
	}
	return rows, chart, nil
}

func meanSeries(name string, steps []float64, curves [][]float64) suite.Series {
	s := suite.Series{Name: name}
	for i, st := range steps {
		var v []float64
		for _, c := range curves {
			if i < len(c) {
				v = append(v, c[i])
			}
		}
		m, sd := suite.MeanStd(v)
		s.X, s.Y, s.Err = append(s.X, st), append(s.Y, m), append(s.Err, sd)
	}
	return s
}

func printTable(opts suite.Options, s Setup, rows []suite.Result) {
	opts.Logf("\nkan (mean ± std over %d seed(s)); ffn-step: %d tokens, d=%d, hidden %d, %d groups; backward = (forward+backward) − forward, fastest of %d calls",
		s.Seeds, s.Tokens, s.D, s.Hidden, s.Groups, s.Reps)
	opts.Logf("%-34s %-12s %-18s %18s %10s", "arm", "task", "metric", "value", "ms/step")
	for _, r := range rows {
		ms := "-"
		if r.MsPerStep > 0 {
			ms = fmt.Sprintf("%.2f", r.MsPerStep)
		}
		opts.Logf("%-34s %-12s %-18s %9.4f ± %-7.4f %10s", r.Arm, r.Task, r.Metric, r.Value, nanZero(r.Std), ms)
	}
}

func nanZero(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}
