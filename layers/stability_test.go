package layers_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/shapes"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// ropeRef is a float64 re-statement of GLM-130B's rotate_half RoPE on one row x [d_h] at pos.
func ropeRef(x []float64, pos int, base float64) []float64 {
	d := len(x)
	half := d / 2
	out := make([]float64, d)
	for j := range half {
		theta := float64(pos) / math.Pow(base, float64(2*j)/float64(d))
		c, s := math.Cos(theta), math.Sin(theta)
		out[j] = x[j]*c - x[j+half]*s
		out[j+half] = x[j+half]*c + x[j]*s
	}
	return out
}

func TestRoPEMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name             string
		b, h, s, d       int
		base, refBaseArg float64
	}{
		{"default base", 2, 3, 7, 8, 0, 10000},
		{"base 100", 1, 2, 5, 4, 100, 100},
		{"wide head", 1, 1, 4, 32, 10000, 10000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := randFlat(r, tc.b*tc.h*tc.s*tc.d)
			out := run(t, func(_ *model.Scope, xs []*graph.Node) []*graph.Node {
				return []*graph.Node{layers.RoPE(xs[0], tc.base)}
			}, tensors.FromFlatDataAndDimensions(x, tc.b, tc.h, tc.s, tc.d))
			got := tensors.MustCopyFlatData[float64](out[0])
			for row := range tc.b * tc.h * tc.s {
				want := ropeRef(x[row*tc.d:(row+1)*tc.d], row%tc.s, tc.refBaseArg)
				for j := range tc.d {
					require.InDelta(t, want[j], got[row*tc.d+j], 1e-12)
				}
			}
		})
	}
}

// TestRoPERelativePosition: the same q and k at every position; after RoPE the dot product of
// the query at m and the key at n depends only on m − n, and norms are preserved.
func TestRoPERelativePosition(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const s, d = 9, 16
	q, k := randFlat(r, d), randFlat(r, d)
	qs, ks := make([]float64, 0, s*d), make([]float64, 0, s*d)
	for range s {
		qs, ks = append(qs, q...), append(ks, k...)
	}
	out := run(t, func(_ *model.Scope, xs []*graph.Node) []*graph.Node {
		return []*graph.Node{layers.RoPE(xs[0], 0), layers.RoPE(xs[1], 0)}
	}, tensors.FromFlatDataAndDimensions(qs, 1, 1, s, d), tensors.FromFlatDataAndDimensions(ks, 1, 1, s, d))
	rq, rk := tensors.MustCopyFlatData[float64](out[0]), tensors.MustCopyFlatData[float64](out[1])
	dot := func(m, n int) float64 {
		var v float64
		for j := range d {
			v += rq[m*d+j] * rk[n*d+j]
		}
		return v
	}
	for _, tc := range []struct{ m, n, shift int }{{2, 0, 5}, {0, 3, 4}, {4, 4, 3}, {1, 7, 1}} {
		require.InDelta(t, dot(tc.m, tc.n), dot(tc.m+tc.shift, tc.n+tc.shift), 1e-10, "m=%d n=%d shift %d", tc.m, tc.n, tc.shift)
	}
	require.NotEqual(t, math.Round(dot(2, 0)*1e6), math.Round(dot(0, 2)*1e6)) // not symmetric in m − n
	var n0, n5 float64
	for j := range d {
		n0 += rq[j] * rq[j]
		n5 += rq[5*d+j] * rq[5*d+j]
	}
	require.InDelta(t, n0, n5, 1e-10)
}

// TestQKLayerNorm: qk-layernorm is LayerNorm over d_h of q and of k (gain 1, offset 0 at init,
// epsilon 1e-6), and it bounds every attention logit by √d_h however large q and k are.
func TestQKLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const b, h, s, d = 2, 2, 3, 8
	for _, scale := range []float64{1, 1000} {
		q, k := randFlat(r, b*h*s*d), randFlat(r, b*h*s*d)
		for i := range q {
			q[i], k[i] = q[i]*scale+0.5, k[i]*scale-2
		}
		out := run(t, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
			qn, kn := layers.QKLayerNorm(scope, xs[0], xs[1])
			logits := graph.DotGeneral(qn, []int{3}, []int{0, 1}, kn, []int{3}, []int{0, 1})
			return []*graph.Node{qn, kn, graph.ReduceAllMax(graph.Abs(graph.DivScalar(logits, math.Sqrt(d))))}
		}, tensors.FromFlatDataAndDimensions(q, b, h, s, d), tensors.FromFlatDataAndDimensions(k, b, h, s, d))
		for i, x := range [][]float64{q, k} {
			got := tensors.MustCopyFlatData[float64](out[i])
			for row := range b * h * s {
				v := x[row*d : (row+1)*d]
				var mean, vr float64
				for _, e := range v {
					mean += e / d
				}
				for _, e := range v {
					vr += (e - mean) * (e - mean) / d
				}
				for j, e := range v {
					require.InDelta(t, (e-mean)/math.Sqrt(vr+1e-6), got[row*d+j], 1e-9)
				}
			}
		}
		require.LessOrEqual(t, out[2].Value().(float64), math.Sqrt(d)+1e-9)
	}
}

