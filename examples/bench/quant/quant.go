// Package quantbench is the `quant` benchmark: LUT-GEMM (Park et al., ICLR 2024) weight-only
// quantization of trained models and its look-up-table matvec kernel (package quant).
//
// Tasks:
//   - "digits" (or the -data CSV, a classification table): an MLP classifier trained in float32,
//     then every Dense weight quantized per (method, bits, group size); test accuracy of the
//     quantized model and the bytes of its Dense weights;
//   - "opticks" (or the -text file): moe-lm's dense char-level transformer LM (its exported
//     Model, data windows and loss), the same sweep on validation bits per character;
//   - "latency-<matrix>": wall time of y = W·x for batch 1 and batch 8 on the LM's largest
//     Dense weight and on a synthetic N×N matrix: the LUT kernel at every (bits, group) against
//     the float32 matvec in Go (same loop structure, 8-wide FMA under GOEXPERIMENT=simd), the Go
//     backend's float32 Dot in a compiled graph, and GoMLX's fused dequantizing
//     QuantizedDense (int8 codes, scales blocked along the outputs).
//
// Accuracy uses the dequantize-on-load path (quant.DequantizeStore: the model graph unchanged,
// its Dense weights replaced by their quantized values); latency uses the host LUT kernel
// (quant.Kernel), which never dequantizes. GoMLX's FusedQuantizedDense does not fit BCQ (one
// integer code per weight with scales blocked along the outputs, where BCQ has q binary planes
// with scales grouped along the inputs), so it appears only as a latency arm for uniform int8.
//
// Arms: "float32" (the anchor), "<method>-q<bits>-g<group>" with method "rtn" (uniform,
// converted to BCQ) or "bcq" (the official alternating non-uniform BCQ); group is the
// configured size (a group at least as wide as a layer's inputs is one group per row).
package quantbench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/nn"
	"github.com/moeboost/moeboost/examples/bench/moelm"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/quant"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

func init() {
	suite.Register("quant", suite.Func{
		Desc: "LUT-GEMM: BCQ/RTN weight-only quantization at 2-4 bits and groups 32-128 of a digits MLP and moe-lm's LM (accuracy/bpc, bytes), LUT matvec latency at batch 1 and 8 vs float32 Go and backend matmul; -data FILE (classification) and -text FILE replace digits and the Opticks corpus",
		Fn:   run,
	})
}

// Setup sizes one run of the benchmark.
type Setup struct {
	// Bits, Groups and Methods span the quantization sweep.
	Bits, Groups []int
	Methods      []string
	// Digits MLP: hidden widths, steps, batch, learning rate.
	DigitsHidden             []int
	DigitsSteps, DigitsBatch int
	DigitsLR                 float64
	LM                       moelm.Size
	// Synthetic is N of the N×N latency matrix (0: none); Batches the timed batch sizes.
	Synthetic int
	Batches   []int
	// Reps timed blocks per arm (the fastest is reported), each of enough calls to last
	// BlockMs milliseconds.
	Reps    int
	BlockMs float64
	Seeds   int
}

// DefaultSetup is the full run or the quick one.
func DefaultSetup(quick bool) Setup {
	s := Setup{
		Bits: []int{2, 3, 4}, Groups: []int{32, 64, 128}, Methods: []string{"rtn", "bcq"},
		DigitsHidden: []int{256, 256}, DigitsSteps: 1500, DigitsBatch: 64, DigitsLR: 1e-3,
		LM:        moelm.Size{Seq: 64, Batch: 32, D: 64, Layers: 2, Heads: 4, ExpertHidden: 128, Steps: 600, EvalEvery: 100, LR: 3e-3, MaxValid: 20000},
		Synthetic: 4096, Batches: []int{1, 8}, Reps: 7, BlockMs: 20, Seeds: 2,
	}
	if quick {
		s.DigitsSteps = 500
		s.LM = moelm.Size{Seq: 32, Batch: 16, D: 32, Layers: 2, Heads: 2, ExpertHidden: 64, Steps: 300, EvalEvery: 100, LR: 1e-2, MaxValid: 4000}
		s.Reps, s.BlockMs, s.Seeds = 3, 10, 1
	}
	return s
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	s := DefaultSetup(opts.Quick)
	s.Seeds = opts.SeedsOr(s.Seeds, 1)
	return Run(ctx, opts, s)
}

