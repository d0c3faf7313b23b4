package losses_test

import (
	"encoding/json"
	"fmt"
	"github.com/moeboost/moeboost/internal/golden"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
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

// goldenDirs: the optimizers golden directory (where the grokking pair's vectors live; the
// shared one or the repository's copy) plus every directory of MOEBOOST_GOLDEN_DIR.
func goldenDirs(_ *testing.T) []string { return golden.Dirs("optimizers") }

func TestGoldenStableMax(t *testing.T) {
	found := 0
	for _, dir := range goldenDirs(t) {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		require.NoError(t, err)
		for _, f := range files {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			var c stableMaxCase
			if json.Unmarshal(raw, &c) != nil || c.Function != "StableMax" {
				continue
			}
			found++
			t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) { checkStableMax(t, &c) })
		}
	}
	require.Positive(t, found, "no StableMax golden files in %v", goldenDirs(t))
}

func checkStableMax(t *testing.T, c *stableMaxCase) {
	rtol, atol := c.Tolerance["rtol"], c.Tolerance["atol"]
	n := c.Logits.Shape[0]
	logits := tensors.FromFlatDataAndDimensions(append([]float64(nil), c.Logits.Values...), c.Logits.Shape...)
	labels := tensors.FromFlatDataAndDimensions(append([]int32(nil), c.Labels...), n)
	out := graph.MustExecOnceN(backend.MustDefault(), func(x, y *graph.Node) []*graph.Node {
		perEx := losses.StableMaxCrossEntropy(y, x)
		mean := graph.ReduceAllMean(perEx)
		return []*graph.Node{losses.StableS(x), losses.LogStableMax(x), perEx, mean, graph.Gradient(mean, x)[0]}
	}, logits, labels)
	check := func(name string, got *tensors.Tensor, want []float64) {
		g := tensors.MustCopyFlatData[float64](got)
		require.Len(t, g, len(want), name)
		for i := range want {
			require.LessOrEqual(t, math.Abs(g[i]-want[i]), atol+rtol*math.Abs(want[i]), "%s[%d]: got %.17g want %.17g", name, i, g[i], want[i])
		}
	}
	check("s", out[0], c.S)
	check("log_stablemax", out[1], c.LogStableMax)
	check("loss_none", out[2], c.LossNone)
	check("loss_mean", out[3], []float64{c.LossMean})
	check("grad_logits_of_loss_mean", out[4], c.Grad)
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
