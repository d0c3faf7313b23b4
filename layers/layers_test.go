package layers_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/gradcheck"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func randFlat(r *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	return x
}

func run(t *testing.T, fn func(scope *model.Scope, xs []*graph.Node) []*graph.Node, args ...any) []*tensors.Tensor {
	t.Helper()
	store := model.NewStore()
	require.NoError(t, store.SetRNGStateFromSeed(3))
	exec, err := model.NewExec(backend.MustDefault(), store, fn)
	require.NoError(t, err)
	outs, err := exec.Call(args...)
	require.NoError(t, err)
	return outs
}

func TestMLPShapesAndValidation(t *testing.T) {
	x := tensors.FromFlatDataAndDimensions(make([]float32, 6*5), 6, 5)
	outs := run(t, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		return []*graph.Node{layers.MLP(scope, xs[0], layers.MLPConfig{Hidden: []int{8, 7}, Out: 3, Norm: "layer", Activation: "gelu"})}
	}, x)
	require.Equal(t, []int{6, 3}, outs[0].Shape().Dimensions)
	for _, tc := range []struct {
		cfg layers.MLPConfig
		err string
	}{
		{layers.MLPConfig{}, "out=0"},
		{layers.MLPConfig{Out: 1, Hidden: []int{0}}, "hidden[0]=0"},
		{layers.MLPConfig{Out: 1, Dropout: 1}, "dropout=1"},
		{layers.MLPConfig{Out: 1, Norm: "batch"}, `norm="batch"`},
		{layers.MLPConfig{Out: 1, Activation: "elu"}, `activation "elu" unknown`},
	} {
		require.ErrorContains(t, tc.cfg.Validate(), tc.err)
	}
}

func TestExpertMatmul(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const e, c, d, h = 3, 4, 5, 2
	x, w := randFlat(r, e*c*d), randFlat(r, e*d*h)
	out := run(t, func(_ *model.Scope, xs []*graph.Node) []*graph.Node {
		return []*graph.Node{layers.ExpertMatmul(xs[0], xs[1])}
	}, tensors.FromFlatDataAndDimensions(x, e, c, d), tensors.FromFlatDataAndDimensions(w, e, d, h))
	got := tensors.MustCopyFlatData[float64](out[0])
	for ei := range e {
		for ci := range c {
			for hi := range h {
				var want float64
				for di := range d {
					want += x[(ei*c+ci)*d+di] * w[(ei*d+di)*h+hi]
				}
				require.InDelta(t, want, got[(ei*c+ci)*h+hi], 1e-12)
			}
		}
	}
	// Finite differences through the batched matmul, ExpertFFN's GELU and the ReLU.
	res, err := gradcheck.Check(backend.MustDefault(), func(scope *model.Scope, xs []*graph.Node) *graph.Node {
		y := layers.ExpertMatmul(xs[0], xs[1])
		y = layers.Relu(graph.AddScalar(y, 0.1))
		z := layers.ExpertFFN(scope.In("ffn"), xs[0], layers.ExpertFFNConfig{NumExperts: e, Hidden: 3})
		return graph.Add(graph.ReduceAllSum(graph.Square(y)), graph.ReduceAllSum(graph.Mul(z, z)))
	}, [][]float64{x, w}, [][]int{{e, c, d}, {e, d, h}}, 1e-6, 1e-6, 1e-5)
	require.NoError(t, err, res.String())
}

func TestBlockCausalAndCarry(t *testing.T) {
	const b, s, d = 2, 6, 8
	r := rand.New(rand.NewPCG(3, 4))
	x := randFlat(r, b*s*d)
	x2 := append([]float64(nil), x...)
	for i := 0; i < d; i++ { // Change only the last position of the first sequence (not uniformly: LN would cancel it).
		x2[(s-1)*d+i] += float64(i)
	}
	var carried []int
	ffn := func(scope *model.Scope, h *graph.Node, layer int, carry layers.Carry) (*graph.Node, layers.Carry) {
		carried = append(carried, len(carry))
		y, _ := layers.DenseFFN(16, "relu")(scope, h, layer, nil)
		next := layers.Carry{}
		for k, v := range carry {
			next[k] = v
		}
		next[fmt.Sprintf("l%d", layer)] = y
		return y, next
	}
	cfg := layers.BlockConfig{DModel: d, NumHeads: 2, Causal: true, FFN: ffn}
	fn := func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		return []*graph.Node{layers.Stack(scope, xs[0], 3, cfg)}
	}
	store := model.NewStore()
	exec, err := model.NewExec(backend.MustDefault(), store, fn)
	require.NoError(t, err)
	o1, err := exec.Call(tensors.FromFlatDataAndDimensions(x, b, s, d))
	require.NoError(t, err)
	o2, err := exec.Call(tensors.FromFlatDataAndDimensions(x2, b, s, d))
	require.NoError(t, err)
	a, c := tensors.MustCopyFlatData[float64](o1[0]), tensors.MustCopyFlatData[float64](o2[0])
	for i := 0; i < (s-1)*d; i++ {
		require.InDelta(t, a[i], c[i], 1e-12, "causal: earlier positions must not see the last one")
	}
	require.NotEqual(t, a[(s-1)*d], c[(s-1)*d])
	require.Equal(t, []int{0, 1, 2}, carried, "carry threads through the stack")
	require.ErrorContains(t, layers.BlockConfig{DModel: 10, NumHeads: 3}.Validate(), "multiple of num_heads=3")

	post := cfg
	post.PostLN, post.FFN = true, nil
	outs := run(t, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		return []*graph.Node{layers.Stack(scope, xs[0], 2, post)}
	}, tensors.FromFlatDataAndDimensions(x, b, s, d))
	require.Equal(t, []int{b, s, d}, outs[0].Shape().Dimensions)
}

