// Package tickets is the "tickets" benchmark: Grokking Tickets (Minegishi, Iwasawa & Matsuo,
// arXiv:2310.19470) on modular addition. A dense MLP trained with weight decay until it
// generalizes gives magnitude masks; the surviving weights are rewound to the dense run's
// initialization and retrained. Steps to 90% test accuracy and final test accuracy are
// compared for the dense network, the tickets, random masks of equal per-layer sparsity, and
// the dense network and a ticket trained without weight decay.
//
// Reference code: gouki510/Grokking-Tickets (train.py, prune.py, pruner.py, model.py OnlyMLP,
// data_module.py gen_train_test with is_symmetric_input).
//
// Deviations from the paper's runs (laptop scale): the train fraction (0.6), learning rate
// (3e-3), embedding width (128) and step budget (1500) are chosen so the dense network groks in
// under 1000 full-batch steps on two CPU cores; the paper uses p 67, 40% train, d_emb 500, lr
// 1e-3 and 10k-30k steps. At 40% train the dense network needed about 3600 steps at lr 3e-3,
// and at lr 1e-2 (dense: 1200 steps) the tickets did not grok within 1000 steps (calibration
// runs, 2026-12-05). The dense arm is the base run itself (same init, same data, same
// full-batch optimizer: a retrain from θ0 repeats it step for step); it runs its whole budget
// and its last weights give the masks (the paper uses the final checkpoint of a longer run).
// The other arms stop once test accuracy reaches Config.StopAt.
package tickets

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/moeboost/moeboost/examples/bench/optbench"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	"github.com/moeboost/moeboost/train/prune"
)

func init() {
	suite.Register("tickets", suite.Func{
		Desc: "Grokking Tickets on (a+b) mod p: steps to 90% test accuracy for dense vs magnitude ticket (rewound to the same init) vs random mask of equal sparsity, with and without weight decay",
		Fn:   run,
	})
}

// Config is one tickets experiment.
type Config struct {
	// P is the modulus; pairs (a, b) with a <= b are used (the paper's is_symmetric_input).
	P int
	// TrainFrac is the fraction of the pairs used for training (full batch).
	TrainFrac float64
	// DEmb and DModel are the MLP's embedding and hidden widths (paper: 500 and 48).
	DEmb, DModel int
	// LR, WeightDecay and Beta2 configure AdamW (paper: 1e-3, 1.0, β (0.9, 0.98)).
	LR, WeightDecay, Beta2 float64
	// Steps is each run's step budget; EvalEvery how often test accuracy is measured.
	Steps, EvalEvery int
	// StopAt ends a run at the first evaluation whose test accuracy reaches it.
	StopAt float64
	// Sparsities are the pruned fractions of the tickets and random masks.
	Sparsities []float64
	// NoWDSparsity is the sparsity of the ticket also retrained without weight decay.
	NoWDSparsity float64
	// NoWD adds the arms without weight decay (dense_no_wd and the NoWDSparsity ticket).
	NoWD bool
	// Seeds is the number of seeds (data split and initialization).
	Seeds int
}

// fullConfig and quickConfig: see the package comment for why they differ from the paper.
// The values were chosen by a calibration run on 2026-12-05 (see the README).
func fullConfig() Config {
	return Config{P: 67, TrainFrac: 0.6, DEmb: 128, DModel: 48, LR: 3e-3, WeightDecay: 1.0, Beta2: 0.98,
		Steps: 1500, EvalEvery: 50, StopAt: 0.99, Sparsities: []float64{0.4, 0.6, 0.8}, NoWDSparsity: 0.6, NoWD: true, Seeds: 3}
}

// quickConfig keeps the dense, ticket and random arms at sparsity 0.6, one seed.
func quickConfig() Config {
	c := fullConfig()
	c.Steps, c.Seeds, c.NoWD = 1200, 1, false
	c.Sparsities = []float64{0.6}
	return c
}

