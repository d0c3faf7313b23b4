package layers_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/gradcheck"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func geluErf(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
func swish(x float64) float64   { return x / (1 + math.Exp(-x)) }

// The fitted inits of init.json approximate their activations on [-3, 3], and their gains
// match the constants katransformer.py's calculate_gain hard-codes for GELU and SiLU.
func TestRationalInitsFitAndGain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		f       func(float64) float64
		maxErr  float64
		gain    float64
		gainTol float64
	}{
		{"identity", func(x float64) float64 { return x }, 1e-15, 1, 1e-6},
		{"gelu", geluErf, 5e-3, 2.3567850379928976, 0.02},
		{"swish", swish, 2e-3, 2.8178205270359653, 0.02},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := layers.RationalInitFor(tc.name)
			require.NoError(t, err)
			worst := 0.0
			for i := 0; i <= 600; i++ {
				x := -3 + float64(i)*0.01
				worst = max(worst, math.Abs(r.Eval(x)-tc.f(x)))
			}
			require.Less(t, worst, tc.maxErr, "max |φ_fit − %s| on [-3, 3]", tc.name)
			require.InDelta(t, tc.gain, r.Gain(), tc.gain*tc.gainTol)
		})
	}
	_, err := layers.RationalInitFor("tanh")
	require.ErrorContains(t, err, `rational init "tanh" unknown`)
}

// hostRational is the official CUDA kernel's forward and backward re-stated in float64 on the
// host (rational_kernel_group.cu): x [rows, D], a [G or 1, 6], b [G, 4], g = dL/dy.
func hostRational(x, a, b, g []float64, rows, d, groups int, sharedNum bool) (y, dx, da, db []float64) {
	cg := d / groups
	y, dx = make([]float64, len(x)), make([]float64, len(x))
	da, db = make([]float64, len(a)), make([]float64, len(b))
	copysign1 := func(v float64) float64 { return math.Copysign(1, v) }
	for n := range rows {
		for c := range d {
			gi := c / cg
			aoff := gi * 6
			if sharedNum {
				aoff = 0
			}
			ai := a[aoff : aoff+6]
			bi := b[gi*4 : gi*4+4]
			xv := x[n*d+c]
			ax := math.Abs(xv)
			var p, q, r, s float64
			for i := range 6 {
				p += ai[i] * math.Pow(xv, float64(i))
				if i > 0 {
					r += float64(i) * ai[i] * math.Pow(xv, float64(i-1))
				}
			}
			q = 1
			for i := range 4 {
				q += math.Abs(bi[i]) * math.Pow(ax, float64(i+1))
				s += float64(i+1) * math.Abs(bi[i]) * math.Pow(ax, float64(i))
			}
			s *= copysign1(xv)
			gv := g[n*d+c]
			y[n*d+c] = p / q
			dx[n*d+c] = (r/q - s*p/(q*q)) * gv
			for i := range 6 {
				da[aoff+i] += math.Pow(xv, float64(i)) / q * gv
			}
			for i := range 4 {
				db[gi*4+i] += -p / (q * q) * copysign1(bi[i]) * math.Pow(ax, float64(i+1)) * gv
			}
		}
	}
	return
}

// rationalGrads evaluates y = GroupRational(x, a, b) and the gradients of Σ y·g in float64.
func rationalGrads(t *testing.T, grad string, x, a, b, g []float64, xDims, aDims, bDims []int) (y, dx, da, db []float64) {
	t.Helper()
	gDims := xDims
	outs := run(t, func(_ *model.Scope, xs []*graph.Node) []*graph.Node {
		out := layers.GroupRational(xs[0], xs[1], xs[2], grad)
		loss := graph.ReduceAllSum(graph.Mul(out, xs[3]))
		grads := graph.Gradient(loss, xs[0], xs[1], xs[2])
		return append([]*graph.Node{out}, grads...)
	}, tensors.FromFlatDataAndDimensions(x, xDims...), tensors.FromFlatDataAndDimensions(a, aDims...),
		tensors.FromFlatDataAndDimensions(b, bDims...), tensors.FromFlatDataAndDimensions(g, gDims...))
	flat := func(i int) []float64 { return tensors.MustCopyFlatData[float64](outs[i]) }
	return flat(0), flat(1), flat(2), flat(3)
}

