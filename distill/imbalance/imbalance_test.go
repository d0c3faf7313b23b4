package imbalance_test

import (
	"fmt"
	"math"
	"os"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/distill/imbalance"
	"github.com/moeboost/moeboost/internal/gradcheck"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/losses"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func TestRegisteredLosses(t *testing.T) {
	store := model.NewStore()
	store.SetParam("class_counts", []float64{3, 1})
	logits := tensors.FromValue([][]float64{{0, 0}})
	labels := tensors.FromValue([][]int32{{1}})
	want := map[string]float64{
		"logit_adjusted_ce": -math.Log(0.25),       // softmax(log π) = π
		"focal":             -0.25 * math.Log(0.5), // (1 − .5)²·(−ln .5), γ = 2, no α (multi-class)
		// Dice (s = 1, α = 0.01, square): per class, p = .5.
		"dice": func() float64 {
			pt := math.Pow(0.5, 0.01) * 0.5
			return (1 - 1/(pt*pt+1)) + (1 - (2*pt+1)/(pt*pt+1+1))
		}(),
	}
	for name, w := range want {
		fn, err := losses.New(store.RootScope(), name)
		require.NoError(t, err, name)
		got := MustExecOnce(backend.MustDefault(), func(l, p *Node) *Node { return fn([]*Node{l}, []*Node{p}) }, labels, logits)
		require.InDelta(t, w, got.Value().(float64), 1e-12, name)
	}
	_, err := losses.New(model.NewStore().RootScope(), "logit_adjusted_ce")
	require.ErrorContains(t, err, "needs the param class_counts")
}

func TestConfigErrors(t *testing.T) {
	_, err := imbalance.NewDice(imbalance.DiceConfig{Denominator: "cube"})
	require.ErrorContains(t, err, `denominator "cube" must be "square" or "batch"`)
	_, err = imbalance.NewDice(imbalance.DiceConfig{Smooth: imbalance.Float(-1)})
	require.ErrorContains(t, err, "smooth=-1 must be >= 0")
	_, err = imbalance.NewFocal(imbalance.FocalConfig{Gamma: imbalance.Float(-2)})
	require.ErrorContains(t, err, "gamma=-2 must be >= 0")
	_, err = imbalance.NewLogitAdjust(imbalance.LogitAdjustConfig{ClassCounts: []float64{1}})
	require.ErrorContains(t, err, "need the counts of >= 2 classes")
	_, err = imbalance.NewLogitAdjust(imbalance.LogitAdjustConfig{ClassCounts: []float64{1, -1}})
	require.ErrorContains(t, err, "class count[1]=-1 must be > 0")
}

// The losses use only built-in gradients; check them against finite differences anyway.
func TestGradients(t *testing.T) {
	dice, err := imbalance.NewDice(imbalance.DiceConfig{Alpha: imbalance.Float(0.3)})
	require.NoError(t, err)
	focal, err := imbalance.NewFocal(imbalance.FocalConfig{Gamma: imbalance.Float(1.5)})
	require.NoError(t, err)
	la, err := imbalance.NewLogitAdjust(imbalance.LogitAdjustConfig{ClassCounts: []float64{10, 3, 1}, Tau: 1.5})
	require.NoError(t, err)
	x := []float64{0.3, -1, 2, 0.5, 1, 0.1, -0.2, 0.7, 1.5, 0, -0.4, 0.9}
	for name, fn := range map[string]func(*Node, *Node) *Node{"dice": dice.Compute, "focal": focal.Compute, "la": la.Compute} {
		_, err := gradcheck.Check(backend.MustDefault(), func(_ *model.Scope, xs []*Node) *Node {
			labels := Const(xs[0].Graph(), []int32{2, 0, 1, 1})
			return fn(Reshape(xs[0], 4, 3), labels)
		}, [][]float64{x}, [][]int{{12}}, 1e-6, 1e-7, 1e-5)
		require.NoError(t, err, name)
	}
}

// Logit adjustment trains on z + τ·log π: with π = (.75, .25) a tie in the raw logits costs
// −log .25 for the rare class.
func ExampleLogitAdjust() {
	la, err := imbalance.NewLogitAdjust(imbalance.LogitAdjustConfig{ClassCounts: []float64{300, 100}})
	if err != nil {
		panic(err)
	}
	loss := MustExecOnce(backend.MustDefault(), func(z, y *Node) *Node { return la.Compute(z, y) },
		tensors.FromValue([][]float64{{0, 0}}), tensors.FromValue([]int32{1}))
	fmt.Printf("%.4f = -log(0.25)\n", loss.Value())
	// Output: 1.3863 = -log(0.25)
}