// Validate checks the configuration; errors name the bad value.
func (c Config) Validate() error {
	switch {
	case c.P < 3:
		return fmt.Errorf("tickets: p=%d must be >= 3", c.P)
	case !(c.TrainFrac > 0 && c.TrainFrac < 1):
		return fmt.Errorf("tickets: train fraction=%g must be in (0, 1)", c.TrainFrac)
	case c.DEmb < 1 || c.DModel < 1:
		return fmt.Errorf("tickets: d_emb=%d and d_model=%d must be >= 1", c.DEmb, c.DModel)
	case !(c.LR > 0) || c.WeightDecay < 0:
		return fmt.Errorf("tickets: lr=%g must be > 0 and weight decay=%g >= 0", c.LR, c.WeightDecay)
	case c.Steps < 1 || c.EvalEvery < 1:
		return fmt.Errorf("tickets: steps=%d and eval_every=%d must be >= 1", c.Steps, c.EvalEvery)
	case c.Seeds < 1:
		return fmt.Errorf("tickets: seeds=%d must be >= 1", c.Seeds)
	case len(c.Sparsities) == 0:
		return fmt.Errorf("tickets: no sparsity levels")
	}
	for _, s := range append(c.Sparsities, c.NoWDSparsity) {
		if !(s > 0 && s < 1) {
			return fmt.Errorf("tickets: sparsity=%g must be in (0, 1)", s)
		}
	}
	return nil
}

// SymmetricSplit returns the pairs (a, b), a <= b, of (a + b) mod p (optbench.ModularAddition's
// one-hot encoding), shuffled with seed and split: the first floor(trainFrac·n) pairs train,
// the rest test (data_module.py gen_train_test with is_symmetric_input).
func SymmetricSplit(p int, trainFrac float64, seed uint64) (trainT, testT *data.Table) {
	full := optbench.ModularAddition(p)
	var rows []int
	for a := range p {
		for b := a; b < p; b++ {
			rows = append(rows, a*p+b)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x7469636b657473)) // "tickets"
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	n := int(trainFrac * float64(len(rows)))
	sub := func(name string, idx []int) *data.Table {
		t := &data.Table{Name: name, N: len(idx), D: full.D, Task: full.Task, NumClasses: full.NumClasses, ClassNames: full.ClassNames}
		for _, i := range idx {
			t.X = append(t.X, full.Row(i)...)
			t.Y = append(t.Y, full.Y[i])
		}
		return t
	}
	return sub(full.Name+"_train", rows[:n]), sub(full.Name+"_test", rows[n:])
}

// Model is the paper's OnlyMLP with no extra layers (model.py): each token's one-hot goes
// through the embedding W_E [p, d_emb] and the input projection W_in [d_emb, d_model]; the two
// tokens are summed, then ReLU, the output projection W_out [d_model, d_emb] and the unembedding
// W_U [d_emb, p]. No biases; every matrix is N(0, 1/fan_in) (W_E: 1/p). Variables live under
// scope "tickets": embed, in_proj, out_proj, unembed.
func Model(p, dEmb, dModel int) train.ModelFn {
	return func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		x := in[0] // [N, 2p]: one-hot a, then one-hot b
		n := x.Shape().Dimensions[0]
		dt := x.DType()
		s := scope.In("tickets")
		w := func(name string, rows, cols int) *graph.Node {
			return s.WithInitializer(initializer.RandomNormalFn(s, 1/math.Sqrt(float64(rows)))).
				VariableWithShape(name, shapes.Make(dt, rows, cols)).NodeValue(x.Graph())
		}
		tok := graph.Reshape(x, 2*n, p)                                     // [2N, p]
		e := graph.Dot(tok, w("embed", p, dEmb)).Product()                  // [2N, d_emb]
		h := graph.Dot(e, w("in_proj", dEmb, dModel)).Product()             // [2N, d_model]
		h = graph.ReduceSum(graph.Reshape(h, n, 2, dModel), 1)              // [N, d_model]: sum over the 2 tokens
		h = activation.Relu(h)                                              //
		o := graph.Dot(h, w("out_proj", dModel, dEmb)).Product()            // [N, d_emb]
		return []*graph.Node{graph.Dot(o, w("unembed", dEmb, p)).Product()} // [N, p]
	}
}

