package gbnn

import (
	"context"
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
)

// Model is a fitted GBNN, the boosted ensemble F(x) = F0 + Σ_t ρ_t·h_t(x) of T stage networks
// (each J hidden units, K linear outputs). Model.Assemble turns it into one GoMLX network of
// T·J hidden units that computes the same function.
type Model struct {
	// Kind is the loss (from the training table's task); NumClasses is set for
	// classification.
	Kind       Kind
	NumClasses int
	// Inputs is D, UnitsPerStage J, Outputs K (1 for regression and binary, else the classes).
	Inputs, UnitsPerStage, Outputs int
	Activation                     string
	// DType is the dtype the stages were fitted in, and the assembled network's default.
	DType dtypes.DType
	// F0 is the initial bias (K values).
	F0 []float64
	// Stages in fitting order (with a validation split, those up to the best validation
	// loss).
	Stages []*Stage
	// FittedStages is the number of stages fitted before stopping (>= len(Stages)).
	FittedStages int
	// ValidationRows is the size of the held-out split (0: none); ValidationLoss holds the
	// ensemble's mean loss on it after each fitted stage (regression: in the target's units²).
	ValidationRows int
	ValidationLoss []float64
}

// Fit trains GBNN on t (classification with >= 2 classes, or regression), following the
// official code (GAA-UAM/GBNN gbnn/GBNN.py, GNEGNE.fit):
//
//	F ← F0 (mean(y); ½·log((1+ȳ)/(1−ȳ)); 0 for K classes)
//	for t = 1..T:
//	    r   = pseudo-residuals at F on all n rows
//	    S   = floor(s·n) rows drawn without replacement
//	    h_t = a fresh J-unit network fitted to (X_S, r_S) by the solver (½·MSE + L2)
//	    ρ_t = eta · guard(Newton factor of h_t on all rows)
//	    F  ← F + ρ_t·h_t(X)
//
// and, unless Config turns them off, as scikit-learn fits its estimators: on standardized
// features and target (the official experiments standardize outside; the scaling is folded
// back into the stages), and with the number of stages chosen on a held-out validation split
// (sklearn GradientBoosting's validation_fraction / n_iter_no_change; regression only by
// default). The "n rows" above are then the rows not held out.
func Fit(ctx context.Context, cfg Config, t *data.Table) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if t == nil || t.N < 2 || t.D < 1 {
		return nil, fmt.Errorf("gbnn: training table needs >= 2 rows and >= 1 feature")
	}
	kind, k, err := kindOf(t)
	if err != nil {
		return nil, err
	}
	var sc *data.Scaler
	if !cfg.NoStandardize {
		sc = data.FitScaler(t, true) // the target only for regression
		t = sc.Apply(t)
	}
	var val *data.Table
	if frac := cfg.validationFraction(kind); frac > 0 && int(frac*float64(t.N)) >= 1 {
		// Held-out rows drawn from their own stream, so the stages' draws do not depend on it.
		tr, va, err := t.Split(frac, cfg.Seed^0x76616c6964) // stratified for classification
		if err != nil {
			return nil, fmt.Errorf("gbnn: validation split: %w", err)
		}
		if tr.N >= 2 {
			if _, _, err := kindOf(tr); err == nil {
				t, val = tr, va
			}
		}
	}
	n := t.N
	nSub := int(cfg.Subsample * float64(n)) // official int(subsample·n)
	if nSub < 1 {
		return nil, fmt.Errorf("gbnn: subsample=%g of %d rows leaves no row to fit a stage on", cfg.Subsample, n)
	}
	b := cfg.Backend
	if b == nil {
		if b, err = backend.Default(); err != nil {
			return nil, err
		}
	}
	dm := dims{d: t.D, j: cfg.UnitsPerStage, k: k}
	act := activations[cfg.Activation]
	var fit fitter
	if cfg.Solver == SolverLBFGS {
		if fit, err = newLBFGSFitter(cfg, b, dm, act); err != nil {
			return nil, err
		}
	} else {
		fit = &optimizerFitter{cfg: cfg, backend: b, dm: dm, act: act}
	}
	defer fit.close()

	y := encodeTargets(kind, t, k)
	f0, err := initialBias(kind, y, n, k)
	if err != nil {
		return nil, fmt.Errorf("%w (table %s)", err, t.Name)
	}
	m := &Model{Kind: kind, Inputs: t.D, UnitsPerStage: dm.j, Outputs: k, Activation: cfg.Activation,
		DType: cfg.DType, F0: f0}
	if kind != Regression {
		m.NumClasses = t.NumClasses
	}
	f := make([]float64, n*k)
	for i := range n {
		copy(f[i*k:(i+1)*k], f0)
	}
	var yVal, fVal, hVal []float64
	best, bestLoss := 0, math.Inf(1)
	if val != nil {
		yVal, fVal, hVal = encodeTargets(kind, val, k), make([]float64, val.N*k), make([]float64, val.N*k)
		for i := range val.N {
			copy(fVal[i*k:(i+1)*k], f0)
		}
		m.ValidationRows = val.N
	}
	stages := cfg.Stages()
	var bar *train.Progress
	if cfg.Progress {
		bar = train.NewProgress(stages, "gbnn")
		defer bar.Done()
	}
	rng := data.Rand(cfg.Seed)
	r, h := make([]float64, n*k), make([]float64, n*k)
	xs, rs := make([]float64, nSub*dm.d), make([]float64, nSub*k)
	for s := range stages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		residuals(kind, y, f, r, n, k)
		idx := rng.Perm(n)[:nSub] // sample_without_replacement(n, floor(s·n))
		if nSub == n {
			for i := range idx {
				idx[i] = i
			}
		}
		for a, i := range idx {
			copy(xs[a*dm.d:(a+1)*dm.d], t.Row(i))
			copy(rs[a*k:(a+1)*k], r[i*k:(i+1)*k])
		}
		init := initStage(dm, act, rng)
		st, err := fit.fit(ctx, xs, rs, nSub, init, rng.Uint64())
		if err != nil {
			return nil, fmt.Errorf("gbnn: stage %d: %w", s, err)
		}
		st.FitLoss = st.objective(dm, act, xs, rs, nSub, cfg.Alpha)
		st.predict(dm, act, t.X, n, h) // h_t on all training rows
		num, den, hh := newtonTerms(kind, y, r, h)
		st.Rho, st.Guarded = stepSize(kind, num, den, hh, cfg.Eta, cfg.MaxStep, !cfg.NoGuard)
		for i := range f {
			f[i] += st.Rho * h[i] // F ← F + ρ_t·h_t
		}
		st.Loss = meanLoss(kind, y, f, n, k)
		m.Stages = append(m.Stages, st)
		stop := false
		if val != nil {
			st.predict(dm, act, val.X, val.N, hVal)
			for i := range fVal {
				fVal[i] += st.Rho * hVal[i]
			}
			vl := meanLoss(kind, yVal, fVal, val.N, k)
			m.ValidationLoss = append(m.ValidationLoss, vl)
			if vl < bestLoss-earlyStoppingTol || best == 0 {
				best, bestLoss = s+1, math.Min(vl, bestLoss)
			}
			stop = s+1-best >= cfg.Patience // sklearn's n_iter_no_change
		}
		if bar != nil {
			bar.Add(1)
			bar.Describe(fmt.Sprintf("gbnn stage %d rho=%.3g loss=%.4g", s+1, st.Rho, st.Loss))
		}
		if cfg.OnStage != nil {
			cfg.OnStage(s, st)
		}
		if stop {
			break
		}
	}
	m.FittedStages = len(m.Stages)
	if val != nil {
		m.Stages = m.Stages[:best] // keep the stages up to the best validation loss
	}
	if sc != nil {
		m.unstandardize(sc)
	}
	return m, nil
}