// TestSelfAttentionOptions: default options are bit-identical to SelfAttention; qk-LN and RoPE
// change the output and keep it finite.
func TestSelfAttentionOptions(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const b, s, d = 2, 5, 8
	x := randFlat(r, b*s*d)
	build := func(cfg layers.AttentionConfig, plain bool) func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		return func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
			if plain {
				return []*graph.Node{layers.SelfAttention(scope, xs[0], 2, true)}
			}
			return []*graph.Node{layers.SelfAttentionWith(scope, xs[0], cfg)}
		}
	}
	in := tensors.FromFlatDataAndDimensions(x, b, s, d)
	plain := tensors.MustCopyFlatData[float64](run(t, build(layers.AttentionConfig{}, true), in)[0])
	same := tensors.MustCopyFlatData[float64](run(t, build(layers.AttentionConfig{NumHeads: 2, Causal: true}, false), in)[0])
	require.Equal(t, plain, same)
	for _, cfg := range []layers.AttentionConfig{{NumHeads: 2, Causal: true, QKNorm: true}, {NumHeads: 2, Causal: true, RoPE: true}} {
		got := tensors.MustCopyFlatData[float64](run(t, build(cfg, false), in)[0])
		require.NotEqual(t, plain, got)
		for _, v := range got {
			require.False(t, math.IsNaN(v) || math.IsInf(v, 0))
		}
	}
}

func TestDeepNormConstants(t *testing.T) {
	for _, tc := range []struct {
		n           int
		alpha, beta float64
	}{
		{70, 11.832159566199232, 0.08451542547285165}, // GLM-130B: 70 layers
		{1, math.Sqrt2, 1 / math.Sqrt2},
		{24, math.Sqrt(48), 1 / math.Sqrt(48)},
	} {
		require.InDelta(t, tc.alpha, layers.DeepNormAlpha(tc.n), 1e-12)
		require.InDelta(t, tc.beta, layers.DeepNormBeta(tc.n), 1e-12)
		require.InDelta(t, 1, layers.DeepNormAlpha(tc.n)*layers.DeepNormBeta(tc.n), 1e-12)
	}
}

// TestDeepNormBlock: with the attention's output projection zeroed and an FFN that adds a
// constant c, a DeepNorm block computes LN(α·LN(α·x) + c), α = √(2N); the v/out and FFN
// weights start Xavier normal with gain β and q, k keep the default (He) init.
func TestDeepNormBlock(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	const b, s, d, n = 1, 4, 16, 6
	x := randFlat(r, b*s*d)
	const c = 0.7
	ffn := func(scope *model.Scope, h *graph.Node, _ int, carry layers.Carry) (*graph.Node, layers.Carry) {
		w := scope.VariableWithShape("w", shapes.Make(h.DType(), d, d)).NodeValue(h.Graph())
		return graph.AddScalar(graph.MulScalar(graph.ReduceAllSum(w), 0), c), carry // c; w only shows the init
	}
	cfg := layers.BlockConfig{DModel: d, NumHeads: 2, Causal: true, DeepNorm: true, DeepNormLayers: n, FFN: ffn}
	store := model.NewStore()
	require.NoError(t, store.SetRNGStateFromSeed(3))
	fn := func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		y, _ := layers.Block(scope, xs[0], 0, cfg, nil)
		return []*graph.Node{y}
	}
	exec, err := model.NewExec(backend.MustDefault(), store, fn)
	require.NoError(t, err)
	in := tensors.FromFlatDataAndDimensions(x, b, s, d)
	_, err = exec.Call(in)
	require.NoError(t, err)
	beta := layers.DeepNormBeta(n)
	std := func(path string) float64 {
		v := tensors.MustCopyFlatData[float64](store.GetVariable(path).MustValue())
		var ss float64
		for _, e := range v {
			ss += e * e
		}
		return math.Sqrt(ss / float64(len(v)))
	}
	xavier := beta * math.Sqrt(2.0/float64(d+d))
	for _, p := range []string{"/attention/v/dense/weights", "/attention/out/dense/weights", "/ffn/w"} {
		require.InDelta(t, xavier, std(p), 0.25*xavier, p)
	}
	require.InDelta(t, math.Sqrt(2.0/d), std("/attention/q/dense/weights"), 0.25*math.Sqrt(2.0/d)) // He, not β
	for _, p := range []string{"/attention/out/dense/weights", "/attention/out/dense/biases"} {
		v := store.GetVariable(p)
		v.MustSetValue(tensors.FromShape(v.Shape()))
	}
	outs, err := exec.Call(in)
	require.NoError(t, err)
	got := tensors.MustCopyFlatData[float64](outs[0])
	alpha := layers.DeepNormAlpha(n)
	ln := func(v []float64) []float64 {
		var mean, vr float64
		for _, e := range v {
			mean += e / float64(len(v))
		}
		for _, e := range v {
			vr += (e - mean) * (e - mean) / float64(len(v))
		}
		out := make([]float64, len(v))
		for i, e := range v {
			out[i] = (e - mean) / math.Sqrt(vr+1e-5)
		}
		return out
	}
	for row := range b * s {
		h := ln(scaled(x[row*d:(row+1)*d], alpha, 0))
		want := ln(scaled(h, alpha, c))
		for j := range d {
			require.InDelta(t, want[j], got[row*d+j], 1e-9)
		}
	}
	require.ErrorContains(t, layers.BlockConfig{DModel: 4, NumHeads: 1, DeepNorm: true}.Validate(), "deep_norm_layers=0 must be >= 1")
	require.ErrorContains(t, layers.BlockConfig{DModel: 6, NumHeads: 2, RoPE: true}.Validate(), "rope needs an even head width, got d_model/num_heads=3")
	require.ErrorContains(t, layers.BlockConfig{DModel: 4, NumHeads: 1, QKNorm: true, GoMLXAttention: true}.Validate(), "go_mlx_attention=true does not support")
}

