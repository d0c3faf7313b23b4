// Package lrsens is the `lr-sensitivity` benchmark: the learning-rate sweeps of Wortsman et al.,
// "Small-scale proxies for large-scale Transformer training instabilities" (ICLR 2024,
// arXiv:2309.14322), on moe-lm's character-level language model (Newton's Opticks, or -text
// FILE), dense and SMoE, at several widths.
//
// Every run uses the paper's recipe (Sec. 2) scaled down: pre-LN decoder, AdamW β = (0.9,
// 0.95), ε = 1e-8, independent weight decay 1e-4 (Sec. 3.2.2), global gradient clipping 1.0,
// linear warm-up (Size.WarmupFrac of the steps, a setting: 25% in both sizes) then cosine
// decay to 0.1. The arms
// differ only in the interventions the paper ablates:
//
//	baseline        no qk-layernorm, no z-loss
//	qk-layernorm    LayerNorm on queries and keys (Sec. 3.1.1)
//	z-loss          + 1e-4·log² Z on the output logits (Sec. 3.1.2)
//	qk-ln+z-loss    both
//	muparam         μParam (simple): 1/√fan_in init, hidden-matrix learning rates × d0/d,
//	                readout logits × d0/d, d0 the smallest width of the sweep (Sec. 3.2.4)
//
// For each (FFN, width, arm) the sweep gives the final validation loss per learning rate, the
// paper's LR sensitivity E_η[min(ℓ(η), ℓ0) − min_η' ℓ(η')] over the grid (diverged runs count
// as ℓ0 = ln V, the loss of the uniform prediction), the largest attention logit (Fig. 2) and
// the largest output logit and mean log Z (Fig. 6) during training.
//
// Deviations from the paper: ℓ0 is ln V (the uniform prediction; the paper's ℓ0 is the loss at
// initialization, close to it for its small-init models); the model keeps moe-lm's layout
// (Dense layers with biases, learned positions, He-initialized projections; the paper has no
// biases and 1/√fan_in init); 100-200 steps instead of 1e5, a 25% warm-up instead of 5%; fp32
// throughout. The μParam arm follows the "simple" recipe as summarized above; its details (which
// layers get d0/d, the readout multiplier) were not checked against the paper's text, only
// against μP's Adam table (Yang et al. 2022, arXiv:2203.03466, Table 3).
package lrsens

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/examples/bench/moelm"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/moe"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/losses"
)

func init() {
	suite.Register("lr-sensitivity", suite.Func{
		Desc: "Wortsman et al. 2023 LR sweeps on moe-lm's char LM (dense, SMoE; 3 widths): baseline vs qk-layernorm, z-loss, both, μParam (final loss per LR, LR sensitivity, max attention/output logits)",
		Fn:   run,
	})
}

// Size is the sweep: widths, learning rates and the model/training size of one run.
type Size struct {
	// Widths are the model widths d (heads of HeadDim each); SMoEWidths the widths at which
	// the SMoE FFN is swept too.
	Widths, SMoEWidths []int
	// LRs is the learning-rate grid (log-spaced).
	LRs                                []float64
	Layers, HeadDim, Seq, Batch, Steps int
	// WarmupFrac is the warm-up length as a fraction of Steps (the paper's 5e3 of 1e5: 0.05).
	WarmupFrac float64
	// MaxValid caps the validation characters.
	MaxValid int
}

// Sizes. Full: 3 widths × 7 learning rates (3 decades) × 5 arms, dense, plus SMoE at d=32
// (140 runs of 150 steps). Quick: 2 widths × 4 learning rates (3 decades), SMoE at d=16, 60
// steps. The warm-up is a quarter of the run: with the paper's 5% (of 1e5 steps there, 10-fold
// fewer here) Adam's first steps at LR ≥ 0.1 wreck every arm alike before the second-moment
// estimates settle, hiding the differences the paper measures (the paper's Sec. 3.2.1: longer
// warm-up lowers LR sensitivity).
var (
	Full = Size{Widths: []int{16, 32, 64}, SMoEWidths: []int{32}, LRs: []float64{1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1},
		Layers: 2, HeadDim: 16, Seq: 32, Batch: 16, Steps: 150, WarmupFrac: 0.25, MaxValid: 4096}
	Quick = Size{Widths: []int{16, 32}, SMoEWidths: []int{16}, LRs: []float64{1e-3, 1e-2, 1e-1, 1},
		Layers: 2, HeadDim: 16, Seq: 32, Batch: 16, Steps: 60, WarmupFrac: 0.25, MaxValid: 4096}
)

