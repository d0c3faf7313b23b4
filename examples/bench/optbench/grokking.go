package optbench

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

// ModularAddition returns the dataset of the grokking paper's default task: every pair (a, b)
// of residues mod p, encoded as the concatenation of two one-hot vectors (2p features), labelled
// (a + b) mod p.
func ModularAddition(p int) *data.Table {
	t := &data.Table{Name: fmt.Sprintf("add_mod_%d", p), N: p * p, D: 2 * p, Task: data.Classification, NumClasses: p}
	t.X = make([]float64, t.N*t.D)
	t.Y = make([]float64, t.N)
	for a := range p {
		for b := range p {
			i := a*p + b
			t.X[i*t.D+a] = 1
			t.X[i*t.D+p+b] = 1
			t.Y[i] = float64((a + b) % p)
		}
	}
	for c := range p {
		t.ClassNames = append(t.ClassNames, fmt.Sprint(c))
	}
	return t
}

// grokArm is one arm of the grokking benchmark.
type grokArm struct {
	name, loss, optimizer string
	params                map[string]any
	note                  string
}

// grokArms follow the paper's Figure 1 runs (run_main_experiments.sh): lr 0.01, no weight
// decay, full batch, float32 model; AdamW's ε is the script's 1e-25.
func grokArms() []grokArm {
	common := map[string]any{optimizers.ParamLearningRate: 0.01, optimizers.ParamWeightDecay: 0.0}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range common {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	return []grokArm{
		{name: "softmax+adamw", loss: "cross_entropy", optimizer: "adamw",
			params: with(optimizers.ParamBeta2, 0.99, optimizers.ParamEpsilon, 1e-25),
			note:   "float32 softmax cross-entropy, AdamW β2 0.99, ε 1e-25"},
		{name: "stablemax+adamw", loss: "stablemax_ce", optimizer: "adamw",
			params: with(optimizers.ParamBeta2, 0.999, optimizers.ParamEpsilon, 1e-25),
			note:   "StableMax cross-entropy (float64 inside), AdamW β2 0.999, ε 1e-25"},
		// The script's ⊥AdamW silently runs its base AdamW with torch's defaults (the state-dict
		// quirk in the research notes): β (0.9, 0.999), ε 1e-8.
		{name: "perpgrad+adamw", loss: "cross_entropy", optimizer: "perpgrad+adamw",
			params: with(optimizers.ParamBeta2, 0.999, optimizers.ParamEpsilon, 1e-8),
			note:   "float32 softmax cross-entropy, ⊥AdamW (base at torch defaults, as the script runs it)"},
	}
}

// stepsTo returns the first evaluated step whose metric reaches at least level, or NaN.
func stepsTo(res *train.Result, metric string, level float64) float64 {
	for _, p := range res.History {
		if v, ok := p.Metrics[metric]; ok && v >= level {
			return float64(p.Step)
		}
	}
	return math.NaN()
}

// grokTask is one task of the grokking benchmark: modular addition mod P with TrainFrac of the
// pairs for training, full-batch steps, and the arms compared.
type grokTask struct {
	P                 int
	TrainFrac         float64
	Hidden            int
	Steps, QuickSteps int
	EvalEvery         int
	QuickEvalEvery    int
	Arms              []grokArm
	// Checkpoints is the number of evenly spaced points at which the zero-loss (Softmax
	// Collapse) fraction of the training set is recorded (besides the end); with Stop.CollapseEvals
	// set it is recorded at every evaluation instead.
	Checkpoints int
	// Stop ends an arm once its outcome is decided (zero value: every arm runs all its steps).
	Stop    grokStop
	Purpose string
}

// grokStop ends an arm before its step budget once the outcome is decided; the arm's final
// metrics are then those of the evaluation where it stopped. The two outcomes are those of
// Prieto, Barsbey, Mediano & Birdal, "Grokking at the Edge of Numerical Stability", ICLR 2025,
// arXiv:2501.04697, Figure 1 and Section 3: without weight decay StableMax groks, while float32
// softmax reaches Softmax Collapse (an example's loss rounds to exactly 0: the correct class's
// gradient term is exactly 0, the others are tiny, and the example stops driving learning) and
// stays far below it.
type grokStop struct {
	// Accuracy: an arm stops at the first evaluation whose test accuracy is at least this
	// (it has grokked). 0 disables the rule.
	Accuracy float64
	// CollapseEvals: an arm other than Reference stops once, at this many consecutive
	// evaluations, at least CollapseLevel of its training examples have a loss of exactly 0
	// (Softmax Collapse: their gradient is gone) and its test accuracy is below FarBelow times
	// the Reference arm's at the same step (same seed; Reference must be the first of Arms).
	// 0 disables the rule.
	CollapseEvals int
	CollapseLevel float64
	FarBelow      float64
	Reference     string
}

// validate checks the rule against the task's arms.
func (s grokStop) validate(arms []grokArm) error {
	if !(s.Accuracy >= 0 && s.Accuracy <= 1) {
		return fmt.Errorf("grokking: stop accuracy=%g must be in [0, 1] (0 disables it)", s.Accuracy)
	}
	if s.CollapseEvals < 0 {
		return fmt.Errorf("grokking: stop collapse_evals=%d must be >= 0 (0 disables it)", s.CollapseEvals)
	}
	if s.CollapseEvals == 0 {
		return nil
	}
	if !(s.CollapseLevel > 0 && s.CollapseLevel <= 1) {
		return fmt.Errorf("grokking: stop collapse_level=%g must be in (0, 1]", s.CollapseLevel)
	}
	if !(s.FarBelow > 0 && s.FarBelow < 1) {
		return fmt.Errorf("grokking: stop far_below=%g must be in (0, 1)", s.FarBelow)
	}
	var names []string
	for _, a := range arms {
		names = append(names, a.name)
	}
	if len(arms) == 0 || arms[0].name != s.Reference {
		return fmt.Errorf("grokking: stop reference=%q must be the task's first arm (the others are compared with it); arms are %v", s.Reference, names)
	}
	return nil
}

// grokModel is the paper's MLP: no biases, ReLU, sizes 2p-hidden-hidden-p, torch.nn.Linear's
// uniform init. The first layer stays a matmul with the one-hot input: replacing it by two row
// gathers of the weight (the same function) made the p = 59 step slower on the Go backend
// (30.0 vs 26.0-27.7 ms, 2026-12-05), its backward being a scatter-add.
func grokModel(p, hidden int) train.ModelFn {
	return func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		return []*graph.Node{MLP(scope.In("mlp"), in[0], []int{2 * p, hidden, hidden, p}, false, false)}
	}
}

