package gbnn

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/gradcheck"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// TestLBFGSGradient checks the written-out backward pass of the L-BFGS objective against
// GoMLX's autodiff of the same objective and against finite differences, for every activation.
func TestLBFGSGradient(t *testing.T) {
	b := backend.MustDefault()
	dm := dims{d: 5, j: 3, k: 4}
	n := 7
	rng := rand.New(rand.NewPCG(1, 2))
	randn := func(size int) []float64 {
		v := make([]float64, size)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	x, r := randn(n*dm.d), randn(n*dm.k)
	xT := make([]float64, len(x))
	for i := range n {
		for c := range dm.d {
			xT[c*n+i] = x[i*dm.d+c]
		}
	}
	for name := range activations {
		for _, alpha := range []float64{0, 0.3} {
			f := &lbfgsFitter{dm: dm, act: activations[name], alpha: alpha}
			theta := randn(f.numParams())
			manual, err := graph.NewExec(b, f.lossAndGrad)
			require.NoError(t, err)
			auto, err := graph.NewExec(b, func(theta, x, r *graph.Node) (*graph.Node, *graph.Node) {
				loss := f.objective(theta, x, r)
				return loss, graph.Gradient(loss, theta)[0]
			})
			require.NoError(t, err)
			tt := func(v []float64, dims ...int) *tensors.Tensor { return tensors.FromFlatDataAndDimensions(v, dims...) }
			mo, err := manual.Call(tt(theta, len(theta)), tt(x, n, dm.d), tt(xT, dm.d, n), tt(r, n, dm.k))
			require.NoError(t, err)
			ao, err := auto.Call(tt(theta, len(theta)), tt(x, n, dm.d), tt(r, n, dm.k))
			require.NoError(t, err)
			require.InDelta(t, tensors.ToScalar[float64](ao[0]), tensors.ToScalar[float64](mo[0]), 1e-12, "%s alpha=%g loss", name, alpha)
			require.InDeltaSlice(t, tensors.MustCopyFlatData[float64](ao[1]), tensors.MustCopyFlatData[float64](mo[1]), 1e-12,
				"%s alpha=%g gradient", name, alpha)
			manual.Finalize()
			auto.Finalize()
			if name == "relu" {
				continue // Finite differences straddle the kink.
			}
			res, err := gradcheck.Check(b, func(_ *model.Scope, in []*graph.Node) *graph.Node {
				return f.objective(in[0], in[1], in[2])
			}, [][]float64{theta, x, r}, [][]int{{len(theta)}, {n, dm.d}, {n, dm.k}}, 1e-6, 1e-7, 1e-5)
			require.NoError(t, err, "%s: %v", name, res)
		}
	}
}

// TestLBFGSFitDecreasesObjective: one stage fitted by L-BFGS reaches a lower objective than
// its initialization and than 200 Adam steps, on the same residuals.
func TestLBFGSFitDecreasesObjective(t *testing.T) {
	tr, _, _ := split(t, "breast_cancer", 1)
	var lbfgs, adam float64
	for _, c := range []struct {
		solver string
		out    *float64
	}{{"lbfgs", &lbfgs}, {"adam", &adam}} {
		_, err := Fit(context.Background(), Config{TotalUnits: 1, Solver: c.solver, Seed: 5,
			OnStage: func(_ int, s *Stage) { *c.out = s.FitLoss }}, tr)
		require.NoError(t, err)
	}
	require.Positive(t, lbfgs)
	require.Less(t, lbfgs, adam)
}