// unstandardize folds the scaler into the model, so that it takes raw features and predicts
// in the target's units: a stage's pre-activation a·x' + c with x' = (x − μ)/σ becomes
// (a/σ)·x + (c − Σ a·μ/σ); for regression F = ȳ + s_y·F', so F0 ← ȳ + s_y·F0' and
// ρ_t ← s_y·ρ_t (the stage outputs h_t stay as fitted), and the recorded losses scale by s_y².
func (m *Model) unstandardize(sc *data.Scaler) {
	d, j := m.Inputs, m.UnitsPerStage
	for _, st := range m.Stages {
		for u := range j {
			for f := range d {
				w := st.W1[f*j+u] / sc.Std[f]
				st.W1[f*j+u] = w
				st.B1[u] -= w * sc.Mean[f]
			}
		}
	}
	if m.Kind != Regression || !sc.ScaleTarget {
		return
	}
	m.F0[0] = sc.YMean + sc.YStd*m.F0[0]
	v := sc.YStd * sc.YStd
	for _, st := range m.Stages {
		st.Rho *= sc.YStd
		st.Loss *= v
	}
	for i := range m.ValidationLoss {
		m.ValidationLoss[i] *= v
	}
}

// NumStages returns T.
func (m *Model) NumStages() int { return len(m.Stages) }

