package distillbench

import (
	"context"
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	glayers "github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/distill"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

// DistillSpec sizes the "distill" benchmark.
type DistillSpec struct {
	// TeacherHidden are the teacher MLP's hidden widths; StudentHidden the student's.
	TeacherHidden, StudentHidden []int
	// TeacherDropout regularizes the teacher (off when it teaches: teachers run in evaluation
	// mode).
	TeacherDropout float64
	// Steps per run, batch size, learning rates (AdamW, cosine schedule).
	TeacherSteps, StudentSteps, Batch int
	TeacherLR, StudentLR              float64
	// Temperature and Alpha of KD (also FitNet+KD's KD term); FitNetWeight of the hint.
	Temperature, Alpha, FitNetWeight float64
	// TestFraction of the stratified split.
	TestFraction float64
}

// DefaultDistillSpec is the full benchmark; quick shortens the runs.
func DefaultDistillSpec(quick bool) DistillSpec {
	// A 16-unit student trained long enough (about 190 epochs) to become overconfident alone,
	// which is where PS-KD's calibration effect shows; KD's gain is the small student's.
	s := DistillSpec{TeacherHidden: []int{256, 256}, StudentHidden: []int{16}, TeacherDropout: 0.2,
		TeacherSteps: 1500, StudentSteps: 4000, Batch: 64, TeacherLR: 1e-3, StudentLR: 3e-3,
		Temperature: 4, Alpha: 0.9, FitNetWeight: 1, TestFraction: 0.3}
	if quick {
		s.TeacherSteps, s.StudentSteps = 800, 2000
	}
	return s
}

// DistillArms are the arms of the "distill" benchmark, in table order.
var DistillArms = []string{"teacher", "student", "kd", "dkd", "ps-kd", "fitnet+kd"}

// mlpFn is an MLP (ReLU, optional dropout) that taps its last hidden layer as "hidden".
func mlpFn(hidden []int, classes int, dropout float64) distill.ModelFn {
	return func(scope *model.Scope, x *Node) []*Node {
		h := x
		for i, w := range hidden {
			h = glayers.DenseWithBias(scope.In("l%d", i), h, w)
			h = Max(h, ZerosLike(h))
			if dropout > 0 {
				h = glayers.DropoutStatic(scope.In("drop%d", i), h, dropout)
			}
		}
		distill.Tap(scope, "hidden", h)
		return []*Node{glayers.DenseWithBias(scope.In("out"), h, classes)}
	}
}

// DistillOutcome is one arm's result on one seed.
type DistillOutcome struct {
	Accuracy, ECE, MsPerStep float64
	Steps                    int
	Curve                    suite.Series
	Probs                    [][]float64
}

// DistillSeed runs every arm on one seed of table t and returns the outcomes by arm.
func DistillSeed(ctx context.Context, opts suite.Options, spec DistillSpec, t *data.Table, seed int, progress func(string)) (map[string]DistillOutcome, error) {
	trT, teT, err := t.Split(spec.TestFraction, uint64(seed))
	if err != nil {
		return nil, err
	}
	_, trS, others := data.Standardize(trT, false, teT)
	teS := others[0]
	c := t.NumClasses
	labels := labelsOf(teS)
	out := map[string]DistillOutcome{}
	record := func(arm string, res *train.Result, fn train.ModelFn, store *model.Store) error {
		probs, err := predictProbs(res.Backend, store, fn, teS)
		if err != nil {
			return err
		}
		acc, _ := Accuracy(probs, labels, nil)
		x, y := res.Curve("test/accuracy")
		out[arm] = DistillOutcome{Accuracy: acc, ECE: ECE(probs, labels, 15), MsPerStep: res.MsPerStep, Steps: res.Steps,
			Curve: suite.Series{Name: arm, X: x, Y: y}, Probs: probs}
		progress(arm)
		return nil
	}
	sched := func(steps int) train.ScheduleConfig {
		return train.ScheduleConfig{Kind: "cosine", WarmupSteps: steps / 20, TotalSteps: steps, MinFactor: 0.05}
	}
	batches := func(indices bool) (*data.Batches, *data.Batches, error) {
		tr, err := data.NewTrainBatches(trS, spec.Batch, uint64(seed))
		if err != nil {
			return nil, nil, err
		}
		te, err := data.NewEvalBatches(teS, 1024)
		if err != nil {
			return nil, nil, err
		}
		if indices {
			tr, te = tr.WithIndices(), te.WithIndices()
		}
		return tr, te, nil
	}

	// Teacher: a wide MLP with dropout, trained alone.
	teacherFn := mlpFn(spec.TeacherHidden, c, spec.TeacherDropout)
	tr, te, err := batches(false)
	if err != nil {
		return nil, err
	}
	tres, err := distill.TrainTeacher(ctx, train.Config{Name: fmt.Sprintf("teacher/seed%d", seed), Backend: opts.Backend, Seed: int64(seed),
		Optimizer: "adamw", LearningRate: spec.TeacherLR, Schedule: sched(spec.TeacherSteps), Steps: spec.TeacherSteps, Train: tr,
		Eval: []train.EvalSet{{Name: "test", Data: te}}, EvalEvery: max(1, spec.TeacherSteps/10), Metrics: []string{"accuracy"}}, teacherFn)
	if err != nil {
		return nil, fmt.Errorf("teacher: %w", err)
	}
	if err := record("teacher", tres, tres.Model, tres.Store); err != nil {
		return nil, err
	}
	cache, err := distill.CacheLogits(tres.Backend, tres.Store, teacherFn, trS)
	if err != nil {
		return nil, err
	}

	student := mlpFn(spec.StudentHidden, c, 0)
	spe := trS.N / min(spec.Batch, trS.N)
	epochs := int(math.Ceil(float64(spec.StudentSteps) / float64(spe)))
	kd, err := distill.NewKD(distill.KDConfig{Temperature: spec.Temperature, Alpha: distill.Float(spec.Alpha)})
	if err != nil {
		return nil, err
	}
	ce, err := distill.NewHardLabel(nil, "cross_entropy")
	if err != nil {
		return nil, err
	}
	dkd, err := distill.NewDKD(distill.DKDConfig{})
	if err != nil {
		return nil, err
	}
	pskd, err := distill.NewPSKD(distill.PSKDConfig{AlphaT: 0.8, Epochs: epochs})
	if err != nil {
		return nil, err
	}
	fit, err := distill.NewFitNet(distill.FitNetConfig{StudentTap: "hidden", TeacherTap: "hidden"})
	if err != nil {
		return nil, err
	}
	cached, err := distill.NewCached(cache)
	if err != nil {
		return nil, err
	}
	frozen, err := distill.NewFrozen(teacherFn, tres.Store, "/")
	if err != nil {
		return nil, err
	}
	// DKD's warm-up: mdistiller ramps over 20 of 240 epochs; here over 1/12 of the run.
	warm := distill.Schedule{Kind: "warmup", Warmup: math.Max(1, float64(epochs)/12), Epochs: true}
	configs := map[string]distill.Config{
		"student":   {Student: student, Terms: []distill.WeightedTerm{{Name: "ce", Term: ce}}},
		"kd":        {Student: student, Teacher: cached, UseIndices: true, Terms: []distill.WeightedTerm{{Name: "kd", Term: kd}}},
		"dkd":       {Student: student, Teacher: cached, UseIndices: true, Terms: []distill.WeightedTerm{{Name: "ce", Term: ce}, {Name: "dkd", Term: dkd, Schedule: warm}}},
		"ps-kd":     {Student: student, UseIndices: true, Terms: []distill.WeightedTerm{{Name: "pskd", Term: pskd}}},
		"fitnet+kd": {Student: student, Teacher: frozen, Terms: []distill.WeightedTerm{{Name: "kd", Term: kd}, {Name: "fitnet", Term: fit, Weight: spec.FitNetWeight}}},
	}
	for _, arm := range DistillArms[1:] {
		if err := checkCtx(ctx); err != nil {
			return out, err
		}
		cfg := configs[arm]
		cfg.NumClasses, cfg.NumTrain, cfg.StepsPerEpoch = c, trS.N, spe
		d, err := distill.NewDistiller(cfg)
		if err != nil {
			return out, fmt.Errorf("%s: %w", arm, err)
		}
		tr, te, err := batches(cfg.UseIndices)
		if err != nil {
			return out, err
		}
		res, err := train.Run(ctx, train.Config{Name: fmt.Sprintf("%s/seed%d", arm, seed), Backend: opts.Backend, Seed: int64(seed),
			Model: d.Model, LossFn: d.Loss, Optimizer: "adamw", LearningRate: spec.StudentLR, Schedule: sched(spec.StudentSteps),
			Steps: spec.StudentSteps, Train: tr, Eval: []train.EvalSet{{Name: "test", Data: te}}, EvalEvery: max(1, spec.StudentSteps/10),
			Metrics: []string{"accuracy"}})
		if err != nil {
			return out, fmt.Errorf("%s: %w", arm, err)
		}
		if err := record(arm, res, d.Model, res.Store); err != nil {
			return out, err
		}
	}
	return out, nil
}

func runDistill(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	t, err := classificationTable(opts)
	if err != nil {
		return nil, err
	}
	spec := DefaultDistillSpec(opts.Quick)
	seeds := opts.SeedsOr(3, 2) // One seed's test split (540 rows) cannot resolve KD's gain.
	bar := suite.NewProgress(seeds*len(DistillArms), "distill")
	defer bar.Done()
	acc, ece, ms := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	steps := map[string]int{}
	var first map[string]DistillOutcome
	for s := 1; s <= seeds; s++ {
		outs, err := DistillSeed(ctx, opts, spec, t, s, func(arm string) { bar.Add(1); bar.Describe(fmt.Sprintf("distill seed %d %s", s, arm)) })
		if err != nil {
			return nil, fmt.Errorf("seed %d: %w", s, err)
		}
		if s == 1 {
			first = outs
		}
		for arm, o := range outs {
			acc[arm] = append(acc[arm], o.Accuracy)
			ece[arm] = append(ece[arm], o.ECE)
			ms[arm] = append(ms[arm], o.MsPerStep)
			steps[arm] = o.Steps
		}
	}
	var rows []suite.Result
	task := t.Name
	opts.Logf("\ndistill on %s (%d seeds; teacher MLP %v, student MLP %v; KD T=%g α=%g): test accuracy and ECE (15 bins), mean ± std",
		task, seeds, spec.TeacherHidden, spec.StudentHidden, spec.Temperature, spec.Alpha)
	opts.Logf("%-10s %-17s %-17s %s", "arm", "accuracy", "ECE", "ms/step")
	for _, arm := range DistillArms {
		m, _ := suite.MeanStd(ms[arm])
		ra := suite.Row("distill", task, arm, "accuracy", acc[arm], m, steps[arm])
		ra.Extra["higher_is_better"] = true
		re := suite.Row("distill", task, arm, "ece", ece[arm], m, steps[arm])
		re.Extra["higher_is_better"] = false
		rows = append(rows, ra, re)
		opts.Logf("%-10s %.4f ± %.4f  %.4f ± %.4f  %.3f", arm, ra.Value, ra.Std, re.Value, re.Std, m)
	}
	if p := opts.PlotPath("distill", task); p != "" && first != nil {
		curves := suite.Chart{Title: fmt.Sprintf("distill on %s (seed 1): test accuracy", task), XLabel: "step", YLabel: "accuracy"}
		rel := suite.Chart{Title: "reliability (seed 1): accuracy vs confidence, 15 bins (diagonal = calibrated)", XLabel: "confidence", YLabel: "accuracy"}
		labels := labelsOf(mustTest(t, spec, 1))
		for _, arm := range DistillArms {
			curves.Series = append(curves.Series, first[arm].Curve)
			if arm == "student" || arm == "ps-kd" || arm == "kd" {
				x, y := reliability(first[arm].Probs, labels, 15)
				rel.Series = append(rel.Series, suite.Series{Name: arm, X: x, Y: y})
			}
		}
		rel.Series = append(rel.Series, suite.Series{Name: "calibrated", X: []float64{0, 1}, Y: []float64{0, 1}})
		if err := suite.SavePlots(p, curves, rel); err != nil {
			return rows, err
		}
		opts.Logf("plot: %s", p)
	}
	return rows, nil
}

// mustTest re-derives seed's test split (the labels of the plotted probabilities).
func mustTest(t *data.Table, spec DistillSpec, seed int) *data.Table {
	_, te, err := t.Split(spec.TestFraction, uint64(seed))
	if err != nil {
		panic(err)
	}
	return te
}

// reliability returns the mean confidence and accuracy of each non-empty bin.
func reliability(probs [][]float64, labels []int, nbins int) (conf, acc []float64) {
	n := make([]float64, nbins)
	cs := make([]float64, nbins)
	as := make([]float64, nbins)
	for i, p := range probs {
		best, arg := -1.0, 0
		for c, v := range p {
			if v > best {
				best, arg = v, c
			}
		}
		b := min(max(int(math.Ceil(best*float64(nbins)))-1, 0), nbins-1)
		n[b]++
		cs[b] += best
		if arg == labels[i] {
			as[b]++
		}
	}
	for b := range nbins {
		if n[b] > 0 {
			conf = append(conf, cs[b]/n[b])
			acc = append(acc, as[b]/n[b])
		}
	}
	return conf, acc
}

// classificationTable is the benchmarks' data: the -data CSV (classification) when given, else
// the bundled digits.
func classificationTable(opts suite.Options) (*data.Table, error) {
	if opts.DataFile != "" {
		return opts.LoadTable(data.Classification)
	}
	return data.Builtin("digits")
}
