// Package federated is the `federated` benchmark: the non-IID federated simulation of package
// federated (Cheng et al., "Momentum Benefits Non-IID Federated Learning Simply and Provably",
// ICLR 2024) on digits and a tabular set (breast_cancer; -data FILE, a classification CSV,
// replaces it), with labels split over N = 10 clients by Dirichlet(α), α ∈ {0.1, 1, 100}.
//
// Every arm trains the same model (a 32-unit tanh MLP) from the same initialisation with the same
// client sampling (S = 5 of 10 per round) and mini-batches (16 examples, drawn with replacement),
// K = 10 local steps of η = 0.05, and reports test accuracy against communication rounds:
//
//	fedavg           η_g = 1 (model averaging)
//	fedavg-m         β = 0.2 (paper's client momentum, server-held g), γ = ηK
//	fedavg-m-vr      β = 0.2, STORM-style variance reduction (two gradients per local step)
//	server-momentum  FedAvgM, μ = 0.9, η_g = 1 − μ (same effective step as fedavg)
//	scaffold         option II control variates, η_g = 1 (the anchor)
//
// Metrics per task (dataset@α) and arm: final test accuracy, and the mean test accuracy over
// the evaluated rounds (the area under the accuracy-vs-rounds curve: a speed measure). The full
// run adds, per table, the smallest α with K = 30 local steps (task "…@α=0.1,K=30"): strong
// client drift, the regime where the paper expects client momentum to help. The plot
// shows the seed-mean accuracy against rounds per task. When a Dirichlet draw leaves a client
// empty (small α on a small set) the split is redrawn with the next seed (logged).
package federated

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	fl "github.com/moeboost/moeboost/federated"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/data"
)

func init() {
	suite.Register("federated", suite.Func{
		Desc: "non-IID federated learning (Dirichlet α ∈ {0.1, 1, 100}, 10 clients, 5 per round): fedavg, fedavg-m, fedavg-m-vr, server-momentum vs scaffold on digits and breast_cancer; test accuracy vs rounds; -data FILE (classification) replaces breast_cancer",
		Fn:   run,
	})
}

// Setup sizes one run.
type Setup struct {
	Clients, PerRound, LocalSteps, Batch, Hidden int
	Rounds, EvalEvery, Seeds                     int
	LocalLR, Beta, ServerMomentum                float64
	Alphas                                       []float64
	Arms                                         []string
	// DriftSteps, when > 0, adds per table a task at the smallest α with DriftSteps local steps
	// (strong client drift: the regime the paper's analysis targets).
	DriftSteps int
}

// DefaultSetup is the full run (3 seeds) or the quick one (1 seed, fewer rounds).
func DefaultSetup(quick bool) Setup {
	s := Setup{Clients: 10, PerRound: 5, LocalSteps: 10, Batch: 16, Hidden: 32, Rounds: 100, EvalEvery: 2, Seeds: 3,
		LocalLR: 0.05, Beta: 0.2, ServerMomentum: 0.9, Alphas: []float64{0.1, 1, 100},
		Arms: []string{"fedavg", "fedavg-m", "fedavg-m-vr", "server-momentum", "scaffold"}, DriftSteps: 30}
	if quick {
		s.Rounds, s.EvalEvery, s.Seeds, s.DriftSteps = 25, 5, 1, 0
	}
	return s
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	s := DefaultSetup(opts.Quick)
	s.Seeds = opts.SeedsOr(s.Seeds, 1)
	digits, err := data.Builtin("digits")
	if err != nil {
		return nil, err
	}
	var tab *data.Table
	if opts.DataFile != "" {
		tab, err = opts.LoadTable(data.Classification)
	} else {
		tab, err = data.Builtin("breast_cancer")
	}
	if err != nil {
		return nil, err
	}
	return Run(ctx, opts, s, []*data.Table{digits, tab})
}

type curve struct {
	rounds []float64
	acc    []float64
}

