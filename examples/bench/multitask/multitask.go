// Package multitask is the `multitask` benchmark: Rep-MTL (Wang, Li & Xu, ICCV 2025, arXiv
// 2507.21049) against equal weighting and PCGrad (Yu et al., NeurIPS 2020) on four tasks derived
// from digits, with the average relative gain Δm% over single-task networks.
//
// Data: digits (1797 8×8 images, pixels 0..16), split 70/30 per seed. The input is the upper
// half of the image (rows 0–3, 32 pixels, standardized on the training split); the lower half is
// masked from every task so that the regression task is a real prediction. Four heads on one
// shared ReLU trunk (32 → 128 → 64 = Z):
//
//	digit       10-class label                 metric: test accuracy
//	parity      label mod 2                    metric: test accuracy
//	ge5         label ≥ 5                      metric: test accuracy
//	lower-mean  mean intensity of the hidden   metric: test RMSE (in pixel units 0..16, lower is
//	            lower half (rows 4–7, pixels      better); trained on the target standardized on the
//	            / 16), predicted from the top     training split
//
// Arms: stl (one network per task, same trunk and training: the anchor), equal (Σ_t L_t),
// pcgrad (PCGrad on the trunk's parameters, random task order per step), rep-mtl (equal
// weighting plus the TSR and CSA saliency regularizers; λ_tsr = λ_csa = 0.1, τ = 0.1), the
// ablations rep-mtl-tsr and rep-mtl-csa (one term only), and rep-mtl@0.01, rep-mtl@1 (both λ set
// to that value: the paper's coefficients are not published in code, so the table shows the
// sensitivity). Adam 1e-3, batch 64, the same epochs and seeds for every arm; -quick runs stl,
// equal, pcgrad and rep-mtl only.
//
// Δm% (Maninis et al. 2019, the metric of the Rep-MTL paper): Δm = (1/T) Σ_t (−1)^{l_t}
// (M_t − M_t^STL)/M_t^STL · 100, l_t = 1 for RMSE; computed per seed against that seed's stl
// networks, then averaged. Higher is better.
//
// Diagnostics (task "saliency", every multi-task arm): the two Rep-MTL terms measured on the test
// split after training (multitask.Net.SaliencyTerms): the saliency entropy TSR (lower: units more
// task-specific) and the cross-task InfoNCE CSA (lower: per-sample saliencies more aligned), to
// show whether rep-mtl moves what it claims compared with equal weighting and PCGrad.
//
// -data does not apply: the four tasks are derived from digits' pixels (the run logs this).
package multitask

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/data"
	mt "github.com/moeboost/moeboost/train/multitask"
)

func init() {
	suite.Register("multitask", suite.Func{
		Desc: "Rep-MTL vs equal weighting and PCGrad on digits (digit, parity, ≥5, lower-half intensity from the upper half): per-task metrics and Δm% over single-task nets",
		Fn:   run,
	})
}

// Setup sizes one run.
type Setup struct {
	Epochs, Seeds, Batch int
	Hidden               []int
	LR                   float64
	// Arms are the multi-task arms (stl always runs: it is the Δm reference).
	Arms []string
	// RepMTL configures the rep-mtl arms.
	RepMTL mt.RepMTLConfig
}

// DefaultSetup is the full run (3 seeds) or the quick one (1 seed, fewer epochs).
func DefaultSetup(quick bool) Setup {
	s := Setup{Epochs: 60, Seeds: 3, Batch: 64, Hidden: []int{128, 64}, LR: 1e-3,
		Arms: []string{"equal", "pcgrad", "rep-mtl", "rep-mtl-tsr", "rep-mtl-csa", "rep-mtl@0.01", "rep-mtl@1"}}
	if quick {
		s.Epochs, s.Seeds = 15, 1
		s.Arms = []string{"equal", "pcgrad", "rep-mtl"}
	}
	return s
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	if opts.DataFile != "" || opts.TextFile != "" {
		opts.Logf("multitask: -data/-text do not apply (the four tasks are derived from digits' pixels); running on digits")
	}
	s := DefaultSetup(opts.Quick)
	s.Seeds = opts.SeedsOr(s.Seeds, 1)
	t, err := data.Builtin("digits")
	if err != nil {
		return nil, err
	}
	return Run(ctx, opts, s, t)
}

