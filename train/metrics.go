package train

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/metric"
)

// evalMetricFactories are the evaluation metrics selectable by name in Config.Metrics.
var evalMetricFactories = map[string]func() metric.Interface{
	// Fraction of examples whose argmax logit is the int label ([B,1] labels).
	"accuracy": func() metric.Interface { return metric.NewSparseCategoricalAccuracy("Accuracy", "acc") },
	// Binary accuracy of logits against {0,1} labels.
	"binary_accuracy": func() metric.Interface { return metric.NewMeanBinaryLogitsAccuracy("Binary Accuracy", "bacc") },
	// Mean squared error (Eval also reports its square root as "rmse").
	"mse": func() metric.Interface {
		return metric.NewMeanMetric("MSE", "mse", "mse", func(_ *model.Scope, labels, predictions []*graph.Node) *graph.Node {
			return graph.ReduceAllMean(graph.Square(graph.Sub(predictions[0], graph.ConvertDType(labels[0], predictions[0].DType()))))
		}, nil)
	},
	"mae": func() metric.Interface {
		return metric.NewMeanMetric("MAE", "mae", "mae", func(_ *model.Scope, labels, predictions []*graph.Node) *graph.Node {
			return graph.ReduceAllMean(graph.Abs(graph.Sub(predictions[0], graph.ConvertDType(labels[0], predictions[0].DType()))))
		}, nil)
	},
}
