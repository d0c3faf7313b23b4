package quant

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

// TestDenseFromStore: a GoMLX MLP's Dense weights are found in its store; the graph run on the
// dequantized clone and the host LUT layer give the same outputs; the original store is kept.
func TestDenseFromStore(t *testing.T) {
	const batch, in, hidden, out = 5, 20, 24, 7
	be := backend.MustDefault()
	store := model.NewStore()
	require.NoError(t, store.SetRNGStateFromSeed(3))
	fn := func(scope *model.Scope, x *graph.Node) *graph.Node {
		return layers.MLP(scope.In("mlp"), x, layers.MLPConfig{Hidden: []int{hidden}, Out: out})
	}
	// The first layer alone, to compare with the host layer.
	first := func(scope *model.Scope, x *graph.Node) *graph.Node {
		return layers.MLP(scope.In("mlp"), x, layers.MLPConfig{Out: hidden})
	}
	r := rand.New(rand.NewPCG(1, 2))
	xs := randMatrix(r, batch*in)
	x := tensors.FromFlatDataAndDimensions(xs, batch, in)
	run := func(s *model.Store, f func(*model.Scope, *graph.Node) *graph.Node) []float32 {
		e, err := model.NewExec(be, s, f)
		require.NoError(t, err)
		defer e.Finalize()
		res, err := e.Call(x)
		require.NoError(t, err)
		return tensors.MustCopyFlatData[float32](res[0])
	}
	full := run(store, fn)
	paths := DenseWeights(store)
	require.Equal(t, []string{"/mlp/l0/dense/weights", "/mlp/l1/dense/weights"}, paths)
	before := tensors.MustCopyFlatData[float32](store.GetVariable(paths[0]).MustValue())

	cfg := Config{Bits: 3, GroupSize: 8, Method: "rtn"}
	clone, mats, err := DequantizeStore(store, paths, cfg)
	require.NoError(t, err)
	defer clone.Finalize()
	require.Len(t, mats, 2)
	require.Equal(t, hidden, mats["/mlp/l0/dense/weights"].Rows)
	require.Equal(t, in, mats["/mlp/l0/dense/weights"].Cols)
	require.Equal(t, before, tensors.MustCopyFlatData[float32](store.GetVariable(paths[0]).MustValue()), "original store changed")

	// The clone's weights are the dequantized matrices, transposed back to [in, out].
	got := tensors.MustCopyFlatData[float32](clone.GetVariable(paths[0]).MustValue())
	require.Equal(t, mats[paths[0]].DequantizeTransposed(), got)

	// Quantization changes the outputs, but not by much at 3 bits.
	quant := run(clone, fn)
	var diff, norm float64
	for i := range full {
		diff += math.Abs(float64(full[i] - quant[i]))
		norm += math.Abs(float64(full[i]))
	}
	require.Greater(t, diff, 0.0)
	require.Less(t, diff, 0.5*norm)

	// Host LUT layer == graph Dense (weights + biases) on the dequantized clone.
	d, err := NewDense(store, "/mlp/l0/dense", cfg, batch)
	require.NoError(t, err)
	require.Len(t, d.Bias, hidden)
	y := make([]float32, batch*hidden)
	require.NoError(t, d.Apply(y, xs, batch))
	ref := run(clone, first)
	for i := range ref {
		require.InDelta(t, ref[i], y[i], 1e-4*(1+math.Abs(float64(ref[i]))), "output %d", i)
	}

	_, err = NewDense(store, "/mlp/l9", cfg, 1)
	require.ErrorContains(t, err, `no variable "/mlp/l9/weights" in the store (Dense weights: ["/mlp/l0/dense/weights" "/mlp/l1/dense/weights"])`)
	_, err = QuantizeDense(store, "/mlp/l0/dense/biases", cfg)
	require.ErrorContains(t, err, "a Dense weight is a rank-2 float32")
	_, _, err = DequantizeStore(store, paths, Config{Bits: 3, GroupSize: 12})
	require.ErrorContains(t, err, `group_size=12 must be a multiple of 8 (or 0, or >= the 20 inputs) (variable "/mlp/l0/dense/weights")`)
}
