package trees

import (
	"fmt"
	"math"
)

// RegressorConfig configures a plain gradient-boosting regressor with squared loss. The zero
// value means XGBoost's defaults for its hist method: 100 trees (XGBoost's n_estimators in
// the scikit-learn API), learning rate 0.3, depth 6, 256 bins, lambda 1, min_child_weight 1.
type RegressorConfig struct {
	// Trees is the number of boosting rounds (default 100).
	Trees int
	// LearningRate is the shrinkage eta (default 0.3).
	LearningRate float64
	// MaxDepth (default 6), Grow (default Greedy), Bins (split candidates per feature, default
	// 255, i.e. 256 bins as XGBoost's max_bin) and MinDataInLeaf (default 1, XGBoost's
	// min_child_weight with unit hessians) configure the trees.
	MaxDepth      int
	Grow          string
	Bins          int
	MinDataInLeaf int
	// Lambda is the L2 regulariser of the leaf values (default 1; must be > 0).
	Lambda float64
	// MinSplitGain is the smallest gain sum_c S_c^2/(n_c+lambda) - S^2/(n+lambda) for a split
	// (default 1e-6, XGBoost's kRtEps on its gain, which carries an extra factor 1/2).
	MinSplitGain float64
	// Threads (default GOMAXPROCS).
	Threads int
	// SketchRows is the number of evenly spaced rows whose values choose the quantile
	// thresholds when the data is larger (default 200000).
	SketchRows int
}

func (c RegressorConfig) withDefaults() RegressorConfig {
	if c.Trees == 0 {
		c.Trees = 100
	}
	if c.LearningRate == 0 {
		c.LearningRate = 0.3
	}
	if c.MaxDepth == 0 {
		c.MaxDepth = 6
	}
	if c.Grow == "" {
		c.Grow = Greedy
	}
	if c.Bins == 0 {
		c.Bins = 255
	}
	if c.MinDataInLeaf == 0 {
		c.MinDataInLeaf = 1
	}
	if c.Lambda == 0 {
		c.Lambda = 1
	}
	if c.MinSplitGain == 0 {
		c.MinSplitGain = 1e-6
	}
	if c.SketchRows == 0 {
		c.SketchRows = 200000
	}
	return c
}

// Validate reports a bad configuration.
func (c RegressorConfig) Validate() error {
	c = c.withDefaults()
	if c.Trees < 1 {
		return fmt.Errorf("trees: regressor trees=%d must be >= 1", c.Trees)
	}
	if !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0) {
		return fmt.Errorf("trees: regressor learning_rate=%g must be > 0", c.LearningRate)
	}
	if c.Lambda < 0 {
		return fmt.Errorf("trees: regressor lambda=%g must be >= 0", c.Lambda)
	}
	if c.SketchRows < 1 {
		return fmt.Errorf("trees: regressor sketch_rows=%d must be >= 1", c.SketchRows)
	}
	return c.treeConfig().Validate(-1)
}

func (c RegressorConfig) treeConfig() TreeConfig {
	return TreeConfig{MaxDepth: c.MaxDepth, Grow: c.Grow, Bins: c.Bins, Score: L2, NoStandardize: true,
		MinDataInLeaf: c.MinDataInLeaf, Lambda: c.Lambda, MinSplitGain: c.MinSplitGain, Threads: c.Threads}.WithDefaults()
}

// Regressor is a gradient-boosted tree regressor with squared loss, XGBoost's hist method in
// plain Go: the data is quantized once, each round fits a depth-wise tree to the gradients
// g = F - y with per-node gradient histograms (built for the smaller child, the larger one by
// subtraction), leaf = sum(g)/(n + lambda), gain = sum_c S_c^2/(n_c + lambda) minus the
// parent's, and F <- F - eta*leaf. The initial prediction is the mean target (XGBoost 1.7's
// base_score is 0.5 unless set; XGBoost >= 2 also estimates it).
type Regressor struct {
	*Ensemble
	cfg RegressorConfig
}

// FitRegressor fits a regressor to (d, y).
func FitRegressor(d *Data, y []float32, cfg RegressorConfig) (*Regressor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if len(y) != d.N || d.N == 0 {
		return nil, fmt.Errorf("trees: %d targets for %d samples (need at least one)", len(y), d.N)
	}
	var mean float64
	for i, v := range y {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("trees: target [%d] = %v is not finite", i, v)
		}
		mean += float64(v)
	}
	mean /= float64(d.N)
	tc := cfg.treeConfig()
	ens, err := New(Config{OutDim: 1, NumFeatures: d.NumFeatures, CatFeatures: d.CatFeatures, Tree: tc,
		LRs: []LR{{Start: 0, Stop: 1, Init: cfg.LearningRate}}, Bias: []float32{float32(mean)}})
	if err != nil {
		return nil, err
	}
	n := d.N
	pred := make([]float32, n)
	grad := make([]float32, n)
	for i := range pred {
		pred[i] = float32(mean)
		grad[i] = pred[i] - y[i]
	}
	g := &grower{}
	prepareGrower(g, &ens.bins, tc, d, grad, 1, cfg.SketchRows)
	eta := float32(cfg.LearningRate)
	for it := 0; it < cfg.Trees; it++ {
		if it > 0 {
			for i := range grad {
				grad[i] = pred[i] - y[i]
			}
		}
		t := &Tree{}
		g.grow(t)
		for l, rr := range g.leafRows {
			step := eta * t.Leaves[l]
			for _, r := range g.idx[rr[0]:rr[1]] {
				pred[r] -= step
			}
		}
		if err := ens.AddTree(t); err != nil {
			return nil, err
		}
	}
	return &Regressor{Ensemble: ens, cfg: cfg}, nil
}

// PredictY returns the predictions for d as a vector.
func (r *Regressor) PredictY(d *Data) ([]float32, error) { return r.Predict(d, nil) }

// RMSE returns the root mean squared error of predictions p against y.
func RMSE(p, y []float32) float64 {
	var s float64
	for i := range p {
		d := float64(p[i]) - float64(y[i])
		s += d * d
	}
	return math.Sqrt(s / float64(len(p)))
}
