package certified_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/certified"
	"github.com/moeboost/moeboost/internal/gradcheck"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

type regGolden struct {
	Tau   float64 `json:"tau"`
	Cases []struct {
		X      []float64 `json:"x"`
		XShape []int     `json:"x_shape"`
		Eps    float64   `json:"eps"`
		Layers []struct {
			Lower, Upper []float64
			Shape        []int
		} `json:"layers"`
		Tightness float64 `json:"tightness"`
		Relu      float64 `json:"relu"`
	} `json:"cases"`
}

// The regularizers match the official compute_reg formulas restated in torch
// (testdata/golden/certified/gen_reg.py).
func TestRegularizersGolden(t *testing.T) {
	raw, err := os.ReadFile("../testdata/golden/certified/reg.json")
	require.NoError(t, err)
	var gold regGolden
	require.NoError(t, json.Unmarshal(raw, &gold))
	require.Len(t, gold.Cases, 3)
	for ci, tc := range gold.Cases {
		exec, err := model.NewExec(backend.MustDefault(), model.NewStore(), func(_ *model.Scope, xs []*graph.Node) []*graph.Node {
			in, err := certified.InputBox(xs[0], tc.Eps, 0, 1)
			require.NoError(t, err)
			var pre []certified.Bounds
			for i := range tc.Layers {
				pre = append(pre, certified.Bounds{Lower: xs[1+2*i], Upper: xs[2+2*i]})
			}
			tight, rl, err := certified.Regularizers(in, pre, gold.Tau)
			require.NoError(t, err)
			return []*graph.Node{tight, rl}
		})
		require.NoError(t, err)
		args := []any{tensors.FromFlatDataAndDimensions(tc.X, tc.XShape...)}
		for _, l := range tc.Layers {
			args = append(args, tensors.FromFlatDataAndDimensions(l.Lower, l.Shape...), tensors.FromFlatDataAndDimensions(l.Upper, l.Shape...))
		}
		outs, err := exec.Call(args...)
		require.NoError(t, err)
		require.InDelta(t, tc.Tightness, outs[0].Value().(float64), 1e-12, "case %d tightness", ci)
		require.InDelta(t, tc.Relu, outs[1].Value().(float64), 1e-12, "case %d relu", ci)
		exec.Finalize()
	}
}

// Gradients of L_tightness + L_relu w.r.t. the pre-activation bounds match finite differences
// (case 1 of the golden file: both terms active, away from the hinge and mask kinks).
func TestRegularizersGradient(t *testing.T) {
	raw, err := os.ReadFile("../testdata/golden/certified/reg.json")
	require.NoError(t, err)
	var gold regGolden
	require.NoError(t, json.Unmarshal(raw, &gold))
	tc := gold.Cases[1]
	require.Greater(t, tc.Tightness, 0.0)
	require.Greater(t, tc.Relu, 0.0)
	inputs := [][]float64{tc.X}
	shapes := [][]int{tc.XShape}
	for _, l := range tc.Layers {
		inputs = append(inputs, l.Lower, l.Upper)
		shapes = append(shapes, l.Shape, l.Shape)
	}
	res, err := gradcheck.Check(backend.MustDefault(), func(_ *model.Scope, xs []*graph.Node) *graph.Node {
		in, err := certified.InputBox(xs[0], tc.Eps, 0, 1)
		require.NoError(t, err)
		var pre []certified.Bounds
		for i := range tc.Layers {
			pre = append(pre, certified.Bounds{Lower: xs[1+2*i], Upper: xs[2+2*i]})
		}
		tight, rl, err := certified.Regularizers(in, pre, gold.Tau)
		require.NoError(t, err)
		return graph.Add(tight, rl)
	}, inputs, shapes, 1e-7, 1e-7, 1e-5)
	require.NoError(t, err, res.String())
}

func TestRegLambda(t *testing.T) {
	for _, tc := range []struct {
		lambda0, eps, epsMax, want float64
		err                        string
	}{
		{0.5, 0, 0.2, 0.5, ""},
		{0.5, 0.05, 0.2, 0.375, ""},
		{0.5, 0.2, 0.2, 0, ""},
		{0.5, 0.3, 0.2, 0, "eps=0.3 outside [0, eps_max=0.2]"},
		{0.5, 0, 0, 0, "eps_max=0"},
	} {
		got, err := certified.RegLambda(tc.lambda0, tc.eps, tc.epsMax)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		require.InDelta(t, tc.want, got, 1e-15)
	}
}

func TestRegularizersValidation(t *testing.T) {
	for _, tc := range []struct {
		tau    float64
		layers int
		err    string
	}{
		{0, 1, "tau=0"},
		{-0.5, 1, "tau=-0.5"},
		{0.5, 0, "no ReLU layers given"},
	} {
		exec, err := model.NewExec(backend.MustDefault(), model.NewStore(), func(_ *model.Scope, x *graph.Node) *graph.Node {
			in := certified.Bounds{Lower: x, Upper: x}
			pre := make([]certified.Bounds, tc.layers)
			for i := range pre {
				pre[i] = in
			}
			_, _, err := certified.Regularizers(in, pre, tc.tau)
			if err != nil {
				panic(err)
			}
			return x
		})
		require.NoError(t, err)
		_, err = exec.Call(tensors.FromFlatDataAndDimensions([]float64{0.5}, 1, 1))
		require.ErrorContains(t, err, tc.err)
		exec.Finalize()
	}
}
