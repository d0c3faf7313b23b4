// Package augment is the `augment` benchmark: digits test accuracy of a small MLP trained with
// and without RandAugment (Cubuk et al., 2020, arXiv:1909.13719), over a small (N, M) grid.
//
// Each arm trains the same MLP (AdamW, cosine schedule, fixed steps, no early stopping) on
// the same seeded 80/20 split of digits, with pixels scaled from [0, 16] to [0, 1]; only the
// training batches pass through the augmentation (train/augment's Dataset), the test set stays
// clean. Tasks: "digits" (the whole 80% training split) and, in full mode, "digits-25pct"
// (a stratified quarter of it), since the paper finds the best magnitude to depend on the
// training-set size. Rows: test accuracy per arm (the no-augmentation arm is the anchor), the
// per-seed paired gain over it, and the host cost of RandAugment per image.
//
// The issue allows a small CNN instead of or beside the MLP; it is not an arm here: a
// two-convolution net (3×3, 16 and 32 channels) measured 335-362 ms/step on the Go backend
// (2 shared vCPUs, loaded) against about 3 ms/step for the MLP, and the Go backend has no
// gradient for MaxPool (SelectAndScatterMax), so the grid would take hours.
//
// With -data FILE.csv the features must form a square grayscale image (D = s², s ≥ 3); the
// value range is the file's minimum and maximum. -text does not apply.
package augment

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train"
	aug "github.com/moeboost/moeboost/train/augment"
	"github.com/moeboost/moeboost/train/data"
)

func init() {
	suite.Register("augment", suite.Func{
		Desc: "RandAugment (N, M grid) vs none: MLP test accuracy on digits (or a square-image -data CSV)",
		Fn:   run,
	})
}

// Arm is one augmentation setting; N = 0 is the no-augmentation arm.
type Arm struct {
	N             int
	M             float64
	Interpolation string
}

// Name is "none" or "ra-n2-m9" (with "-bilinear" when so).
func (a Arm) Name() string {
	if a.N == 0 {
		return "none"
	}
	s := fmt.Sprintf("ra-n%d-m%g", a.N, a.M)
	if a.Interpolation == "bilinear" {
		s += "-bilinear"
	}
	return s
}

// Task is one training set: a fraction of the 80% training split.
type Task struct {
	Name          string
	TrainFraction float64
}

// Setup sizes the benchmark.
type Setup struct {
	Hidden       []int
	Dropout      float64
	Steps, Batch int
	LR           float64
	Seeds        int
	Arms         []Arm
	Tasks        []Task
	// CostImages is the batch size of the host-cost timing (0: skipped).
	CostImages int
}

// grid returns none plus every (N, M) pair.
func grid(ns []int, ms []float64, extra ...Arm) []Arm {
	arms := []Arm{{}}
	for _, n := range ns {
		for _, m := range ms {
			arms = append(arms, Arm{N: n, M: m})
		}
	}
	return append(arms, extra...)
}

// Full is the default setup: N ∈ {1, 2, 3} × M ∈ {2, 5, 9} plus N=1, M=5 with bilinear warps,
// 3 seeds, 1500 steps (mlp's digits budget), on the whole training split and on a quarter of it.
func Full() Setup {
	return Setup{Hidden: []int{256, 128}, Dropout: 0.1, Steps: 1500, Batch: 64, LR: 1e-3, Seeds: 3,
		Arms:       grid([]int{1, 2, 3}, []float64{2, 5, 9}, Arm{N: 1, M: 5, Interpolation: "bilinear"}),
		Tasks:      []Task{{"digits", 1}, {"digits-25pct", 0.25}},
		CostImages: 4096}
}

