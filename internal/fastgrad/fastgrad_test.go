package fastgrad_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/fastgrad"
	"github.com/moeboost/moeboost/internal/gradcheck"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

type dotCase struct {
	name           string
	lhs, rhs       []int
	lc, lb, rc, rb []int
	// gomlxFails marks shapes where GoMLX v0.28.2's own rule fails ("invalid shape for
	// calculated AccumulatedVJP"): contracting axes paired in non-ascending order.
	gomlxFails bool
}

var dotCases = []dotCase{
	{"dense", []int{5, 3}, []int{3, 4}, []int{1}, nil, []int{0}, nil, false},
	{"dense-transposed-weights", []int{5, 3}, []int{4, 3}, []int{1}, nil, []int{1}, nil, false},
	{"lhs-contract-first", []int{3, 5}, []int{3, 4}, []int{0}, nil, []int{0}, nil, false},
	{"batched-experts", []int{2, 5, 3}, []int{2, 3, 4}, []int{2}, []int{0}, []int{1}, []int{0}, false},
	{"attention-scores", []int{2, 3, 5, 4}, []int{2, 3, 6, 4}, []int{3}, []int{0, 1}, []int{3}, []int{0, 1}, false},
	{"attention-values", []int{2, 3, 5, 6}, []int{2, 3, 6, 4}, []int{3}, []int{0, 1}, []int{2}, []int{0, 1}, false},
	{"bshd-einsum", []int{2, 5, 3, 4}, []int{2, 6, 3, 4}, []int{3}, []int{0, 2}, []int{3}, []int{0, 2}, false},
	{"two-contracting", []int{4, 3, 2}, []int{2, 5, 3}, []int{1, 2}, nil, []int{2, 0}, nil, true},
	{"two-contracting-ascending", []int{4, 3, 2}, []int{3, 5, 2}, []int{1, 2}, nil, []int{0, 2}, nil, false},
	{"dense-3d-input", []int{2, 5, 3}, []int{3, 4}, []int{2}, nil, []int{0}, nil, false},
	{"vector-dot", []int{3}, []int{3}, []int{0}, nil, []int{0}, nil, false},
}

func randFlat(r *rand.Rand, dims []int) []float64 {
	n := 1
	for _, d := range dims {
		n *= d
	}
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	return x
}

// gradsOf returns ∂(Σ w ⊙ f)/∂inputs with a fixed random weighting w of the output.
func gradsOf(t *testing.T, c dotCase, lhs, rhs []float64) [][]float64 {
	t.Helper()
	b := backend.MustDefault()
	exec, err := graph.NewExec(b, func(l, r *graph.Node) []*graph.Node {
		y := graph.DotGeneral(l, c.lc, c.lb, r, c.rc, c.rb)
		w := graph.Sin(graph.IotaFull(y.Graph(), y.Shape()))
		loss := graph.ReduceAllSum(graph.Mul(y, w))
		return graph.Gradient(loss, l, r)
	})
	require.NoError(t, err)
	defer exec.Finalize()
	outs, err := exec.Call(tensors.FromFlatDataAndDimensions(lhs, c.lhs...), tensors.FromFlatDataAndDimensions(rhs, c.rhs...))
	require.NoError(t, err)
	return [][]float64{tensors.MustCopyFlatData[float64](outs[0]), tensors.MustCopyFlatData[float64](outs[1])}
}

func TestDotGeneralMatchesGoMLX(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range dotCases {
		t.Run(c.name, func(t *testing.T) {
			lhs, rhs := randFlat(r, c.lhs), randFlat(r, c.rhs)
			if !c.gomlxFails {
				fastgrad.Uninstall()
				want := gradsOf(t, c, lhs, rhs)
				fastgrad.Install()
				got := gradsOf(t, c, lhs, rhs)
				for i := range want {
					require.InDeltaSlice(t, want[i], got[i], 1e-10)
				}
			}
			res, err := gradcheck.Check(backend.MustDefault(), func(_ *model.Scope, in []*graph.Node) *graph.Node {
				y := graph.DotGeneral(in[0], c.lc, c.lb, in[1], c.rc, c.rb)
				return graph.ReduceAllSum(graph.Mul(y, graph.Cos(graph.IotaFull(y.Graph(), y.Shape()))))
			}, [][]float64{lhs, rhs}, [][]int{c.lhs, c.rhs}, 1e-6, 1e-7, 1e-6)
			require.NoError(t, err, res.String())
		})
	}
}

func TestBroadcastMatchesGoMLX(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		x, out []int
	}{
		{[]int{1, 8}, []int{40, 8}},       // bias over a batch: leading sum
		{[]int{1, 1, 8}, []int{4, 10, 8}}, // bias over [batch, seq]
		{[]int{40, 1}, []int{40, 20}},     // per-row scale: trailing sum
		{[]int{4, 1, 1}, []int{4, 6, 5}},  // trailing sum over two axes
		{[]int{1, 6, 1}, []int{4, 6, 5}},  // interleaved: GoMLX's rule
		{[]int{1, 3}, []int{2, 3}},        // tiny: GoMLX's rule
	} {
		t.Run(fmt.Sprint(c.x, "->", c.out), func(t *testing.T) {
			x := randFlat(r, c.x)
			fn := func(xn *graph.Node) *graph.Node { return graph.BroadcastToDims(xn, c.out...) }
			fastgrad.Uninstall()
			want := gradOfBroadcast(t, x, c.x, fn)
			fastgrad.Install()
			require.InDeltaSlice(t, want, gradOfBroadcast(t, x, c.x, fn), 1e-10)
		})
	}
}