// Validate reports a bad size.
func (s Size) Validate() error {
	if len(s.Widths) == 0 || len(s.LRs) < 2 {
		return fmt.Errorf("lr-sensitivity: need >= 1 width and >= 2 learning rates, got %d and %d", len(s.Widths), len(s.LRs))
	}
	for _, w := range append(append([]int(nil), s.Widths...), s.SMoEWidths...) {
		if w <= 0 || s.HeadDim <= 0 || w%s.HeadDim != 0 {
			return fmt.Errorf("lr-sensitivity: width %d must be a positive multiple of head_dim=%d", w, s.HeadDim)
		}
	}
	for _, lr := range s.LRs {
		if !(lr > 0) {
			return fmt.Errorf("lr-sensitivity: learning rate %g must be > 0", lr)
		}
	}
	if s.WarmupFrac < 0 || s.WarmupFrac >= 1 {
		return fmt.Errorf("lr-sensitivity: warmup_frac=%g must be in [0, 1)", s.WarmupFrac)
	}
	if s.Layers < 1 || s.Seq < 2 || s.Batch < 1 || s.Steps < 1 {
		return fmt.Errorf("lr-sensitivity: layers=%d, seq=%d, batch=%d, steps=%d must be >= 1, 2, 1, 1", s.Layers, s.Seq, s.Batch, s.Steps)
	}
	return nil
}

// Arm is one set of interventions.
type Arm struct {
	Name    string
	QKNorm  bool
	ZLoss   float64
	MuParam bool
}

// Arms in table order.
var Arms = []Arm{
	{Name: "baseline"},
	{Name: "qk-layernorm", QKNorm: true},
	{Name: "z-loss", ZLoss: losses.DefaultZLoss},
	{Name: "qk-ln+z-loss", QKNorm: true, ZLoss: losses.DefaultZLoss},
	{Name: "muparam", MuParam: true},
}

// ModelConfig is one language model.
type ModelConfig struct {
	Vocab, D, Layers, Heads int
	// SMoE selects a 4-expert top-2 SMoE FFN (expert hidden 2d: the dense FFN is d -> 4d -> d,
	// equal active FLOPs).
	SMoE   bool
	QKNorm bool
	// MuParam with its base width BaseD (see the package doc).
	MuParam bool
	BaseD   int
}

// Metric names published by the model.
const (
	attnPrefix     = "attn"
	metricMaxLogit = "lm/max_output_logit"
	metricLogZ     = "lm/log_z"
)

// Model returns the language model: character embedding + learned positions + a pre-LN causal
// stack (attention logits reported per layer) + a linear readout.
func Model(mc ModelConfig) (train.ModelFn, error) {
	var ffn layers.FFN
	if mc.SMoE {
		var err error
		ffn, err = moe.NewSMoE(moe.Config{NumExperts: 4, TopK: 2, Hidden: 2 * mc.D, Activation: "gelu",
			CapacityFactor: moelm.TrainCapacityFactor, EvalCapacityFactor: moelm.EvalCapacityFactor})
		if err != nil {
			return nil, err
		}
	}
	cfg := layers.BlockConfig{DModel: mc.D, NumHeads: mc.Heads, FFNHidden: 4 * mc.D, Activation: "gelu", FFN: ffn,
		Causal: true, QKNorm: mc.QKNorm, AttnLogitMetric: attnPrefix}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		h := layers.Embedding(scope.In("embed"), in[0], dtypes.Float32, mc.Vocab, mc.D)
		h = layers.PositionalEmbedding(scope.In("pos"), h)
		stack, head := scope.In("stack"), scope.In("head")
		if mc.MuParam {
			stack = stack.WithInitializer(layers.FanInNormalInit(scope, 1)) // N(0, 1/fan_in)
			head = head.WithInitializer(layers.FanInNormalInit(scope, 1))
		}
		h = layers.Stack(stack, h, mc.Layers, cfg)
		logits := layers.MLP(head, h, layers.MLPConfig{Out: mc.Vocab})
		if mc.MuParam {
			logits = graph.MulScalar(logits, float64(mc.BaseD)/float64(mc.D)) // μP readout multiplier
		}
		sg := graph.StopGradient(logits)
		train.Report(metricMaxLogit, graph.ReduceAllMax(graph.Abs(sg)))
		train.Report(metricLogZ, graph.ReduceAllMean(losses.LogSumExp(sg)))
		return []*graph.Node{logits}
	}, nil
}