// Run runs the benchmark on the given classification tables.
func Run(ctx context.Context, opts suite.Options, s Setup, tables []*data.Table) ([]suite.Result, error) {
	if s.Rounds < 1 || s.EvalEvery < 1 || s.Seeds < 1 || len(s.Alphas) == 0 || len(s.Arms) == 0 {
		return nil, fmt.Errorf("federated: bad setup %+v (rounds, eval interval, seeds ≥ 1; alphas and arms non-empty)", s)
	}
	for _, t := range tables {
		if t.Task != data.Classification {
			return nil, fmt.Errorf("federated: %s is a %v task; the benchmark needs classification", t.Name, t.Task)
		}
	}
	type key struct{ task, arm string }
	final, mean, secs := map[key][]float64{}, map[key][]float64{}, map[key][]float64{}
	curves := map[key][]curve{}
	var tasks []string
	type variant struct {
		alpha float64
		k     int
	}
	variants := make([]variant, 0, len(s.Alphas)+1)
	for _, a := range s.Alphas {
		variants = append(variants, variant{a, s.LocalSteps})
	}
	if s.DriftSteps > 0 {
		variants = append(variants, variant{slices.Min(s.Alphas), s.DriftSteps})
	}
	stepsOf := map[string]int{}
	prog := suite.NewProgress(len(tables)*len(variants)*s.Seeds*len(s.Arms), "federated")
	defer prog.Done()
	for _, t := range tables {
		for _, v := range variants {
			alpha := v.alpha
			task := fmt.Sprintf("%s@α=%g", t.Name, alpha)
			if v.k != s.LocalSteps {
				task += fmt.Sprintf(",K=%d", v.k)
			}
			tasks = append(tasks, task)
			stepsOf[task] = v.k
			for seed := 1; seed <= s.Seeds; seed++ {
				rest, test, err := t.Split(0.3, uint64(seed))
				if err != nil {
					return nil, err
				}
				_, train, others := data.Standardize(rest, false, test)
				test = others[0]
				ytr, yte := labels(train), labels(test)
				var parts [][]int
				for try := 0; ; try++ {
					parts, err = fl.DirichletSplit(ytr, train.NumClasses, s.Clients, alpha, uint64(seed)+1000*uint64(try))
					if err != nil {
						return nil, err
					}
					if nonEmpty(parts) {
						break
					}
					if try == 50 {
						return nil, fmt.Errorf("federated: %s: 50 Dirichlet(%g) draws left a client empty; use fewer clients or a larger alpha", task, alpha)
					}
					opts.Logf("federated %s seed %d: a client got no data; split redrawn", task, seed)
				}
				m, err := fl.NewMLP(opts.Backend, train.X, ytr, train.D, s.Hidden, train.NumClasses)
				if err != nil {
					return nil, err
				}
				x0 := m.Init(uint64(seed))
				for _, arm := range s.Arms {
					if err := ctx.Err(); err != nil {
						m.Close()
						return nil, err
					}
					cfg := fl.Config{Algorithm: arm, PerRound: s.PerRound, LocalSteps: v.k, LocalLR: s.LocalLR,
						ServerLR: 1, Beta: s.Beta, Batch: s.Batch, Seed: uint64(seed)}
					if arm == "server-momentum" {
						cfg.Momentum, cfg.ServerLR = s.ServerMomentum, 1-s.ServerMomentum
					}
					start := time.Now()
					c, err := train1(m, parts, x0, cfg, s, test.X, yte)
					if err != nil {
						m.Close()
						return nil, fmt.Errorf("federated %s %s seed %d: %w", task, arm, seed, err)
					}
					k := key{task, arm}
					final[k] = append(final[k], c.acc[len(c.acc)-1])
					avg, _ := suite.MeanStd(c.acc)
					mean[k] = append(mean[k], avg)
					secs[k] = append(secs[k], time.Since(start).Seconds())
					curves[k] = append(curves[k], c)
					prog.Add(1)
				}
				m.Close()
			}
		}
	}
	var rows []suite.Result
	for _, task := range tasks {
		for _, arm := range s.Arms {
			k := key{task, arm}
			ms, _ := suite.MeanStd(secs[k])
			msPer := ms * 1000 / float64(s.Rounds)
			for _, mt := range []struct {
				name string
				v    []float64
			}{{"test_accuracy", final[k]}, {"mean_accuracy_over_rounds", mean[k]}} {
				r := suite.Row("federated", task, arm, mt.name, mt.v, msPer, s.Rounds)
				r.Extra["higher_is_better"] = true
				r.Extra["per_seed"] = mt.v
				r.Extra["clients"], r.Extra["per_round"], r.Extra["local_steps"] = s.Clients, s.PerRound, stepsOf[task]
				r.Extra["local_lr"], r.Extra["batch"] = s.LocalLR, s.Batch
				switch arm {
				case "fedavg-m", "fedavg-m-vr":
					r.Extra["beta"] = s.Beta
				case "server-momentum":
					r.Extra["momentum"], r.Extra["server_lr"] = s.ServerMomentum, 1-s.ServerMomentum
				}
				if arm == "scaffold" {
					r = r.AsAnchor()
				}
				rows = append(rows, r)
			}
		}
	}
	if p := opts.PlotPath("federated", "accuracy-vs-rounds"); p != "" {
		var charts []suite.Chart
		for _, task := range tasks {
			var series []suite.Series
			for _, arm := range s.Arms {
				cs := curves[key{task, arm}]
				xs := cs[0].rounds
				ys := make([]float64, len(xs))
				for _, c := range cs {
					for i, v := range c.acc {
						ys[i] += v / float64(len(cs))
					}
				}
				series = append(series, suite.Series{Name: arm, X: xs, Y: ys})
			}
			charts = append(charts, suite.Chart{Title: fmt.Sprintf("federated %s (%d seeds)", task, s.Seeds), XLabel: "communication round", YLabel: "test accuracy", Series: series})
		}
		if err := suite.SavePlots(p, charts...); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// train1 runs one arm and evaluates test accuracy every EvalEvery rounds (and at the end).
func train1(m *fl.MLP, parts [][]int, x0 []float64, cfg fl.Config, s Setup, xte []float64, yte []int) (curve, error) {
	sim, err := fl.New(m, parts, x0, cfg)
	if err != nil {
		return curve{}, err
	}
	var c curve
	for r := 1; r <= s.Rounds; r++ {
		if err := sim.Step(); err != nil {
			// A diverged run reports NaN accuracy from then on rather than aborting the table.
			for ; r <= s.Rounds; r++ {
				if r%s.EvalEvery == 0 || r == s.Rounds {
					c.rounds, c.acc = append(c.rounds, float64(r)), append(c.acc, math.NaN())
				}
			}
			return c, nil
		}
		if r%s.EvalEvery == 0 || r == s.Rounds {
			a, err := m.Accuracy(sim.X, xte, yte)
			if err != nil {
				return curve{}, err
			}
			c.rounds, c.acc = append(c.rounds, float64(r)), append(c.acc, a)
		}
	}
	return c, nil
}

func labels(t *data.Table) []int {
	y := make([]int, t.N)
	for i, v := range t.Y {
		y[i] = int(v)
	}
	return y
}

func nonEmpty(parts [][]int) bool {
	for _, p := range parts {
		if len(p) == 0 {
			return false
		}
	}
	return true
}
