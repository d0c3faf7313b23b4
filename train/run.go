// Package train is moeboost's training loop: GoMLX's train.Trainer and train.Loop driven with
// the pieces every moeboost run needs, configured by one validated Config.
//
//   - learning-rate schedules (constant, warmup, cosine, linear, wsd) computed in the graph from
//     the global step, with the base learning rate in a variable: they never recompile;
//   - gradient clipping by global norm, and a NaN policy (stop with the step and the variable,
//     or skip the step) checked before anything is written to a checkpoint;
//   - extra losses (AddExtraLoss) and reported metrics (Report) from layers, averaged between
//     evaluations and shown in the progress bar, the history, JSON and plots;
//   - periodic evaluation, early stopping, callbacks as plugins;
//   - atomic checkpoints (Checkpointer) of every variable, optimizer state included, and exact
//     resumption: a run resumed from step k ends bit-identical to an uninterrupted run.
//
// The compute backend comes from package train/backend, whose default never hangs.
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/metric"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/losses"
)

// ModelFn builds the model graph: inputs (as yielded by the dataset) in, predictions (usually
// logits) out. Variables live under scope; see GoMLX's model.Scope.
type ModelFn func(scope *model.Scope, inputs []*graph.Node) []*graph.Node

// Resumable is a training dataset that can be positioned at a global step, so a resumed run
// sees the batches an uninterrupted run would (data.Batches implements it).
type Resumable interface {
	gtrain.Dataset
	SetStep(step int64)
}

// EvalSet is a named evaluation dataset (yielding every example once).
type EvalSet struct {
	Name string
	Data gtrain.Dataset
}

// Config configures one training run. Zero values mean the documented defaults.
type Config struct {
	// Name labels progress lines and the JSON result (default "run").
	Name string
	// Backend to build on (default: backend.Default()).
	Backend compute.Backend
	// Store holds variables and params; a new one if nil.
	Store *model.Store
	// Params are set on the store before Settings, e.g. {"moe_top_k": 2}.
	Params map[string]any
	// Settings is GoMLX's "k=v;k2=v2" string (the -set flag) applied after Params; a key must
	// be a param in the store or declared with DeclareParam.
	Settings string
	// Seed seeds the store's random number generator (initializers, dropout, noise).
	Seed int64

	// Model builds the predictions.
	Model ModelFn
	// Loss is a registered loss name (see train/losses), used when LossFn is nil; required
	// unless the model adds its own losses with AddExtraLoss only (then set NoLoss).
	Loss   string
	LossFn losses.Fn
	NoLoss bool

	// Optimizer is a registered optimizer name (default "adamw"), used when OptimizerImpl is nil.
	Optimizer     string
	OptimizerImpl optimizer.Interface
	// LearningRate is the base learning rate; 0 reads the "learning_rate" param, else the
	// optimizer's default.
	LearningRate float64
	Schedule     ScheduleConfig
	// ClipGlobalNorm > 0 clips gradients by their global L2 norm.
	ClipGlobalNorm float64
	// NaNPolicy is NaNStop (default) or NaNSkip.
	NaNPolicy NaNPolicy

	// Steps is the global step to train to (a resumed run continues up to it).
	Steps int
	// Train yields training batches forever; it must be Resumable when checkpointing.
	Train gtrain.Dataset
	// Eval sets are evaluated every EvalEvery steps (default Steps/10) and at the end.
	Eval      []EvalSet
	EvalEvery int
	// Metrics are extra evaluation metric names: "accuracy", "binary_accuracy", "mse", "mae".
	// The mean loss is always evaluated.
	Metrics []string

	// EarlyStopping stops when Monitor (e.g. "test/loss") has not improved by MinDelta for
	// Patience evaluations; Mode is "min" (default) or "max".
	EarlyStopping EarlyStopping

	// CheckpointDir enables checkpoints (and resumption from the latest one there).
	CheckpointDir string
	// CheckpointEvery saves every so many steps (default: at every evaluation); the end of
	// the run (and an interrupt) always saves.
	CheckpointEvery int
	// KeepCheckpoints is how many to keep (default 2).
	KeepCheckpoints int

	// Callbacks are called at every step, evaluation and at the end.
	Callbacks []Callback
	// Progress shows a progress bar on stderr.
	Progress bool
	// Out receives one line per evaluation (nil: silent).
	Out io.Writer
	// JSONPath and PlotPath, when set, receive the run's history as JSON and PNG curves.
	JSONPath, PlotPath string
}

// EarlyStopping configures early stopping; zero Patience disables it.
type EarlyStopping struct {
	Monitor  string
	Mode     string
	Patience int
	MinDelta float64
}

