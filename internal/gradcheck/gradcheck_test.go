package gradcheck

import (
	"os"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func TestCheck(t *testing.T) {
	b := backend.MustDefault()
	x := []float64{0.3, -1.2, 2.0, 0.7}
	good := func(_ *model.Scope, in []*graph.Node) *graph.Node {
		return graph.ReduceAllSum(graph.Mul(graph.Sin(in[0]), graph.Exp(in[0])))
	}
	res, err := Check(b, good, [][]float64{x}, [][]int{{4}}, 1e-6, 1e-7, 1e-6)
	require.NoError(t, err, res.String())
	require.Less(t, res.MaxAbsErr, 1e-7)

	// A custom gradient that is off by a factor 2 must be caught.
	wrong := func(_ *model.Scope, in []*graph.Node) *graph.Node {
		y := graph.IdentityWithCustomGradient(in[0], func(_, g *graph.Node) *graph.Node { return graph.MulScalar(g, 2) })
		return graph.ReduceAllSum(graph.Square(y))
	}
	_, err = Check(b, wrong, [][]float64{x}, [][]int{{4}}, 1e-6, 1e-7, 1e-6)
	require.ErrorContains(t, err, "gradient mismatch at input 0")
}