// arm is one retraining arm.
type arm struct {
	name     string
	kind     string // "dense", "ticket", "random"
	sparsity float64
	wd       bool
}

func arms(c Config) []arm {
	as := []arm{{name: "dense", kind: "dense", wd: true}}
	if c.NoWD {
		as = append(as, arm{name: "dense_no_wd", kind: "dense"})
	}
	for _, s := range c.Sparsities {
		as = append(as, arm{name: fmt.Sprintf("ticket_%.1f", s), kind: "ticket", sparsity: s, wd: true},
			arm{name: fmt.Sprintf("random_%.1f", s), kind: "random", sparsity: s, wd: true})
	}
	if c.NoWD {
		as = append(as, arm{name: fmt.Sprintf("ticket_%.1f_no_wd", c.NoWDSparsity), kind: "ticket", sparsity: c.NoWDSparsity})
	}
	return as
}

// outcome is one run's numbers.
type outcome struct {
	to90, finalTest, finalTrain, steps, ms float64
	curveX, curveY                         []float64
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	if opts.DataFile != "" || opts.TextFile != "" {
		opts.Logf("tickets: -data/-text do not apply (the benchmark generates modular addition); running its default task")
	}
	c := fullConfig()
	if opts.Quick {
		c = quickConfig()
	}
	if opts.Seeds > 0 {
		c.Seeds = opts.Seeds
	}
	return Run(ctx, opts, c)
}

// Run runs the experiment c and returns its rows (and prints its table, writes its plot).
func Run(ctx context.Context, opts suite.Options, c Config) ([]suite.Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if opts.Backend == nil {
		b, err := backend.Default()
		if err != nil {
			return nil, err
		}
		opts.Backend = b
	}
	as := arms(c)
	task := fmt.Sprintf("add_mod_%d", c.P)
	bar := suite.NewProgress(len(as)*c.Seeds*c.Steps, "tickets "+task)
	defer bar.Done()
	results := make([][]outcome, len(as))
	sparsity := make([][]float64, len(as)) // measured mask sparsity per seed
	for s := range c.Seeds {
		seed := uint64(s + 1)
		trainT, testT := SymmetricSplit(c.P, c.TrainFrac, seed)
		// θ0: the model's variables initialized from the seed, before any step.
		init := model.NewStore()
		if err := init.SetRNGStateFromSeed(int64(seed)); err != nil {
			return nil, err
		}
		fn := Model(c.P, c.DEmb, c.DModel)
		xs := make([]float32, trainT.D)
		if _, err := train.Predict(opts.Backend, init, fn, tensors.FromFlatDataAndDimensions(xs, 1, trainT.D)); err != nil {
			return nil, fmt.Errorf("tickets: initializing θ0: %w", err)
		}
		// The dense base run (the "dense" arm) first, over the whole budget: its last weights
		// give the masks.
		base, out, err := retrain(ctx, opts, c, as[0], init, nil, trainT, testT, seed, 0, bar)
		if err != nil {
			return nil, err
		}
		results[0] = append(results[0], out)
		sparsity[0] = append(sparsity[0], 0)
		ticketMasks := map[float64]*prune.Masks{}
		for _, sp := range append(c.Sparsities, c.NoWDSparsity) {
			m, err := prune.Magnitude(base.Store, prune.Config{Sparsity: sp, Scope: prune.Global})
			if err != nil {
				return nil, err
			}
			ticketMasks[sp] = m
		}
		for i, a := range as[1:] {
			var m *prune.Masks
			switch a.kind {
			case "ticket":
				m = ticketMasks[a.sparsity]
			case "random":
				m = prune.Random(ticketMasks[a.sparsity], seed)
			}
			_, out, err := retrain(ctx, opts, c, a, init, m, trainT, testT, seed, c.StopAt, bar)
			if err != nil {
				return nil, err
			}
			results[i+1] = append(results[i+1], out)
			sp := 0.0
			if m != nil {
				sp = m.Sparsity()
			}
			sparsity[i+1] = append(sparsity[i+1], sp)
		}
	}
	return report(opts, c, task, as, results, sparsity)
}