// Tasks are the benchmark's four heads.
var Tasks = []mt.Task{
	{Name: "digit", Kind: mt.Classification, Classes: 10},
	{Name: "parity", Kind: mt.Classification, Classes: 2},
	{Name: "ge5", Kind: mt.Classification, Classes: 2},
	{Name: "lower-mean", Kind: mt.Regression},
}

// split is one seed's data; regScale/regMean undo the regression target's standardization.
type split struct {
	train, test       *mt.Dataset
	regMean, regScale float64
}

// Derive builds the multi-task dataset of an 8×8 digits table: inputs are the upper 32 pixels,
// targets digit, parity, ≥5 and the lower half's mean intensity (/16, unstandardized).
func Derive(t *data.Table) (*mt.Dataset, error) {
	if t.D != 64 || t.NumClasses != 10 {
		return nil, fmt.Errorf("multitask: want digits (64 pixels, 10 classes), got %s with D=%d, %d classes", t.Name, t.D, t.NumClasses)
	}
	ds := &mt.Dataset{N: t.N, D: 32, X: make([]float64, t.N*32), Y: make([][]float64, len(Tasks))}
	for k := range ds.Y {
		ds.Y[k] = make([]float64, t.N)
	}
	for i := 0; i < t.N; i++ {
		row := t.Row(i)
		copy(ds.X[i*32:(i+1)*32], row[:32])
		lbl := t.Y[i]
		ds.Y[0][i] = lbl
		ds.Y[1][i] = math.Mod(lbl, 2)
		if lbl >= 5 {
			ds.Y[2][i] = 1
		}
		sum := 0.0
		for _, p := range row[32:] {
			sum += p
		}
		ds.Y[3][i] = sum / 32 / 16
	}
	return ds, nil
}

func subset(ds *mt.Dataset, idx []int) *mt.Dataset {
	out := &mt.Dataset{N: len(idx), D: ds.D, X: make([]float64, len(idx)*ds.D), Y: make([][]float64, len(ds.Y))}
	for t := range ds.Y {
		out.Y[t] = make([]float64, len(idx))
	}
	for k, i := range idx {
		copy(out.X[k*ds.D:(k+1)*ds.D], ds.X[i*ds.D:(i+1)*ds.D])
		for t := range ds.Y {
			out.Y[t][k] = ds.Y[t][i]
		}
	}
	return out
}

// makeSplit splits 70/30 (seeded, stratified as data.Table.Split), standardizes inputs and the
// regression target on the training part.
func makeSplit(t *data.Table, ds *mt.Dataset, seed int) (*split, error) {
	idxT := t.Clone()
	for i := range idxT.X {
		idxT.X[i] = 0
	}
	for i := 0; i < idxT.N; i++ {
		idxT.X[i*idxT.D] = float64(i) // carry the row index through the split
	}
	tr, te, err := idxT.Split(0.3, uint64(seed))
	if err != nil {
		return nil, err
	}
	ids := func(p *data.Table) []int {
		out := make([]int, p.N)
		for i := range out {
			out[i] = int(p.X[i*p.D])
		}
		return out
	}
	sp := &split{train: subset(ds, ids(tr)), test: subset(ds, ids(te))}
	for j := 0; j < ds.D; j++ {
		m, sd := colStats(sp.train, j)
		for _, d := range []*mt.Dataset{sp.train, sp.test} {
			for i := 0; i < d.N; i++ {
				d.X[i*d.D+j] = (d.X[i*d.D+j] - m) / sd
			}
		}
	}
	r := len(Tasks) - 1
	sp.regMean, sp.regScale = suite.MeanStd(sp.train.Y[r])
	if !(sp.regScale > 0) {
		sp.regScale = 1
	}
	for _, d := range []*mt.Dataset{sp.train, sp.test} {
		for i := range d.Y[r] {
			d.Y[r][i] = (d.Y[r][i] - sp.regMean) / sp.regScale
		}
	}
	return sp, nil
}