func scaled(v []float64, a, c float64) []float64 {
	out := make([]float64, len(v))
	for i, e := range v {
		out[i] = a*e + c
	}
	return out
}

// TestShrinkGradient: the forward value is bit-identical; the gradient is scaled by alpha
// (checked by autodiff against alpha × finite differences of the identity).
func TestShrinkGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	x := randFlat(r, 12)
	for _, alpha := range []float64{0.1, 0.5, 1} {
		out := run(t, func(_ *model.Scope, xs []*graph.Node) []*graph.Node {
			y := layers.ShrinkGradient(xs[0], alpha)
			w := graph.Iota(xs[0].Graph(), xs[0].Shape(), 0)
			loss := graph.ReduceAllSum(graph.Mul(graph.Square(y), w)) // L = Σ w·y²
			return []*graph.Node{y, graph.Gradient(loss, xs[0])[0]}
		}, tensors.FromFlatDataAndDimensions(x, 12))
		require.Equal(t, x, tensors.MustCopyFlatData[float64](out[0]))
		grad := tensors.MustCopyFlatData[float64](out[1])
		for i := range x {
			require.InDelta(t, alpha*2*float64(i)*x[i], grad[i], 1e-12) // α·dL/dy
		}
	}
}

// TestFanInAndXavierInit checks the initializers' standard deviations and zero biases.
func TestFanInAndXavierInit(t *testing.T) {
	store := model.NewStore()
	require.NoError(t, store.SetRNGStateFromSeed(1))
	fn := func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		a := scope.In("a").WithInitializer(layers.FanInNormalInit(scope, 1)).VariableWithShape("w", shapes.Make(xs[0].DType(), 256, 64)).NodeValue(xs[0].Graph())
		b := scope.In("b").WithInitializer(layers.XavierNormalInit(scope, 0.5)).VariableWithShape("w", shapes.Make(xs[0].DType(), 128, 384)).NodeValue(xs[0].Graph())
		z := scope.In("c").WithInitializer(layers.FanInNormalInit(scope, 1)).VariableWithShape("bias", shapes.Make(xs[0].DType(), 7)).NodeValue(xs[0].Graph())
		return []*graph.Node{a, b, z}
	}
	exec, err := model.NewExec(backend.MustDefault(), store, fn)
	require.NoError(t, err)
	outs, err := exec.Call(tensors.FromFlatDataAndDimensions([]float64{0}, 1))
	require.NoError(t, err)
	for i, want := range []float64{1 / math.Sqrt(256), 0.5 * math.Sqrt(2.0/(128+384))} {
		v := tensors.MustCopyFlatData[float64](outs[i])
		var ss float64
		for _, e := range v {
			ss += e * e
		}
		require.InDelta(t, want, math.Sqrt(ss/float64(len(v))), 0.03*want)
	}
	require.Equal(t, make([]float64, 7), tensors.MustCopyFlatData[float64](outs[2]))
}