// EvalPoint is one evaluation: the global step and every metric by name ("test/loss",
// "test/accuracy", and averaged over the training steps since the previous evaluation:
// "train/loss" (batch loss), "lr", "grad_norm", metrics reported by layers, ...).
type EvalPoint struct {
	Step    int                `json:"step"`
	Metrics map[string]float64 `json:"metrics"`
}

// Result is what a run returns.
type Result struct {
	Name string
	// Steps is the final global step; StartStep the step the run started from (> 0 when resumed).
	Steps, StartStep int
	WallSeconds      float64
	// MsPerStep is the median training step time in this run, in milliseconds (the first step,
	// which compiles, excluded).
	MsPerStep    float64
	History      []EvalPoint
	Final        map[string]float64
	SkippedSteps int
	StoppedEarly bool
	Store        *model.Store
	Backend      compute.Backend
	// Model is the configured model function, for Predict.
	Model ModelFn
}

// Validate checks the configuration and fills in defaults; every error names the bad value.
func (c *Config) Validate() error {
	if c.Name == "" {
		c.Name = "run"
	}
	if c.Model == nil {
		return errors.New("train: Config.Model is nil")
	}
	if c.Train == nil {
		return errors.New("train: Config.Train (the training dataset) is nil")
	}
	if c.Steps <= 0 {
		return fmt.Errorf("train: steps=%d must be > 0", c.Steps)
	}
	if c.LossFn == nil && !c.NoLoss {
		if c.Loss == "" {
			return fmt.Errorf("train: no loss: set Config.Loss to one of %q, or LossFn, or NoLoss", losses.Names())
		}
		if !slices.Contains(losses.Names(), c.Loss) {
			return fmt.Errorf("train: unknown loss %q: known losses are %q", c.Loss, losses.Names())
		}
	}
	if c.OptimizerImpl == nil && c.Optimizer == "" {
		c.Optimizer = "adamw"
	}
	if c.LearningRate < 0 || math.IsNaN(c.LearningRate) {
		return fmt.Errorf("train: learning_rate=%g must be > 0", c.LearningRate)
	}
	if c.ClipGlobalNorm < 0 {
		return fmt.Errorf("train: clip_global_norm=%g must be >= 0", c.ClipGlobalNorm)
	}
	switch c.NaNPolicy {
	case "":
		c.NaNPolicy = NaNStop
	case NaNStop, NaNSkip:
	default:
		return fmt.Errorf("train: nan_policy=%q must be %q or %q", c.NaNPolicy, NaNStop, NaNSkip)
	}
	if c.EvalEvery < 0 {
		return fmt.Errorf("train: eval_every=%d must be >= 0", c.EvalEvery)
	}
	if c.EvalEvery == 0 {
		c.EvalEvery = max(1, c.Steps/10)
	}
	for _, m := range c.Metrics {
		if _, ok := evalMetricFactories[m]; !ok {
			return fmt.Errorf("train: unknown metric %q: known metrics are %q", m, sortedKeys(evalMetricFactories))
		}
	}
	for i, e := range c.Eval {
		if e.Name == "" || e.Data == nil {
			return fmt.Errorf("train: Eval[%d] needs a name and a dataset", i)
		}
	}
	es := &c.EarlyStopping
	if es.Patience < 0 {
		return fmt.Errorf("train: early stopping patience=%d must be >= 0", es.Patience)
	}
	if es.Patience > 0 {
		if es.Monitor == "" {
			return errors.New("train: early stopping needs a Monitor metric, e.g. \"test/loss\"")
		}
		if es.Mode == "" {
			es.Mode = "min"
		}
		if es.Mode != "min" && es.Mode != "max" {
			return fmt.Errorf("train: early stopping mode=%q must be \"min\" or \"max\"", es.Mode)
		}
		if len(c.Eval) == 0 && !strings.HasPrefix(es.Monitor, "train/") {
			return fmt.Errorf("train: early stopping monitors %q but there are no Eval sets", es.Monitor)
		}
	}
	if c.CheckpointEvery < 0 {
		return fmt.Errorf("train: checkpoint_every=%d must be >= 0", c.CheckpointEvery)
	}
	if c.CheckpointDir != "" {
		if _, ok := c.Train.(Resumable); !ok {
			return fmt.Errorf("train: checkpointing needs a resumable training dataset (with SetStep), %T is not", c.Train)
		}
		if c.CheckpointEvery == 0 {
			c.CheckpointEvery = c.EvalEvery
		}
		if c.KeepCheckpoints == 0 {
			c.KeepCheckpoints = 2
		}
	}
	if c.Schedule.Kind != "" && c.Schedule.TotalSteps == 0 {
		c.Schedule.TotalSteps = c.Steps
	}
	if _, err := NewSchedule(c.Schedule); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// defaultLearningRates of GoMLX's built-in optimizers, used when nothing else sets one.
var defaultLearningRates = map[string]float64{"adam": 1e-3, "adamw": 1e-3, "adamax": 1e-3, "rmsprop": 1e-3, "sgd": 0.1}

// DefaultLearningRater is implemented by optimizers that know their paper's default learning rate.
type DefaultLearningRater interface {
	DefaultLearningRate() float64
}

// Run trains as configured and returns the result. An interrupt (ctx cancelled) saves a
// checkpoint (if enabled) and returns ctx's error with the partial result.
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := cfg.Backend
	if b == nil {
		if b, err = backend.Default(); err != nil {
			return nil, err
		}
	}
	if cfg.Out != nil {
		fmt.Fprintf(cfg.Out, "%s: %s\n", cfg.Name, backend.Describe(b, b.String()))
	}
	backend.WarnIfNoSIMD(b)
	store := cfg.Store
	if store == nil {
		store = model.NewStore()
	}
	// The config's optimizer and learning rate are defaults that Params and -set override.
	if _, ok := store.GetParam(optimizer.ParamOptimizer); !ok && cfg.Optimizer != "" {
		store.SetParam(optimizer.ParamOptimizer, cfg.Optimizer)
	}
	if _, ok := store.GetParam(optimizer.ParamLearningRate); !ok {
		store.SetParam(optimizer.ParamLearningRate, cfg.LearningRate)
	}
	store.SetParams(cfg.Params)
	if cfg.Settings != "" {
		if err := ApplySettings(store, cfg.Settings); err != nil {
			return nil, fmt.Errorf("train: -set %q: %w", cfg.Settings, err)
		}
	}
	if err := store.SetRNGStateFromSeed(cfg.Seed); err != nil {
		return nil, err
	}
	var ckpt *Checkpointer
	if cfg.CheckpointDir != "" {
		if ckpt, err = OpenCheckpoint(store, cfg.CheckpointDir, cfg.KeepCheckpoints); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}

	// Optimizer, learning rate, schedule, guard.
	opt := cfg.OptimizerImpl
	if opt == nil {
		if v, ok := store.GetParam(optimizer.ParamOptimizer); ok {
			cfg.Optimizer = fmt.Sprint(v)
		}
		if opt, err = optimizers.New(store.RootScope(), cfg.Optimizer); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	lr := cfg.LearningRate
	if v, ok := store.GetParam(optimizer.ParamLearningRate); ok && toFloat(v) != 0 {
		lr = toFloat(v)
	}
	if lr == 0 {
		if d, ok := opt.(DefaultLearningRater); ok {
			lr = d.DefaultLearningRate()
		} else if d, ok := defaultLearningRates[cfg.Optimizer]; ok {
			lr = d
		} else {
			return nil, fmt.Errorf("train: no learning rate for optimizer %q: set Config.LearningRate or -set learning_rate=...", cfg.Optimizer)
		}
	}
	if !(lr > 0) {
		return nil, fmt.Errorf("train: learning_rate=%g must be > 0", lr)
	}
	sched, _ := NewSchedule(cfg.Schedule)
	guard, err := newStepGuard(opt, sched, lr, cfg.ClipGlobalNorm, cfg.NaNPolicy)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	lossFn := cfg.LossFn
	if lossFn == nil && !cfg.NoLoss {
		if lossFn, err = losses.New(store.RootScope(), cfg.Loss); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}

	rep := &reportMetric{}
	gm := &guardMetric{}
	evalNames := []string{"loss"}
	var evalMetrics []metric.Interface
	for _, m := range cfg.Metrics {
		evalMetrics = append(evalMetrics, evalMetricFactories[m]())
		evalNames = append(evalNames, m)
	}
	modelFn := func(scope *model.Scope, _ any, inputs []*graph.Node) []*graph.Node {
		return cfg.Model(scope, inputs)
	}
	trainer := gtrain.NewTrainer(b, store, modelFn, lossFn, guard, []metric.Interface{rep, gm}, evalMetrics)
	loop := gtrain.NewLoop(trainer)
	startStep := int(optimizer.GetGlobalStep(store))
	if r, ok := cfg.Train.(Resumable); ok {
		r.SetStep(int64(startStep))
	}

	res = &Result{Name: cfg.Name, StartStep: startStep, Steps: startStep, Store: store, Backend: b, Model: cfg.Model}
	st := &runState{ctx: ctx, guard: guard, cfg: &cfg, res: res, trainer: trainer, ckpt: ckpt, rep: rep, sums: map[string]float64{},
		best: math.NaN()}
	if cfg.Progress {
		st.bar = NewProgress(max(1, cfg.Steps-startStep), cfg.Name)
	}
	loop.OnStep("moeboost-guard", 0, st.onStepGuard)
	loop.OnStep("moeboost-eval", 10, st.onStepEval)
	start := time.Now()
	runErr := exceptions.TryCatch[error](func() {
		_, err := loop.RunToGlobalStep(cfg.Train, cfg.Steps)
		if err != nil {
			panic(err)
		}
	})
	if st.bar != nil {
		st.bar.Done()
	}
	res.WallSeconds = time.Since(start).Seconds()
	res.MsPerStep = medianMs(loop.TrainStepDurations)
	res.Steps = int(optimizer.GetGlobalStep(store))
	stopped := errors.Is(runErr, errStop)
	if runErr != nil && !stopped {
		// Interrupted: keep what was done (the guard never lets a non-finite step reach here).
		if ckpt != nil && errors.Is(runErr, context.Canceled) && !st.badState {
			if err := ckpt.Save(); err != nil {
				return res, errors.Join(runErr, err)
			}
		}
		return res, fmt.Errorf("train %s: %w", cfg.Name, runErr)
	}
	res.StoppedEarly = stopped
	// Final evaluation (unless the last step just evaluated) and checkpoint.
	if len(res.History) == 0 || res.History[len(res.History)-1].Step != res.Steps {
		// A stop request from a callback at the final evaluation ends the run as it would anyway.
		if err := st.evaluate(res.Steps); err != nil && !errors.Is(err, errStop) {
			return res, err
		}
	}
	res.Final = res.History[len(res.History)-1].Metrics
	if ckpt != nil {
		if err := ckpt.Save(); err != nil {
			return res, fmt.Errorf("train %s: final checkpoint: %w", cfg.Name, err)
		}
	}
	if cfg.JSONPath != "" {
		if err := res.WriteJSON(cfg.JSONPath, &cfg); err != nil {
			return res, err
		}
	}
	if cfg.PlotPath != "" {
		if err := res.SavePlot(cfg.PlotPath); err != nil {
			return res, err
		}
	}
	for _, cb := range cfg.Callbacks {
		if e, ok := cb.(EndCallback); ok {
			if err := e.OnEnd(res); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// errStop is returned by hooks to end the run normally (early stopping, callbacks).
var errStop = errors.New("stop requested")

// runState is the loop hooks' shared state.
type runState struct {
	ctx      context.Context
	guard    *stepGuard
	cfg      *Config
	res      *Result
	trainer  *gtrain.Trainer
	ckpt     *Checkpointer
	rep      *reportMetric
	bar      *Progress
	sums     map[string]float64
	count    int
	best     float64
	bad      int
	badState bool
	lastLoss float64
}

func (s *runState) onStepGuard(loop *gtrain.Loop, metrics []*tensors.Tensor) error {
	step := loop.LoopStep + 1 // Global step after this one.
	// metrics: [batch loss, moving-average loss, reported vector, guard code].
	code := int(math.Round(toFloat(metrics[3].Value())))
	if code != 0 {
		where := "the loss"
		if code > 0 {
			where = "the gradient of variable " + s.guardVarName(code-1)
		}
		if s.cfg.NaNPolicy == NaNStop {
			s.badState = true
			return fmt.Errorf("step %d: %s is not finite (NaN or Inf); stopping before anything is saved (nan_policy=stop; use skip to drop such steps)", step, where)
		}
		s.res.SkippedSteps++
		if s.res.SkippedSteps == 1 && s.cfg.Out != nil {
			fmt.Fprintf(s.cfg.Out, "%s: step %d skipped: %s is not finite (nan_policy=skip)\n", s.cfg.Name, step, where)
		}
	}
	s.lastLoss = toFloat(metrics[0].Value())
	if finite(s.lastLoss) {
		s.sums["train/loss"] += s.lastLoss
	}
	if vec, ok := metrics[2].Value().([]float32); ok {
		for i, n := range s.rep.names {
			s.sums[n] += float64(vec[i+1])
		}
	} else if vec, ok := metrics[2].Value().([]float64); ok {
		for i, n := range s.rep.names {
			s.sums[n] += vec[i+1]
		}
	}
	s.count++
	for _, cb := range s.cfg.Callbacks {
		if sc, ok := cb.(StepCallback); ok {
			if err := sc.OnStep(step, s.res); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *runState) guardVarName(i int) string {
	// The guard captured the trainable variables in gradient order at graph building.
	if names := s.guard.varNames; i >= 0 && i < len(names) {
		return fmt.Sprintf("%q", names[i])
	}
	return fmt.Sprintf("#%d", i)
}

func (s *runState) onStepEval(loop *gtrain.Loop, _ []*tensors.Tensor) error {
	step := loop.LoopStep + 1
	if ctxErr := s.ctxErr(); ctxErr != nil {
		return ctxErr
	}
	last := step >= s.cfg.Steps
	if step%s.cfg.EvalEvery == 0 && !last {
		if err := s.evaluate(step); err != nil {
			return err
		}
		if s.stopEarly() {
			return errStop
		}
	}
	if s.ckpt != nil && step%s.cfg.CheckpointEvery == 0 && !last {
		if err := s.ckpt.Save(); err != nil {
			return err
		}
	}
	if s.bar != nil {
		s.bar.Add(1)
		if step%max(1, s.cfg.EvalEvery/10) == 0 {
			s.bar.Describe(s.describe())
		}
	}
	return nil
}

func (s *runState) ctxErr() error { return s.ctx.Err() }

// evaluate runs every eval set and appends an EvalPoint.
func (s *runState) evaluate(step int) error {
	p := EvalPoint{Step: step, Metrics: map[string]float64{}}
	if s.count > 0 {
		for n, v := range s.sums {
			p.Metrics[n] = v / float64(s.count)
		}
		clear(s.sums)
		s.count = 0
	}
	names := []string{"loss"}
	names = append(names, s.cfg.Metrics...)
	for _, e := range s.cfg.Eval {
		vals, err := s.trainer.Eval(e.Data)
		if err != nil {
			return fmt.Errorf("train %s: evaluating %s at step %d: %w", s.cfg.Name, e.Name, step, err)
		}
		for i, v := range vals {
			name := e.Name + "/" + names[i]
			p.Metrics[name] = toFloat(v.Value())
			if names[i] == "mse" {
				p.Metrics[e.Name+"/rmse"] = math.Sqrt(p.Metrics[name])
			}
			v.MustFinalizeAll()
		}
	}
	s.res.History = append(s.res.History, p)
	if s.cfg.Out != nil {
		fmt.Fprintf(s.cfg.Out, "%s: step %d %s\n", s.cfg.Name, step, formatMetrics(p.Metrics))
	}
	stop := false
	for _, cb := range s.cfg.Callbacks { // Every callback sees the evaluation, even after a stop request.
		if ec, ok := cb.(EvalCallback); ok {
			if err := ec.OnEval(p, s.res); err != nil {
				if !errors.Is(err, ErrStop) {
					return err
				}
				stop = true
			}
		}
	}
	if stop {
		return errStop
	}
	return nil
}

func (s *runState) stopEarly() bool {
	es := s.cfg.EarlyStopping
	if es.Patience == 0 || len(s.res.History) == 0 {
		return false
	}
	v, ok := s.res.History[len(s.res.History)-1].Metrics[es.Monitor]
	if !ok {
		return false
	}
	better := math.IsNaN(s.best) || (es.Mode == "min" && v < s.best-es.MinDelta) || (es.Mode == "max" && v > s.best+es.MinDelta)
	if better {
		s.best, s.bad = v, 0
		return false
	}
	s.bad++
	return s.bad >= es.Patience
}

func (s *runState) describe() string {
	parts := []string{fmt.Sprintf("%s loss=%.4g", s.cfg.Name, s.lastLoss)}
	if n := len(s.res.History); n > 0 {
		m := s.res.History[n-1].Metrics
		for _, e := range s.cfg.Eval {
			for _, k := range append([]string{"loss"}, s.cfg.Metrics...) {
				if v, ok := m[e.Name+"/"+k]; ok {
					parts = append(parts, fmt.Sprintf("%s/%s=%.4g", e.Name, k, v))
				}
			}
		}
	}
	return strings.Join(parts, " ")
}

func formatMetrics(m map[string]float64) string {
	keys := sortedKeys(m)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%.5g", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func medianMs(ds []time.Duration) float64 {
	if len(ds) > 1 {
		ds = ds[1:] // The first step compiles the graph.
	}
	if len(ds) == 0 {
		return 0
	}
	ms := make([]float64, len(ds))
	for i, d := range ds {
		ms[i] = float64(d.Microseconds()) / 1000
	}
	slices.Sort(ms)
	return ms[len(ms)/2]
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float32:
		return float64(x)
	case float64:
		return x
	case int:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	default:
		return math.NaN()
	}
}