// Quick is the -quick setup: none, (N, M) = (1, 2), (1, 5), (2, 9), 800 steps, 3 seeds, the
// whole training split only.
func Quick() Setup {
	s := Full()
	s.Steps = 800
	s.Arms = []Arm{{}, {N: 1, M: 2}, {N: 1, M: 5}, {N: 2, M: 9}}
	s.Tasks = s.Tasks[:1]
	s.CostImages = 1024
	return s
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	s := Full()
	if opts.Quick {
		s = Quick()
	}
	if opts.Seeds > 0 {
		s.Seeds = opts.Seeds
	}
	if opts.TextFile != "" {
		opts.Logf("augment: -text does not apply (RandAugment augments images, not text).")
	}
	return Run(ctx, opts, s)
}

// images returns the table scaled to [0, 1] and its image format.
func images(opts suite.Options) (*data.Table, aug.Format, error) {
	if opts.DataFile == "" {
		t, err := data.Builtin("digits")
		if err != nil {
			return nil, aug.Format{}, err
		}
		return scaled(t, aug.Digits.Lo, aug.Digits.Hi), withRange(aug.Digits, 0, 1), nil
	}
	t, err := opts.LoadTable(data.Classification)
	if err != nil {
		return nil, aug.Format{}, err
	}
	side := int(math.Round(math.Sqrt(float64(t.D))))
	if side*side != t.D || side < 3 {
		return nil, aug.Format{}, fmt.Errorf("augment: -data %s has %d features; RandAugment needs a square grayscale image (D = s², s >= 3)", opts.DataFile, t.D)
	}
	lo, hi := slices.Min(t.X), slices.Max(t.X)
	if !(hi > lo) {
		return nil, aug.Format{}, fmt.Errorf("augment: -data %s is constant (%v): no image to augment", opts.DataFile, lo)
	}
	return scaled(t, lo, hi), aug.Format{Height: side, Width: side, Channels: 1, Lo: 0, Hi: 1}, nil
}

func withRange(f aug.Format, lo, hi float64) aug.Format { f.Lo, f.Hi = lo, hi; return f }

// scaled maps the features from [lo, hi] to [0, 1].
func scaled(t *data.Table, lo, hi float64) *data.Table {
	c := t.Clone()
	for i, v := range c.X {
		c.X[i] = (v - lo) / (hi - lo)
	}
	return c
}

// trial trains one arm on one seed and returns its test accuracy and ms/step.
func trial(ctx context.Context, opts suite.Options, s Setup, f aug.Format, t *data.Table, task Task, arm Arm, seed int) (float64, *train.Result, error) {
	trainT, testT, err := t.Split(0.2, uint64(seed))
	if err != nil {
		return 0, nil, err
	}
	if task.TrainFraction < 1 {
		if trainT, _, err = trainT.Split(1-task.TrainFraction, uint64(seed)+0x5a11); err != nil {
			return 0, nil, err
		}
	}
	batches, err := data.NewTrainBatches(trainT, s.Batch, uint64(seed))
	if err != nil {
		return 0, nil, err
	}
	var ds train.Resumable = batches
	if arm.N > 0 {
		ra, err := aug.New("randaugment", f, aug.Config{N: arm.N, M: arm.M, Interpolation: arm.Interpolation})
		if err != nil {
			return 0, nil, err
		}
		ds = aug.NewDataset(batches, ra, uint64(seed)*0x9e37+1)
	}
	testDS, err := data.NewEvalBatches(testT, 1024)
	if err != nil {
		return 0, nil, err
	}
	mlp := layers.MLPConfig{Hidden: s.Hidden, Out: t.NumClasses, Dropout: s.Dropout}
	res, err := train.Run(ctx, train.Config{
		Name: fmt.Sprintf("%s/%s/seed%d", task.Name, arm.Name(), seed), Backend: opts.Backend, Seed: int64(seed),
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			return []*graph.Node{layers.MLP(scope.In("mlp"), in[0], mlp)}
		},
		Loss: "cross_entropy", Optimizer: "adamw", LearningRate: s.LR, Steps: s.Steps, Train: ds,
		Schedule: train.ScheduleConfig{Kind: "cosine", WarmupSteps: s.Steps / 20, MinFactor: 0.05},
		Eval:     []train.EvalSet{{Name: "test", Data: testDS}},
		Metrics:  []string{"accuracy"}, EvalEvery: max(1, s.Steps/10),
	})
	if err != nil {
		return 0, nil, err
	}
	return res.Final["test/accuracy"], res, nil
}