// retrain trains arm a from θ0 (init) with masks m (nil: dense), stopping at the first
// evaluation with test accuracy >= stopAt (0: never).
func retrain(ctx context.Context, opts suite.Options, c Config, a arm, init *model.Store, m *prune.Masks,
	trainT, testT *data.Table, seed uint64, stopAt float64, bar *suite.Progress) (*train.Result, outcome, error) {
	store := model.NewStore()
	if err := prune.ResetToInit(store, init, m); err != nil {
		return nil, outcome{}, err
	}
	wd := 0.0
	if a.wd {
		wd = c.WeightDecay
	}
	store.SetParams(map[string]any{optimizers.ParamLearningRate: c.LR, optimizers.ParamWeightDecay: wd,
		optimizers.ParamBeta2: c.Beta2, optimizers.ParamLogGroups: false,
		optimizers.ParamDecayAll: true})
	inner, err := optimizers.New(store.RootScope(), "adamw")
	if err != nil {
		return nil, outcome{}, err
	}
	trainDS, err := data.NewTrainBatches(trainT, trainT.N, seed) // full batch
	if err != nil {
		return nil, outcome{}, err
	}
	testDS, err := data.NewEvalBatches(testT, testT.N)
	if err != nil {
		return nil, outcome{}, err
	}
	trainEval, err := data.NewEvalBatches(trainT, trainT.N)
	if err != nil {
		return nil, outcome{}, err
	}
	cbs := []train.Callback{progress{bar}}
	if stopAt > 0 {
		cbs = append(cbs, &stopBefore{StopAt: train.StopAt{Metric: "test/accuracy", Op: ">=", Threshold: stopAt}, last: c.Steps})
	}
	res, err := train.Run(ctx, train.Config{
		Name: fmt.Sprintf("tickets/%s/seed%d", a.name, seed), Backend: opts.Backend, Store: store, Seed: int64(seed),
		Model: Model(c.P, c.DEmb, c.DModel), Loss: "cross_entropy", OptimizerImpl: prune.NewOptimizer(inner),
		Steps: c.Steps, Train: trainDS, EvalEvery: c.EvalEvery, Metrics: []string{"accuracy"},
		Eval:      []train.EvalSet{{Name: "test", Data: testDS}, {Name: "trainset", Data: trainEval}},
		Callbacks: cbs,
	})
	if err != nil {
		return nil, outcome{}, fmt.Errorf("tickets %s seed %d: %w", a.name, seed, err)
	}
	bar.Add(c.Steps - res.Steps) // a run that stopped early skips the rest of its budget
	out := outcome{to90: stepsTo(res, "test/accuracy", 0.9), finalTest: res.Final["test/accuracy"],
		finalTrain: res.Final["trainset/accuracy"], steps: float64(res.Steps), ms: res.MsPerStep}
	out.curveX, out.curveY = res.Curve("test/accuracy")
	return res, out, nil
}

// stepsTo is the first evaluated step whose metric reaches level, or NaN.
func stepsTo(res *train.Result, metric string, level float64) float64 {
	for _, p := range res.History {
		if v, ok := p.Metrics[metric]; ok && v >= level {
			return float64(p.Step)
		}
	}
	return math.NaN()
}