func colStats(d *mt.Dataset, j int) (mean, sd float64) {
	for i := 0; i < d.N; i++ {
		mean += d.X[i*d.D+j]
	}
	mean /= float64(d.N)
	for i := 0; i < d.N; i++ {
		v := d.X[i*d.D+j] - mean
		sd += v * v
	}
	sd = math.Sqrt(sd / float64(d.N))
	if sd < 1e-12 {
		sd = 1 // a constant pixel (the corners) stays 0 after centring
	}
	return mean, sd
}

// only keeps task k of a dataset.
func only(d *mt.Dataset, k int) *mt.Dataset {
	return &mt.Dataset{N: d.N, D: d.D, X: d.X, Y: [][]float64{d.Y[k]}}
}

// metric is one task's test metric: accuracy, or RMSE in pixel units (0..16).
func metric(task mt.Task, pred, y []float64, sp *split) float64 {
	if task.Kind == mt.Classification {
		ok := 0
		for i := range y {
			if pred[i] == y[i] {
				ok++
			}
		}
		return float64(ok) / float64(len(y))
	}
	se := 0.0
	for i := range y {
		d := (pred[i] - y[i]) * sp.regScale * 16
		se += d * d
	}
	return math.Sqrt(se / float64(len(y)))
}

func higher(task mt.Task) bool { return task.Kind == mt.Classification }

// DeltaM is the average relative gain (%) of per-task metrics m over the single-task ones ref.
func DeltaM(tasks []mt.Task, m, ref []float64) float64 {
	s := 0.0
	for t, task := range tasks {
		rel := (m[t] - ref[t]) / ref[t]
		if !higher(task) {
			rel = -rel
		}
		s += rel
	}
	return 100 * s / float64(len(tasks))
}

// armConfig returns the network config of a multi-task arm.
func armConfig(s Setup, arm string, seed int) (mt.Config, error) {
	c := mt.Config{Tasks: Tasks, Hidden: s.Hidden, LR: s.LR, Batch: s.Batch, Epochs: s.Epochs, Seed: uint64(seed)}
	switch arm {
	case "equal", "pcgrad", "rep-mtl":
		c.Combiner = arm
	case "rep-mtl-tsr":
		c.Combiner = "rep-mtl"
		c.Params.RepMTL.NoCSA = true
	case "rep-mtl-csa":
		c.Combiner = "rep-mtl"
		c.Params.RepMTL.NoTSR = true
	default:
		lam, ok := strings.CutPrefix(arm, "rep-mtl@")
		v, err := strconv.ParseFloat(lam, 64)
		if !ok || err != nil || !(v > 0) {
			return c, fmt.Errorf("multitask: unknown arm %q: known are stl, equal, pcgrad, rep-mtl, rep-mtl-tsr, rep-mtl-csa and rep-mtl@λ (λ_tsr = λ_csa = λ > 0)", arm)
		}
		c.Combiner = "rep-mtl"
		c.Params.RepMTL.TSRWeight, c.Params.RepMTL.CSAWeight = v, v
	}
	if c.Combiner == "rep-mtl" {
		rc := s.RepMTL
		rc.NoTSR, rc.NoCSA = c.Params.RepMTL.NoTSR, c.Params.RepMTL.NoCSA
		if c.Params.RepMTL.TSRWeight > 0 {
			rc.TSRWeight, rc.CSAWeight = c.Params.RepMTL.TSRWeight, c.Params.RepMTL.CSAWeight
		}
		c.Params.RepMTL = rc
	}
	return c, c.Validate()
}

// armResult is one arm's outcome on one seed.
type armResult struct {
	metrics   []float64 // per task
	tsr, csa  float64   // Rep-MTL terms on the test split (multi-task arms)
	msPerStep float64
	steps     int
	history   []mt.EpochLog
}

