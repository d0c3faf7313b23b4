package optimizers_test

import (
	"fmt"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// tensorSpec is a named initial value.
type tensorSpec struct {
	Name   string
	Shape  []int
	Values []float64
}

// newStore creates a store with the given float variables (in order) and params.
func newStore(t testing.TB, dt dtypes.DType, vars []tensorSpec, params map[string]any) *model.Store {
	t.Helper()
	store := model.NewStore()
	store.SetParam(optimizers.ParamLogGroups, false)
	store.SetParams(params)
	for _, v := range vars {
		_, err := store.RootScope().CreateVariable(v.Name, makeTensor(dt, v.Values, v.Shape))
		require.NoError(t, err)
	}
	return store
}

func makeTensor(dt dtypes.DType, values []float64, shape []int) *tensors.Tensor {
	if dt == dtypes.Float32 {
		f := make([]float32, len(values))
		for i, v := range values {
			f[i] = float32(v)
		}
		return tensors.FromFlatDataAndDimensions(f, shape...)
	}
	return tensors.FromFlatDataAndDimensions(append([]float64(nil), values...), shape...)
}

func flat64(t *tensors.Tensor) []float64 {
	switch t.DType() {
	case dtypes.Float32:
		f := tensors.MustCopyFlatData[float32](t)
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out
	case dtypes.Float64:
		return tensors.MustCopyFlatData[float64](t)
	}
	panic(fmt.Sprintf("flat64: dtype %s", t.DType()))
}

// stepper runs one optimizer update per call, feeding the gradients from the host.
type stepper struct {
	store    *model.Store
	exec     *model.Exec
	vars     []*model.Variable
	dt       dtypes.DType
	compiled int // graph builds
}

func newStepper(t testing.TB, store *model.Store, opt optimizer.Interface, dt dtypes.DType) *stepper {
	t.Helper()
	s := &stepper{store: store, dt: dt}
	for v := range store.IterVariables() {
		if v.Trainable {
			s.vars = append(s.vars, v)
		}
	}
	wg, ok := opt.(gtrain.OptimizeWithGradients)
	require.True(t, ok, "%T must accept gradients", opt)
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, grads []*graph.Node) *graph.Node {
		s.compiled++
		g := grads[0].Graph()
		for _, v := range s.vars {
			_ = v.NodeValue(g) // in use by the graph
		}
		wg.UpdateGraphWithGradients(scope, grads, dt)
		return optimizer.GetGlobalStepVar(store).NodeValue(g)
	})
	require.NoError(t, err)
	exec.SetMaxCache(4)
	s.exec = exec
	return s
}

func (s *stepper) step(t testing.TB, grads [][]float64) {
	t.Helper()
	args := make([]any, len(grads))
	for i, g := range grads {
		args[i] = makeTensor(s.dt, g, s.vars[i].Shape().Dimensions)
	}
	_, err := s.exec.Exec(args...)
	require.NoError(t, err)
}

func (s *stepper) values() [][]float64 {
	out := make([][]float64, len(s.vars))
	for i, v := range s.vars {
		out[i] = flat64(v.MustValue())
	}
	return out
}

func (s *stepper) setValues(t testing.TB, vals [][]float64) {
	t.Helper()
	for i, v := range s.vars {
		require.NoError(t, v.SetValue(makeTensor(s.dt, vals[i], v.Shape().Dimensions)))
	}
}
