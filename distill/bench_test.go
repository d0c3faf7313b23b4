package distill_test

import (
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/distill"
	"github.com/moeboost/moeboost/train/backend"
)

// BenchmarkLossGrad times each loss's forward and backward pass (gradient w.r.t. the
// student's logits or features) on a batch of 128: the per-step cost a term adds to training.
func BenchmarkLossGrad(b *testing.B) {
	const batch, classes, feat = 128, 10, 64
	r := rand.New(rand.NewPCG(1, 1))
	rnd := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	labels := make([]int32, batch)
	for i := range labels {
		labels[i] = int32(r.IntN(classes))
	}
	kd, _ := distill.NewKD(distill.KDConfig{})
	dkd, _ := distill.NewDKD(distill.DKDConfig{})
	dist, _ := distill.NewDIST(distill.DISTConfig{})
	rkd, _ := distill.NewRKD(distill.RKDConfig{})
	pkt, _ := distill.NewPKT(distill.PKTConfig{})
	cases := []struct {
		name   string
		logits bool
		fn     func(s, t, y *Node) *Node
	}{
		{"kd", true, kd.Compute},
		{"dkd", true, dkd.Compute},
		{"dist", true, func(s, t, _ *Node) *Node { return dist.Compute(s, t) }},
		{"rkd", false, func(s, t, _ *Node) *Node { return rkd.Compute(s, t) }},
		{"pkt", false, func(s, t, _ *Node) *Node { return pkt.Compute(s, t) }},
		{"infonce", false, func(s, t, _ *Node) *Node { return distill.InfoNCEBound(MatMul(s, Transpose(t, 0, 1))) }},
		{"mi_alpha", false, func(s, t, _ *Node) *Node {
			return distill.InterpolatedBound(MatMul(s, Transpose(t, 0, 1)), ReduceMean(t, -1), 0)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			d := classes
			if !c.logits {
				d = feat
			}
			exec, err := model.NewExec(backend.MustDefault(), model.NewStore(), func(_ *model.Scope, xs []*Node) []*Node {
				l := c.fn(xs[0], StopGradient(xs[1]), xs[2])
				return []*Node{l, Gradient(l, xs[0])[0]}
			})
			if err != nil {
				b.Fatal(err)
			}
			defer exec.Finalize()
			s := tensors.FromFlatDataAndDimensions(rnd(batch*d), batch, d)
			tt := tensors.FromFlatDataAndDimensions(rnd(batch*d), batch, d)
			y := tensors.FromFlatDataAndDimensions(labels, batch)
			b.ResetTimer()
			for range b.N {
				outs, err := exec.Call(s, tt, y)
				if err != nil {
					b.Fatal(err)
				}
				for _, o := range outs {
					o.MustFinalizeAll()
				}
			}
		})
	}
}