func requireClose(t *testing.T, want, got []float64, tol float64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		require.InDelta(t, want[i], got[i], tol*(1+math.Abs(want[i])), "%s[%d]", what, i)
	}
}

// Both gradient forms against the host re-statement of the official kernel (values and all
// three gradients), and the FlashKAT form against central finite differences.
func TestGroupRationalGradients(t *testing.T) {
	for _, tc := range []struct {
		name         string
		rows, d, g   int
		sharedNum    bool
		initNum, den string
	}{
		{"shared numerator, gelu init, 4 groups", 5, 8, 4, true, "gelu", "gelu"},
		{"per-group numerator, random, 2 groups", 3, 6, 2, false, "", ""},
		{"shared numerator, one group", 7, 3, 1, true, "swish", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(tc.rows)))
			x := randFlat(r, tc.rows*tc.d)
			gv := randFlat(r, tc.rows*tc.d)
			numRows := tc.g
			if tc.sharedNum {
				numRows = 1
			}
			a := randFlat(r, numRows*6)
			b := randFlat(r, tc.g*4)
			if tc.initNum != "" {
				ri, err := layers.RationalInitFor(tc.initNum)
				require.NoError(t, err)
				for i := range numRows {
					copy(a[i*6:], ri.Num[:])
				}
			}
			if tc.den != "" {
				ri, err := layers.RationalInitFor(tc.den)
				require.NoError(t, err)
				for i := range tc.g {
					copy(b[i*4:], ri.Den[:])
				}
			}
			aDims := []int{6}
			if !tc.sharedNum {
				aDims = []int{tc.g, 6}
			}
			xDims, bDims := []int{tc.rows, tc.d}, []int{tc.g, 4}
			x0 := x[0]
			x[0] = 0 // |x| has a kink at 0: every form takes sign(0) = +1 there
			wy, wdx, wda, wdb := hostRational(x, a, b, gv, tc.rows, tc.d, tc.g, tc.sharedNum)
			for _, grad := range []string{layers.KANGradFlashKAT, layers.KANGradAutodiff} {
				y, dx, da, db := rationalGrads(t, grad, x, a, b, gv, xDims, aDims, bDims)
				requireClose(t, wy, y, 1e-12, grad+" y")
				requireClose(t, wdx, dx, 1e-10, grad+" dx")
				requireClose(t, wda, da, 1e-10, grad+" da")
				requireClose(t, wdb, db, 1e-10, grad+" db")
			}
			x[0] = x0
			// Central finite differences of the FlashKAT form; |b| has a kink at 0, so
			// coefficients within 1e-3 of it (gelu's b3 = 1.7e-10) move to 0.05 first.
			for i, v := range b {
				if math.Abs(v) < 1e-3 {
					b[i] = 0.05
				}
			}
			res, err := gradcheck.Check(backend.MustDefault(), func(_ *model.Scope, xs []*graph.Node) *graph.Node {
				out := layers.GroupRational(xs[0], xs[1], xs[2], layers.KANGradFlashKAT)
				return graph.ReduceAllSum(graph.Mul(out, graph.Sin(out)))
			}, [][]float64{x, a, b}, [][]int{xDims, aDims, bDims}, 1e-6, 1e-7, 1e-6)
			require.NoError(t, err, res.String())
		})
	}
}

// At b = 0 (the identity init) both forms move b with sign(0) = +1, as the official kernels do
// (copysign in CUDA, where(b < 0, -1, 1) in Triton), and φ is the identity.
func TestGroupRationalZeroDenominator(t *testing.T) {
	const rows, d, g = 4, 4, 2
	r := rand.New(rand.NewPCG(3, 9))
	x, gv := randFlat(r, rows*d), randFlat(r, rows*d)
	a := []float64{0, 1, 0, 0, 0, 0}
	b := make([]float64, g*4)
	_, wdx, wda, wdb := hostRational(x, a, b, gv, rows, d, g, true)
	for _, grad := range []string{layers.KANGradFlashKAT, layers.KANGradAutodiff} {
		y, dx, da, db := rationalGrads(t, grad, x, a, b, gv, []int{rows, d}, []int{6}, []int{g, 4})
		requireClose(t, x, y, 1e-15, grad+" identity y")
		requireClose(t, gv, dx, 1e-15, grad+" identity dx")
		requireClose(t, wdx, dx, 1e-12, grad+" dx")
		requireClose(t, wda, da, 1e-12, grad+" da")
		requireClose(t, wdb, db, 1e-12, grad+" db")
		for i, v := range db {
			require.NotZero(t, v, "%s db[%d]: b = 0 must still move", grad, i)
		}
	}
}

