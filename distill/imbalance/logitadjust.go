package imbalance

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/losses"
)

const labelsDType = dtypes.Int32

// LogitAdjustConfig configures the logit-adjusted cross-entropy.
type LogitAdjustConfig struct {
	// ClassCounts are the training-set class counts (required); the prior is π = n / Σn.
	ClassCounts []float64
	// Tau is the adjustment strength τ (default 1).
	Tau float64
}

// LogitAdjust is the logit-adjusted softmax cross-entropy: training on z + τ·log π makes the
// raw logits z Bayes-consistent for the balanced error, so predictions use argmax z.
//
// Paper: Menon et al., "Long-tail learning via logit adjustment", ICLR 2021, arXiv:2007.07314.
// Reference code: google-research/google-research logit_adjustment (loss variant).
//
// Rule: ℓ_b = −log softmax(z_b + τ·log π)_{y_b}, mean over the batch. Defaults: τ = 1.
// MDCS's balanced expert (λ = 1) is this loss with τ = 1 on raw counts (softmax cancels the
// normalisation).
//
// Deviations: none.
type LogitAdjust struct {
	shift []float64
}

// NewLogitAdjust validates cfg and returns the loss.
func NewLogitAdjust(cfg LogitAdjustConfig) (*LogitAdjust, error) {
	if len(cfg.ClassCounts) < 2 {
		return nil, fmt.Errorf("logit adjustment: need the counts of >= 2 classes, got %d", len(cfg.ClassCounts))
	}
	tau := cfg.Tau
	if tau == 0 {
		tau = 1
	}
	if tau < 0 || math.IsNaN(tau) {
		return nil, fmt.Errorf("logit adjustment: tau=%g must be > 0", tau)
	}
	total := 0.0
	for c, n := range cfg.ClassCounts {
		if !(n > 0) {
			return nil, fmt.Errorf("logit adjustment: class count[%d]=%g must be > 0", c, n)
		}
		total += n
	}
	la := &LogitAdjust{shift: make([]float64, len(cfg.ClassCounts))}
	for c, n := range cfg.ClassCounts {
		la.shift[c] = tau * math.Log(n/total) // τ·log π_c
	}
	return la, nil
}

// Adjusted returns z + τ·log π.
func (la *LogitAdjust) Adjusted(logits *Node) *Node {
	s := ConvertDType(Const(logits.Graph(), la.shift), logits.DType())
	return Add(logits, Reshape(s, 1, len(la.shift)))
}

// Compute returns the mean loss of logits [B, C] against labels [B] or [B, 1].
func (la *LogitAdjust) Compute(logits, labels *Node) *Node {
	z := la.Adjusted(logits)
	lab := labels
	if lab.Rank() == 2 {
		lab = Reshape(lab, lab.Shape().Dimensions[0])
	}
	oh := OneHot(ConvertDType(lab, labelsDType), len(la.shift), z.DType())
	return Neg(ReduceAllMean(ReduceSum(Mul(LogSoftmax(z, -1), oh), -1)))
}

func init() {
	train.DeclareParam("la_tau", 1.0, "imbalance: logit adjustment τ")
	losses.Register("logit_adjusted_ce", func(scope *model.Scope) (losses.Fn, error) {
		v, ok := scope.GetParam("class_counts")
		if !ok {
			return nil, errors.New("logit_adjusted_ce needs the param class_counts ([]float64 training class counts)")
		}
		counts, ok := v.([]float64)
		if !ok {
			return nil, fmt.Errorf("logit_adjusted_ce: class_counts must be []float64, got %T", v)
		}
		la, err := NewLogitAdjust(LogitAdjustConfig{ClassCounts: counts, Tau: model.GetParamOr(scope, "la_tau", 1.0)})
		if err != nil {
			return nil, err
		}
		return func(labels, predictions []*Node) *Node { return la.Compute(predictions[0], labels[0]) }, nil
	})
}