// Truncate returns the model made of the first keep stages (sharing their weights).
func (m *Model) Truncate(keep int) (*Model, error) {
	if keep < 0 || keep > len(m.Stages) {
		return nil, fmt.Errorf("gbnn: keep=%d stages must be in [0, %d]", keep, len(m.Stages))
	}
	c := *m
	c.Stages = m.Stages[:keep]
	return &c, nil
}

// Decision returns the raw scores F (n×K, row-major) of the ensemble for x ([n, D]
// row-major), as the official _decision_function.
func (m *Model) Decision(x []float64, n int) ([]float64, error) {
	var out []float64
	err := m.Staged(x, n, func(stage int, f []float64) bool {
		if stage == len(m.Stages) {
			out = append([]float64(nil), f...)
		}
		return true
	})
	return out, err
}

// Staged calls fn with the raw scores F after each number of stages, 0 (F0 only) to T; fn
// may stop the walk by returning false. f is reused between calls.
func (m *Model) Staged(x []float64, n int, fn func(stage int, f []float64) bool) error {
	if len(x) != n*m.Inputs {
		return fmt.Errorf("gbnn: x has %d values, want %d rows × %d features", len(x), n, m.Inputs)
	}
	k := m.Outputs
	f := make([]float64, n*k)
	for i := range n {
		copy(f[i*k:(i+1)*k], m.F0)
	}
	if !fn(0, f) {
		return nil
	}
	dm := dims{d: m.Inputs, j: m.UnitsPerStage, k: k}
	act := activations[m.Activation]
	h := make([]float64, n*k)
	for s, st := range m.Stages {
		st.predict(dm, act, x, n, h)
		for i := range f {
			f[i] += st.Rho * h[i]
		}
		if !fn(s+1, f) {
			return nil
		}
	}
	return nil
}

// Predict returns the class id (classification) or the value (regression) for each row of x.
func (m *Model) Predict(x []float64, n int) ([]float64, error) {
	f, err := m.Decision(x, n)
	if err != nil {
		return nil, err
	}
	return m.predictFromScores(f, n), nil
}

func (m *Model) predictFromScores(f []float64, n int) []float64 {
	out := make([]float64, n)
	k := m.Outputs
	for i := range n {
		switch m.Kind {
		case Regression:
			out[i] = f[i]
		case Binary:
			if f[i] > 0 { // P(+1) = σ(2F) > ½
				out[i] = 1
			}
		case MultiClass:
			best := 0
			for c := 1; c < k; c++ {
				if f[i*k+c] > f[i*k+best] {
					best = c
				}
			}
			out[i] = float64(best)
		}
	}
	return out
}

// Proba returns the class probabilities (n × NumClasses) of a classifier: σ(2F) for binary,
// softmax(F) for K classes.
func (m *Model) Proba(x []float64, n int) ([]float64, error) {
	if m.Kind == Regression {
		return nil, fmt.Errorf("gbnn: Proba of a regression model")
	}
	f, err := m.Decision(x, n)
	if err != nil {
		return nil, err
	}
	nc := m.NumClasses
	out := make([]float64, n*nc)
	for i := range n {
		if m.Kind == Binary {
			p := 1 / (1 + math.Exp(-2*f[i]))
			out[2*i], out[2*i+1] = 1-p, p
			continue
		}
		row := f[i*nc : (i+1)*nc]
		lse := logSumExp(row)
		for c := range nc {
			out[i*nc+c] = math.Exp(row[c] - lse)
		}
	}
	return out, nil
}

// Metric returns the name of the model's score: "accuracy" or "rmse".
func (m *Model) Metric() string {
	if m.Kind == Regression {
		return "rmse"
	}
	return "accuracy"
}

// StagedScores returns the score on t (accuracy, or RMSE in t's units) after each number of
// stages 1..T (index s-1 holds the score with s stages), computed on the host in one pass.
func (m *Model) StagedScores(t *data.Table) ([]float64, error) {
	if t.D != m.Inputs {
		return nil, fmt.Errorf("gbnn: table %s has %d features, the model %d", t.Name, t.D, m.Inputs)
	}
	scores := make([]float64, 0, len(m.Stages))
	err := m.Staged(t.X, t.N, func(stage int, f []float64) bool {
		if stage > 0 {
			scores = append(scores, Score(m.Kind, m.predictFromScores(f, t.N), t.Y))
		}
		return true
	})
	return scores, err
}

// Score returns accuracy (classification) or RMSE (regression) of predictions against labels.
func Score(kind Kind, pred, y []float64) float64 {
	var s float64
	for i := range y {
		if kind == Regression {
			s += (pred[i] - y[i]) * (pred[i] - y[i])
		} else if pred[i] == y[i] {
			s++
		}
	}
	s /= float64(len(y))
	if kind == Regression {
		return math.Sqrt(s)
	}
	return s
}
