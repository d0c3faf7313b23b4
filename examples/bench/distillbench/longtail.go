package distillbench

import (
	"context"
	"fmt"
	"math"
	"sort"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	glayers "github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/distill"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

// LongTailSpec sizes the "longtail" benchmark.
type LongTailSpec struct {
	// Imbalance is n_max/n_min of the exponential profile (50).
	Imbalance float64
	// FewShot: classes with fewer training examples than this are "few-shot" (20, the usual
	// long-tail split).
	FewShot int
	Hidden  []int
	Steps   int
	Batch   int
	LR      float64
	// TestFraction of the (balanced) stratified test split.
	TestFraction float64
}

// DefaultLongTailSpec is the full benchmark; quick shortens the runs.
func DefaultLongTailSpec(quick bool) LongTailSpec {
	s := LongTailSpec{Imbalance: 50, FewShot: 20, Hidden: []int{64}, Steps: 1200, Batch: 64, LR: 2e-3, TestFraction: 0.3}
	if quick {
		s.Steps = 800
	}
	return s
}

// LongTailArms are the arms of the "longtail" benchmark, in table order.
var LongTailArms = []string{"ce", "logit-adjustment", "mdcs", "dice"}

// LongTail subsamples t exponentially: the class of rank r (in a seeded random order of the
// classes) keeps ⌊n_max·imbalance^(−r/(C−1))⌋ rows (at least 1), n_max the smallest class
// size, so the head class has n_max rows and the tail n_max/imbalance. It returns the subset
// and the per-class counts.
func LongTail(t *data.Table, imbalance float64, seed uint64) (*data.Table, []float64) {
	c := t.NumClasses
	byClass := make([][]int, c)
	for i, y := range t.Y {
		byClass[int(y)] = append(byClass[int(y)], i)
	}
	nmax := math.MaxInt
	for _, rows := range byClass {
		nmax = min(nmax, len(rows))
	}
	rng := data.Rand(seed)
	order := rng.Perm(c)
	counts := make([]float64, c)
	var keep []int
	for r, cls := range order {
		n := int(math.Floor(float64(nmax) * math.Pow(imbalance, -float64(r)/float64(c-1))))
		n = max(n, 1)
		rows := append([]int(nil), byClass[cls]...)
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		keep = append(keep, rows[:n]...)
		counts[cls] = float64(n)
	}
	sort.Ints(keep)
	return t.Subset(keep), counts
}

func plainMLP(hidden []int, classes int) train.ModelFn {
	return func(scope *model.Scope, in []*Node) []*Node {
		h := in[0]
		for i, w := range hidden {
			h = glayers.DenseWithBias(scope.In("l%d", i), h, w)
			h = Max(h, ZerosLike(h))
		}
		return []*Node{glayers.DenseWithBias(scope.In("out"), h, classes)}
	}
}

// LongTailSeed runs every arm on one seed and returns (overall, few-shot accuracy, ms/step)
// by arm, and the few-shot classes.
func LongTailSeed(ctx context.Context, opts suite.Options, spec LongTailSpec, t *data.Table, seed int, progress func(string)) (map[string][3]float64, []int, []float64, error) {
	trFull, teT, err := t.Split(spec.TestFraction, uint64(seed))
	if err != nil {
		return nil, nil, nil, err
	}
	trT, counts := LongTail(trFull, spec.Imbalance, uint64(seed))
	_, trS, others := data.Standardize(trT, false, teT)
	teS := others[0]
	c := t.NumClasses
	few := map[int]bool{}
	var fewList []int
	for cls, n := range counts {
		if n < float64(spec.FewShot) {
			few[cls] = true
			fewList = append(fewList, cls)
		}
	}
	labels := labelsOf(teS)
	out := map[string][3]float64{}
	sched := train.ScheduleConfig{Kind: "cosine", WarmupSteps: spec.Steps / 20, TotalSteps: spec.Steps, MinFactor: 0.05}
	spe := max(1, trS.N/min(spec.Batch, trS.N))
	for _, arm := range LongTailArms {
		if err := checkCtx(ctx); err != nil {
			return out, fewList, counts, err
		}
		tr, err := data.NewTrainBatches(trS, spec.Batch, uint64(seed))
		if err != nil {
			return nil, nil, nil, err
		}
		te, err := data.NewEvalBatches(teS, 1024)
		if err != nil {
			return nil, nil, nil, err
		}
		cfg := train.Config{Name: fmt.Sprintf("%s/seed%d", arm, seed), Backend: opts.Backend, Seed: int64(seed), Optimizer: "adamw",
			LearningRate: spec.LR, Schedule: sched, Steps: spec.Steps, Train: tr, Eval: []train.EvalSet{{Name: "test", Data: te}},
			EvalEvery: max(1, spec.Steps/5), Metrics: []string{"accuracy"}, Model: plainMLP(spec.Hidden, c)}
		switch arm {
		case "ce":
			cfg.Loss = "cross_entropy"
		case "logit-adjustment":
			cfg.Loss = "logit_adjusted_ce"
			cfg.Params = map[string]any{"class_counts": counts}
		case "dice":
			cfg.Loss = "dice"
		case "mdcs":
			mdcs, err := distill.NewMDCS(distill.MDCSConfig{ClassCounts: counts})
			if err != nil {
				return nil, nil, nil, err
			}
			experts := func(scope *model.Scope, x *Node) []*Node {
				h := x
				for i, w := range spec.Hidden {
					h = glayers.DenseWithBias(scope.In("l%d", i), h, w)
					h = Max(h, ZerosLike(h))
				}
				return distill.MDCSExperts(scope.In("experts"), h, 3, c, 32, 30)
			}
			d, err := distill.NewDistiller(distill.Config{Student: experts, Views: distill.NoiseViews(0.1, 0.4, 0.2), Combine: distill.MeanOutputs,
				NumClasses: c, NumTrain: trS.N, StepsPerEpoch: spe, Terms: []distill.WeightedTerm{{Name: "mdcs", Term: mdcs}}})
			if err != nil {
				return nil, nil, nil, err
			}
			cfg.Model, cfg.LossFn = d.Model, d.Loss
		}
		res, err := train.Run(ctx, cfg)
		if err != nil {
			return out, fewList, counts, fmt.Errorf("%s: %w", arm, err)
		}
		probs, err := predictProbs(res.Backend, res.Store, cfg.Model, teS)
		if err != nil {
			return out, fewList, counts, err
		}
		all, fs := Accuracy(probs, labels, few)
		out[arm] = [3]float64{all, fs, res.MsPerStep}
		progress(arm)
	}
	return out, fewList, counts, nil
}

func runLongTail(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	t, err := classificationTable(opts)
	if err != nil {
		return nil, err
	}
	spec := DefaultLongTailSpec(opts.Quick)
	seeds := opts.SeedsOr(3, 2)
	bar := suite.NewProgress(seeds*len(LongTailArms), "longtail")
	defer bar.Done()
	acc, few, ms := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	var counts1 []float64
	var few1 []int
	for s := 1; s <= seeds; s++ {
		outs, fewList, counts, err := LongTailSeed(ctx, opts, spec, t, s, func(arm string) { bar.Add(1); bar.Describe(fmt.Sprintf("longtail seed %d %s", s, arm)) })
		if err != nil {
			return nil, fmt.Errorf("seed %d: %w", s, err)
		}
		if s == 1 {
			counts1, few1 = counts, fewList
		}
		for arm, o := range outs {
			acc[arm] = append(acc[arm], o[0])
			few[arm] = append(few[arm], o[1])
			ms[arm] = append(ms[arm], o[2])
		}
	}
	task := fmt.Sprintf("%s-lt%g", t.Name, spec.Imbalance)
	opts.Logf("\nlongtail: %s, imbalance 1:%g (seed-1 class counts %v; few-shot = fewer than %d training rows: classes %v), %d seeds",
		t.Name, spec.Imbalance, counts1, spec.FewShot, few1, seeds)
	opts.Logf("%-17s %-17s %-17s %s", "arm", "accuracy", "few-shot acc.", "ms/step")
	var rows []suite.Result
	for _, arm := range LongTailArms {
		m, _ := suite.MeanStd(ms[arm])
		ra := suite.Row("longtail", task, arm, "accuracy", acc[arm], m, spec.Steps)
		rf := suite.Row("longtail", task, arm, "few_shot_accuracy", few[arm], m, spec.Steps)
		for _, r := range []*suite.Result{&ra, &rf} {
			r.Extra["higher_is_better"] = true
			r.Extra["imbalance"] = spec.Imbalance
		}
		rows = append(rows, ra, rf)
		opts.Logf("%-17s %.4f ± %.4f  %.4f ± %.4f  %.3f", arm, ra.Value, ra.Std, rf.Value, rf.Std, m)
	}
	if p := opts.PlotPath("longtail", task); p != "" {
		chart := suite.Chart{Title: fmt.Sprintf("long-tailed %s (1:%g): accuracy (x=0 overall, x=1 few-shot classes)", t.Name, spec.Imbalance),
			XLabel: "0 = overall, 1 = few-shot", YLabel: "accuracy"}
		for _, arm := range LongTailArms {
			a, _ := suite.MeanStd(acc[arm])
			f, _ := suite.MeanStd(few[arm])
			chart.Series = append(chart.Series, suite.Series{Name: arm, X: []float64{0, 1}, Y: []float64{a, f}})
		}
		if err := suite.SavePlot(p, chart); err != nil {
			return rows, err
		}
		opts.Logf("plot: %s", p)
	}
	return rows, nil
}
