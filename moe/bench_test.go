package moe

import (
	"context"
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

// benchExec compiles fn once and times its execution on x (forward and backward when fn
// differentiates).
func benchExec(b *testing.B, fn func(scope *model.Scope, x *graph.Node) *graph.Node, x *tensors.Tensor) {
	store := model.NewStore()
	_ = store.SetRNGStateFromSeed(1)
	e, err := model.NewExec(backend.MustDefault(), store, fn)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Finalize()
	if _, err := e.Call(x); err != nil { // compile
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		out, err := e.Call(x)
		if err != nil {
			b.Fatal(err)
		}
		out[0].MustFinalizeAll()
	}
}

func randTensor(dims ...int) *tensors.Tensor {
	r := rand.New(rand.NewPCG(1, 2))
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

// BenchmarkCumSum: slot positions of T=2048 tokens·k=2 assignments over 8 experts ([4096, 8]),
// GoMLX's CumSum (a window reduction, O(n²) on the Go backend) vs BlockedCumSum.
func BenchmarkCumSum(b *testing.B) {
	x := randTensor(4096, 8)
	b.Run("graph.CumSum", func(b *testing.B) {
		benchExec(b, func(_ *model.Scope, x *graph.Node) *graph.Node { return graph.CumSum(x, 0) }, x)
	})
	b.Run("blocked", func(b *testing.B) {
		benchExec(b, func(_ *model.Scope, x *graph.Node) *graph.Node { return BlockedCumSum(x) }, x)
	})
}

// BenchmarkSelect: top-2 of 8 experts for 2048 tokens with gates by one-hot product, forward
// and backward (k rounds of ArgMax vs graph.TopK on stopped scores).
func BenchmarkSelect(b *testing.B) {
	x := randTensor(2048, 8)
	for _, method := range []string{SelectionArgMax, SelectionTopK} {
		b.Run(method, func(b *testing.B) {
			benchExec(b, func(_ *model.Scope, x *graph.Node) *graph.Node {
				r := Route(x, Config{NumExperts: 8, TopK: 2, Selection: method, Gate: GateSoftmaxTopK, Renormalize: true}.Defaults(), 8)
				loss := graph.ReduceAllSum(graph.Mul(r.Gates, r.Gates))
				return graph.Gradient(loss, x)[0]
			}, x)
		})
	}
}

// randomBatches yields the same random regression batch forever (as the step-speed benchmark).
type randomBatches struct{ x, y *tensors.Tensor }

func (r *randomBatches) Name() string { return "random" }
func (r *randomBatches) Iter() iter.Seq2[gtrain.Batch, error] {
	return func(yield func(gtrain.Batch, error) bool) {
		for {
			b := gtrain.Batch{Inputs: []*tensors.Tensor{tensors.FromShape(r.x.Shape())}, Labels: []*tensors.Tensor{tensors.FromShape(r.y.Shape())}}
			b.Inputs[0].MutableFlatData(func(flat any) { copy(flat.([]float32), tensors.MustCopyFlatData[float32](r.x)) })
			b.Labels[0].MutableFlatData(func(flat any) { copy(flat.([]float32), tensors.MustCopyFlatData[float32](r.y)) })
			if !yield(b, nil) {
				return
			}
		}
	}
}

// stepSpeedConfig is the MoE of the step-speed benchmark's "moe-block" task and of its
// PyTorch reference (examples/bench/stepspeed/torch_ref.py): top-2 of 4 experts of width 256,
// GELU, softmax then top-k renormalized, capacity factor 1.25 in slot-major priority, no
// auxiliary losses.
func stepSpeedConfig() Config {
	return Config{NumExperts: 4, TopK: 2, Hidden: 256, Activation: "gelu", Gate: GateSoftmaxTopK, Renormalize: true,
		BalanceWeight: Off, ZLossWeight: Off, CapacityFactor: 1.25}
}

// BenchmarkMoEBlockStep times one Adam training step of the step-speed "moe-block" task
// (attention + top-2-of-4 MoE block, B=32, S=64, d=128, d_ff=256, 4 heads, MSE), with the
// routing variants, next to the dense block of equal active FLOPs (FFN width 2·256 = 512):
// median wall ms/step and process CPU ms/step (with GOMAXPROCS=1, the single-core cost).
func BenchmarkMoEBlockStep(b *testing.B) {
	x, y := randTensor(32, 64, 128), randTensor(32, 64, 128)
	for _, tc := range []struct {
		name string
		ffn  func() layers.FFN
	}{
		{"smoe-argmax", func() layers.FFN { f, _ := NewSMoE(stepSpeedConfig()); return f }},
		{"smoe-topk", func() layers.FFN { c := stepSpeedConfig(); c.Selection = SelectionTopK; f, _ := NewSMoE(c); return f }},
		{"smoe-balance+z", func() layers.FFN {
			c := stepSpeedConfig()
			c.BalanceWeight, c.ZLossWeight = 0, 0
			f, _ := NewSMoE(c)
			return f
		}},
		{"momentum", func() layers.FFN { f, _ := NewMomentumSMoE(stepSpeedConfig()); return f }},
		{"dense-equal-active", func() layers.FFN { return layers.DenseFFN(512, "gelu") }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := layers.BlockConfig{DModel: 128, NumHeads: 4, FFN: tc.ffn()}
			benchutil.StepCost(b, func(steps int) float64 {
				res, err := train.Run(context.Background(), train.Config{Name: tc.name, Loss: "mse", Optimizer: "adam", LearningRate: 1e-3,
					Steps: steps, EvalEvery: steps + 1, Train: &randomBatches{x: x, y: y},
					Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
						h, _ := layers.Block(scope.In("block"), in[0], 0, cfg, nil)
						return []*graph.Node{h}
					}})
				if err != nil {
					b.Fatal(err)
				}
				return res.MsPerStep
			})
		})
	}
}

// BenchmarkDispatch times the routing, dispatch and combine of the step-speed MoE (2048
// tokens, d 128, top-2 of 4, capacity factor 1.25) with linear experts, forward and backward:
// the cost the MoE block adds to a dense block besides its expert FLOPs.
func BenchmarkDispatch(b *testing.B) {
	x := randTensor(2048, 128)
	cfg := stepSpeedConfig().Defaults()
	benchExec(b, func(scope *model.Scope, x *graph.Node) *graph.Node {
		logits := routerLinear(scope.In("router"), x, cfg.NumExperts, false)
		r := Route(logits, cfg, cfg.NumExperts)
		r.Assign(capacity(2048, cfg.TopK, cfg.NumExperts, cfg.CapacityFactor, cfg.MinCapacity), cfg)
		y := Dispatch(scope, x, r, func(_ *model.Scope, buf *graph.Node) *graph.Node { return graph.MulScalar(buf, 2) }, false)
		loss := graph.ReduceAllSum(graph.Mul(y, y))
		return graph.Gradient(loss, x)[0]
	}, x)
}
