package excelformer

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/boosting"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

// LearnerConfig configures the "excelformer" learner. Defaults are laptop-scale: the official
// defaults (d_token 256, 32 heads, lr 1e-4, 500 epochs) are listed in the package doc.
type LearnerConfig struct {
	DToken, Layers, Heads int
	Steps                 int     // optimizer steps
	LearningRate          float64 // Adam (the reference's AdamW with weight_decay 0)
	Batch                 int     // 0: the reference's rule from the feature count
	Seed                  uint64
}

// DefaultLearnerConfig returns the learner's defaults.
func DefaultLearnerConfig() LearnerConfig {
	return LearnerConfig{DToken: 32, Layers: 3, Heads: 4, Steps: 600, LearningRate: 1e-3, Seed: 1}
}

// Validate checks the learner configuration.
func (c LearnerConfig) Validate() error {
	if err := (ModelConfig{Features: 1, DToken: c.DToken, Layers: c.Layers, Heads: c.Heads, Outputs: 1, InitScale: 0.01}).Validate(); err != nil {
		return err
	}
	switch {
	case c.Steps < 1:
		return fmt.Errorf("excelformer: steps=%d must be >= 1", c.Steps)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0):
		return fmt.Errorf("excelformer: learning_rate=%g must be finite and > 0", c.LearningRate)
	case c.Batch < 0:
		return fmt.Errorf("excelformer: batch=%d must be >= 0 (0 = the reference's rule)", c.Batch)
	}
	return nil
}

// ReferenceBatch is the reference's batch size for f features (run_default_config_excel.py):
// 512 up to 32 features, 128 up to 100, 32 up to 1000, else 16.
func ReferenceBatch(f int) int {
	switch {
	case f <= 32:
		return 512
	case f <= 100:
		return 128
	case f <= 1000:
		return 32
	}
	return 16
}

func init() {
	d := DefaultLearnerConfig()
	train.DeclareParam("excelformer_d_token", d.DToken, "excelformer learner: token width d")
	train.DeclareParam("excelformer_layers", d.Layers, "excelformer learner: blocks")
	train.DeclareParam("excelformer_heads", d.Heads, "excelformer learner: attention heads (divide d_token)")
	train.DeclareParam("excelformer_steps", d.Steps, "excelformer learner: Adam steps")
	train.DeclareParam("excelformer_learning_rate", d.LearningRate, "excelformer learner: Adam learning rate")
	train.DeclareParam("excelformer_batch", d.Batch, "excelformer learner: batch size (0: the reference's rule by feature count)")
	boosting.RegisterLearner("excelformer", func(scope *model.Scope) (boosting.Learner, error) {
		c := LearnerConfig{
			DToken:       model.GetParamOr(scope, "excelformer_d_token", d.DToken),
			Layers:       model.GetParamOr(scope, "excelformer_layers", d.Layers),
			Heads:        model.GetParamOr(scope, "excelformer_heads", d.Heads),
			Steps:        model.GetParamOr(scope, "excelformer_steps", d.Steps),
			LearningRate: model.GetParamOr(scope, "excelformer_learning_rate", d.LearningRate),
			Batch:        model.GetParamOr(scope, "excelformer_batch", d.Batch),
			Seed:         1,
		}
		return NewLearner(c)
	})
}

// Learner fits ExcelFormer on a data table: features ordered by descending mutual information
// with the target on the training rows (BinnedMI), standardized with training statistics, the
// regression target standardized, then Adam on cross-entropy or MSE.
type Learner struct {
	Config LearnerConfig
	order  []int
	mean   []float64
	std    []float64
	yMean  float64
	yStd   float64
	task   data.Task
	d      int
	res    *train.Result
	nOut   int
}

// NewLearner validates c and returns an unfitted learner.
func NewLearner(c LearnerConfig) (*Learner, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Learner{Config: c}, nil
}

// BinnedMI estimates the mutual information (nats) between each column of x [n, d] and y with
// equal-frequency bins (10 for x; y binned the same for regression, its classes otherwise).
// The reference uses sklearn's kNN estimators (mutual_info_classif/_regression); only the
// order matters to the model.
func BinnedMI(x []float64, n, d int, y []float64, classification bool) ([]float64, error) {
	if n < 2 || len(x) != n*d || len(y) != n {
		return nil, fmt.Errorf("excelformer: mutual information needs n >= 2 rows of %d features, got %d values and %d labels", d, len(x), len(y))
	}
	const bins = 10
	binOf := func(v []float64) []int {
		idx := make([]int, len(v))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
		out := make([]int, len(v))
		for r := 0; r < len(idx); {
			s := r // ties share a bin
			for r < len(idx) && v[idx[r]] == v[idx[s]] {
				r++
			}
			for k := s; k < r; k++ {
				out[idx[k]] = min(bins-1, s*bins/len(v))
			}
		}
		return out
	}
	var yb []int
	ny := 0
	if classification {
		yb = make([]int, n)
		for i, v := range y {
			yb[i] = int(v)
			ny = max(ny, yb[i]+1)
		}
	} else {
		yb, ny = binOf(y), bins
	}
	mi := make([]float64, d)
	col := make([]float64, n)
	for j := range d {
		for i := range n {
			col[i] = x[i*d+j]
		}
		xb := binOf(col)
		joint := make([]float64, bins*ny)
		px, py := make([]float64, bins), make([]float64, ny)
		for i := range n {
			joint[xb[i]*ny+yb[i]]++
			px[xb[i]]++
			py[yb[i]]++
		}
		for a := range bins {
			for c := range ny {
				if p := joint[a*ny+c]; p > 0 {
					mi[j] += p / float64(n) * math.Log(p*float64(n)/(px[a]*py[c]))
				}
			}
		}
		mi[j] = max(mi[j], 0)
	}
	return mi, nil
}

