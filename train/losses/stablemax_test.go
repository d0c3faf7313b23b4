package losses_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/golden"
	"github.com/moeboost/moeboost/internal/gradcheck"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/losses"
	"github.com/stretchr/testify/require"
)

// stableMaxCase is a StableMax golden file (kind recognized by content: "function": "StableMax").
type stableMaxCase struct {
	Function string `json:"function"`
	Logits   struct {
		Shape  []int     `json:"shape"`
		Values []float64 `json:"values"`
	} `json:"logits"`
	Labels       []int32            `json:"labels"`
	S            []float64          `json:"s"`
	LogStableMax []float64          `json:"log_stablemax"`
	LossNone     []float64          `json:"loss_none"`
	LossMean     float64            `json:"loss_mean"`
	Grad         []float64          `json:"grad_logits_of_loss_mean"`
	Tolerance    map[string]float64 `json:"tolerance"`
}

// recognizeStableMax: a StableMax golden file is a JSON object with "function": "StableMax";
// it lives among the optimizer vectors (the grokking paper's pair), whose files ("optimizer",
// "params_initial", "params_after_each_step") belong to the optimizers package's test. See
// testdata/golden/optimizers/README.md.
func recognizeStableMax(f golden.File) golden.Verdict {
	switch {
	case f.String("function") == "StableMax":
		return golden.Mine
	case f.Has("optimizer", "params_initial", "params_after_each_step"):
		return golden.Other
	}
	return golden.Unknown
}

// TestGoldenStableMax compares s, log-StableMax, the per-example and mean cross-entropy and the
// gradient of the mean with every StableMax golden file (the optimizers golden directories and
// MOEBOOST_GOLDEN_DIR).
func TestGoldenStableMax(t *testing.T) {
	files := golden.Select(t, "optimizers", recognizeStableMax)
	golden.Run(t, files, func(t *testing.T, f golden.File) {
		var c stableMaxCase
		require.NoError(t, f.Decode(&c))
		checkStableMax(t, &c)
	})
}

func checkStableMax(t *testing.T, c *stableMaxCase) {
	rtol, ok1 := c.Tolerance["rtol"]
	atol, ok2 := c.Tolerance["atol"]
	require.True(t, ok1 && ok2, "tolerance rtol/atol missing: %v", c.Tolerance)
	require.Len(t, c.Logits.Shape, 2, "logits shape %v must be [N, C]", c.Logits.Shape)
	n, classes := c.Logits.Shape[0], c.Logits.Shape[1]
	require.Len(t, c.Logits.Values, n*classes, "logits values for shape %v", c.Logits.Shape)
	require.Len(t, c.Labels, n, "one label per row")
	for i, y := range c.Labels {
		require.True(t, y >= 0 && int(y) < classes, "label[%d]=%d must be in [0, %d)", i, y, classes)
	}
	logits := tensors.FromFlatDataAndDimensions(append([]float64(nil), c.Logits.Values...), c.Logits.Shape...)
	labels := tensors.FromFlatDataAndDimensions(append([]int32(nil), c.Labels...), n)
	out := graph.MustExecOnceN(backend.MustDefault(), func(x, y *graph.Node) []*graph.Node {
		perEx := losses.StableMaxCrossEntropy(y, x)
		mean := graph.ReduceAllMean(perEx)
		return []*graph.Node{losses.StableS(x), losses.LogStableMax(x), perEx, mean, graph.Gradient(mean, x)[0]}
	}, logits, labels)
	check := func(name string, got *tensors.Tensor, want []float64) {
		golden.RequireClose(t, name, tensors.MustCopyFlatData[float64](got), want, atol, rtol)
	}
	check("s", out[0], c.S)
	check("log_stablemax", out[1], c.LogStableMax)
	check("loss_none", out[2], c.LossNone)
	check("loss_mean", out[3], []float64{c.LossMean})
	check("grad_logits_of_loss_mean", out[4], c.Grad)
}