func TestTiedEmbedding(t *testing.T) {
	ids := tensors.FromFlatDataAndDimensions([]int32{0, 3, 1, 2}, 2, 2)
	var nvars int
	outs := run(t, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		h := layers.Embedding(scope.In("emb"), xs[0], dtypes.Float32, 5, 4)
		h = layers.PositionalEmbedding(scope.In("pos"), h)
		logits := layers.TiedOutput(scope.Shared("emb"), h, 5)
		for v := range scope.Store().IterVariables() {
			if v.Trainable {
				nvars++
			}
		}
		return []*graph.Node{h, logits}
	}, ids)
	require.Equal(t, []int{2, 2, 4}, outs[0].Shape().Dimensions)
	require.Equal(t, []int{2, 2, 5}, outs[1].Shape().Dimensions)
	require.Equal(t, 2, nvars, "one embedding table shared by input and output, plus positions")
}

// ExampleMLP builds a two-hidden-layer perceptron and runs it on a batch.
func ExampleMLP() {
	backend.ForTests()
	store := model.NewStore()
	exec := model.MustNewExec(backend.MustDefault(), store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		return layers.MLP(scope.In("mlp"), x, layers.MLPConfig{Hidden: []int{256, 256}, Out: 1})
	})
	out := exec.MustCall1(tensors.FromFlatDataAndDimensions(make([]float32, 4*64), 4, 64))
	params := 0
	for v := range store.IterVariables() {
		if v.Trainable {
			params += v.Shape().Size()
		}
	}
	fmt.Println(out.Shape(), params)
	// Output: (Float32)[4, 1] 82689
}

func TestGeluMatchesTanhForm(t *testing.T) {
	xs := []float64{-6, -2.5, -1, -0.1, 0, 0.3, 1, 2, 7}
	outs := run(t, func(_ *model.Scope, in []*graph.Node) []*graph.Node {
		return []*graph.Node{layers.Gelu(in[0])}
	}, tensors.FromFlatDataAndDimensions(xs, len(xs)))
	got := tensors.MustCopyFlatData[float64](outs[0])
	for i, x := range xs {
		want := 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		require.InDelta(t, want, got[i], 1e-12, "x=%g", x)
	}
}

// TestSelfAttentionMatchesReference recomputes attention on the host from the layer's own
// weights, causal and not.
func TestSelfAttentionMatchesReference(t *testing.T) {
	const b, s, d, h = 2, 5, 6, 3
	hd := d / h
	x := randFlat(rand.New(rand.NewPCG(9, 9)), b*s*d)
	for _, causal := range []bool{false, true} {
		store := model.NewStore()
		require.NoError(t, store.SetRNGStateFromSeed(5))
		exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, in *graph.Node) *graph.Node {
			return layers.SelfAttention(scope.In("attn"), in, h, causal)
		})
		require.NoError(t, err)
		out, err := exec.Call(tensors.FromFlatDataAndDimensions(x, b, s, d))
		require.NoError(t, err)
		got := tensors.MustCopyFlatData[float64](out[0])
		w := func(name string) ([]float64, []float64) {
			return tensors.MustCopyFlatData[float64](store.GetVariable("/attn/" + name + "/dense/weights").MustValue()),
				tensors.MustCopyFlatData[float64](store.GetVariable("/attn/" + name + "/dense/biases").MustValue())
		}
		dense := func(in []float64, name string) []float64 { // [b*s, d] x [d, d] + bias
			wt, bs := w(name)
			outv := make([]float64, b*s*d)
			for r := range b * s {
				for j := range d {
					v := bs[j]
					for i := range d {
						v += in[r*d+i] * wt[i*d+j]
					}
					outv[r*d+j] = v
				}
			}
			return outv
		}
		q, k, v := dense(x, "q"), dense(x, "k"), dense(x, "v")
		o := make([]float64, b*s*d)
		for bi := range b {
			for hi := range h {
				for qi := range s {
					scores := make([]float64, s)
					maxv := math.Inf(-1)
					for ki := range s {
						scores[ki] = math.Inf(-1)
						if causal && ki > qi {
							continue
						}
						var dot float64
						for e := range hd {
							dot += q[(bi*s+qi)*d+hi*hd+e] * k[(bi*s+ki)*d+hi*hd+e]
						}
						scores[ki] = dot / math.Sqrt(float64(hd))
						maxv = math.Max(maxv, scores[ki])
					}
					var z float64
					for ki := range scores {
						scores[ki] = math.Exp(scores[ki] - maxv)
						z += scores[ki]
					}
					for e := range hd {
						var acc float64
						for ki := range s {
							acc += scores[ki] / z * v[(bi*s+ki)*d+hi*hd+e]
						}
						o[(bi*s+qi)*d+hi*hd+e] = acc
					}
				}
			}
		}
		want := dense(o, "out")
		require.InDeltaSlice(t, want, got, 1e-10, "causal=%v", causal)
	}
}
