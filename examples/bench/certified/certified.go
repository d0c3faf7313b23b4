// Package certifiedbench is the `certified` benchmark: IBP certified robust training of an MLP
// on digits (inputs scaled to [0, 1]), standard IBP training (Gowal et al. 2018: Kaiming init,
// no BN, no regularizer, a long linear ε ramp over half the epochs) against the fast recipe of
// Shi et al. (NeurIPS 2021: IBP init, BN after every hidden layer, the smoothed short ε warm-up
// over a fifth of the epochs, tightness + ReLU-balance regularizers with λ0 = 0.5 during
// warm-up) at equal epochs. Both arms train one natural epoch first (start = 2). Reported:
// clean test accuracy and IBP-verified test accuracy (correct and certified over the whole
// ℓ∞ ε-box), at ε = 0.1 and 0.2.
//
// -data FILE replaces digits with any classification CSV; its features are min-max scaled to
// [0, 1] with the training split's range.
package certifiedbench

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/moeboost/moeboost/certified"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
)

func init() {
	suite.Register("certified", suite.Func{
		Desc: "IBP certified training (Shi et al. 2021 fast recipe vs standard IBP): clean and verified accuracy on digits at eps 0.1, 0.2",
		Fn:   run,
	})
}

// Config is one benchmark configuration.
type Config struct {
	Hidden []int
	Epochs int
	Batch  int
	LR     float64
	Eps    []float64
	Seeds  int
}

// Arm is one training recipe, by its registered name (certified.RecipeByName).
type Arm struct {
	Name   string
	Anchor bool
}

// Arms are standard IBP (the anchor) and the fast recipe.
var Arms = []Arm{{Name: "ibp-standard", Anchor: true}, {Name: "fast"}}

func scaled(t *data.Table, lo, hi []float64) []float32 {
	x := make([]float32, len(t.X))
	for i := range t.N {
		for j := range t.D {
			v := 0.0
			if hi[j] > lo[j] {
				v = (t.X[i*t.D+j] - lo[j]) / (hi[j] - lo[j])
			}
			x[i*t.D+j] = float32(min(max(v, 0), 1))
		}
	}
	return x
}

func labels(t *data.Table) []int32 {
	y := make([]int32, t.N)
	for i, v := range t.Y {
		y[i] = int32(v)
	}
	return y
}