func report(opts suite.Options, c Config, task string, as []arm, results [][]outcome, sparsity [][]float64) ([]suite.Result, error) {
	var rows []suite.Result
	var lines []string
	var chart suite.Chart
	for i, a := range as {
		var to90, test, trainAcc, steps, ms []float64
		reached := 0
		for _, o := range results[i] {
			to90 = append(to90, o.to90)
			test = append(test, o.finalTest)
			trainAcc = append(trainAcc, o.finalTrain)
			steps = append(steps, o.steps)
			ms = append(ms, o.ms)
			if !math.IsNaN(o.to90) {
				reached++
			}
		}
		msMean, _ := suite.MeanStd(ms)
		sp, _ := suite.MeanStd(sparsity[i])
		for _, m := range []struct {
			name   string
			vals   []float64
			higher bool
		}{{"steps_to_90", to90, false}, {"accuracy", test, true}, {"train_accuracy", trainAcc, true}, {"steps_run", steps, false}} {
			row := suite.Row("tickets", task, a.name, m.name, m.vals, msMean, c.Steps)
			row.Extra["higher_is_better"] = m.higher
			row.Extra["sparsity"] = sp
			row.Extra["weight_decay"] = map[bool]float64{true: c.WeightDecay, false: 0}[a.wd]
			row.Extra["kind"] = a.kind
			if m.name == "steps_to_90" {
				// "not reached" seeds are NaN (null in JSON) and make the mean NaN.
				row.Extra["seeds_reached"] = reached
				row.Extra["budget"] = c.Steps
			}
			if m.name == "accuracy" && len(results[i]) > 0 {
				row.Extra["curve_seed1"] = map[string]any{"step": results[i][0].curveX, "test_accuracy": results[i][0].curveY}
			}
			if a.kind == "dense" && a.wd {
				row = row.AsAnchor()
			}
			rows = append(rows, row)
		}
		if len(results[i]) > 0 {
			chart.Series = append(chart.Series, suite.Series{Name: a.name, X: results[i][0].curveX, Y: results[i][0].curveY})
		}
		mt, _ := suite.MeanStd(test)
		lines = append(lines, fmt.Sprintf("%-18s %8.2f %4s %18s %10.3f %8.1f", a.name, sp, map[bool]string{true: "1", false: "0"}[a.wd],
			fmtSteps(to90, c.Steps), mt, msMean))
	}
	opts.Logf("\nGrokking tickets: (a + b) mod %d, pairs a<=b, %.0f%% train, MLP p-%d-%d-%d-p (no biases), full batch AdamW lr %g β2 %g, budget %d steps (stop at test acc %.2f), %d seed(s)",
		c.P, 100*c.TrainFrac, c.DEmb, c.DModel, c.DEmb, c.LR, c.Beta2, c.Steps, c.StopAt, c.Seeds)
	opts.Logf("%-18s %8s %4s %18s %10s %8s", "arm", "sparsity", "wd", "steps to 90% test", "test acc", "ms/step")
	opts.Logf("%s", strings.Join(lines, "\n"))
	if path := opts.PlotPath("tickets", "accuracy_"+task); path != "" {
		chart.Title = fmt.Sprintf("Grokking tickets (a+b) mod %d: test accuracy, seed 1", c.P)
		chart.XLabel, chart.YLabel = "step", "test accuracy"
		if err := suite.SavePlots(path, chart); err != nil {
			return rows, err
		}
		opts.Logf("plot: %s", filepath.Clean(path))
	}
	return rows, nil
}

// fmtSteps writes the mean over the seeds that reached 90%, and how many did.
func fmtSteps(vals []float64, budget int) string {
	var ok []float64
	for _, v := range vals {
		if !math.IsNaN(v) {
			ok = append(ok, v)
		}
	}
	if len(ok) == 0 {
		return fmt.Sprintf("not reached (%d)", budget)
	}
	m, _ := suite.MeanStd(ok)
	if len(ok) < len(vals) {
		return fmt.Sprintf("%.0f (%d/%d seeds)", m, len(ok), len(vals))
	}
	return fmt.Sprintf("%.0f", m)
}

// stopBefore is train.StopAt that ignores the run's final evaluation: train.Run treats a stop
// request from the evaluation after the last step as an error ("stop requested").
type stopBefore struct {
	train.StopAt
	last int
}

// OnEval implements train.EvalCallback.
func (s *stopBefore) OnEval(p train.EvalPoint, res *train.Result) error {
	if p.Step >= s.last {
		return nil
	}
	return s.StopAt.OnEval(p, res)
}

// progress advances the bar at every training step.
type progress struct{ bar *suite.Progress }

// OnStep implements train.StepCallback.
func (p progress) OnStep(int, *train.Result) error {
	p.bar.Add(1)
	return nil
}