// MuParamLRScale is μParam's per-layer learning-rate multiplier: d0/d for the matrices of the
// transformer stack (attention, FFN and experts, router: fan_in ∝ d), 1 for embeddings,
// positions, the readout (whose logits are multiplied by d0/d instead), biases and norms.
func MuParamLRScale(baseD, d int) func(path string, shape shapes.Shape) float64 {
	return func(path string, shape shapes.Shape) float64 {
		if shape.Rank() >= 2 && strings.HasPrefix(path, "/stack/") {
			return float64(baseD) / float64(d)
		}
		return 1
	}
}

// RunResult is one training run.
type RunResult struct {
	// Loss is the final validation cross-entropy (nats); NaN when the run diverged.
	Loss     float64
	Diverged bool
	// MaxAttnLogit is the largest attention logit of any layer (mean over each stretch of
	// training between history points, then the maximum over the stretches); MaxOutputLogit
	// and LogZ likewise for the output logits and the mean log Z (LogZ: the last stretch).
	MaxAttnLogit, MaxOutputLogit, LogZ float64
	MsPerStep                          float64
}

// Trial trains one run.
func Trial(ctx context.Context, opts suite.Options, c *moelm.Corpus, size Size, arm Arm, d int, smoe bool, lr float64, seed int) (RunResult, error) {
	mc := ModelConfig{Vocab: len(c.Vocab), D: d, Layers: size.Layers, Heads: d / size.HeadDim, SMoE: smoe,
		QKNorm: arm.QKNorm, MuParam: arm.MuParam, BaseD: size.Widths[0]}
	modelFn, err := Model(mc)
	if err != nil {
		return RunResult{}, err
	}
	acfg := optimizers.AdamWConfig{LearningRate: lr, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: optimizers.Ptr(1e-4),
		IndependentDecay: true, Groups: optimizers.GroupConfig{Quiet: true}}
	if arm.MuParam {
		acfg.LRScale = MuParamLRScale(mc.BaseD, d)
	}
	opt, err := optimizers.NewAdamW(acfg)
	if err != nil {
		return RunResult{}, err
	}
	zc := arm.ZLoss
	lossFn := func(labels, preds []*graph.Node) *graph.Node {
		return graph.ReduceAllMean(losses.CrossEntropyZLoss(labels[0], preds[0], zc))
	}
	every := max(1, size.Steps/6)
	res, err := train.Run(ctx, train.Config{
		Name: fmt.Sprintf("lrsens/%s/d%d/lr%g", arm.Name, d, lr), Backend: opts.Backend, Seed: int64(seed),
		Model: modelFn, LossFn: lossFn, OptimizerImpl: opt, LearningRate: lr,
		Schedule: train.ScheduleConfig{Kind: "cosine", WarmupSteps: max(1, int(size.WarmupFrac*float64(size.Steps))),
			TotalSteps: size.Steps, MinFactor: 0.1},
		ClipGlobalNorm: 1, Steps: size.Steps, EvalEvery: every,
		Train: moelm.NewWindows(c.Train, size.Batch, size.Seq, uint64(seed)),
	})
	if err != nil {
		if strings.Contains(err.Error(), "is not finite") {
			return RunResult{Loss: math.NaN(), Diverged: true, MaxAttnLogit: math.Inf(1), MaxOutputLogit: math.Inf(1), LogZ: math.NaN(), MsPerStep: math.NaN()}, nil
		}
		return RunResult{}, err
	}
	out := RunResult{MsPerStep: res.MsPerStep, MaxAttnLogit: math.Inf(-1), MaxOutputLogit: math.Inf(-1)}
	for _, p := range res.History {
		for k, v := range p.Metrics {
			switch {
			case strings.HasPrefix(k, attnPrefix+"/") && strings.HasSuffix(k, "/max_attn_logit"):
				out.MaxAttnLogit = math.Max(out.MaxAttnLogit, v)
			case k == metricMaxLogit:
				out.MaxOutputLogit = math.Max(out.MaxOutputLogit, v)
			case k == metricLogZ:
				out.LogZ = v
			}
		}
	}
	vali := c.Vali
	if size.MaxValid > 0 && len(vali) > size.MaxValid {
		vali = vali[:size.MaxValid]
	}
	if out.Loss, err = validLoss(res, vali, size); err != nil {
		return out, err
	}
	if math.IsNaN(out.Loss) || math.IsInf(out.Loss, 0) {
		out.Diverged = true
	}
	return out, nil
}

