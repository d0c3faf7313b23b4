package gbnn

import (
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train"
)

// Network is the assembled GBNN: ONE ordinary one-hidden-layer GoMLX network with T·J hidden
// units whose variables live in a model.Store (so GoMLX/moeboost checkpoints save and load it
// and train.Predict serves it):
//
//	gbnn/hidden/weights  [D, T·J]   stage t's W1 in columns [tJ, (t+1)J)
//	gbnn/hidden/biases   [T·J]      stage t's B1
//	gbnn/output/weights  [T·J, K]   c·ρ_t·W2_t in rows [tJ, (t+1)J)
//	gbnn/output/biases   [K]        c·(F0 + Σ_t ρ_t·B2_t)
//	gbnn/output/stage_biases [T+1, K] (not trainable) row s: c·(F0 + Σ_{t<s} ρ_t·B2_t), the
//	                                  output bias of the network cut to its first s stages
//
// Output: y = σ(x·W1 + b1)·W2 + b2, which is c·F(x) with c = 2 for binary classification (so
// that a standard sigmoid of the output is the official P(y=+1) = σ(2F)) and c = 1 otherwise:
// the regression value, the binary logit, or the K-class logits (softmax). This is the
// official to_NN. Its shape and metadata are store params (gbnn_net_*), so LoadNetwork
// rebuilds it from a checkpoint.
//
// Fine-tuning the assembled network (train.Run with it as Model) is possible; it updates the
// full-network biases but not stage_biases, so cut networks then no longer match.
type Network struct {
	Stages, UnitsPerStage, Inputs, Outputs int
	Activation                             string
	Kind                                   Kind
	NumClasses                             int
	DType                                  dtypes.DType
}

// Scope and store params of the assembled network.
const (
	NetworkScope           = "gbnn"
	ParamNetStages         = "gbnn_net_stages"
	ParamNetUnitsPerStage  = "gbnn_net_units_per_stage"
	ParamNetInputs         = "gbnn_net_inputs"
	ParamNetOutputs        = "gbnn_net_outputs"
	ParamNetActivation     = "gbnn_net_activation"
	ParamNetKind           = "gbnn_net_kind"
	ParamNetNumClasses     = "gbnn_net_num_classes"
	ParamNetDType          = "gbnn_net_dtype"
	outputScale            = 2.0 // c for the binary loss
	varHidden, varOutput   = "hidden", "output"
	varWeights, varBiases  = "weights", "biases"
	varStageBiases         = "stage_biases"
	defaultNetworkDTypeMsg = "Float32 or Float64"
)

// scale returns c: 2 for the binary loss, else 1.
func (k Kind) scale() float64 {
	if k == Binary {
		return outputScale
	}
	return 1
}

// Assemble writes the model as one network into store (in dtype, or the model's DType when
// dtype is InvalidDType), replacing any previous GBNN network there, and returns its
// description. The official to_NN.
func (m *Model) Assemble(store *model.Store, dtype dtypes.DType) (*Network, error) {
	if dtype == dtypes.InvalidDType {
		dtype = m.DType
	}
	if dtype != dtypes.Float32 && dtype != dtypes.Float64 {
		return nil, fmt.Errorf("gbnn: network dtype %s must be %s", dtype, defaultNetworkDTypeMsg)
	}
	if len(m.Stages) == 0 {
		return nil, fmt.Errorf("gbnn: cannot assemble a model with 0 stages")
	}
	T, J, D, K := len(m.Stages), m.UnitsPerStage, m.Inputs, m.Outputs
	c := m.Kind.scale()
	w1 := make([]float64, D*T*J)
	b1 := make([]float64, T*J)
	w2 := make([]float64, T*J*K)
	stageBiases := make([]float64, (T+1)*K)
	for o := range K {
		stageBiases[o] = c * m.F0[o] // c·F0
	}
	for t, st := range m.Stages {
		for f := range D {
			copy(w1[f*T*J+t*J:f*T*J+(t+1)*J], st.W1[f*J:(f+1)*J]) // input → hidden block t
		}
		copy(b1[t*J:(t+1)*J], st.B1)
		for u := range J {
			for o := range K {
				w2[(t*J+u)*K+o] = c * st.Rho * st.W2[u*K+o] // c·ρ_t·W2_t
			}
		}
		for o := range K {
			stageBiases[(t+1)*K+o] = stageBiases[t*K+o] + c*st.Rho*st.B2[o] // + c·ρ_t·B2_t
		}
	}
	net := &Network{Stages: T, UnitsPerStage: J, Inputs: D, Outputs: K, Activation: m.Activation,
		Kind: m.Kind, NumClasses: m.NumClasses, DType: dtype}
	vars := []struct {
		scope, name string
		value       []float64
		dims        []int
		trainable   bool
	}{
		{varHidden, varWeights, w1, []int{D, T * J}, true},
		{varHidden, varBiases, b1, []int{T * J}, true},
		{varOutput, varWeights, w2, []int{T * J, K}, true},
		{varOutput, varBiases, stageBiases[T*K:], []int{K}, true},
		{varOutput, varStageBiases, stageBiases, []int{T + 1, K}, false},
	}
	for _, v := range vars {
		path := model.JoinPath("/", NetworkScope, v.scope, v.name)
		value := toTensor(v.value, dtype, v.dims...)
		if old := store.GetVariable(path); old != nil {
			if err := store.DeleteVariable(path); err != nil {
				return nil, err
			}
		}
		nv, err := store.CreateVariable(path, value)
		if err != nil {
			return nil, fmt.Errorf("gbnn: creating %s: %w", path, err)
		}
		nv.SetTrainable(v.trainable)
	}
	net.setParams(store)
	return net, nil
}

