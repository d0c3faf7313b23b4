package losses_test

import (
	"math"
	"os"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/losses"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func eval(t *testing.T, name string, labels, preds *tensors.Tensor) float64 {
	t.Helper()
	store := model.NewStore()
	fn, err := losses.New(store.RootScope(), name)
	require.NoError(t, err)
	out := graph.MustExecOnce(backend.MustDefault(), func(l, p *graph.Node) *graph.Node {
		v := fn([]*graph.Node{l}, []*graph.Node{p})
		if !v.IsScalar() {
			v = graph.ReduceAllMean(v)
		}
		return v
	}, labels, preds)
	return out.Value().(float64)
}

func TestBuiltinLosses(t *testing.T) {
	// Cross-entropy of logits [0, ln 3] for class 1: -log(3/4).
	ce := eval(t, "cross_entropy", tensors.FromFlatDataAndDimensions([]int32{1}, 1, 1),
		tensors.FromFlatDataAndDimensions([]float64{0, math.Log(3)}, 1, 2))
	require.InDelta(t, -math.Log(0.75), ce, 1e-9)
	y := tensors.FromFlatDataAndDimensions([]float64{1, 2, 3, 4}, 4, 1)
	p := tensors.FromFlatDataAndDimensions([]float64{1, 1, 5, 4}, 4, 1)
	require.InDelta(t, (0+1+4+0)/4.0, eval(t, "mse", y, p), 1e-12)
	require.InDelta(t, (0+1+2+0)/4.0, eval(t, "mae", y, p), 1e-12)
	// BCE with logit 0 is log 2 whatever the label.
	require.InDelta(t, math.Log(2), eval(t, "binary_cross_entropy", tensors.FromFlatDataAndDimensions([]float64{1, 0}, 2, 1),
		tensors.FromFlatDataAndDimensions([]float64{0, 0}, 2, 1)), 1e-9)
	require.Contains(t, losses.Names(), "huber")
	_, err := losses.New(model.NewStore().RootScope(), "hinge")
	require.ErrorContains(t, err, `unknown loss "hinge": known losses are`)
}