// Fit implements boosting.Learner.
func (l *Learner) Fit(ctx context.Context, t *data.Table) error {
	if t.N < 2 || t.D < 1 {
		return fmt.Errorf("excelformer: table %q needs >= 2 rows and >= 1 feature, got %d x %d", t.Name, t.N, t.D)
	}
	cls := t.Task == data.Classification
	mi, err := BinnedMI(t.X, t.N, t.D, t.Y, cls)
	if err != nil {
		return err
	}
	order := make([]int, t.D)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return mi[order[a]] > mi[order[b]] })
	l.order, l.d, l.task = order, t.D, t.Task
	l.mean, l.std = make([]float64, t.D), make([]float64, t.D)
	for j := range t.D {
		var s, s2 float64
		for i := range t.N {
			v := t.X[i*t.D+j]
			s += v
			s2 += v * v
		}
		m := s / float64(t.N)
		l.mean[j], l.std[j] = m, math.Sqrt(max(s2/float64(t.N)-m*m, 0))
		if l.std[j] < 1e-12 {
			l.std[j] = 1
		}
	}
	tt := &data.Table{Name: t.Name, Task: t.Task, N: t.N, D: t.D, NumClasses: t.NumClasses, X: l.transform(t.X, t.N), Y: slices.Clone(t.Y)}
	l.yMean, l.yStd, l.nOut = 0, 1, t.NumClasses
	loss := "cross_entropy"
	if !cls {
		l.nOut, loss = 1, "mse"
		var s, s2 float64
		for _, v := range t.Y {
			s += v
			s2 += v * v
		}
		l.yMean = s / float64(t.N)
		l.yStd = math.Sqrt(max(s2/float64(t.N)-l.yMean*l.yMean, 0))
		if l.yStd < 1e-12 {
			l.yStd = 1
		}
		for i := range tt.Y {
			tt.Y[i] = (tt.Y[i] - l.yMean) / l.yStd
		}
	}
	c := l.Config
	batch := c.Batch
	if batch == 0 {
		batch = ReferenceBatch(t.D)
	}
	batch = min(batch, t.N)
	mc := ModelConfig{Features: t.D, DToken: c.DToken, Layers: c.Layers, Heads: c.Heads, Outputs: l.nOut, InitScale: 0.01, Seed: c.Seed}
	if err := mc.Validate(); err != nil {
		return err
	}
	batches, err := data.NewTrainBatches(tt, batch, c.Seed)
	if err != nil {
		return err
	}
	var fwdErr error
	cfg := train.Config{
		Name: "excelformer", Store: model.NewStore(), Seed: int64(c.Seed),
		Params: map[string]any{optimizers.ParamLogGroups: false},
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			y, err := Forward(scope.In("excelformer"), in[0], mc)
			if err != nil {
				fwdErr = err
				panic(err)
			}
			return []*graph.Node{y}
		},
		Loss: loss, Optimizer: "adam", LearningRate: c.LearningRate,
		Steps: c.Steps, EvalEvery: c.Steps, Train: batches,
	}
	res, err := train.Run(ctx, cfg)
	if err != nil {
		if fwdErr != nil {
			return fwdErr
		}
		return fmt.Errorf("excelformer: training on %q: %w", t.Name, err)
	}
	l.res = res
	return nil
}

// transform reorders columns by descending MI and standardizes them with training statistics.
func (l *Learner) transform(x []float64, n int) []float64 {
	out := make([]float64, n*l.d)
	for i := range n {
		for k, j := range l.order {
			out[i*l.d+k] = (x[i*l.d+j] - l.mean[j]) / l.std[j]
		}
	}
	return out
}

// Order returns the fitted feature order (original column indices, most informative first).
func (l *Learner) Order() []int { return slices.Clone(l.order) }

// Predict implements boosting.Learner: class ids or values for x [n, D].
func (l *Learner) Predict(x []float64, n int) ([]float64, error) {
	if l.res == nil {
		return nil, fmt.Errorf("excelformer: Predict before Fit")
	}
	if n <= 0 || len(x) != n*l.d {
		return nil, fmt.Errorf("excelformer: %d values for %d rows of %d features", len(x), n, l.d)
	}
	xt := l.transform(x, n)
	xf := make([]float32, len(xt))
	for i, v := range xt {
		xf[i] = float32(v)
	}
	in := tensors.FromFlatDataAndDimensions(xf, n, l.d)
	outs, err := l.res.Predict(in)
	in.MustFinalizeAll()
	if err != nil {
		return nil, err
	}
	y := tensors.MustCopyFlatData[float32](outs[0])
	outs[0].MustFinalizeAll()
	pred := make([]float64, n)
	for i := range n {
		if l.nOut == 1 {
			pred[i] = float64(y[i])*l.yStd + l.yMean
			continue
		}
		row := y[i*l.nOut : (i+1)*l.nOut]
		pred[i] = float64(slices.Index(row, slices.Max(row)))
	}
	return pred, nil
}