// Run runs setup s and returns its rows.
func Run(ctx context.Context, opts suite.Options, s Setup) ([]suite.Result, error) {
	t, f, err := images(opts)
	if err != nil {
		return nil, err
	}
	if len(s.Arms) == 0 || s.Arms[0].N != 0 {
		return nil, fmt.Errorf("augment: the first arm must be the no-augmentation arm (N=0), got %+v", s.Arms)
	}
	bar := suite.NewProgress(len(s.Tasks)*len(s.Arms)*s.Seeds, "augment")
	defer bar.Done()
	var rows []suite.Result
	for _, task := range s.Tasks {
		if opts.DataFile != "" { // name the tasks after the -data table
			task.Name = t.Name + strings.TrimPrefix(task.Name, "digits")
		}
		accs := make([][]float64, len(s.Arms))
		var chart suite.Chart
		for ai, arm := range s.Arms {
			var ms []float64
			for seed := 1; seed <= s.Seeds; seed++ {
				if err := ctx.Err(); err != nil {
					return rows, err
				}
				bar.Describe(fmt.Sprintf("augment %s %s seed %d", task.Name, arm.Name(), seed))
				acc, res, err := trial(ctx, opts, s, f, t, task, arm, seed)
				if err != nil {
					return rows, fmt.Errorf("augment %s %s seed %d: %w", task.Name, arm.Name(), seed, err)
				}
				accs[ai] = append(accs[ai], acc)
				ms = append(ms, res.MsPerStep)
				bar.Add(1)
			}
			msMean, _ := suite.MeanStd(ms)
			row := suite.Row("augment", task.Name, arm.Name(), "accuracy", accs[ai], msMean, s.Steps)
			row.Extra["higher_is_better"] = true
			row.Extra["n"], row.Extra["m"] = arm.N, arm.M
			row.Extra["interpolation"] = cmp(arm.Interpolation, "nearest")
			row.Extra["train_fraction"] = task.TrainFraction
			if arm.N == 0 {
				row.Extra["augmentation"] = "identity"
				rows = append(rows, row.AsAnchor())
			} else {
				row.Extra["augmentation"] = fmt.Sprintf("randaugment(N=%d, M=%g)", arm.N, arm.M)
				rows = append(rows, row)
				gain := make([]float64, len(accs[ai]))
				for i := range gain { // paired by seed: same split, init and batch order
					gain[i] = accs[ai][i] - accs[0][i]
				}
				g := suite.Row("augment", task.Name, arm.Name(), "gain_vs_none", gain, msMean, s.Steps)
				g.Extra["higher_is_better"] = true
				rows = append(rows, g)
			}
		}
		opts.Logf("augment %s (%d training examples of %d, %d steps, %d seeds):", task.Name,
			int(float64(t.N)*0.8*task.TrainFraction), t.N, s.Steps, s.Seeds)
		printGrid(opts, s.Arms, accs)
		chart = gridChart(task, s.Arms, accs)
		if p := opts.PlotPath("augment", task.Name); p != "" {
			if err := suite.SavePlots(p, chart); err != nil {
				return rows, err
			}
			opts.Logf("plot: %s", filepath.Clean(p))
		}
	}
	if s.CostImages > 0 {
		r, err := hostCost(f, s.CostImages)
		if err != nil {
			return rows, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// printGrid prints the paper-style table: one line per N (and the bilinear arms), one column
// per M, mean ± std test accuracy; the none arm on its own line.
func printGrid(opts suite.Options, arms []Arm, accs [][]float64) {
	if opts.Out == nil {
		return
	}
	var ms []float64
	for _, a := range arms[1:] {
		if !slices.Contains(ms, a.M) {
			ms = append(ms, a.M)
		}
	}
	slices.Sort(ms)
	type line struct {
		label string
		cells map[float64]string
	}
	var lines []line
	find := func(label string) *line {
		for i := range lines {
			if lines[i].label == label {
				return &lines[i]
			}
		}
		lines = append(lines, line{label: label, cells: map[float64]string{}})
		return &lines[len(lines)-1]
	}
	for ai, a := range arms[1:] {
		label := fmt.Sprintf("N=%d", a.N)
		if a.Interpolation == "bilinear" {
			label += " bilinear"
		}
		m, sd := suite.MeanStd(accs[ai+1])
		find(label).cells[a.M] = fmt.Sprintf("%.4f ± %.4f", m, sd)
	}
	w := tabwriter.NewWriter(opts.Out, 2, 4, 2, ' ', 0)
	head := []string{"accuracy"}
	for _, m := range ms {
		head = append(head, fmt.Sprintf("M=%g", m))
	}
	fmt.Fprintln(w, strings.Join(head, "\t"))
	m0, s0 := suite.MeanStd(accs[0])
	fmt.Fprintf(w, "none\t%.4f ± %.4f\n", m0, s0)
	for _, l := range lines {
		cells := []string{l.label}
		for _, m := range ms {
			cells = append(cells, cmp(l.cells[m], "-"))
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	_ = w.Flush()
}

// gridChart plots mean test accuracy against M, one series per N (nearest warps), with the
// none arm as a flat reference line (not as an M = 0 point: RandAugment at M = 0 still
// applies AutoContrast).
func gridChart(task Task, arms []Arm, accs [][]float64) suite.Chart {
	c := suite.Chart{Title: fmt.Sprintf("RandAugment on %s: MLP test accuracy vs magnitude M", task.Name),
		XLabel: "M (10 = AutoAugment maximum)", YLabel: "test accuracy"}
	none, _ := suite.MeanStd(accs[0])
	minM, maxM := math.Inf(1), 0.0
	byN := map[int]*suite.Series{}
	var order []int
	for ai, a := range arms[1:] {
		minM, maxM = min(minM, a.M), max(maxM, a.M)
		if a.Interpolation == "bilinear" {
			continue
		}
		sr, ok := byN[a.N]
		if !ok {
			sr = &suite.Series{Name: fmt.Sprintf("N=%d", a.N)}
			byN[a.N] = sr
			order = append(order, a.N)
		}
		m, _ := suite.MeanStd(accs[ai+1])
		sr.X, sr.Y = append(sr.X, a.M), append(sr.Y, m)
	}
	c.Series = append(c.Series, suite.Series{Name: "none", X: []float64{min(minM, maxM), maxM}, Y: []float64{none, none}})
	for _, n := range order {
		c.Series = append(c.Series, *byN[n])
	}
	return c
}

// hostCost times RandAugment(N=2, M=9) on the host, in µs per image (fastest of 3 passes).
func hostCost(f aug.Format, images int) (suite.Result, error) {
	ra, err := aug.New("randaugment", f, aug.Config{N: 2, M: 9})
	if err != nil {
		return suite.Result{}, err
	}
	x := make([]float32, images*f.ImageSize())
	for i := range x {
		x[i] = float32(f.Lo + (f.Hi-f.Lo)*float64(i%17)/16)
	}
	best := math.Inf(1)
	for pass := range 3 {
		y := slices.Clone(x)
		t0 := time.Now()
		if err := ra.Augment(y, uint64(pass)); err != nil {
			return suite.Result{}, err
		}
		best = min(best, float64(time.Since(t0).Nanoseconds())/1e3/float64(images))
	}
	r := suite.Row("augment", "host-cost", "ra-n2-m9", "us_per_image", []float64{best}, 0, 0)
	r.Extra["higher_is_better"] = false
	r.Extra["images"] = images
	r.Extra["image"] = fmt.Sprintf("%dx%dx%d", f.Height, f.Width, max(f.Channels, 1))
	return r, nil
}
