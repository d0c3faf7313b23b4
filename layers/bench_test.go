package layers_test

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/moeboost/moeboost/internal/benchutil"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/backend"
)

// fixedBatches yields fresh tensors of one random batch forever.
type fixedBatches struct {
	x, y         []float32
	xdims, ydims []int
}

func newFixed(xdims, ydims []int) *fixedBatches {
	r := rand.New(rand.NewPCG(1, 2))
	n := func(d []int) int {
		p := 1
		for _, v := range d {
			p *= v
		}
		return p
	}
	f := &fixedBatches{x: make([]float32, n(xdims)), y: make([]float32, n(ydims)), xdims: xdims, ydims: ydims}
	for i := range f.x {
		f.x[i] = float32(r.NormFloat64())
	}
	for i := range f.y {
		f.y[i] = float32(r.NormFloat64())
	}
	return f
}

func (f *fixedBatches) Name() string { return "fixed" }
func (f *fixedBatches) Iter() iter.Seq2[gtrain.Batch, error] {
	return func(yield func(gtrain.Batch, error) bool) {
		for yield(gtrain.Batch{Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(f.x, f.xdims...)},
			Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(f.y, f.ydims...)}}, nil) {
		}
	}
}

// benchStep trains with Adam and reports ms/step and cpu-ms/step (benchutil.StepCost).
func benchStep(b *testing.B, fn train.ModelFn, xdims, ydims []int) {
	b.Helper()
	benchutil.StepCost(b, func(steps int) float64 {
		res, err := train.Run(context.Background(), train.Config{Backend: backend.MustDefault(), Model: fn, Loss: "mse",
			Optimizer: "adam", LearningRate: 1e-3, Steps: steps, Train: newFixed(xdims, ydims), EvalEvery: steps + 1})
		if err != nil {
			b.Fatal(err)
		}
		return res.MsPerStep
	})
}

// BenchmarkMLPStep: batch 256, 64-256-256-1, ReLU, Adam.
func BenchmarkMLPStep(b *testing.B) {
	benchStep(b, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		return []*graph.Node{layers.MLP(scope.In("mlp"), in[0], layers.MLPConfig{Hidden: []int{256, 256}, Out: 1})}
	}, []int{256, 64}, []int{256, 1})
}

// BenchmarkTransformerBlockStep: pre-LN block, batch 32, seq 64, d_model 128, 4 heads, FFN 256
// (and 512: the step-speed MoE block's active FLOPs), Adam.
func BenchmarkTransformerBlockStep(b *testing.B) {
	for _, ffn := range []int{256, 512} {
		b.Run(fmt.Sprintf("ffn=%d", ffn), func(b *testing.B) {
			benchStep(b, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
				x, _ := layers.Block(scope.In("block"), in[0], 0, layers.BlockConfig{DModel: 128, NumHeads: 4, FFNHidden: ffn}, nil)
				return []*graph.Node{x}
			}, []int{32, 64, 128}, []int{32, 64, 128})
		})
	}
}

// BenchmarkExpertMatmulStep: 8 experts x 256 slots, d 128 -> 256 -> 128 (ExpertFFN), Adam.
func BenchmarkExpertMatmulStep(b *testing.B) {
	benchStep(b, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		return []*graph.Node{layers.ExpertFFN(scope.In("experts"), in[0], layers.ExpertFFNConfig{NumExperts: 8, Hidden: 256})}
	}, []int{8, 256, 128}, []int{8, 256, 128})
}
