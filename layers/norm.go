package layers

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/norm"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/moeboost/moeboost/internal/fastgrad"
)

// LayerNorm is layer normalization over the last axis (Ba et al. 2016, "Layer Normalization",
// arXiv:1607.06450, Eq. 3-4): y = (x − μ)/√(σ² + ε)·γ + β. It is GoMLX's
// norm.LayerNorm(scope, x, -1).Epsilon(epsilon).Done() with the same variables
// (scope/layer_normalization/gain, ones, and .../offset, zeros, both [D]) and the same forward
// values (the backend's fused kernel), but differentiated in closed form by
// fastgrad.LayerNorm instead of through a second, decomposed layer norm: the transformer
// block's step runs about ten fewer element-wise passes per norm.
//
// With norm.ParamLayerNormLearnedGain false there is no gain variable (GoMLX's layout); this
// path is then also correct on the Go backend, whose fused layer norm (compute v0.1.2) applies
// a lone offset as the gain, so GoMLX's own layer returns the offset there. When the scope sets
// any other norm.ParamLayerNorm* option (no centering, no rescaling, L2 regularization, another
// normalization dtype) or x is not float32 or float64, it is norm.LayerNorm.
func LayerNorm(scope *model.Scope, x *graph.Node, epsilon float64) *graph.Node {
	learnedGain := model.GetParamOr(scope, norm.ParamLayerNormLearnedGain, true)
	if !model.GetParamOr(scope, norm.ParamLayerNormCenter, true) ||
		!model.GetParamOr(scope, norm.ParamLayerNormRescale, true) || model.GetParamOr(scope, norm.ParamLayerNormL2Regularization, 0.0) > 0 ||
		model.GetParamOr(scope, norm.ParamLayerNormNormalizationDType, "") != "" ||
		(x.DType() != dtypes.Float32 && x.DType() != dtypes.Float64) || x.Rank() < 1 {
		return norm.LayerNorm(scope, x, -1).Epsilon(epsilon).Done()
	}
	sc := scope.In("layer_normalization")
	g, dt := x.Graph(), x.DType()
	d := x.Shape().Dim(-1)
	bshape := make([]int, x.Rank()) // [1, ..., 1, D]
	for i := range bshape {
		bshape[i] = 1
	}
	bshape[len(bshape)-1] = d
	var gamma *graph.Node
	if learnedGain {
		gain := sc.WithInitializer(initializer.One).VariableWithShape("gain", shapes.Make(dt, d)).SetTrainable(true)
		gamma = graph.Reshape(gain.NodeValue(g), bshape...)
	}
	offset := sc.WithInitializer(initializer.Zero).VariableWithShape("offset", shapes.Make(dt, d)).SetTrainable(true)
	return fastgrad.LayerNorm(x, epsilon, gamma, graph.Reshape(offset.NodeValue(g), bshape...))
}