// BenchmarkDenseGradients times the backward pass of a dense layer with each rule.
func BenchmarkDenseGradients(b *testing.B) {
	for _, fast := range []bool{false, true} {
		b.Run(fmt.Sprint("fast=", fast), func(b *testing.B) {
			if fast {
				fastgrad.Install()
			} else {
				fastgrad.Uninstall()
			}
			defer fastgrad.Install()
			exec := graph.MustNewExec(backend.MustDefault(), func(x, w, bias *graph.Node) []*graph.Node {
				y := graph.Add(graph.Dot(x, w).Product(), bias)
				loss := graph.ReduceAllSum(graph.Mul(y, y))
				return graph.Gradient(loss, x, w, bias)
			})
			x := tensors.FromFlatDataAndDimensions(make([]float32, 2048*128), 2048, 128)
			w := tensors.FromFlatDataAndDimensions(make([]float32, 128*256), 128, 256)
			bias := tensors.FromFlatDataAndDimensions(make([]float32, 256), 1, 256)
			exec.MustExec(x, w, bias)
			b.ResetTimer()
			for range b.N {
				for _, o := range exec.MustExec(x, w, bias) {
					o.MustFinalizeAll()
				}
			}
		})
	}
}

func gradOfBroadcast(t *testing.T, x []float64, dims []int, bcast func(*graph.Node) *graph.Node) []float64 {
	exec, err := graph.NewExec(backend.MustDefault(), func(xn *graph.Node) *graph.Node {
		y := bcast(xn)
		w := graph.Sin(graph.IotaFull(y.Graph(), y.Shape()))
		return graph.Gradient(graph.ReduceAllSum(graph.Mul(y, w)), xn)[0]
	})
	require.NoError(t, err)
	out, err := exec.Call(tensors.FromFlatDataAndDimensions(x, dims...))
	require.NoError(t, err)
	return tensors.MustCopyFlatData[float64](out[0])
}

func TestBroadcastRankExpanding(t *testing.T) {
	x := randFlat(rand.New(rand.NewPCG(5, 6)), []int{8})
	fn := func(xn *graph.Node) *graph.Node { return graph.BroadcastPrefix(xn, 40) }
	fastgrad.Uninstall()
	want := gradOfBroadcast(t, x, []int{8}, fn)
	fastgrad.Install()
	require.InDeltaSlice(t, want, gradOfBroadcast(t, x, []int{8}, fn), 1e-10)
}

func TestMinMaxMatchesGoMLX(t *testing.T) {
	xs := []float64{-3, -1e-300, 0, 0, 1e-310, 2, 5, -7, 0.5}
	ys := []float64{0, 0, 0, 1e-310, 0, 2, 1, -7.5, 0.25}
	for _, op := range []func(a, b *graph.Node) *graph.Node{graph.Max, graph.Min} {
		run := func() [][]float64 {
			exec, err := graph.NewExec(backend.MustDefault(), func(a, b *graph.Node) []*graph.Node {
				y := op(a, b)
				w := graph.AddScalar(graph.IotaFull(y.Graph(), y.Shape()), 1)
				return graph.Gradient(graph.ReduceAllSum(graph.Mul(y, w)), a, b)
			})
			require.NoError(t, err)
			outs, err := exec.Call(tensors.FromFlatDataAndDimensions(xs, len(xs)), tensors.FromFlatDataAndDimensions(ys, len(ys)))
			require.NoError(t, err)
			return [][]float64{tensors.MustCopyFlatData[float64](outs[0]), tensors.MustCopyFlatData[float64](outs[1])}
		}
		fastgrad.Uninstall()
		want := run()
		fastgrad.Install()
		got := run()
		require.Equal(t, want, got)
	}
}

func TestImplicitBroadcastSums(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x, b1, b2 := randFlat(r, []int{4, 10, 8}), randFlat(r, []int{8}), randFlat(r, []int{4, 10, 1})
	run := func() [][]float64 {
		exec, err := graph.NewExec(backend.MustDefault(), func(xn, bn, cn *graph.Node) []*graph.Node {
			y := graph.Mul(graph.Add(xn, bn), cn) // bias over the leading axes, scale over the trailing one
			w := graph.Sin(graph.IotaFull(y.Graph(), y.Shape()))
			return graph.Gradient(graph.ReduceAllSum(graph.Mul(y, w)), xn, bn, cn)
		})
		require.NoError(t, err)
		outs, err := exec.Call(tensors.FromFlatDataAndDimensions(x, 4, 10, 8), tensors.FromFlatDataAndDimensions(b1, 1, 1, 8),
			tensors.FromFlatDataAndDimensions(b2, 4, 10, 1))
		require.NoError(t, err)
		var res [][]float64
		for _, o := range outs {
			res = append(res, tensors.MustCopyFlatData[float64](o))
		}
		return res
	}
	fastgrad.Uninstall()
	want := run()
	fastgrad.Install()
	got := run()
	for i := range want {
		require.InDeltaSlice(t, want[i], got[i], 1e-10)
	}
}
