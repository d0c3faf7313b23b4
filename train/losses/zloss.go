package losses

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// ParamZLoss is the store param of "cross_entropy_zloss": the z-loss coefficient (default
// DefaultZLoss).
const ParamZLoss = "z_loss_coefficient"

// DefaultZLoss is the z-loss coefficient of PaLM and of Wortsman et al. 2023: 1e-4.
const DefaultZLoss = 1e-4

// LogSumExp is log Z = log Σ_j exp(y_j) over the last axis of logits y [..., V], computed
// with the row maximum subtracted (stable); the result has shape [...].
func LogSumExp(logits *graph.Node) *graph.Node {
	m := graph.StopGradient(graph.ReduceMax(logits, -1))
	return graph.Add(m, graph.Log(graph.ReduceSum(graph.Exp(graph.Sub(logits, graph.InsertAxes(m, -1))), -1)))
}

// ZLoss is the output-logit z-loss, coef·mean(log² Z), over every row of logits [..., V]: a
// scalar.
//
// Paper: Wortsman et al., "Small-scale proxies for large-scale Transformer training
// instabilities", ICLR 2024, arXiv:2309.14322, Sec. 3.2 (output logit divergence): "z-loss ...
// L = 1e-4 · log² Z" added to the cross-entropy, following PaLM (Chowdhery et al. 2022,
// arXiv:2204.02311, Sec. 5). It keeps log Z near 0, so the logits cannot drift far negative.
func ZLoss(logits *graph.Node, coef float64) *graph.Node {
	lse := LogSumExp(logits)
	return graph.MulScalar(graph.ReduceAllMean(graph.Square(lse)), coef) // 1e-4·log² Z
}

// CrossEntropyZLoss is the per-row cross-entropy of integer labels and logits [..., V] plus the
// z-loss, −log softmax(y)[label] + coef·log² Z, shape [...] (labels [...] or [..., 1]).
// Since −log softmax(y)[l] = log Z − y_l, one log Z serves both terms.
func CrossEntropyZLoss(labels, logits *graph.Node, coef float64) *graph.Node {
	v := logits.Shape().Dim(-1)
	if labels.Rank() == logits.Rank() {
		labels = graph.Reshape(labels, labels.Shape().Dimensions[:labels.Rank()-1]...)
	}
	lse := LogSumExp(logits)
	picked := graph.ReduceSum(graph.Mul(graph.OneHot(graph.ConvertDType(labels, dtypes.Int32), v, logits.DType()), logits), -1)
	ce := graph.Sub(lse, picked)
	if coef == 0 {
		return ce
	}
	return graph.Add(ce, graph.MulScalar(graph.Square(lse), coef)) // CE + coef·log² Z
}

func init() {
	// Labels: int class ids [...] or [..., 1]; predictions: logits [..., classes]. The param
	// z_loss_coefficient (default 1e-4) weighs the z-loss.
	Register("cross_entropy_zloss", func(scope *model.Scope) (Fn, error) {
		coef := DefaultZLoss
		if v, ok := scope.GetParam(ParamZLoss); ok {
			f, ok := v.(float64)
			if !ok {
				return nil, fmt.Errorf("losses: %s=%v must be a float64", ParamZLoss, v)
			}
			coef = f
		}
		if coef < 0 || coef != coef {
			return nil, fmt.Errorf("losses: %s=%g must be >= 0", ParamZLoss, coef)
		}
		return func(labels, predictions []*graph.Node) *graph.Node {
			return CrossEntropyZLoss(labels[0], predictions[0], coef)
		}, nil
	})
}