// grokTasks: the ⊥Grad half of the paper (mod 113, 40% train: ⊥AdamW groks within 1000 steps
// while AdamW without weight decay does not), and the StableMax half (mod 59, 70% train: with
// no weight decay, StableMax cross-entropy groks while float32 softmax cross-entropy collapses,
// its training loss reaching exactly 0 on all examples). The StableMax setting is the
// cheapest we found where the paper's Figure 1 effect shows: p 59, fraction 0.7 (at 0.5 StableMax
// had not moved from chance after 4k steps), lr 0.01, full batch; its test accuracy passed 0.9
// near 15k steps in the run that chose it (2026-12-05). The width stays the official code's
// [200, 200]: a 128-wide MLP was only a little ahead (test accuracy 0.245 vs 0.200 at step 3,000).
// Its arms stop once decided (grokStop): StableMax at 0.9 test accuracy, then softmax once all
// its training examples have been at zero loss for 4 evaluations (1,000 steps) with its test
// accuracy below a quarter of StableMax's at the same step; 18,000 steps stay the budget. In the
// run of 2026-12-05 StableMax stopped at step 14,750 (0.909) and softmax at step 4,250 (0.033
// against StableMax's 0.285 there): 19,000 steps instead of 36,000.
func grokTasks() []grokTask {
	arms := grokArms()
	return []grokTask{
		{P: 113, TrainFrac: 0.4, Hidden: 200, Steps: 1000, QuickSteps: 200, EvalEvery: 25, QuickEvalEvery: 25,
			Arms: arms, Checkpoints: 4, Purpose: "⊥Grad"},
		{P: 59, TrainFrac: 0.7, Hidden: 200, Steps: 18000, QuickSteps: 800, EvalEvery: 250, QuickEvalEvery: 100,
			Arms: []grokArm{arms[1], arms[0]}, Checkpoints: 6, Purpose: "StableMax",
			Stop: grokStop{Accuracy: 0.9, CollapseEvals: 4, CollapseLevel: 1, FarBelow: 0.25, Reference: arms[1].name}},
	}
}