// Run runs the benchmark on the digits table t.
func Run(ctx context.Context, opts suite.Options, s Setup, t *data.Table) ([]suite.Result, error) {
	if s.Epochs < 1 || s.Seeds < 1 || s.Batch < 2 {
		return nil, fmt.Errorf("multitask: bad setup %+v (epochs, seeds ≥ 1, batch ≥ 2)", s)
	}
	ds, err := Derive(t)
	if err != nil {
		return nil, err
	}
	arms := append([]string{"stl"}, s.Arms...)
	for _, a := range s.Arms {
		if _, err := armConfig(s, a, 1); err != nil {
			return nil, err
		}
	}
	res := map[string][]armResult{}
	prog := suite.NewProgress(s.Seeds*(len(Tasks)+len(s.Arms)), "multitask")
	defer prog.Done()
	for seed := 1; seed <= s.Seeds; seed++ {
		sp, err := makeSplit(t, ds, seed)
		if err != nil {
			return nil, err
		}
		// Single-task networks: the same trunk and training, one head each.
		stl := armResult{metrics: make([]float64, len(Tasks))}
		for k, task := range Tasks {
			c := mt.Config{Tasks: []mt.Task{task}, Hidden: s.Hidden, LR: s.LR, Batch: s.Batch, Epochs: s.Epochs, Seed: uint64(seed)}
			net, err := mt.Fit(ctx, opts.Backend, c, only(sp.train, k))
			if err != nil {
				return nil, fmt.Errorf("multitask stl %s seed %d: %w", task.Name, seed, err)
			}
			pred, err := net.Predict(only(sp.test, k))
			if err != nil {
				return nil, err
			}
			stl.metrics[k] = metric(task, pred[0], sp.test.Y[k], sp)
			stl.msPerStep += net.MsPerStep
			stl.steps = net.Steps
			prog.Add(1)
		}
		res["stl"] = append(res["stl"], stl)
		for _, arm := range s.Arms {
			c, err := armConfig(s, arm, seed)
			if err != nil {
				return nil, err
			}
			net, err := mt.Fit(ctx, opts.Backend, c, sp.train)
			if err != nil {
				return nil, fmt.Errorf("multitask %s seed %d: %w", arm, seed, err)
			}
			pred, err := net.Predict(sp.test)
			if err != nil {
				return nil, err
			}
			ar := armResult{metrics: make([]float64, len(Tasks)), msPerStep: net.MsPerStep, steps: net.Steps, history: net.History}
			for k, task := range Tasks {
				ar.metrics[k] = metric(task, pred[k], sp.test.Y[k], sp)
			}
			if ar.tsr, ar.csa, err = net.SaliencyTerms(sp.test); err != nil {
				return nil, err
			}
			res[arm] = append(res[arm], ar)
			prog.Add(1)
		}
	}
	var rows []suite.Result
	for _, arm := range arms {
		rs := res[arm]
		ms := make([]float64, len(rs))
		for i, r := range rs {
			ms[i] = r.msPerStep
		}
		msMean, _ := suite.MeanStd(ms)
		for k, task := range Tasks {
			vals := make([]float64, len(rs))
			for i, r := range rs {
				vals[i] = r.metrics[k]
			}
			name := "test_accuracy"
			if task.Kind == mt.Regression {
				name = "test_rmse"
			}
			row := suite.Row("multitask", task.Name, arm, name, vals, msMean, rs[0].steps)
			row.Extra["higher_is_better"] = higher(task)
			if arm == "stl" {
				row = row.AsAnchor()
			}
			rows = append(rows, row)
		}
		dm := make([]float64, len(rs))
		for i, r := range rs {
			dm[i] = DeltaM(Tasks, r.metrics, res["stl"][i].metrics)
		}
		row := suite.Row("multitask", "all", arm, "delta_m_pct", dm, msMean, rs[0].steps)
		row.Extra["higher_is_better"] = true
		if arm == "stl" {
			row.Extra["note"] = "ms_per_step is the sum over the 4 single-task networks"
			row = row.AsAnchor()
		} else {
			if c, err := armConfig(s, arm, 1); err == nil && c.Combiner == "rep-mtl" {
				rc := c.Params.RepMTL.WithDefaults()
				row.Extra["tsr_weight"], row.Extra["csa_weight"], row.Extra["tau"] = rc.TSRWeight, rc.CSAWeight, rc.Tau
				last := rs[0].history[len(rs[0].history)-1]
				row.Extra["final_tsr_seed1"], row.Extra["final_csa_seed1"] = last.Terms["tsr"], last.Terms["csa"]
			}
		}
		row.Extra["epochs"] = s.Epochs
		rows = append(rows, row)
		if arm == "stl" {
			continue
		}
		// Diagnostics: the Rep-MTL terms measured on the test split for every multi-task arm
		// (τ = 0.1, batches of the training size): does rep-mtl move what it claims?
		for _, m := range []struct {
			name string
			f    func(armResult) float64
			note string
		}{
			{"test_saliency_entropy", func(r armResult) float64 { return r.tsr }, "TSR: mean entropy of the task shares of |∂L_t/∂Z| per unit (≤ ln 4 = 1.386); lower = more task-specific units"},
			{"test_saliency_infonce", func(r armResult) float64 { return r.csa }, "CSA: InfoNCE of per-sample saliency directions across tasks (τ = 0.1, batch 64; ln 64 = 4.16 when uninformative); lower = more aligned"},
		} {
			vals := make([]float64, len(rs))
			for i, r := range rs {
				vals[i] = m.f(r)
			}
			d := suite.Row("multitask", "saliency", arm, m.name, vals, msMean, rs[0].steps)
			d.Extra["higher_is_better"] = false
			d.Extra["note"] = m.note
			rows = append(rows, d)
		}
	}
	printTable(opts, s, rows)
	if p := opts.PlotPath("multitask", "train-loss"); p != "" {
		var series []suite.Series
		for _, arm := range s.Arms {
			var xs, ys []float64
			for _, e := range res[arm][0].history {
				sum := 0.0
				for _, l := range e.Losses {
					sum += l
				}
				xs, ys = append(xs, float64(e.Epoch)), append(ys, sum)
			}
			series = append(series, suite.Series{Name: arm, X: xs, Y: ys})
		}
		chart := suite.Chart{Title: "multitask digits: Σ_t training loss (seed 1)", XLabel: "epoch", YLabel: "Σ task losses", Series: series}
		if err := suite.SavePlots(p, chart); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// printTable prints the paper-style table: one line per arm, per-task metrics and Δm%.
func printTable(opts suite.Options, s Setup, rows []suite.Result) {
	if opts.Out == nil {
		return
	}
	opts.Logf("\nmultitask (digits, upper half → 4 tasks; %d epochs, %d seed(s), mean ± std)", s.Epochs, s.Seeds)
	header := "arm           "
	for _, t := range Tasks {
		header += fmt.Sprintf("| %-17s", t.Name)
	}
	header += "| Δm% (↑)         | TSR     | CSA     | ms/step"
	opts.Logf("%s", header)
	byArm := map[string][]suite.Result{}
	var order []string
	for _, r := range rows {
		if _, ok := byArm[r.Arm]; !ok {
			order = append(order, r.Arm)
		}
		byArm[r.Arm] = append(byArm[r.Arm], r)
	}
	for _, arm := range order {
		line := fmt.Sprintf("%-14s", arm)
		var ms float64
		diag := "| -       | -       "
		for _, r := range byArm[arm] {
			v, sd := r.Value, r.Std
			switch r.Metric {
			case "test_accuracy":
				v, sd = 100*v, 100*sd
			case "test_saliency_entropy":
				diag = fmt.Sprintf("| %-7.3f ", v)
				continue
			case "test_saliency_infonce":
				diag += fmt.Sprintf("| %-7.3f ", v)
				continue
			}
			line += fmt.Sprintf("| %7.3f ± %-6.3f ", v, sd)
			ms = r.MsPerStep
		}
		line += diag + fmt.Sprintf("| %.1f", ms)
		opts.Logf("%s", line)
	}
	opts.Logf("(accuracy in %%; lower-mean is RMSE in pixel units 0..16, lower is better; TSR and CSA are the Rep-MTL terms measured on the test split, means over seeds)")
}