func (n *Network) setParams(store *model.Store) {
	store.SetParams(map[string]any{
		ParamNetStages: n.Stages, ParamNetUnitsPerStage: n.UnitsPerStage, ParamNetInputs: n.Inputs,
		ParamNetOutputs: n.Outputs, ParamNetActivation: n.Activation, ParamNetKind: n.Kind.String(),
		ParamNetNumClasses: n.NumClasses, ParamNetDType: n.DType.String(),
	})
}

// LoadNetwork describes the GBNN network held in store (e.g. one just loaded from a
// checkpoint with train.OpenCheckpoint), from its gbnn_net_* params.
func LoadNetwork(store *model.Store) (net *Network, err error) {
	defer func() {
		if r := recover(); r != nil {
			net, err = nil, fmt.Errorf("gbnn: reading network params: %v", r)
		}
	}()
	root := store.RootScope()
	if _, ok := store.GetParam(ParamNetStages); !ok {
		return nil, fmt.Errorf("gbnn: store has no GBNN network (param %s missing)", ParamNetStages)
	}
	net = &Network{
		Stages:        model.GetParamOr(root, ParamNetStages, 0),
		UnitsPerStage: model.GetParamOr(root, ParamNetUnitsPerStage, 0),
		Inputs:        model.GetParamOr(root, ParamNetInputs, 0),
		Outputs:       model.GetParamOr(root, ParamNetOutputs, 0),
		Activation:    model.GetParamOr(root, ParamNetActivation, ""),
		NumClasses:    model.GetParamOr(root, ParamNetNumClasses, 0),
	}
	switch kind := model.GetParamOr(root, ParamNetKind, ""); kind {
	case Regression.String():
		net.Kind = Regression
	case Binary.String():
		net.Kind = Binary
	case MultiClass.String():
		net.Kind = MultiClass
	default:
		return nil, fmt.Errorf("gbnn: param %s=%q must be regression, binary or multiclass", ParamNetKind, kind)
	}
	switch dt := model.GetParamOr(root, ParamNetDType, ""); dt {
	case dtypes.Float32.String():
		net.DType = dtypes.Float32
	case dtypes.Float64.String():
		net.DType = dtypes.Float64
	default:
		return nil, fmt.Errorf("gbnn: param %s=%q must be %s", ParamNetDType, dt, defaultNetworkDTypeMsg)
	}
	if net.Stages < 1 || net.UnitsPerStage < 1 || net.Inputs < 1 || net.Outputs < 1 {
		return nil, fmt.Errorf("gbnn: network params stages=%d units_per_stage=%d inputs=%d outputs=%d must all be >= 1",
			net.Stages, net.UnitsPerStage, net.Inputs, net.Outputs)
	}
	if _, ok := activations[net.Activation]; !ok {
		return nil, fmt.Errorf("gbnn: param %s=%q unknown: use logistic, tanh, relu or identity", ParamNetActivation, net.Activation)
	}
	return net, nil
}

