// Package bilevelbench is the `bilevel` benchmark: data hyper-cleaning (Franceschi et al.,
// ICML 2017) on digits with 40% of the training labels corrupted, solved by the bilevel methods
// of package bilevel: BO-REP (Hao, Gong & Liu, ICLR 2024) and LV-HBA (Yao et al., ICLR 2024)
// against the plain alternating AID baseline.
//
// The split: 30% test, and of the rest 25% clean validation and 75% training whose labels are
// corrupted (each with probability 0.4, replaced by another class); features standardized on the
// training split. The problem is bilevel.LogisticCleaning: one weight σ(λᵢ) per training example
// for a multinomial logistic regression (μ = 1e-3), learned so that the model trained on the
// weighted data has a low validation loss.
//
// Tasks and arms:
//
//	hyper-clean        noisy (anchor: uniform weights, lower problem solved), clean-only (an oracle
//	                   that drops the corrupted examples: the ceiling), aid, bo-rep, lv-hba
//	hyper-clean-ball   the same with the lower problem constrained to ‖y‖ ≤ R, R half the norm of
//	                   the noisy solution: noisy and clean-only by projected gradient, and lv-hba
//	                   (the implicit methods cannot take a constrained lower level)
//
// Metrics: test accuracy of the final lower iterate, detection AUC (how well the learned weights
// rank clean above corrupted examples), the validation loss F, wall time and oracle calls.
// Each method's step size is chosen per seed from a 3-value grid by the final validation loss F
// (the upper objective, never the test split); the grids scale with the number n of training
// examples (the hypergradient of a mean over n examples is O(1/n) per weight): AID UpperLR
// ∈ {0.03, 0.3, 3}·n, BO-REP UpperLR ∈ {0.015, 0.06, 0.25}·√n (a normalized step moves λ by
// UpperLR in norm), LV-HBA α = η ∈ {0.03, 0.1, 0.3}.
//
// -data FILE replaces digits with any classification CSV.
package bilevelbench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/moeboost/moeboost/bilevel"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/data"
)

func init() {
	suite.Register("bilevel", suite.Func{
		Desc: "data hyper-cleaning on digits with 40% corrupted labels: BO-REP and LV-HBA vs alternating AID (test accuracy, detection AUC, time); -data FILE (classification)",
		Fn:   run,
	})
}

// Setup sizes one run.
type Setup struct {
	// Iters outer iterations per method; LowerSteps gradient steps (LR LowerLR) solve the
	// lower problem of the noisy and clean-only arms.
	Iters, LowerSteps int
	LowerLR           float64
	// Corruption is the fraction of corrupted training labels; Mu the lower ridge.
	Corruption, Mu float64
	// Grid, when false, runs each method at the middle value of its grid only.
	Grid  bool
	Seeds int
	// Ball adds the hyper-clean-ball task.
	Ball bool
}

// DefaultSetup is the full run (3 seeds, about 3 minutes on 2 cores) or the quick one.
func DefaultSetup(quick bool) Setup {
	s := Setup{Iters: 300, LowerSteps: 2000, LowerLR: 0.1, Corruption: 0.4, Mu: 1e-3, Grid: true, Seeds: 3, Ball: true}
	if quick {
		s.Iters, s.LowerSteps, s.Seeds = 120, 800, 1
	}
	return s
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	s := DefaultSetup(opts.Quick)
	s.Seeds = opts.SeedsOr(s.Seeds, 1)
	t, err := table(opts)
	if err != nil {
		return nil, err
	}
	return Run(ctx, opts, s, t)
}

func table(opts suite.Options) (*data.Table, error) {
	ts, err := opts.DataOrBuiltin(data.Classification, "digits")
	if err != nil {
		return nil, err
	}
	return ts[0], nil
}

// split is one seed's data.
type split struct {
	train, val, test *data.Table // train labels corrupted
	clean            *data.Table // train with its true labels
	bad              []bool
}