// A StableMax case with a nudged or an extra expected value fails.
func TestGoldenStableMaxDetectsBadCases(t *testing.T) {
	files := golden.Select(t, "optimizers", recognizeStableMax)
	data := files[0].Data
	for _, tc := range []struct {
		name string
		edit func(doc map[string]any)
		want string
	}{
		{"nudged", func(doc map[string]any) {
			g := doc["grad_logits_of_loss_mean"].([]any)
			g[4] = golden.Nudge(g[4], 1e-6)
		}, "grad_logits_of_loss_mean[4]"},
		{"one value more", func(doc map[string]any) {
			doc["loss_none"] = append(doc["loss_none"].([]any), json.Number("1"))
		}, "loss_none: got 5 values, want 6"},
		{"nudged mean", func(doc map[string]any) { doc["loss_mean"] = golden.Nudge(doc["loss_mean"], 1e-9) }, "loss_mean[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden.RequireDetects(t, "TestGoldenStableMax", "zz_stablemax_"+strings.ReplaceAll(tc.name, " ", "_"), data, golden.Edit(t, data, tc.edit), tc.want)
		})
	}
}

func TestStableMaxProperties(t *testing.T) {
	b := backend.MustDefault()
	// s is continuous with a continuous derivative at 0, probabilities sum to 1, and a huge logit
	// in float32 does not saturate to probability 1 (softmax does).
	x := tensors.FromFlatDataAndDimensions([]float32{0, 1e4, -3, 2}, 1, 4)
	out := graph.MustExecOnceN(b, func(x *graph.Node) []*graph.Node {
		return []*graph.Node{losses.StableMax(x), graph.Softmax(x, -1), graph.ReduceAllSum(losses.StableMax(x))}
	}, x)
	p := tensors.MustCopyFlatData[float32](out[0])
	sm := tensors.MustCopyFlatData[float32](out[1])
	require.InDelta(t, 1, float64(tensors.MustCopyFlatData[float32](out[2])[0]), 1e-6)
	require.Less(t, p[1], float32(1), "StableMax must not saturate")
	require.Equal(t, float32(1), sm[1], "float32 softmax saturates (the failure StableMax avoids)")
	require.Greater(t, p[0], float32(0))
	// Float32 logits keep a float32 loss.
	loss := graph.MustExecOnce(b, func(x, y *graph.Node) *graph.Node { return losses.StableMaxCrossEntropy(y, x) },
		x, tensors.FromFlatDataAndDimensions([]int32{2}, 1, 1))
	require.Equal(t, "Float32", loss.DType().String())
	// Gradient against finite differences (float64), including both branches and the joint at 0.
	res, err := gradcheck.Check(b, func(_ *model.Scope, in []*graph.Node) *graph.Node {
		labels := graph.Const(in[0].Graph(), []int32{1, 0, 3})
		return graph.ReduceAllMean(losses.StableMaxCrossEntropy(labels, in[0]))
	}, [][]float64{{0.5, -1.2, 3, 0.0, -0.4, 2.2, -5, 1e-9, 1, 0.3, -0.3, 4}}, [][]int{{3, 4}}, 1e-6, 1e-8, 1e-6)
	require.NoError(t, err, res.String())
	// Registered for -set loss=stablemax_ce.
	fn, err := losses.New(model.NewStore().RootScope(), "stablemax_ce")
	require.NoError(t, err)
	require.NotNil(t, fn)
}

// StableMax of logits [0, 1, -1]: s = [1, 2, 0.5], probabilities s/3.5; the cross-entropy of class
// 1 is −log(2/3.5).
func ExampleStableMaxCrossEntropy() {
	out := graph.MustExecOnceN(backend.MustDefault(), func(x, y *graph.Node) []*graph.Node {
		return []*graph.Node{losses.StableMax(x), losses.StableMaxCrossEntropy(y, x)}
	}, [][]float64{{0, 1, -1}}, []int32{1})
	fmt.Printf("%.4f %.4f\n", out[0].Value(), out[1].Value())
	// Output: [[0.2857 0.5714 0.1429]] [0.5596]
}