// ModelFn is the full network as a train.ModelFn: inputs [x [B, D]] (any float dtype),
// outputs [y [B, K]] in the network's dtype (see Network for what y is).
func (n *Network) ModelFn() train.ModelFn {
	fn, _ := n.Truncated(n.Stages)
	return fn
}

// Truncated is the network cut to its first keep stages (keep·J hidden units, the matching
// bias), which equals the ensemble of the first keep stages: the "switch off the last units"
// use. keep must be in [1, T].
func (n *Network) Truncated(keep int) (train.ModelFn, error) {
	if keep < 1 || keep > n.Stages {
		return nil, fmt.Errorf("gbnn: keep=%d stages must be in [1, %d]", keep, n.Stages)
	}
	TJ, units := n.Stages*n.UnitsPerStage, keep*n.UnitsPerStage
	act := activations[n.Activation]
	return func(scope *model.Scope, inputs []*graph.Node) []*graph.Node {
		x := inputs[0]
		if x.DType() != n.DType {
			x = graph.ConvertDType(x, n.DType)
		}
		s := scope.In(NetworkScope)
		hidden, output := s.In(varHidden), s.In(varOutput)
		variable := func(sub *model.Scope, name string, dims ...int) *graph.Node {
			return sub.VariableWithShape(name, shapes.Make(n.DType, dims...)).ValueGraph(x)
		}
		w1 := variable(hidden, varWeights, n.Inputs, TJ)
		b1 := variable(hidden, varBiases, TJ)
		w2 := variable(output, varWeights, TJ, n.Outputs)
		bias := variable(output, varBiases, n.Outputs)
		// Declared (not trainable) even when unused, so a loaded store keeps it as assembled.
		sbVar := output.VariableWithShape(varStageBiases, shapes.Make(n.DType, n.Stages+1, n.Outputs)).SetTrainable(false)
		if keep < n.Stages {
			all := graph.AxisRange()
			w1 = graph.Slice(w1, all, graph.AxisRange(0, units))                                 // [D, keep·J]
			b1 = graph.Slice(b1, graph.AxisRange(0, units))                                      // [keep·J]
			w2 = graph.Slice(w2, graph.AxisRange(0, units), all)                                 // [keep·J, K]
			sb := sbVar.ValueGraph(x)                                                            // [T+1, K]
			bias = graph.Reshape(graph.Slice(sb, graph.AxisRange(keep, keep+1), all), n.Outputs) // [K]
		}
		return []*graph.Node{dense(act.graph(dense(x, w1, b1)), w2, bias)}
	}, nil
}

// Predict runs the network (cut to keep stages; keep = 0 means all) on x ([rows, D]
// row-major) with train.Predict and returns its outputs [rows, K] as float64.
func (n *Network) Predict(b compute.Backend, store *model.Store, x []float64, rows, keep int) ([]float64, error) {
	if keep == 0 {
		keep = n.Stages
	}
	fn, err := n.Truncated(keep)
	if err != nil {
		return nil, err
	}
	if len(x) != rows*n.Inputs {
		return nil, fmt.Errorf("gbnn: x has %d values, want %d rows × %d features", len(x), rows, n.Inputs)
	}
	xt := toTensor(x, n.DType, rows, n.Inputs)
	defer xt.MustFinalizeAll()
	outs, err := train.Predict(b, store, fn, xt)
	if err != nil {
		return nil, err
	}
	defer outs[0].MustFinalizeAll()
	return fromTensor(outs[0]), nil
}

// Classify maps network outputs [rows, K] to class ids (classification) or values
// (regression).
func (n *Network) Classify(y []float64, rows int) []float64 {
	out := make([]float64, rows)
	for i := range rows {
		switch n.Kind {
		case Regression:
			out[i] = y[i]
		case Binary:
			if y[i] > 0 {
				out[i] = 1
			}
		default:
			row := y[i*n.Outputs : (i+1)*n.Outputs]
			best, bv := 0, math.Inf(-1)
			for c, v := range row {
				if v > bv {
					best, bv = c, v
				}
			}
			out[i] = float64(best)
		}
	}
	return out
}