func makeSplit(t *data.Table, s Setup, seed int) (*split, error) {
	rest, test, err := t.Split(0.3, uint64(seed))
	if err != nil {
		return nil, err
	}
	train, val, err := rest.Split(0.25, uint64(seed)+100)
	if err != nil {
		return nil, err
	}
	_, train, others := data.Standardize(train, false, val, test)
	noisy, bad, err := bilevel.CorruptLabels(train, s.Corruption, uint64(seed)+200)
	if err != nil {
		return nil, err
	}
	return &split{train: noisy, val: others[0], test: others[1], clean: train, bad: bad}, nil
}

// outcome is one arm's result on one seed.
type outcome struct {
	acc, auc, valLoss, seconds float64
	calls                      int
	step                       float64 // the chosen step size (grid arms)
	curve                      []point
}

type point struct{ seconds, acc float64 }

// Run runs the benchmark on table t.
func Run(ctx context.Context, opts suite.Options, s Setup, t *data.Table) ([]suite.Result, error) {
	if s.Iters < 1 || s.LowerSteps < 1 || !(s.LowerLR > 0) || !(s.Mu > 0) || !(s.Corruption >= 0 && s.Corruption < 1) || s.Seeds < 1 {
		return nil, fmt.Errorf("bilevel: bad setup %+v (iters, lower steps, seeds ≥ 1; LR, mu > 0; corruption in [0, 1))", s)
	}
	if t.Task != data.Classification {
		return nil, fmt.Errorf("bilevel: %s is a %v task; hyper-cleaning needs classification", t.Name, t.Task)
	}
	tasks := []string{"hyper-clean"}
	if s.Ball {
		tasks = append(tasks, "hyper-clean-ball")
	}
	type key struct{ task, arm string }
	res := map[key][]outcome{}
	var order []key
	add := func(k key, o outcome) {
		if _, ok := res[k]; !ok {
			order = append(order, k)
		}
		res[k] = append(res[k], o)
	}
	gridN := 3
	if !s.Grid {
		gridN = 1
	}
	perSeed := 2 + 3*gridN
	if s.Ball {
		perSeed += 2 + gridN
	}
	prog := suite.NewProgress(s.Seeds*perSeed, "bilevel")
	defer prog.Done()
	for seed := 1; seed <= s.Seeds; seed++ {
		sp, err := makeSplit(t, s, seed)
		if err != nil {
			return nil, err
		}
		for _, task := range tasks {
			radius := 0.0
			if task == "hyper-clean-ball" {
				// Half the norm of the unconstrained noisy solution, so the constraint binds.
				r, err := noisyNorm(opts, s, sp)
				if err != nil {
					return nil, err
				}
				radius = r / 2
			}
			for _, arm := range []string{"noisy", "clean-only"} {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				o, err := baseline(opts, s, sp, arm, radius)
				if err != nil {
					return nil, fmt.Errorf("bilevel %s %s seed %d: %w", task, arm, seed, err)
				}
				add(key{task, arm}, o)
				prog.Add(1)
			}
			methods := []string{"aid", "bo-rep", "lv-hba"}
			if radius > 0 {
				methods = []string{"lv-hba"}
			}
			for _, name := range methods {
				best := outcome{valLoss: math.Inf(1)}
				for _, step := range grid(name, sp.train.N, s.Grid) {
					if err := ctx.Err(); err != nil {
						return nil, err
					}
					o, err := solve(ctx, opts, s, sp, name, step, radius, seed)
					prog.Add(1)
					if err != nil {
						opts.Logf("bilevel %s %s seed %d step %g: %v (step skipped)", task, name, seed, step, err)
						continue
					}
					if o.valLoss < best.valLoss {
						best = o
					}
				}
				if math.IsInf(best.valLoss, 1) {
					best = outcome{acc: math.NaN(), auc: math.NaN(), valLoss: math.NaN(), seconds: math.NaN(), step: math.NaN()}
				}
				add(key{task, name}, best)
			}
		}
	}
	var rows []suite.Result
	for _, k := range order {
		os := res[k]
		col := func(f func(outcome) float64) []float64 {
			v := make([]float64, len(os))
			for i, o := range os {
				v[i] = f(o)
			}
			return v
		}
		iters := s.Iters
		if k.arm == "noisy" || k.arm == "clean-only" {
			iters = s.LowerSteps
		}
		secs := col(func(o outcome) float64 { return o.seconds })
		msPer, _ := suite.MeanStd(secs)
		msPer = msPer * 1000 / float64(iters)
		for _, m := range []struct {
			name   string
			f      func(outcome) float64
			higher bool
		}{
			{"test_accuracy", func(o outcome) float64 { return o.acc }, true},
			{"detection_auc", func(o outcome) float64 { return o.auc }, true},
			{"val_loss", func(o outcome) float64 { return o.valLoss }, false},
			{"seconds", func(o outcome) float64 { return o.seconds }, false},
		} {
			if m.name == "detection_auc" && (k.arm == "noisy" || k.arm == "clean-only") {
				continue // fixed weights: nothing learned to rank
			}
			r := suite.Row("bilevel", k.task, k.arm, m.name, col(m.f), msPer, iters)
			r.Extra["higher_is_better"] = m.higher
			r.Extra["corruption"] = s.Corruption
			r.Extra["train_examples"] = t.N
			if k.arm != "noisy" && k.arm != "clean-only" {
				r.Extra["chosen_step"] = col(func(o outcome) float64 { return o.step })
				r.Extra["oracle_calls"] = col(func(o outcome) float64 { return float64(o.calls) })
			}
			if k.arm == "clean-only" {
				r.Extra["oracle"] = "knows which labels are corrupted: the ceiling, not a method"
			}
			if (k.arm == "noisy" && m.name != "seconds") || (k.arm == "aid" && m.name == "seconds") {
				r = r.AsAnchor()
			}
			rows = append(rows, r)
		}
	}
	printTable(opts, s, t, rows)
	if p := opts.PlotPath("bilevel", "accuracy-vs-time"); p != "" {
		var series []suite.Series
		for _, k := range order {
			if k.task != "hyper-clean" || len(res[k][0].curve) == 0 {
				continue
			}
			var xs, ys []float64
			for _, pt := range res[k][0].curve {
				xs, ys = append(xs, pt.seconds), append(ys, pt.acc)
			}
			series = append(series, suite.Series{Name: k.arm, X: xs, Y: ys})
		}
		chart := suite.Chart{Title: fmt.Sprintf("hyper-cleaning %s (%.0f%% corrupted), seed 1", t.Name, 100*s.Corruption), XLabel: "seconds", YLabel: "test accuracy", Series: series}
		if err := suite.SavePlots(p, chart); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// grid returns the step sizes tried for a method (see the package doc).
func grid(method string, n int, full bool) []float64 {
	var g []float64
	switch method {
	case "aid":
		g = []float64{0.03 * float64(n), 0.3 * float64(n), 3 * float64(n)}
	case "bo-rep":
		r := math.Sqrt(float64(n))
		g = []float64{0.015 * r, 0.06 * r, 0.25 * r}
	case "lv-hba":
		g = []float64{0.03, 0.1, 0.3}
	}
	if !full {
		return g[1:2]
	}
	return g
}

// method builds a configured method at step size step.
func method(name string, step float64, seed int) (bilevel.Method, error) {
	switch name {
	case "aid":
		c := bilevel.DefaultAIDConfig()
		c.UpperLR = step
		return bilevel.NewAID(c), nil
	case "bo-rep":
		c := bilevel.DefaultBOREPConfig()
		c.UpperLR, c.ZLR, c.Seed = step, 0.1, uint64(seed)
		return bilevel.NewBOREP(c), nil
	case "lv-hba":
		c := bilevel.DefaultLVHBAConfig()
		c.Alpha, c.Eta = step, step
		return bilevel.NewLVHBA(c), nil
	}
	return bilevel.New(name)
}

func sigmoid(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = 1 / (1 + math.Exp(-x))
	}
	return out
}

// solve runs one method at one step size.
func solve(ctx context.Context, opts suite.Options, s Setup, sp *split, name string, step, radius float64, seed int) (outcome, error) {
	p, err := bilevel.LogisticCleaning(sp.train, sp.val, s.Mu, radius)
	if err != nil {
		return outcome{}, err
	}
	o, err := bilevel.NewOracle(opts.Backend, p)
	if err != nil {
		return outcome{}, err
	}
	defer o.Close()
	m, err := method(name, step, seed)
	if err != nil {
		return outcome{}, err
	}
	var curve []point
	var paused time.Duration // evaluation time, not counted
	t0 := time.Now()
	every := max(1, s.Iters/20)
	err = bilevel.Solve(ctx, o, m, s.Iters, func(k int) error {
		if k%every == 0 || k == s.Iters {
			e0 := time.Now()
			acc, err := bilevel.LogisticAccuracy(m.Y(), sp.test)
			if err != nil {
				return err
			}
			curve = append(curve, point{time.Since(t0).Seconds() - paused.Seconds(), acc})
			paused += time.Since(e0)
		}
		return nil
	})
	if err != nil {
		return outcome{}, err
	}
	secs := time.Since(t0).Seconds() - paused.Seconds()
	f, _, err := o.Values(m.X(), m.Y())
	if err != nil {
		return outcome{}, err
	}
	acc, err := bilevel.LogisticAccuracy(m.Y(), sp.test)
	if err != nil {
		return outcome{}, err
	}
	return outcome{acc: acc, auc: bilevel.DetectionAUC(m.X(), sp.bad), valLoss: f, seconds: secs, calls: o.Calls(), step: step, curve: curve}, nil
}

// lowerOnly solves the lower problem at fixed weights x (projected onto the ball when radius
// > 0) by LowerSteps gradient steps.
func lowerOnly(opts suite.Options, s Setup, train, val *data.Table, radius float64) (y []float64, valLoss, secs float64, err error) {
	p, err := bilevel.LogisticCleaning(train, val, s.Mu, radius)
	if err != nil {
		return nil, 0, 0, err
	}
	// The noisy arm's weights are uniform: λ = 1 for every example, as the methods start.
	o, err := bilevel.NewOracle(opts.Backend, p)
	if err != nil {
		return nil, 0, 0, err
	}
	defer o.Close()
	t0 := time.Now()
	y = slices.Clone(p.Y0)
	chunk := s.LowerSteps
	if radius > 0 {
		chunk = 1 // projected gradient: project after every step
	}
	for done := 0; done < s.LowerSteps; done += chunk {
		if y, err = o.LowerSteps(p.X0, y, s.LowerLR, min(chunk, s.LowerSteps-done)); err != nil {
			return nil, 0, 0, err
		}
		if p.Project != nil {
			if err := p.Project(p.X0, y); err != nil {
				return nil, 0, 0, err
			}
		}
	}
	secs = time.Since(t0).Seconds()
	f, _, err := o.Values(p.X0, y)
	return y, f, secs, err
}

// baseline runs the noisy arm (all corrupted training data, uniform weights) or the clean-only
// oracle (the training examples whose labels were not corrupted).
func baseline(opts suite.Options, s Setup, sp *split, arm string, radius float64) (outcome, error) {
	train := sp.train
	if arm == "clean-only" {
		var keep []int
		for i, b := range sp.bad {
			if !b {
				keep = append(keep, i)
			}
		}
		train = sp.train.Subset(keep)
	}
	y, f, secs, err := lowerOnly(opts, s, train, sp.val, radius)
	if err != nil {
		return outcome{}, err
	}
	acc, err := bilevel.LogisticAccuracy(y, sp.test)
	return outcome{acc: acc, auc: math.NaN(), valLoss: f, seconds: secs}, err
}

// noisyNorm is ‖y‖ of the unconstrained noisy solution.
func noisyNorm(opts suite.Options, s Setup, sp *split) (float64, error) {
	y, _, _, err := lowerOnly(opts, s, sp.train, sp.val, 0)
	if err != nil {
		return 0, err
	}
	n := 0.0
	for _, v := range y {
		n += v * v
	}
	return math.Sqrt(n), nil
}

func printTable(opts suite.Options, s Setup, t *data.Table, rows []suite.Result) {
	opts.Logf("\nbilevel: data hyper-cleaning on %s, %.0f%% of training labels corrupted (mean ± std over %d seed(s); %d outer iterations; step sizes chosen on the validation loss)",
		t.Name, 100*s.Corruption, s.Seeds, s.Iters)
	if opts.Out != nil {
		suite.PrintTable(opts.Out, rows)
	}
}