// Trial trains one arm at eps with seed and returns test clean and verified accuracy and ms/step.
func Trial(ctx context.Context, opts suite.Options, tab *data.Table, cfg Config, arm Arm, eps float64, seed int) (clean, verified, msPerStep float64, steps int, err error) {
	trainT, testT, err := tab.Split(0.2, uint64(seed))
	if err != nil {
		return 0, 0, 0, 0, err
	}
	lo, hi := make([]float64, tab.D), make([]float64, tab.D)
	for j := range tab.D {
		lo[j], hi[j] = math.Inf(1), math.Inf(-1)
		for i := range trainT.N {
			v := trainT.X[i*tab.D+j]
			lo[j], hi[j] = min(lo[j], v), max(hi[j], v)
		}
	}
	xtr, ytr := scaled(trainT, lo, hi), labels(trainT)
	xte, yte := scaled(testT, lo, hi), labels(testT)
	rc, err := certified.RecipeByName(arm.Name)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	mlp := certified.MLPConfig{In: tab.D, Hidden: cfg.Hidden, Classes: tab.NumClasses, BN: rc.BN, IBPInit: rc.IBPInit}
	b := opts.Backend
	if b == nil {
		b = backend.MustDefault()
	}
	tr, err := certified.NewTrainer(b, mlp, uint64(seed), cfg.LR)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer tr.Close()
	perEpoch := trainT.N / cfg.Batch
	sched := certified.EpsSchedule{MaxEps: eps, Start: 2, Length: max(1, int(rc.RampFraction*float64(cfg.Epochs))), EpochLength: perEpoch, Smoothed: rc.Smoothed}
	if err := sched.Validate(); err != nil {
		return 0, 0, 0, 0, err
	}
	regEnd := sched.RampEnd() // regularizer during warm-up epochs t <= start+length-1
	perm := make([]int, trainT.N)
	xb, yb := make([]float32, cfg.Batch*tab.D), make([]int32, cfg.Batch)
	rng := newRand(uint64(seed))
	start := time.Now()
	step := 0
	for range cfg.Epochs {
		if err := ctx.Err(); err != nil {
			return 0, 0, 0, 0, err
		}
		for i := range perm {
			perm[i] = i
		}
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		for b := range perEpoch {
			for k := range cfg.Batch {
				i := perm[b*cfg.Batch+k]
				copy(xb[k*tab.D:(k+1)*tab.D], xtr[i*tab.D:(i+1)*tab.D])
				yb[k] = ytr[i]
			}
			e := sched.At(step)
			lambda := 0.0
			if rc.Lambda0 > 0 && step < regEnd && eps > 0 {
				if lambda, err = certified.RegLambda(rc.Lambda0, e, eps); err != nil {
					return 0, 0, 0, 0, err
				}
			}
			loss, err := tr.Step(xb, yb, e, lambda)
			if err != nil {
				return 0, 0, 0, 0, err
			}
			if math.IsNaN(loss) {
				return 0, 0, 0, 0, fmt.Errorf("%s eps %g seed %d: loss NaN at step %d", arm.Name, eps, seed, step)
			}
			step++
		}
	}
	msPerStep = float64(time.Since(start).Microseconds()) / 1000 / float64(max(step, 1))
	clean, verified, err = tr.Evaluate(xte, yte, eps)
	return clean, verified, msPerStep, step, err
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	cfg := Config{Hidden: []int{256, 256}, Epochs: 30, Batch: 64, LR: 1e-3, Eps: []float64{0.1, 0.2}, Seeds: opts.SeedsOr(3, 1)}
	if opts.Quick {
		cfg.Epochs = 10
	}
	var tab *data.Table
	var err error
	if opts.DataFile != "" {
		tab, err = opts.LoadTable(data.Classification)
	} else {
		tab, err = data.Builtin("digits")
	}
	if err != nil {
		return nil, err
	}
	if opts.TextFile != "" {
		opts.Logf("certified: -text does not apply (the benchmark trains on a classification table)")
	}
	return Run(ctx, opts, tab, cfg)
}

// Run runs every arm at every eps over cfg.Seeds seeds and prints the table.
func Run(ctx context.Context, opts suite.Options, tab *data.Table, cfg Config) ([]suite.Result, error) {
	if tab.Task != data.Classification {
		return nil, fmt.Errorf("certified: table %s is %v, want classification", tab.Name, tab.Task)
	}
	var rows []suite.Result
	prog := suite.NewProgress(len(cfg.Eps)*len(Arms)*cfg.Seeds, "certified")
	defer prog.Done()
	for _, eps := range cfg.Eps {
		task := fmt.Sprintf("%s eps=%g", tab.Name, eps)
		for _, arm := range Arms {
			var cl, ve, ms []float64
			steps := 0
			for s := range cfg.Seeds {
				c, v, m, st, err := Trial(ctx, opts, tab, cfg, arm, eps, s+1)
				if err != nil {
					return rows, err
				}
				cl, ve, ms = append(cl, c), append(ve, v), append(ms, m)
				steps = st
				prog.Add(1)
			}
			msMean, _ := suite.MeanStd(ms)
			for _, mv := range []struct {
				metric string
				vals   []float64
			}{{"verified_acc", ve}, {"clean_acc", cl}} {
				row := suite.Row("certified", task, arm.Name, mv.metric, mv.vals, msMean, steps)
				row.Extra["higher_is_better"] = true
				row.Extra["epochs"] = cfg.Epochs
				row.Extra["hidden"] = cfg.Hidden
				if arm.Anchor {
					row = row.AsAnchor()
				}
				rows = append(rows, row)
			}
		}
	}
	if opts.Out != nil {
		suite.PrintTable(opts.Out, rows)
	}
	return rows, nil
}