// validLoss is the mean next-character cross-entropy (nats, no z-loss) over the
// non-overlapping windows of ids, in inference mode.
func validLoss(res *train.Result, ids []int32, size Size) (float64, error) {
	e, err := model.NewExec(res.Backend, res.Store, func(scope *model.Scope, xs []*graph.Node) *graph.Node {
		scope.Store().SetTraining(xs[0].Graph(), false)
		logits := res.Model(scope, xs[:1])[0]
		return graph.ReduceAllSum(losses.CrossEntropyZLoss(xs[1], logits, 0))
	})
	if err != nil {
		return 0, err
	}
	defer e.Finalize()
	var total float64
	var count int
	for b, err := range moelm.NewEvalWindows(ids, size.Batch, size.Seq).Iter() {
		if err != nil {
			return 0, err
		}
		out, err := e.Call(b.Inputs[0], b.Labels[0])
		if err != nil {
			return 0, err
		}
		total += float64(out[0].Value().(float32))
		count += b.Labels[0].Shape().Size()
		out[0].MustFinalizeAll()
	}
	if count == 0 {
		return 0, fmt.Errorf("lr-sensitivity: validation text too short for one batch of %dx%d", size.Batch, size.Seq)
	}
	return total / float64(count), nil
}

// LRSensitivity is Wortsman et al.'s Eq. (1): the mean over the grid of min(ℓ(η), ℓ0) minus the
// best loss of the grid, diverged (NaN) runs counting as ℓ0.
func LRSensitivity(lossByLR []float64, l0 float64) float64 {
	best := l0
	clipped := make([]float64, len(lossByLR))
	for i, l := range lossByLR {
		if math.IsNaN(l) || l > l0 {
			l = l0 // min(ℓ, ℓ0); a diverged run is ℓ0
		}
		clipped[i] = l
		best = math.Min(best, l)
	}
	var sum float64
	for _, l := range clipped {
		sum += l - best
	}
	return sum / float64(len(clipped))
}

// sweep is one (FFN, width) curve of one arm, per learning rate, over seeds.
type sweep struct {
	ffn         string
	d           int
	arm         Arm
	runs        [][]RunResult // [lr][seed]
	msPerStep   float64
	l0          float64
	seedsPerRun int
}

func (s sweep) task() string { return fmt.Sprintf("%s-d%d", s.ffn, s.d) }

// per returns f over seeds for learning rate i.
func (s sweep) per(i int, f func(RunResult) float64) []float64 {
	out := make([]float64, len(s.runs[i]))
	for j, r := range s.runs[i] {
		out[j] = f(r)
	}
	return out
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	text, task := moelm.Opticks(), "opticks"
	if opts.TextFile != "" {
		b, err := os.ReadFile(opts.TextFile)
		if err != nil {
			return nil, fmt.Errorf("lr-sensitivity: %w", err)
		}
		text, task = string(b), "text"
	}
	if opts.DataFile != "" {
		opts.Logf("lr-sensitivity: -data does not apply (a language model over text: use -text FILE); running on %s", task)
	}
	c, err := moelm.NewCorpus(text)
	if err != nil {
		return nil, err
	}
	size := Full
	if opts.Quick {
		size = Quick
	}
	return Sweep(ctx, opts, c, task, size)
}