// grokMonitor is the arm's evaluation callback: it records the zero-loss (Softmax Collapse)
// fraction of the training set at evenly spaced evaluations (every evaluation when the
// collapse rule is on) and ends the run by the task's grokStop rules, keeping the reason.
type grokMonitor struct {
	every, evals int
	// zeroLoss returns the fraction of training examples at exactly zero loss
	// (zeroLossFraction on the arm's training table).
	zeroLoss  func(*train.Result) (float64, error)
	steps     []float64
	fractions []float64

	stop      grokStop
	reference *refCurve // nil: the collapse rule does not apply to this arm
	collapsed int       // consecutive evaluations at or above stop.CollapseLevel
	// StopStep and Reason are set when a rule ended the run; RefAccuracy is the reference
	// arm's test accuracy at StopStep when the collapse rule ended it.
	StopStep    int
	Reason      string
	RefAccuracy float64
}

// refCurve is the reference arm's test accuracy against step.
type refCurve struct {
	name       string
	steps, acc []float64
}

// at returns the accuracy at the last evaluation at or before step (the arm's last evaluation
// if it stopped earlier), or NaN if it had not been evaluated yet.
func (r *refCurve) at(step float64) float64 {
	v := math.NaN()
	for i, s := range r.steps {
		if s > step {
			break
		}
		v = r.acc[i]
	}
	return v
}

// OnEval implements train.EvalCallback.
func (c *grokMonitor) OnEval(p train.EvalPoint, res *train.Result) error {
	c.evals++
	collapseRule := c.stop.CollapseEvals > 0 && c.reference != nil
	if !collapseRule && (c.every <= 0 || c.evals%c.every != 0) {
		return c.accuracyRule(p)
	}
	f, err := c.zeroLoss(res)
	if err != nil {
		return err
	}
	c.steps = append(c.steps, float64(p.Step))
	c.fractions = append(c.fractions, f)
	if !collapseRule {
		return c.accuracyRule(p)
	}
	if f >= c.stop.CollapseLevel {
		c.collapsed++
	} else {
		c.collapsed = 0
	}
	acc, ref := p.Metrics["test/accuracy"], c.reference.at(float64(p.Step))
	// Strictly below: a reference still at 0 decides nothing.
	if c.collapsed >= c.stop.CollapseEvals && acc < c.stop.FarBelow*ref {
		c.StopStep, c.RefAccuracy = p.Step, ref
		c.Reason = fmt.Sprintf("collapsed: zero-loss fraction >= %g at %d consecutive evaluations, test accuracy %.3f < %g x %s's %.3f at step %d",
			c.stop.CollapseLevel, c.collapsed, acc, c.stop.FarBelow, c.reference.name, ref, p.Step)
		return train.ErrStop
	}
	return c.accuracyRule(p)
}

// accuracyRule stops the run once the test accuracy reaches stop.Accuracy.
func (c *grokMonitor) accuracyRule(p train.EvalPoint) error {
	if acc := p.Metrics["test/accuracy"]; c.stop.Accuracy > 0 && acc >= c.stop.Accuracy {
		c.StopStep = p.Step
		c.Reason = fmt.Sprintf("grokked: test accuracy %.3f >= %g at step %d", acc, c.stop.Accuracy, p.Step)
		return train.ErrStop
	}
	return nil
}

