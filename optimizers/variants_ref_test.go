package optimizers_test

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/stretchr/testify/require"
)

// quadGrads is the host float64 gradient of quadraticProblem: a⊙(w − c) for w, b − d for b.
func quadGrads(v [][]float64) [][]float64 {
	a := []float64{0.5, 1, 1.5, 2, 0.7, 1.2, 1.9, 0.6, 1.1, 1.4, 0.8, 1.7}
	c := []float64{1, -2, 0.5, 3, -1, 2, 0.3, -0.7, 1.5, -2.5, 0.8, 1.2}
	d := []float64{-1, 0.5, 2}
	gw, gb := make([]float64, len(v[0])), make([]float64, len(v[1]))
	for i, x := range v[0] {
		gw[i] = a[i] * (x - c[i])
	}
	for i, x := range v[1] {
		gb[i] = x - d[i]
	}
	return [][]float64{gw, gb}
}

func cloneVals(v [][]float64) [][]float64 {
	out := make([][]float64, len(v))
	for i := range v {
		out[i] = append([]float64(nil), v[i]...)
	}
	return out
}

// refSGD is torch's _single_tensor_sgd (sgd.go's doc), no weight decay: with momentum 0 there is
// no buffer and dampening has no effect; otherwise b = g at step 1, b ← μ·b + (1 − damp)·g.
func refSGD(v0 [][]float64, lr, mu, damp float64, steps int) [][]float64 {
	v := cloneVals(v0)
	var buf [][]float64
	for s := 1; s <= steps; s++ {
		g := quadGrads(v)
		for i := range v {
			d := g[i]
			if mu != 0 {
				if s == 1 {
					buf = append(buf, append([]float64(nil), d...))
				} else {
					for j := range d {
						buf[i][j] = mu*buf[i][j] + (1-damp)*d[j]
					}
				}
				d = buf[i]
			}
			for j := range v[i] {
				v[i][j] -= lr * d[j]
			}
		}
	}
	return v
}

// refSGDSaI is SGD-SaI at momentum 0 (sgdsai.go's doc; the official sgd_sai.py step fails there
// because its buffer is never created): gsnr = ‖g₁‖ / (std(g₁, unbiased) + ε) per tensor from
// the first gradient, then p ← p·(1 − lr·wd) − lr·gsnr·g. Decay skips the rank-1 bias (the
// default group rule).
func refSGDSaI(v0 [][]float64, lr, wd, eps float64, steps int) [][]float64 {
	v := cloneVals(v0)
	var gsnr []float64
	for s := 1; s <= steps; s++ {
		g := quadGrads(v)
		if s == 1 {
			for _, gi := range g {
				n := float64(len(gi))
				sum, sq := 0.0, 0.0
				for _, x := range gi {
					sum += x
					sq += x * x
				}
				mean := sum / n
				vs := 0.0
				for _, x := range gi {
					vs += (x - mean) * (x - mean)
				}
				gsnr = append(gsnr, math.Sqrt(sq)/(math.Sqrt(vs/(n-1))+eps))
			}
		}
		for i := range v {
			decay := 1.0
			if i == 0 {
				decay = 1 - lr*wd
			}
			for j := range v[i] {
				v[i][j] = v[i][j]*decay - lr*gsnr[i]*g[i][j]
			}
		}
	}
	return v
}

// refFRUGALFreeSGD is FRUGAL's Algorithm 1 as frugal.go documents it, with the default "blocks"
// subspace (density 0.25 of the [4,3] w: k = ⌈0.25·4⌉ = 1 row, block 0 for the first 200 steps),
// the state-free rule "sgd" (the residual itself) scaled by free, decoupled decay wd on w only
// (rank 1 b is skipped), and plain AdamW (torch's bias corrections) on b.
func refFRUGALFreeSGD(v0 [][]float64, lr, wd, free float64, steps int) [][]float64 {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	v := cloneVals(v0)
	m := [][]float64{make([]float64, 3), make([]float64, 3)} // row 0 of w, and b
	s2 := [][]float64{make([]float64, 3), make([]float64, 3)}
	adam := func(k int, g []float64, t int) []float64 {
		out := make([]float64, len(g))
		bc1, bc2 := 1-math.Pow(b1, float64(t)), 1-math.Pow(b2, float64(t))
		for j, x := range g {
			m[k][j] = b1*m[k][j] + (1-b1)*x
			s2[k][j] = b2*s2[k][j] + (1-b2)*x*x
			out[j] = (m[k][j] / bc1) / (math.Sqrt(s2[k][j])/math.Sqrt(bc2) + eps)
		}
		return out
	}
	for s := 1; s <= steps; s++ {
		g := quadGrads(v)
		uw := make([]float64, 12)
		copy(uw[:3], adam(0, g[0][:3], s)) // the state-full row
		for j := 3; j < 12; j++ {
			uw[j] = free * g[0][j] // residual G − Back(Proj(G)) is zero on row 0
		}
		ub := adam(1, g[1], s)
		for j := range v[0] {
			v[0][j] = v[0][j]*(1-lr*wd) - lr*uw[j]
		}
		for j := range v[1] {
			v[1][j] -= lr * ub[j]
		}
	}
	return v
}

// TestVariantsReference checks switches without golden files against independent float64
// re-statements of their documented rules on quadraticProblem.
func TestVariantsReference(t *testing.T) {
	pb := quadraticProblem()
	init := [][]float64{pb.vars[0].Values, pb.vars[1].Values}
	const steps = 5
	cases := []struct {
		name   string
		opt    string
		params map[string]any
		want   [][]float64
	}{
		{"sgd momentum 0, dampening 0.5 (ignored without a buffer)", "sgd",
			merge(lr(0.01), kv(optimizers.ParamMomentum, 0.0), kv(optimizers.ParamDampening, 0.5)),
			refSGD(init, 0.01, 0, 0.5, steps)},
		{"sgd momentum 0.5, dampening 0.5", "sgd",
			merge(lr(0.01), kv(optimizers.ParamMomentum, 0.5), kv(optimizers.ParamDampening, 0.5)),
			refSGD(init, 0.01, 0.5, 0.5, steps)},
		{"sgd_sai momentum 0", "sgd_sai",
			merge(lr(0.01), kv(optimizers.ParamMomentum, 0.0)),
			refSGDSaI(init, 0.01, 1e-2, 1e-8, steps)},
		{"frugal state-free sgd, free_lr_scale 0.5, weight decay 0.1", "frugal",
			merge(lr(0.01), kv(optimizers.ParamFRUGALStateFree, "sgd"), kv(optimizers.ParamFRUGALFreeLRScale, 0.5), kv(optimizers.ParamWeightDecay, 0.1)),
			refFRUGALFreeSGD(init, 0.01, 0.1, 0.5, steps)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(t, dtypes.Float64, pb.vars, tc.params)
			tr := newTrainer(t, store, newOptimizer(t, store, tc.opt), pb)
			for range steps {
				tr.step(t)
			}
			got := tr.values()
			for i := range got {
				require.NotEqual(t, init[i], got[i], "the parameters must move")
				for j := range got[i] {
					require.InEpsilon(t, tc.want[i][j], got[i][j], 1e-9, "%s: tensor %d element %d", tc.name, i, j)
				}
			}
		})
	}
}