// Sweep runs every (FFN, width, arm, learning rate) of size and returns the rows.
func Sweep(ctx context.Context, opts suite.Options, c *moelm.Corpus, task string, size Size) ([]suite.Result, error) {
	if err := size.Validate(); err != nil {
		return nil, err
	}
	seeds := opts.SeedsOr(1, 1)
	l0 := math.Log(float64(len(c.Vocab)))
	type cell struct {
		ffn string
		d   int
	}
	var cells []cell
	for _, d := range size.Widths {
		cells = append(cells, cell{"dense", d})
	}
	for _, d := range size.SMoEWidths {
		cells = append(cells, cell{"smoe", d})
	}
	total := len(cells) * len(Arms) * len(size.LRs) * seeds
	opts.Logf("lr-sensitivity: %s, vocabulary %d (ℓ0 = ln V = %.3f nats); widths %v (SMoE at %v), %d layers, head dim %d, seq %d, batch %d, %d steps, warm-up %.0f%%, LRs %v; %d runs",
		task, len(c.Vocab), l0, size.Widths, size.SMoEWidths, size.Layers, size.HeadDim, size.Seq, size.Batch, size.Steps, 100*size.WarmupFrac, size.LRs, total)
	start := time.Now()
	bar := suite.NewProgress(total, "lr-sensitivity")
	defer bar.Done()
	var sweeps []sweep
	for _, cl := range cells {
		for _, arm := range Arms {
			sw := sweep{ffn: cl.ffn, d: cl.d, arm: arm, l0: l0, seedsPerRun: seeds}
			var ms []float64
			for _, lr := range size.LRs {
				var rs []RunResult
				for s := range seeds {
					if err := ctx.Err(); err != nil {
						return nil, err
					}
					bar.Describe(fmt.Sprintf("%s d=%d %s lr=%g", cl.ffn, cl.d, arm.Name, lr))
					r, err := Trial(ctx, opts, c, size, arm, cl.d, cl.ffn == "smoe", lr, s+1)
					if err != nil {
						return nil, fmt.Errorf("lr-sensitivity %s d=%d %s lr=%g seed %d: %w", cl.ffn, cl.d, arm.Name, lr, s+1, err)
					}
					if !math.IsNaN(r.MsPerStep) {
						ms = append(ms, r.MsPerStep)
					}
					rs = append(rs, r)
					bar.Add(1)
				}
				sw.runs = append(sw.runs, rs)
			}
			sw.msPerStep, _ = suite.MeanStd(ms)
			sweeps = append(sweeps, sw)
			line := fmt.Sprintf("lr-sensitivity %s %s (%.0f ms/step, %.0fs elapsed): loss by lr", sw.task(), arm.Name, sw.msPerStep, time.Since(start).Seconds())
			for i := range size.LRs {
				line += fmt.Sprintf(" %.3f", mean(sw.per(i, func(r RunResult) float64 { return r.Loss })))
			}
			opts.Logf("%s", line)
		}
	}
	bar.Done()
	rows := Rows(sweeps, size)
	printTable(opts, sweeps, size)
	if p := opts.PlotPath("lr-sensitivity", "loss-vs-lr"); p != "" {
		if err := suite.SavePlots(p, charts(sweeps, size)...); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

func lrName(lr float64) string { return fmt.Sprintf("lr=%g", lr) }

// Rows turns the sweeps into result rows: per (FFN, width) task "<ffn>-d<d>" the final loss at
// each learning rate ("loss@lr=…"), the best loss and the LR sensitivity; task
// "<ffn>-d<d>/attn-logit" the largest attention logit at each learning rate; task
// "<ffn>-d<d>/output-logit" the largest |output logit| (mean log Z in Extra).
func Rows(sweeps []sweep, size Size) []suite.Result {
	var rows []suite.Result
	for _, sw := range sweeps {
		mk := func(task, metric string, vals []float64) suite.Result {
			r := suite.Row("lr-sensitivity", task, sw.arm.Name, metric, vals, sw.msPerStep, size.Steps)
			r.Extra["higher_is_better"] = false
			return r
		}
		nSeeds := len(sw.runs[0])
		sens, best := make([]float64, nSeeds), make([]float64, nSeeds)
		for s := range nSeeds {
			curve := make([]float64, len(size.LRs))
			for i := range size.LRs {
				curve[i] = sw.runs[i][s].Loss
			}
			sens[s] = LRSensitivity(curve, sw.l0)
			best[s] = sw.l0
			for _, l := range curve {
				if !math.IsNaN(l) {
					best[s] = math.Min(best[s], l)
				}
			}
		}
		for i, lr := range size.LRs {
			loss := mk(sw.task(), "loss@"+lrName(lr), sw.per(i, func(r RunResult) float64 { return r.Loss }))
			loss.Extra["lr"], loss.Extra["width"], loss.Extra["ffn"] = lr, sw.d, sw.ffn
			loss.Extra["diverged"] = sw.per(i, func(r RunResult) float64 { return b2f(r.Diverged) })
			rows = append(rows, loss)
		}
		bestRow := mk(sw.task(), "best_loss", best)
		bestRow.Extra["l0"] = sw.l0
		sensRow := mk(sw.task(), "lr_sensitivity", sens)
		sensRow.Extra["l0"], sensRow.Extra["lrs"] = sw.l0, size.LRs
		rows = append(rows, bestRow, sensRow)
		for i, lr := range size.LRs {
			a := mk(sw.task()+"/attn-logit", "max_attn_logit@"+lrName(lr), sw.per(i, func(r RunResult) float64 { return r.MaxAttnLogit }))
			a.Extra["lr"] = lr
			o := mk(sw.task()+"/output-logit", "max_output_logit@"+lrName(lr), sw.per(i, func(r RunResult) float64 { return r.MaxOutputLogit }))
			o.Extra["lr"], o.Extra["log_z"] = lr, sw.per(i, func(r RunResult) float64 { return r.LogZ })
			rows = append(rows, a, o)
		}
	}
	return rows
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func mean(xs []float64) float64 { m, _ := suite.MeanStd(xs); return m }

func printTable(opts suite.Options, sweeps []sweep, size Size) {
	head := fmt.Sprintf("%-10s %-13s", "model", "arm")
	for _, lr := range size.LRs {
		head += fmt.Sprintf(" %8s", fmt.Sprintf("%g", lr))
	}
	opts.Logf("\nlr-sensitivity: final validation loss (nats) per learning rate (div = diverged, counted as ℓ0 = ln V); LR sensitivity; max attention logit and max |output logit| at each LR")
	opts.Logf("%s %8s %8s", head, "best", "LR-sens")
	for _, sw := range sweeps {
		line := fmt.Sprintf("%-10s %-13s", sw.task(), sw.arm.Name)
		curve := make([]float64, len(size.LRs))
		for i := range size.LRs {
			curve[i] = mean(sw.per(i, func(r RunResult) float64 { return r.Loss }))
			if math.IsNaN(curve[i]) {
				line += fmt.Sprintf(" %8s", "div")
			} else {
				line += fmt.Sprintf(" %8.3f", curve[i])
			}
		}
		best := sw.l0
		for _, l := range curve {
			if !math.IsNaN(l) {
				best = math.Min(best, l)
			}
		}
		opts.Logf("%s %8.3f %8.3f", line, best, LRSensitivity(curve, sw.l0))
	}
	for _, what := range []struct {
		name string
		f    func(RunResult) float64
	}{{"max attention logit", func(r RunResult) float64 { return r.MaxAttnLogit }},
		{"max |output logit|", func(r RunResult) float64 { return r.MaxOutputLogit }},
		{"mean log Z (last stretch)", func(r RunResult) float64 { return r.LogZ }}} {
		opts.Logf("\n%s per learning rate", what.name)
		opts.Logf("%s", head)
		for _, sw := range sweeps {
			line := fmt.Sprintf("%-10s %-13s", sw.task(), sw.arm.Name)
			for i := range size.LRs {
				line += fmt.Sprintf(" %8.3g", mean(sw.per(i, what.f)))
			}
			opts.Logf("%s", line)
		}
	}
}

// charts: final loss vs learning rate (log x), one chart per (FFN, width), one series per arm.
func charts(sweeps []sweep, size Size) []suite.Chart {
	var out []suite.Chart
	idx := map[string]int{}
	for _, sw := range sweeps {
		i, ok := idx[sw.task()]
		if !ok {
			i = len(out)
			idx[sw.task()] = i
			out = append(out, suite.Chart{Title: "lr-sensitivity " + sw.task() + ": final validation loss (diverged = ℓ0)",
				XLabel: "learning rate", YLabel: "loss (nats)", LogX: true})
		}
		s := suite.Series{Name: sw.arm.Name}
		for j, lr := range size.LRs {
			l := mean(sw.per(j, func(r RunResult) float64 { return r.Loss }))
			if math.IsNaN(l) || l > sw.l0 {
				l = sw.l0
			}
			s.X, s.Y = append(s.X, lr), append(s.Y, l)
		}
		out[i].Series = append(out[i].Series, s)
	}
	return out
}
