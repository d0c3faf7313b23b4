package optimizers_test

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// A two-layer network in GoMLX's [in, out] layout with both layers marked for MKOR: training
// lowers the loss, the factor inverses leave the identity after the second factor update, and
// the trajectory differs from the base SGD's (the preconditioner acts).
func TestMKORWithMarkedLayers(t *testing.T) {
	const n, in, hidden = 16, 5, 7
	xs := make([]float64, n*in)
	ys := make([]float64, n)
	for i := range xs {
		xs[i] = math.Sin(float64(i) * 1.3)
	}
	for i := range ys {
		ys[i] = math.Cos(float64(i) * 0.7)
	}
	init := func(k int) []float64 {
		v := make([]float64, k)
		for i := range v {
			v[i] = 0.3 * math.Sin(float64(i)*2.1+1)
		}
		return v
	}
	vars := []tensorSpec{
		{Name: "w1", Shape: []int{in, hidden}, Values: init(in * hidden)}, {Name: "b1", Shape: []int{hidden}, Values: init(hidden)},
		{Name: "w2", Shape: []int{hidden, 1}, Values: init(hidden)}, {Name: "b2", Shape: []int{1}, Values: init(1)},
	}
	run := func(name string, mark bool) (losses []float64, store *model.Store) {
		store = newStore(t, dtypes.Float64, vars, map[string]any{optimizers.ParamLearningRate: 0.05,
			optimizers.ParamMomentum: 0.0, optimizers.ParamMKORInvFreq: 2})
		opt := newOptimizer(t, store, name)
		get := func(p string) *model.Variable { return store.GetVariable("/" + p) }
		exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, x, y *graph.Node) *graph.Node {
			g := x.Graph()
			dense := func(h *graph.Node, w, b *model.Variable) *graph.Node {
				out := graph.Add(graph.MatMul(h, w.NodeValue(g)), graph.InsertAxes(b.NodeValue(g), 0))
				if mark {
					out = optimizers.MKORLayer(h, out, w, b, false)
				}
				return out
			}
			h := graph.Tanh(dense(x, get("w1"), get("b1")))
			out := dense(h, get("w2"), get("b2"))
			loss := graph.ReduceAllMean(graph.Square(graph.Sub(out, y)))
			opt.UpdateGraph(scope, g, loss)
			return loss
		})
		require.NoError(t, err)
		for range 30 {
			out, err := exec.Exec(makeTensor(dtypes.Float64, xs, []int{n, in}), makeTensor(dtypes.Float64, ys, []int{n, 1}))
			require.NoError(t, err)
			losses = append(losses, flat64(out[0])[0])
		}
		return losses, store
	}
	mk, store := run("mkor", true)
	require.Less(t, mk[len(mk)-1], 0.5*mk[0], "MKOR must train: %v", mk)
	aInv := flat64(store.GetVariable("/optimizers/mkor/w1/a_inv").MustValue()) // [(5+1)², ]
	require.Len(t, aInv, 36)
	off := 0.0
	for i := range 6 {
		for j := range 6 {
			e := aInv[i*6+j]
			if i == j {
				e--
			}
			off += e * e
		}
	}
	require.Greater(t, off, 1e-4, "A⁻¹ still the identity")
	unmarked, _ := run("mkor", false)
	sgd, _ := run("sgd", false)
	require.Equal(t, sgd, unmarked, "MKOR without marked layers is its base SGD")
	require.NotEqual(t, sgd[len(sgd)-1], mk[len(mk)-1])
}