func TestKANFFNShapesParamsAndVariance(t *testing.T) {
	const n, d, h = 4096, 32, 128
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	var store *model.Store
	for _, grad := range []string{layers.KANGradFlashKAT, layers.KANGradAutodiff} {
		st := model.NewStore()
		require.NoError(t, st.SetRNGStateFromSeed(3))
		exec, err := model.NewExec(backend.MustDefault(), st, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
			return []*graph.Node{layers.KAN(scope, xs[0], layers.KANConfig{Hidden: h, Gradient: grad})}
		})
		require.NoError(t, err)
		outs, err := exec.Call(tensors.FromFlatDataAndDimensions(x, n, d))
		require.NoError(t, err)
		require.Equal(t, []int{n, d}, outs[0].Shape().Dimensions)
		y := tensors.MustCopyFlatData[float32](outs[0])
		var s, s2 float64
		for _, v := range y {
			s += float64(v)
			s2 += float64(v) * float64(v)
		}
		mean := s / float64(len(y))
		ratio := s2/float64(len(y)) - mean*mean // Var[x] = 1
		require.InDelta(t, 1, ratio, 0.25, "%s: Var(out)/Var(in) at init", grad)
		store = st
	}
	trainable := 0
	for v := range store.RootScope().IterVariables() {
		if v.Trainable {
			trainable += v.Shape().Size()
		}
	}
	require.Equal(t, layers.KANParams(d, layers.KANConfig{Hidden: h}), trainable)
	require.Equal(t, 2*d*h+h+d+2*(6+8*4), layers.KANParams(d, layers.KANConfig{Hidden: h}))
}

func TestKANConfigAndRegistry(t *testing.T) {
	for _, tc := range []struct {
		cfg layers.KANConfig
		err string
	}{
		{layers.KANConfig{Hidden: -1}, "hidden=-1"},
		{layers.KANConfig{Groups: -2}, "groups=-2"},
		{layers.KANConfig{Init: "tanh"}, `rational init "tanh" unknown`},
		{layers.KANConfig{Gradient: "fast"}, `gradient="fast" must be`},
	} {
		_, err := layers.KANFFN(tc.cfg)
		require.ErrorContains(t, err, tc.err)
	}
	require.Subset(t, layers.FFNNames(), []string{"dense", "gr_kan"})
	_, err := layers.NewFFN("kan", 8, "gelu")
	require.ErrorContains(t, err, "gr_kan")
	_, err = layers.NewFFN("gr_kan", 8, "elu")
	require.ErrorContains(t, err, `activation "elu"`)
	// Groups must divide d: 8 groups of 12 channels cannot be formed.
	exec, err := model.NewExec(backend.MustDefault(), model.NewStore(), func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		return []*graph.Node{layers.KAN(scope, xs[0], layers.KANConfig{})}
	})
	require.NoError(t, err)
	_, err = exec.Call(tensors.FromFlatDataAndDimensions(make([]float32, 12), 1, 12))
	require.ErrorContains(t, err, "kan: groups=8 must divide d=12 and hidden=48")
	// The registered FFN plugs into a transformer block.
	ffn, err := layers.NewFFN("gr_kan", 32, "gelu")
	require.NoError(t, err)
	outs := run(t, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		y, _ := layers.Block(scope, xs[0], 0, layers.BlockConfig{DModel: 16, NumHeads: 2, FFN: ffn, Causal: true}, nil)
		return []*graph.Node{y}
	}, tensors.FromFlatDataAndDimensions(make([]float32, 2*3*16), 2, 3, 16))
	require.Equal(t, []int{2, 3, 16}, outs[0].Shape().Dimensions)
}
