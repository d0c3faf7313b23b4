package trees

import (
	"fmt"
	"runtime"
)

// Growth policies.
const (
	// Greedy grows depth-wise; every node picks its own split (XGBoost's depthwise, GBRL's
	// "greedy").
	Greedy = "greedy"
	// Oblivious uses one split per level shared by all nodes of the level (CatBoost's
	// symmetric trees, GBRL's "oblivious", gbrl_sb3's default).
	Oblivious = "oblivious"
)

// Split-candidate generators.
const (
	// Quantile cuts the sorted feature values into Bins+1 groups of (almost) equal count and
	// uses the last value of each of the first Bins groups as a threshold (duplicates removed).
	Quantile = "quantile"
	// Uniform uses the thresholds min + i*(max-min)/Bins, i = 0..Bins-1.
	Uniform = "uniform"
)

// Split scores.
const (
	// L2 scores a split by sum over children of ||S_c||^2/(n_c + Lambda), S_c the sum of the
	// child's gradient vectors (standardized per output column when Standardize), i.e.
	// n_L*||m_L||^2 + n_R*||m_R||^2 for Lambda = 0 (GBRL's L2; XGBoost's gain with h = 1).
	L2 = "l2"
	// Cosine is GBRL's cosine score on raw gradients; see CosineForm.
	Cosine = "cosine"
)

// TreeConfig configures how one tree is grown. The zero value means GBRL's defaults
// (gbrl_sb3 config/defaults.yaml): depth 4, oblivious, 250 quantile bins, cosine score,
// min_data_in_leaf 0.
type TreeConfig struct {
	// MaxDepth is the maximum depth (default 4; at most 16).
	MaxDepth int
	// Grow is Greedy or Oblivious (default Oblivious).
	Grow string
	// Bins is the number of split candidates per numeric feature (default 250, at most 255),
	// and for categorical features the cap on candidates (see Binning).
	Bins int
	// Split is Quantile (default) or Uniform.
	Split string
	// Score is L2 or Cosine (default Cosine).
	Score string
	// CosineForm selects the Cosine score: "code" (default) is what GBRL's CPU code computes
	// in its current version, per child n_c*||S_c||/sqrt(Q_c) with Q_c the sum of the child's
	// squared gradient norms, summed over the two children; "paper" is the cosine between the
	// gradient matrix and the piecewise-constant fit, sqrt(||S_L||^2/n_L + ||S_R||^2/n_R).
	CosineForm string
	// Standardize makes L2 score standardized gradients (each output column centred and
	// divided by its batch standard deviation), as GBRL does; the leaf values always use the
	// raw gradients. Default: true for L2 (set NoStandardize to turn it off).
	NoStandardize bool
	// MinDataInLeaf rejects splits that leave a child with fewer samples (default 0).
	MinDataInLeaf int
	// Lambda is an L2 regulariser on the leaf values: leaf = S/(n + Lambda) and the L2 score
	// uses n + Lambda (default 0, GBRL: the leaf is the mean gradient).
	Lambda float64
	// MinSplitGain: a greedy node splits only when its gain is >= MinSplitGain (default 0,
	// GBRL's best_score >= 0).
	MinSplitGain float64
	// FeatureWeights (optional, one per feature, >= 0) multiply each candidate's score.
	FeatureWeights []float64
	// Threads is the number of goroutines used for histograms and prediction (default
	// GOMAXPROCS).
	Threads int
}

// WithDefaults returns c with zero fields replaced by the defaults.
func (c TreeConfig) WithDefaults() TreeConfig {
	if c.MaxDepth == 0 {
		c.MaxDepth = 4
	}
	if c.Grow == "" {
		c.Grow = Oblivious
	}
	if c.Bins == 0 {
		c.Bins = 250
	}
	if c.Split == "" {
		c.Split = Quantile
	}
	if c.Score == "" {
		c.Score = Cosine
	}
	if c.CosineForm == "" {
		c.CosineForm = "code"
	}
	if c.Threads == 0 {
		c.Threads = runtime.GOMAXPROCS(0)
	}
	return c
}

// Validate reports a bad configuration; features is the number of features of the data the
// trees will see (for FeatureWeights), or -1 to skip that check.
func (c TreeConfig) Validate(features int) error {
	c = c.WithDefaults()
	if c.MaxDepth < 1 || c.MaxDepth > 16 {
		return fmt.Errorf("trees: max_depth=%d must be in [1, 16]", c.MaxDepth)
	}
	if c.Grow != Greedy && c.Grow != Oblivious {
		return fmt.Errorf("trees: grow=%q must be %q or %q", c.Grow, Greedy, Oblivious)
	}
	if c.Bins < 1 || c.Bins > 255 {
		return fmt.Errorf("trees: bins=%d must be in [1, 255]", c.Bins)
	}
	if c.Split != Quantile && c.Split != Uniform {
		return fmt.Errorf("trees: split=%q must be %q or %q", c.Split, Quantile, Uniform)
	}
	if c.Score != L2 && c.Score != Cosine {
		return fmt.Errorf("trees: score=%q must be %q or %q", c.Score, L2, Cosine)
	}
	if c.CosineForm != "code" && c.CosineForm != "paper" {
		return fmt.Errorf("trees: cosine_form=%q must be \"code\" or \"paper\"", c.CosineForm)
	}
	if c.MinDataInLeaf < 0 {
		return fmt.Errorf("trees: min_data_in_leaf=%d must be >= 0", c.MinDataInLeaf)
	}
	if c.Lambda < 0 {
		return fmt.Errorf("trees: lambda=%g must be >= 0", c.Lambda)
	}
	if c.Threads < 1 {
		return fmt.Errorf("trees: threads=%d must be >= 1", c.Threads)
	}
	if c.FeatureWeights != nil {
		if features >= 0 && len(c.FeatureWeights) != features {
			return fmt.Errorf("trees: %d feature weights for %d features", len(c.FeatureWeights), features)
		}
		for i, w := range c.FeatureWeights {
			if !(w >= 0) {
				return fmt.Errorf("trees: feature weight [%d]=%g must be >= 0", i, w)
			}
		}
	}
	return nil
}