// Validate checks the setup.
func (s Setup) Validate() error {
	if s.Seeds < 1 {
		return fmt.Errorf("quant: seeds=%d must be >= 1", s.Seeds)
	}
	if len(s.Bits) == 0 || len(s.Groups) == 0 || len(s.Methods) == 0 {
		return fmt.Errorf("quant: bits %v, groups %v and methods %q must all be non-empty", s.Bits, s.Groups, s.Methods)
	}
	for _, b := range s.Batches {
		if b < 1 {
			return fmt.Errorf("quant: batch %d must be >= 1", b)
		}
	}
	for _, m := range s.Methods {
		for _, b := range s.Bits {
			for _, g := range s.Groups {
				cfg := quant.Config{Bits: b, GroupSize: g, Method: m}
				if err := cfg.Validate(1 << 20); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// config is one point of the sweep.
type config struct {
	method      string
	bits, group int
}

func (c config) arm() string { return fmt.Sprintf("%s-q%d-g%d", c.method, c.bits, c.group) }

func (s Setup) configs() []config {
	var out []config
	for _, m := range s.Methods {
		for _, b := range s.Bits {
			for _, g := range s.Groups {
				out = append(out, config{m, b, g})
			}
		}
	}
	return out
}

// Run executes the benchmark with setup s.
func Run(ctx context.Context, opts suite.Options, s Setup) ([]suite.Result, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var rows []suite.Result
	dig, digChart, err := digitsRows(ctx, opts, s)
	rows = append(rows, dig...)
	if err != nil {
		return rows, err
	}
	lm, lmChart, largest, err := lmRows(ctx, opts, s)
	rows = append(rows, lm...)
	if err != nil {
		return rows, err
	}
	var latCharts []suite.Chart
	mats := []latencyMatrix{largest}
	if s.Synthetic > 0 {
		r := rand.New(rand.NewPCG(uint64(s.Synthetic), 0x717561))
		w := make([]float32, s.Synthetic*s.Synthetic)
		for i := range w {
			w[i] = float32(r.NormFloat64() * 0.02)
		}
		mats = append(mats, latencyMatrix{name: fmt.Sprintf("%dx%d", s.Synthetic, s.Synthetic), w: w, rows: s.Synthetic, cols: s.Synthetic})
	}
	for _, m := range mats {
		lat, chart, err := latencyRows(ctx, opts, s, m)
		rows = append(rows, lat...)
		if err != nil {
			return rows, err
		}
		latCharts = append(latCharts, chart)
	}
	printTables(opts, s, rows)
	if p := opts.PlotPath("quant", "sweep"); p != "" {
		if err := suite.SavePlots(p, append([]suite.Chart{digChart, lmChart}, latCharts...)...); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// sweep quantizes store's Dense weights at every config and evaluates each quantized clone
// with eval; it returns per config the metric and the Dense weight bytes (scales at 4 bytes).
func sweep(s Setup, store *model.Store, eval func(*model.Store) (float64, error)) (map[config]float64, map[config]int, int, error) {
	paths := quant.DenseWeights(store)
	if len(paths) == 0 {
		return nil, nil, 0, fmt.Errorf("quant: the trained model has no Dense weights")
	}
	f32 := 0
	for _, p := range paths {
		f32 += 4 * store.GetVariable(p).Shape().Size()
	}
	metric, bytes := map[config]float64{}, map[config]int{}
	for _, c := range s.configs() {
		clone, mats, err := quant.DequantizeStore(store, paths, quant.Config{Bits: c.bits, GroupSize: c.group, Method: c.method})
		if err != nil {
			return nil, nil, 0, err
		}
		v, err := eval(clone)
		clone.Finalize()
		if err != nil {
			return nil, nil, 0, fmt.Errorf("quant %s: %w", c.arm(), err)
		}
		n := 0
		for _, m := range mats {
			n += m.Bytes(4)
		}
		metric[c], bytes[c] = v, n
	}
	return metric, bytes, f32, nil
}

// sweepRows turns per-seed sweeps into rows: the float32 anchor, then per config the metric
// and the weight bytes.
func sweepRows(task, metric string, higher bool, s Setup, f32 []float64, f32Bytes int, per []map[config]float64, bytes map[config]int, steps int) ([]suite.Result, suite.Chart) {
	var rows []suite.Result
	anchor := suite.Row("quant", task, "float32", metric, f32, 0, steps)
	anchor.Extra["higher_is_better"] = higher
	anchor.Extra["weight_bytes"] = f32Bytes
	rows = append(rows, anchor.AsAnchor())
	mem := suite.Row("quant", task, "float32", "weight_bytes", []float64{float64(f32Bytes)}, 0, 0)
	mem.Extra["higher_is_better"] = false
	rows = append(rows, mem.AsAnchor())
	chart := suite.Chart{Title: "quant: " + task + " " + metric + " vs bits", XLabel: "bits", YLabel: metric}
	fm, _ := suite.MeanStd(f32)
	ref := suite.Series{Name: "float32"}
	for _, b := range s.Bits {
		ref.X, ref.Y, ref.Err = append(ref.X, float64(b)), append(ref.Y, fm), append(ref.Err, 0)
	}
	chart.Series = append(chart.Series, ref)
	series := map[string]*suite.Series{}
	var order []string
	for _, c := range s.configs() {
		var vals []float64
		for _, p := range per {
			vals = append(vals, p[c])
		}
		r := suite.Row("quant", task, c.arm(), metric, vals, 0, steps)
		r.Extra["higher_is_better"] = higher
		r.Extra["bits"], r.Extra["group"], r.Extra["method"] = c.bits, c.group, c.method
		r.Extra["weight_bytes"] = bytes[c]
		m, _ := suite.MeanStd(vals)
		r.Extra["delta_vs_float32"] = m - fm
		rows = append(rows, r)
		mb := suite.Row("quant", task, c.arm(), "weight_bytes", []float64{float64(bytes[c])}, 0, 0)
		mb.Extra["higher_is_better"] = false
		mb.Extra["bits"], mb.Extra["group"], mb.Extra["method"] = c.bits, c.group, c.method
		mb.Extra["ratio_vs_float32"] = float64(bytes[c]) / float64(f32Bytes)
		rows = append(rows, mb)
		key := fmt.Sprintf("%s-g%d", c.method, c.group)
		if series[key] == nil {
			series[key] = &suite.Series{Name: key}
			order = append(order, key)
		}
		_, sd := suite.MeanStd(vals)
		sr := series[key]
		sr.X, sr.Y, sr.Err = append(sr.X, float64(c.bits)), append(sr.Y, m), append(sr.Err, sd)
	}
	for _, k := range order {
		chart.Series = append(chart.Series, *series[k])
	}
	return rows, chart
}

// digitsRows trains the MLP per seed and sweeps its quantizations.
func digitsRows(ctx context.Context, opts suite.Options, s Setup) ([]suite.Result, suite.Chart, error) {
	var t *data.Table
	var err error
	task := "digits"
	if opts.DataFile != "" {
		if t, err = opts.LoadTable(data.Classification); err != nil {
			return nil, suite.Chart{}, err
		}
		task = t.Name
	} else if t, err = data.Builtin("digits"); err != nil {
		return nil, suite.Chart{}, err
	}
	if t.Task != data.Classification {
		return nil, suite.Chart{}, fmt.Errorf("quant: -data %s must be a classification table (got a regression target)", opts.DataFile)
	}
	opts.Logf("quant %s: %d rows, %d features, %d classes; MLP hidden %v, %d steps, %d seed(s), %d quantizations",
		task, t.N, t.D, t.NumClasses, s.DigitsHidden, s.DigitsSteps, s.Seeds, len(s.configs()))
	var f32 []float64
	var per []map[config]float64
	var bytes map[config]int
	var f32Bytes int
	for seed := 1; seed <= s.Seeds; seed++ {
		if err := ctx.Err(); err != nil {
			return nil, suite.Chart{}, err
		}
		res, test, err := digitsTrain(ctx, opts, s, t, seed)
		if err != nil {
			return nil, suite.Chart{}, fmt.Errorf("quant %s seed %d: %w", task, seed, err)
		}
		eval := func(store *model.Store) (float64, error) { return accuracy(res, store, test) }
		a, err := eval(res.Store)
		if err != nil {
			return nil, suite.Chart{}, err
		}
		f32 = append(f32, a)
		m, b, fb, err := sweep(s, res.Store, eval)
		if err != nil {
			return nil, suite.Chart{}, err
		}
		per, bytes, f32Bytes = append(per, m), b, fb
		res.Store.Finalize()
	}
	rows, chart := sweepRows(task, "accuracy", true, s, f32, f32Bytes, per, bytes, s.DigitsSteps)
	return rows, chart, nil
}

// digitsTrain trains x -> MLP(hidden...) -> classes with AdamW and a cosine schedule on 80% of
// the table (standardized); it returns the run and the held-out 20%.
func digitsTrain(ctx context.Context, opts suite.Options, s Setup, t *data.Table, seed int) (*train.Result, *data.Table, error) {
	trainT, testT, err := t.Split(0.2, uint64(seed))
	if err != nil {
		return nil, nil, err
	}
	_, fitS, others := data.Standardize(trainT, true, testT)
	trainDS, err := data.NewTrainBatches(fitS, s.DigitsBatch, uint64(seed))
	if err != nil {
		return nil, nil, err
	}
	classes := t.NumClasses
	hidden := s.DigitsHidden
	res, err := train.Run(ctx, train.Config{
		Name: fmt.Sprintf("quant/%s/seed%d", t.Name, seed), Backend: opts.Backend, Seed: int64(seed),
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			return []*graph.Node{layers.MLP(scope.In("mlp"), in[0], layers.MLPConfig{Hidden: hidden, Out: classes})}
		},
		Loss: "cross_entropy", Optimizer: "adamw", LearningRate: s.DigitsLR, Steps: s.DigitsSteps, Train: trainDS,
		Schedule: train.ScheduleConfig{Kind: "cosine", WarmupSteps: s.DigitsSteps / 20, MinFactor: 0.05},
		Progress: true,
	})
	if err != nil {
		return nil, nil, err
	}
	return res, others[0], nil
}

// accuracy evaluates res's model with the variables of store on table t (inference mode).
func accuracy(res *train.Result, store *model.Store, t *data.Table) (float64, error) {
	e, err := model.NewExec(res.Backend, store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		scope.Store().SetTraining(x.Graph(), false)
		return res.Model(scope, []*graph.Node{x})[0]
	})
	if err != nil {
		return 0, err
	}
	defer e.Finalize()
	xs := make([]float32, len(t.X))
	for i, v := range t.X {
		xs[i] = float32(v)
	}
	out, err := e.Call(tensors.FromFlatDataAndDimensions(xs, t.N, t.D))
	if err != nil {
		return 0, err
	}
	logits := tensors.MustCopyFlatData[float32](out[0])
	out[0].MustFinalizeAll()
	c := len(logits) / t.N
	correct := 0
	for i := range t.N {
		row := logits[i*c : (i+1)*c]
		if slices.Index(row, slices.Max(row)) == int(t.Y[i]) {
			correct++
		}
	}
	return float64(correct) / float64(t.N), nil
}

// latencyMatrix is a row-major [rows (outputs), cols (inputs)] float32 matrix to time.
type latencyMatrix struct {
	// name is the task suffix; variable the store path of a trained weight ("" if synthetic).
	name, variable string
	w              []float32
	rows, cols     int
}

// lmRows trains moe-lm's dense LM per seed, sweeps its quantizations and returns its largest
// Dense weight (seed 1) for the latency task.
func lmRows(ctx context.Context, opts suite.Options, s Setup) ([]suite.Result, suite.Chart, latencyMatrix, error) {
	var largest latencyMatrix
	text, task := moelm.Opticks(), "opticks"
	if opts.TextFile != "" {
		b, err := os.ReadFile(opts.TextFile)
		if err != nil {
			return nil, suite.Chart{}, largest, fmt.Errorf("quant: %w", err)
		}
		text, task = string(b), "text"
	}
	c, err := moelm.NewCorpus(text)
	if err != nil {
		return nil, suite.Chart{}, largest, err
	}
	size := s.LM
	vali := c.Vali
	if size.MaxValid > 0 && len(vali) > size.MaxValid {
		vali = vali[:size.MaxValid]
	}
	opts.Logf("quant %s: %d train / %d validation characters; dense LM d=%d, %d layers, FFN %d, %d steps, %d seed(s)",
		task, len(c.Train), len(vali), size.D, size.Layers, 2*size.ExpertHidden, size.Steps, s.Seeds)
	var f32 []float64
	var per []map[config]float64
	var bytes map[config]int
	var f32Bytes int
	for seed := 1; seed <= s.Seeds; seed++ {
		if err := ctx.Err(); err != nil {
			return nil, suite.Chart{}, largest, err
		}
		modelFn := moelm.Model(size, len(c.Vocab), nil)
		res, err := train.Run(ctx, train.Config{
			Name: fmt.Sprintf("quant/lm/seed%d", seed), Backend: opts.Backend, Seed: int64(seed),
			Model: modelFn, LossFn: moelm.CrossEntropy, Optimizer: "adamw", LearningRate: size.LR,
			Schedule: train.ScheduleConfig{Kind: "cosine", WarmupSteps: size.Steps / 15, MinFactor: 0.1}, ClipGlobalNorm: 1,
			Steps: size.Steps, Train: moelm.NewWindows(c.Train, size.Batch, size.Seq, uint64(seed)),
			Progress: true,
		})
		if err != nil {
			return nil, suite.Chart{}, largest, fmt.Errorf("quant %s seed %d: %w", task, seed, err)
		}
		eval := func(store *model.Store) (float64, error) { return bpc(res, store, size, vali) }
		b, err := eval(res.Store)
		if err != nil {
			return nil, suite.Chart{}, largest, err
		}
		f32 = append(f32, b)
		m, by, fb, err := sweep(s, res.Store, eval)
		if err != nil {
			return nil, suite.Chart{}, largest, err
		}
		per, bytes, f32Bytes = append(per, m), by, fb
		if seed == 1 {
			if largest, err = largestDense(res.Store); err != nil {
				return nil, suite.Chart{}, largest, err
			}
		}
		res.Store.Finalize()
	}
	rows, chart := sweepRows(task, "bpc", false, s, f32, f32Bytes, per, bytes, size.Steps)
	return rows, chart, largest, nil
}

// largestDense returns the Dense weight with the most elements as [outputs, inputs].
func largestDense(store *model.Store) (latencyMatrix, error) {
	var best string
	for _, p := range quant.DenseWeights(store) {
		if best == "" || store.GetVariable(p).Shape().Size() > store.GetVariable(best).Shape().Size() {
			best = p
		}
	}
	v := store.GetVariable(best)
	t, err := v.Value()
	if err != nil {
		return latencyMatrix{}, err
	}
	k, n := v.Shape().Dim(0), v.Shape().Dim(1)
	flat := tensors.MustCopyFlatData[float32](t)
	w := make([]float32, n*k)
	for i := range k {
		for j := range n {
			w[j*k+i] = flat[i*n+j]
		}
	}
	return latencyMatrix{name: fmt.Sprintf("lm-%dx%d", n, k), variable: best, w: w, rows: n, cols: k}, nil
}

// bpc is the validation bits per character of res's model with the variables of store.
func bpc(res *train.Result, store *model.Store, size moelm.Size, vali []int32) (float64, error) {
	e, err := model.NewExec(res.Backend, store, func(scope *model.Scope, xs []*graph.Node) *graph.Node {
		scope.Store().SetTraining(xs[0].Graph(), false)
		logits := res.Model(scope, xs[:1])[0]
		return moelm.CrossEntropy(xs[1:2], []*graph.Node{logits})
	})
	if err != nil {
		return 0, err
	}
	defer e.Finalize()
	var total float64
	var count int
	for b, err := range moelm.NewEvalWindows(vali, size.Batch, size.Seq).Iter() {
		if err != nil {
			return 0, err
		}
		out, err := e.Call(b.Inputs[0], b.Labels[0])
		if err != nil {
			return 0, err
		}
		n := b.Labels[0].Shape().Size()
		total += float64(out[0].Value().(float32)) * float64(n)
		count += n
		out[0].MustFinalizeAll()
	}
	if count == 0 {
		return 0, fmt.Errorf("quant: validation text too short for one %dx%d batch", size.Batch, size.Seq)
	}
	return total / float64(count) / math.Ln2, nil
}

// timer is one timed arm: call runs y = W·x once for batch b.
type timer struct {
	arm   string
	bytes int
	extra map[string]any
	call  map[int]func() error
	best  map[int]float64 // µs per call
}

// latencyRows times every arm on m, round-robin so that load from other processes hits all
// alike; each arm reports the fastest of s.Reps blocks.
func latencyRows(ctx context.Context, opts suite.Options, s Setup, m latencyMatrix) ([]suite.Result, suite.Chart, error) {
	task := "latency-" + m.name
	maxB := slices.Max(s.Batches)
	r := rand.New(rand.NewPCG(7, uint64(m.rows)))
	x := make([]float32, maxB*m.cols)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	y := make([]float32, maxB*m.rows)
	var timers []*timer
	f32 := &timer{arm: "f32-go", bytes: 4 * len(m.w), call: map[int]func() error{}}
	for _, b := range s.Batches {
		f32.call[b] = func() error { quant.MatMulF32(y[:b*m.rows], m.w, x[:b*m.cols], m.rows, m.cols, b); return nil }
	}
	timers = append(timers, f32)
	be, cleanup, err := backendTimers(opts.Backend, s, m, x)
	defer cleanup()
	if err != nil {
		return nil, suite.Chart{}, fmt.Errorf("quant %s: %w", task, err)
	}
	timers = append(timers, be...)
	for _, c := range s.configs() {
		if c.method != "rtn" {
			continue // the kernel's speed does not depend on how the codes were fitted
		}
		w, err := quant.Quantize(m.w, m.rows, m.cols, quant.Config{Bits: c.bits, GroupSize: c.group, Method: c.method})
		if err != nil {
			return nil, suite.Chart{}, err
		}
		k, err := quant.NewKernel(w, maxB)
		if err != nil {
			return nil, suite.Chart{}, err
		}
		t := &timer{arm: fmt.Sprintf("lut-q%d-g%d", c.bits, c.group), bytes: w.Bytes(4), call: map[int]func() error{},
			extra: map[string]any{"bits": c.bits, "group": c.group, "weight_bytes_fp16_scales": w.Bytes(2)}}
		for _, b := range s.Batches {
			t.call[b] = func() error { return k.MatMul(y[:b*m.rows], x[:b*m.cols], b) }
		}
		timers = append(timers, t)
	}
	opts.Logf("quant %s: %q [%d, %d], %d arms, batches %v, fastest of %d blocks of ~%.0f ms (simd: %v)",
		task, m.variable, m.rows, m.cols, len(timers), s.Batches, s.Reps, s.BlockMs, quant.SIMD())
	prog := suite.NewProgress(s.Reps*len(s.Batches), "quant "+task)
	defer prog.Done()
	for _, b := range s.Batches {
		inner := map[*timer]int{}
		for _, t := range timers {
			t0 := time.Now()
			if err := t.call[b](); err != nil { // warm-up, and the block size
				return nil, suite.Chart{}, fmt.Errorf("quant %s %s: %w", task, t.arm, err)
			}
			inner[t] = max(1, int(s.BlockMs*1e3/max(1, float64(time.Since(t0).Microseconds()))))
			if t.best == nil {
				t.best = map[int]float64{}
			}
			t.best[b] = math.Inf(1)
		}
		for range s.Reps {
			if err := ctx.Err(); err != nil {
				return nil, suite.Chart{}, err
			}
			for _, t := range timers {
				t0 := time.Now()
				for range inner[t] {
					if err := t.call[b](); err != nil {
						return nil, suite.Chart{}, err
					}
				}
				t.best[b] = min(t.best[b], float64(time.Since(t0).Nanoseconds())/1e3/float64(inner[t]))
			}
			prog.Add(1)
		}
	}
	var rows []suite.Result
	chart := suite.Chart{Title: fmt.Sprintf("quant: %s batch-1 latency", task), XLabel: "bits", YLabel: "µs per matvec"}
	groupSeries := map[int]*suite.Series{}
	var groupOrder []int
	for _, t := range timers {
		for _, b := range s.Batches {
			row := suite.Row("quant", task, t.arm, fmt.Sprintf("us_batch%d", b), []float64{t.best[b]}, 0, 0)
			row.Extra["higher_is_better"] = false
			row.Extra["weight_bytes"] = t.bytes
			row.Extra["rows"], row.Extra["cols"] = m.rows, m.cols
			if m.variable != "" {
				row.Extra["variable"] = m.variable
			}
			row.Extra["speedup_vs_f32_go"] = f32.best[b] / t.best[b]
			if len(be) > 0 {
				row.Extra["speedup_vs_backend"] = be[0].best[b] / t.best[b]
			}
			for k, v := range t.extra {
				row.Extra[k] = v
			}
			if t == f32 {
				row = row.AsAnchor()
			}
			rows = append(rows, row)
		}
		if g, ok := t.extra["group"].(int); ok {
			if groupSeries[g] == nil {
				groupSeries[g] = &suite.Series{Name: fmt.Sprintf("lut g%d", g)}
				groupOrder = append(groupOrder, g)
			}
			sr := groupSeries[g]
			sr.X, sr.Y, sr.Err = append(sr.X, float64(t.extra["bits"].(int))), append(sr.Y, t.best[s.Batches[0]]), append(sr.Err, 0)
		}
	}
	for _, t := range timers[:1+len(be)] {
		sr := suite.Series{Name: t.arm}
		for _, b := range s.Bits {
			sr.X, sr.Y, sr.Err = append(sr.X, float64(b)), append(sr.Y, t.best[s.Batches[0]]), append(sr.Err, 0)
		}
		chart.Series = append(chart.Series, sr)
	}
	for _, g := range groupOrder {
		chart.Series = append(chart.Series, *groupSeries[g])
	}
	return rows, chart, nil
}

// backendTimers compiles, per batch, the backend's float32 y = x·Wᵀ (W as a [K, N] variable)
// and GoMLX's fused QuantizedDense on int8 codes (4-bit values, scales and zero points blocked
// by 128 along the outputs, the only blocking it supports).
func backendTimers(be compute.Backend, s Setup, m latencyMatrix, x []float32) ([]*timer, func(), error) {
	k, n := m.cols, m.rows
	wt := make([]float32, k*n) // [K, N]
	for j := range n {
		for i := range k {
			wt[i*n+j] = m.w[j*k+i]
		}
	}
	// Uniform 4-bit codes per (input, block of outputs), as the fused op's layout wants.
	block := min(128, n)
	nb := (n + block - 1) / block
	codes := make([]int8, k*n)
	scale := make([]float32, k*nb)
	zero := make([]float32, k*nb)
	for i := range k {
		for bl := range nb {
			lo, hi := bl*block, min((bl+1)*block, n)
			mn, mx := float32(math.Inf(1)), float32(math.Inf(-1))
			for j := lo; j < hi; j++ {
				mn, mx = min(mn, wt[i*n+j]), max(mx, wt[i*n+j])
			}
			sc := max((mx-mn)/15, 1e-12)
			scale[i*nb+bl], zero[i*nb+bl] = sc, mn
			for j := lo; j < hi; j++ {
				codes[i*n+j] = int8(math.Round(float64((wt[i*n+j] - mn) / sc)))
			}
		}
	}
	var execs []*model.Exec
	cleanup := func() {
		for _, e := range execs {
			e.Finalize()
		}
	}
	f32 := &timer{arm: "f32-backend", bytes: 4 * k * n, call: map[int]func() error{}}
	fused := &timer{arm: "gomlx-fused-int8-g128", bytes: k*n + 8*k*nb, call: map[int]func() error{},
		extra: map[string]any{"note": "uniform 4-bit values stored as int8, scales blocked along the outputs"}}
	for _, b := range s.Batches {
		xt := tensors.FromFlatDataAndDimensions(append([]float32(nil), x[:b*k]...), b, k)
		store := model.NewStore()
		wv, err := store.CreateVariable("/w", tensors.FromFlatDataAndDimensions(wt, k, n))
		if err != nil {
			return nil, cleanup, err
		}
		wv.SetTrainable(false)
		e, err := model.NewExec(be, store, func(scope *model.Scope, xn *graph.Node) *graph.Node {
			return graph.Dot(xn, wv.NodeValue(xn.Graph())).Product()
		})
		if err != nil {
			return nil, cleanup, err
		}
		execs = append(execs, e)
		f32.call[b] = func() error { return callOnce(e, xt) }
		fe, err := model.NewExec(be, model.NewStore(), func(scope *model.Scope, xn *graph.Node) *graph.Node {
			g := xn.Graph()
			q := &graph.Quantization{Scheme: compute.QuantLinear, Scale: graph.Const(g, scale), ZeroPoint: graph.Const(g, zero),
				BlockAxis: 1, BlockSize: block}
			q.Scale = graph.Reshape(q.Scale, k, nb)
			q.ZeroPoint = graph.Reshape(q.ZeroPoint, k, nb)
			w := graph.Reshape(graph.Const(g, codes), k, n)
			return nn.QuantizedDense(xn, w, q, nil)
		})
		if err != nil {
			return nil, cleanup, err
		}
		execs = append(execs, fe)
		fused.call[b] = func() error { return callOnce(fe, xt) }
	}
	return []*timer{f32, fused}, cleanup, nil
}

func callOnce(e *model.Exec, x *tensors.Tensor) error {
	out, err := e.Call(x)
	if err != nil {
		return err
	}
	for _, o := range out {
		o.MustFinalizeAll()
	}
	return nil
}

func printTables(opts suite.Options, s Setup, rows []suite.Result) {
	type key struct{ task, arm, metric string }
	get := map[key]suite.Result{}
	var tasks []string
	for _, r := range rows {
		get[key{r.Task, r.Arm, r.Metric}] = r
		if !slices.Contains(tasks, r.Task) {
			tasks = append(tasks, r.Task)
		}
	}
	for _, task := range tasks {
		if a, ok := get[key{task, "float32", "accuracy"}]; ok || get[key{task, "float32", "bpc"}].Arm != "" {
			metric := "accuracy"
			if !ok {
				metric, a = "bpc", get[key{task, "float32", "bpc"}]
			}
			opts.Logf("\nquant %s: %s (mean ± std over %d seed(s)); float32 %.4f ± %.4f, Dense weights %.0f bytes", task, metric, a.Seeds, a.Value, nanZero(a.Std), get[key{task, "float32", "weight_bytes"}].Value)
			head := fmt.Sprintf("%-6s %4s", "method", "bits")
			for _, g := range s.Groups {
				head += fmt.Sprintf(" %18s %9s", fmt.Sprintf("g=%d", g), "bytes")
			}
			opts.Logf("%s", head)
			for _, m := range s.Methods {
				for _, b := range s.Bits {
					line := fmt.Sprintf("%-6s %4d", m, b)
					for _, g := range s.Groups {
						c := config{m, b, g}
						r := get[key{task, c.arm(), metric}]
						line += fmt.Sprintf(" %9.4f ± %-6.4f %9.0f", r.Value, nanZero(r.Std), get[key{task, c.arm(), "weight_bytes"}].Value)
					}
					opts.Logf("%s", line)
				}
			}
			continue
		}
		opts.Logf("\nquant %s: µs per product (fastest block), speed-up vs f32-go and vs f32-backend", task)
		opts.Logf("%-24s %10s %s", "arm", "bytes", batchHeader(s))
		var arms []string
		for _, r := range rows {
			if r.Task == task && !slices.Contains(arms, r.Arm) {
				arms = append(arms, r.Arm)
			}
		}
		for _, arm := range arms {
			line := ""
			bytes := 0
			for _, b := range s.Batches {
				r := get[key{task, arm, fmt.Sprintf("us_batch%d", b)}]
				bytes = r.Extra["weight_bytes"].(int)
				sb, _ := r.Extra["speedup_vs_backend"].(float64)
				line += fmt.Sprintf(" %10.1f %6.2fx %6.2fx", r.Value, r.Extra["speedup_vs_f32_go"], sb)
			}
			opts.Logf("%-24s %10d%s", arm, bytes, line)
		}
		// The verdict, in words: the fastest LUT arm per batch against both float32 arms.
		for _, b := range s.Batches {
			metric := fmt.Sprintf("us_batch%d", b)
			var best suite.Result
			for _, arm := range arms {
				if r := get[key{task, arm, metric}]; len(arm) > 4 && arm[:4] == "lut-" && (best.Arm == "" || r.Value < best.Value) {
					best = r
				}
			}
			if best.Arm == "" {
				continue
			}
			verdict := func(x float64) string {
				if x >= 1 {
					return fmt.Sprintf("wins %.2fx", x)
				}
				return fmt.Sprintf("loses %.2fx", 1/x)
			}
			sb, _ := best.Extra["speedup_vs_backend"].(float64)
			f32b := get[key{task, "f32-go", metric}].Extra["weight_bytes"].(int)
			opts.Logf("batch %d: fastest LUT arm %s (%.1f µs, %d bytes = %.1f%% of float32) %s against f32-go and %s against f32-backend",
				b, best.Arm, best.Value, best.Extra["weight_bytes"], 100*float64(best.Extra["weight_bytes"].(int))/float64(f32b),
				verdict(best.Extra["speedup_vs_f32_go"].(float64)), verdict(sb))
		}
	}
}

func batchHeader(s Setup) string {
	h := ""
	for _, b := range s.Batches {
		h += fmt.Sprintf(" %10s %7s %7s", fmt.Sprintf("b%d µs", b), "vs go", "vs be")
	}
	return h
}

func nanZero(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}