func runGrokking(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	ignoreData(opts, "grokking", "modular addition mod 113 and mod 59")
	var rows []suite.Result
	for _, task := range grokTasks() {
		r, err := runGrokTask(ctx, opts, task)
		rows = append(rows, r...)
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

func runGrokTask(ctx context.Context, opts suite.Options, task grokTask) ([]suite.Result, error) {
	if err := task.Stop.validate(task.Arms); err != nil {
		return nil, err
	}
	p, trainFrac, hidden := task.P, task.TrainFrac, task.Hidden
	steps, evalEvery := task.Steps, task.EvalEvery
	if opts.Quick {
		steps, evalEvery = task.QuickSteps, task.QuickEvalEvery
	}
	taskName := fmt.Sprintf("add_mod_%d", p)
	seeds := opts.SeedsOr(1, 1)
	full := ModularAddition(p)
	arms := task.Arms
	bar := suite.NewProgress(len(arms)*seeds*steps, "grokking "+taskName)
	defer bar.Done()
	var rows []suite.Result
	var lines, stops []string
	var accChart, lossChart, collapseChart suite.Chart
	refs := make([]*refCurve, seeds) // the reference arm's test accuracy per seed
	for _, arm := range arms {
		var to90, finalTest, finalTrain, zeroLoss, ms, stepsRun, refAtStop []float64
		var reasons []string
		var curve, collapse map[string]any
		for s := range seeds {
			trainT, testT, err := full.Split(1-trainFrac, uint64(s+1))
			if err != nil {
				return rows, err
			}
			trainDS, err := data.NewTrainBatches(trainT, trainT.N, uint64(s+1)) // full batch
			if err != nil {
				return rows, err
			}
			testDS, err := data.NewEvalBatches(testT, 4096)
			if err != nil {
				return rows, err
			}
			trainEval, err := data.NewEvalBatches(trainT, 4096)
			if err != nil {
				return rows, err
			}
			store := model.NewStore()
			params := map[string]any{optimizers.ParamLogGroups: false}
			for k, v := range arm.params {
				params[k] = v
			}
			store.SetParams(params)
			opt, err := optimizers.New(store.RootScope(), arm.optimizer)
			if err != nil {
				return rows, err
			}
			stable := arm.loss == "stablemax_ce"
			mon := &grokMonitor{stop: task.Stop, RefAccuracy: math.NaN(),
				zeroLoss: func(res *train.Result) (float64, error) { return zeroLossFraction(res, trainT, stable) }}
			if task.Checkpoints > 0 {
				mon.every = max(1, steps/evalEvery/task.Checkpoints)
			}
			if task.Stop.CollapseEvals > 0 && arm.name != task.Stop.Reference {
				mon.reference = refs[s]
			}
			res, err := train.Run(ctx, train.Config{
				Name: fmt.Sprintf("grokking/%s/%s/seed%d", taskName, arm.name, s+1), Backend: opts.Backend, Store: store, Seed: int64(s + 1),
				Model: grokModel(p, hidden), Loss: arm.loss, OptimizerImpl: opt, Steps: steps, Train: trainDS,
				Eval:    []train.EvalSet{{Name: "test", Data: testDS}, {Name: "trainset", Data: trainEval}},
				Metrics: []string{"accuracy"}, EvalEvery: evalEvery,
				Callbacks: []train.Callback{progressCallback{bar}, mon},
			})
			if err != nil {
				return rows, fmt.Errorf("grokking %s %s seed %d: %w", taskName, arm.name, s+1, err)
			}
			bar.Add(steps - res.Steps) // the steps a stopped arm did not need
			if arm.name == task.Stop.Reference {
				x, y := res.Curve("test/accuracy")
				refs[s] = &refCurve{name: arm.name, steps: x, acc: y}
			}
			reason := mon.Reason
			if reason == "" {
				reason = fmt.Sprintf("no stop rule decided: ran all %d steps", steps)
			}
			reasons = append(reasons, reason)
			stepsRun = append(stepsRun, float64(res.Steps))
			refAtStop = append(refAtStop, mon.RefAccuracy)
			zl, err := zeroLossFraction(res, trainT, stable)
			if err != nil {
				return rows, err
			}
			zeroLoss = append(zeroLoss, zl)
			to90 = append(to90, stepsTo(res, "test/accuracy", 0.9))
			finalTest = append(finalTest, res.Final["test/accuracy"])
			finalTrain = append(finalTrain, res.Final["trainset/accuracy"])
			ms = append(ms, res.MsPerStep)
			if s == 0 {
				x, y := res.Curve("test/accuracy")
				curve = map[string]any{"step": x, "test_accuracy": y}
				collapse = map[string]any{"step": mon.steps, "zero_loss_fraction": mon.fractions}
				accChart.Series = append(accChart.Series, suite.Series{Name: arm.name + " test", X: x, Y: y})
				x, y = res.Curve("trainset/accuracy")
				accChart.Series = append(accChart.Series, suite.Series{Name: arm.name + " train", X: x, Y: y})
				x, y = res.Curve("trainset/loss")
				lossChart.Series = append(lossChart.Series, suite.Series{Name: arm.name, X: x, Y: y})
				collapseChart.Series = append(collapseChart.Series, suite.Series{Name: arm.name, X: mon.steps, Y: mon.fractions})
			}
			if task.Stop != (grokStop{}) {
				stops = append(stops, fmt.Sprintf("  %s seed %d: %s", arm.name, s+1, reason))
			}
		}
		msMean, _ := suite.MeanStd(ms)
		maxRun := 0
		for _, v := range stepsRun {
			maxRun = max(maxRun, int(v))
		}
		for _, m := range []struct {
			name string
			vals []float64
		}{{"steps_to_90", to90}, {"accuracy", finalTest}, {"train_accuracy", finalTrain}, {"zero_loss_fraction", zeroLoss}} {
			row := suite.Row("grokking", taskName, arm.name, m.name, m.vals, msMean, maxRun)
			row.Extra["per_seed"] = jsonSafe(m.vals) // "never" (NaN) is null in JSON
			row.Extra["note"] = arm.note
			row.Extra["train_fraction"] = trainFrac
			row.Extra["half"] = task.Purpose
			row.Extra["step_budget"] = steps
			row.Extra["steps_run"] = stepsRun
			row.Extra["stop_reason"] = reasons
			if arm.name != task.Stop.Reference && task.Stop.CollapseEvals > 0 {
				row.Extra["reference_accuracy_at_stop"] = jsonSafe(refAtStop)
			}
			if m.name == "accuracy" {
				row.Extra["curve_seed1"] = curve
			}
			if m.name == "zero_loss_fraction" {
				row.Extra["checkpoints_seed1"] = collapse
			}
			rows = append(rows, row)
		}
		mt, _ := suite.MeanStd(finalTest)
		mtr, _ := suite.MeanStd(finalTrain)
		m90, _ := suite.MeanStd(to90)
		mz, _ := suite.MeanStd(zeroLoss)
		mr, _ := suite.MeanStd(stepsRun)
		lines = append(lines, fmt.Sprintf("%-18s %12s %10.3f %10.3f %12.3f %9.0f %8.1f", arm.name, fmtSteps(m90), mtr, mt, mz, mr, msMean))
	}
	opts.Logf("\nGrokking (%s half): (a + b) mod %d, %.0f%% train, MLP %d-%d-%d-%d without biases, full batch, lr 0.01, no weight decay, up to %d steps, %d seed(s)",
		task.Purpose, p, 100*trainFrac, 2*p, hidden, hidden, p, steps, seeds)
	opts.Logf("%-18s %12s %10s %10s %12s %9s %8s", "arm", "test>=90% at", "train acc", "test acc", "zero-loss fr", "steps run", "ms/step")
	opts.Logf("%s", strings.Join(lines, "\n"))
	if len(stops) > 0 {
		opts.Logf("%s", strings.Join(stops, "\n"))
	}
	if path := opts.PlotPath("grokking", "accuracy_"+taskName); path != "" {
		accChart.Title = fmt.Sprintf("Grokking (a+b) mod %d, %.0f%% train: accuracy", p, 100*trainFrac)
		accChart.XLabel, accChart.YLabel = "step", "accuracy"
		lossChart.Title, lossChart.XLabel, lossChart.YLabel, lossChart.LogY = "training loss", "step", "loss", true
		collapseChart.Title, collapseChart.XLabel, collapseChart.YLabel = "training examples with loss exactly 0 (Softmax Collapse)", "step", "fraction"
		if err := suite.SavePlots(path, accChart, lossChart, collapseChart); err != nil {
			return rows, err
		}
		opts.Logf("plot: %s", filepath.Clean(path))
	}
	return rows, nil
}

// zeroLossFraction is the fraction of training examples whose loss is exactly 0 at the end of
// the run, in the precision the arm's loss is computed in: float32 log-softmax (the paper's
// Softmax Collapse: the example's gradient vanishes, so learning stalls) or, for StableMax,
// float64 log-StableMax.
func zeroLossFraction(res *train.Result, t *data.Table, stable bool) (float64, error) {
	xs := make([]float32, len(t.X))
	for i, v := range t.X {
		xs[i] = float32(v)
	}
	out, err := res.Predict(tensors.FromFlatDataAndDimensions(xs, t.N, t.D))
	if err != nil {
		return 0, err
	}
	labels := make([]int, t.N)
	for i, y := range t.Y {
		labels[i] = int(y)
	}
	return zeroLossFractionOf(tensors.MustCopyFlatData[float32](out[0]), labels, stable), nil
}

// zeroLossFractionOf is zeroLossFraction on logits [N, C] (row-major) and their labels.
func zeroLossFractionOf(logits []float32, labels []int, stable bool) float64 {
	n := len(labels)
	c := len(logits) / n
	zero := 0
	for i := range n {
		row := logits[i*c : (i+1)*c]
		y := labels[i]
		if stable {
			if logStableMax64(row, y) == 0 {
				zero++
			}
			continue
		}
		// torch's float32 log_softmax: x_y − (m + log Σ exp(x_j − m)).
		m := row[0]
		for _, v := range row {
			m = max(m, v)
		}
		var sum float32
		for _, v := range row {
			sum += float32(math.Exp(float64(v - m)))
		}
		if row[y]-(m+float32(math.Log(float64(sum)))) == 0 {
			zero++
		}
	}
	return float64(zero) / float64(n)
}

// logStableMax64 is log(s(x_y)/Σ s(x_j)) in float64 (see losses.StableS).
func logStableMax64(row []float32, y int) float64 {
	s := func(x float64) float64 {
		if x < 0 {
			return 1 / (1 - x + 1e-30)
		}
		return x + 1
	}
	sum := 0.0
	for _, v := range row {
		sum += s(float64(v))
	}
	return math.Log(s(float64(row[y])) / sum)
}

// jsonSafe returns the values with NaN as nil (JSON has no NaN).
func jsonSafe(xs []float64) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		if !math.IsNaN(x) {
			out[i] = x
		}
	}
	return out
}

func fmtSteps(v float64) string {
	if math.IsNaN(v) {
		return "never"
	}
	return fmt.Sprintf("%.0f", v)
}

// progressCallback advances a progress bar at every training step.
type progressCallback struct{ bar *suite.Progress }

// OnStep implements train.StepCallback.
func (c progressCallback) OnStep(int, *train.Result) error {
	c.bar.Add(1)
	return nil
}
