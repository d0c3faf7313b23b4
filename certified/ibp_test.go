package certified_test

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/certified"
	"github.com/moeboost/moeboost/internal/gradcheck"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

// net is a small random network x[in] → Dense → Affine (BN folded) → ReLU → Dense → ReLU →
// Dense (logits), all in float64 on the host.
type net struct {
	dims   []int // in, h1, h2, classes
	w1, b1 []float64
	s1, t1 []float64
	w2, b2 []float64
	w3, b3 []float64
}

func randVec(r *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64() * scale
	}
	return v
}

func newNet(seed uint64) net {
	r := rand.New(rand.NewPCG(seed, 7))
	d := []int{4, 6, 5, 3}
	n := net{dims: d}
	n.w1, n.b1 = randVec(r, d[0]*d[1], 0.8), randVec(r, d[1], 0.3)
	n.s1, n.t1 = randVec(r, d[1], 1), randVec(r, d[1], 0.3) // some scales negative
	n.w2, n.b2 = randVec(r, d[1]*d[2], 0.6), randVec(r, d[2], 0.3)
	n.w3, n.b3 = randVec(r, d[2]*d[3], 0.6), randVec(r, d[3], 0.3)
	return n
}

// hostDense is interval arithmetic in lower/upper form (not centre/radius):
// l' = Σ_i max(w,0)·l_i + min(w,0)·u_i + b, and symmetrically for u'.
func hostDense(l, u, w, b []float64, in, out int) (lo, up []float64) {
	lo, up = make([]float64, out), make([]float64, out)
	for j := range out {
		lo[j], up[j] = b[j], b[j]
		for i := range in {
			wij := w[i*out+j]
			if wij >= 0 {
				lo[j] += wij * l[i]
				up[j] += wij * u[i]
			} else {
				lo[j] += wij * u[i]
				up[j] += wij * l[i]
			}
		}
	}
	return lo, up
}

func hostForwardBounds(n net, l, u []float64) (h2l, h2u []float64) {
	d := n.dims
	l1, u1 := hostDense(l, u, n.w1, n.b1, d[0], d[1])
	for j := range l1 {
		a, b := n.s1[j]*l1[j]+n.t1[j], n.s1[j]*u1[j]+n.t1[j]
		l1[j], u1[j] = math.Max(math.Min(a, b), 0), math.Max(math.Max(a, b), 0)
	}
	l2, u2 := hostDense(l1, u1, n.w2, n.b2, d[1], d[2])
	for j := range l2 {
		l2[j], u2[j] = math.Max(l2[j], 0), math.Max(u2[j], 0)
	}
	return l2, u2
}

// hostMargins is the elided last layer: lower bound of z_y − z_j with rows W_y − W_j.
func hostMargins(n net, l, u []float64, y int) []float64 {
	h2l, h2u := hostForwardBounds(n, l, u)
	d := n.dims
	m := make([]float64, d[3])
	for j := range d[3] {
		diff := make([]float64, d[2])
		for i := range d[2] {
			diff[i] = n.w3[i*d[3]+y] - n.w3[i*d[3]+j]
		}
		lo, _ := hostDense(h2l, h2u, diff, []float64{n.b3[y] - n.b3[j]}, d[2], 1)
		m[j] = lo[0]
	}
	return m
}

func hostLogits(n net, x []float64) []float64 {
	d := n.dims
	h, _ := hostDense(x, x, n.w1, n.b1, d[0], d[1])
	for j := range h {
		h[j] = math.Max(n.s1[j]*h[j]+n.t1[j], 0)
	}
	h2, _ := hostDense(h, h, n.w2, n.b2, d[1], d[2])
	for j := range h2 {
		h2[j] = math.Max(h2[j], 0)
	}
	z, _ := hostDense(h2, h2, n.w3, n.b3, d[2], d[3])
	return z
}

func graphMargins(xs []*graph.Node, labels *graph.Node, eps float64) *graph.Node {
	in, err := certified.InputBox(xs[0], eps, 0, 1)
	if err != nil {
		panic(err)
	}
	b := certified.Dense(in, xs[1], xs[2])
	b = certified.ReLU(certified.Affine(b, xs[3], xs[4]))
	b = certified.ReLU(certified.Dense(b, xs[5], xs[6]))
	return certified.MarginLower(b, xs[7], xs[8], labels)
}

func params(n net) []*tensors.Tensor {
	d := n.dims
	return []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(n.w1, d[0], d[1]), tensors.FromFlatDataAndDimensions(n.b1, d[1]),
		tensors.FromFlatDataAndDimensions(n.s1, d[1]), tensors.FromFlatDataAndDimensions(n.t1, d[1]),
		tensors.FromFlatDataAndDimensions(n.w2, d[1], d[2]), tensors.FromFlatDataAndDimensions(n.b2, d[2]),
		tensors.FromFlatDataAndDimensions(n.w3, d[2], d[3]), tensors.FromFlatDataAndDimensions(n.b3, d[3]),
	}
}

func runMargins(t *testing.T, n net, x []float64, labels []int32, eps float64) ([]float64, []bool) {
	t.Helper()
	batch := len(labels)
	exec, err := model.NewExec(backend.MustDefault(), model.NewStore(), func(_ *model.Scope, xs []*graph.Node) []*graph.Node {
		m := graphMargins(xs[:9], xs[9], eps)
		return []*graph.Node{m, certified.Verified(m, xs[9])}
	})
	require.NoError(t, err)
	defer exec.Finalize()
	args := []any{tensors.FromFlatDataAndDimensions(x, batch, n.dims[0])}
	for _, p := range params(n) {
		args = append(args, p)
	}
	args = append(args, tensors.FromFlatDataAndDimensions(labels, batch))
	outs, err := exec.Call(args...)
	require.NoError(t, err)
	return tensors.MustCopyFlatData[float64](outs[0]), tensors.MustCopyFlatData[bool](outs[1])
}

func TestIBPAgainstHostSoundAndTight(t *testing.T) {
	const batch = 8
	for _, tc := range []struct {
		name string
		seed uint64
		eps  float64
	}{
		{"eps0", 1, 0},
		{"eps0.05", 2, 0.05},
		{"eps0.2", 3, 0.2},
		{"eps0.6-clipped", 4, 0.6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(tc.seed)
			r := rand.New(rand.NewPCG(tc.seed, 99))
			x := make([]float64, batch*n.dims[0])
			for i := range x {
				x[i] = r.Float64()
			}
			labels := make([]int32, batch)
			for i := range labels {
				labels[i] = int32(r.IntN(n.dims[3]))
			}
			got, verified := runMargins(t, n, x, labels, tc.eps)
			c := n.dims[3]
			for b := range batch {
				xb := x[b*n.dims[0] : (b+1)*n.dims[0]]
				l, u := make([]float64, len(xb)), make([]float64, len(xb))
				for i, v := range xb {
					l[i], u[i] = math.Max(v-tc.eps, 0), math.Min(v+tc.eps, 1)
				}
				y := int(labels[b])
				// (a) independent float64 interval arithmetic.
				want := hostMargins(n, l, u, y)
				require.InDeltaSlice(t, want, got[b*c:(b+1)*c], 1e-10, "example %d", b)
				require.Equal(t, 0.0, got[b*c+y])
				allPos := true
				for j := range c {
					if j != y && want[j] <= 0 {
						allPos = false
					}
				}
				require.Equal(t, allPos, verified[b], "example %d", b)
				// (c) eps = 0: the bound equals the true margin.
				z := hostLogits(n, xb)
				if tc.eps == 0 {
					for j := range c {
						require.InDelta(t, z[y]-z[j], got[b*c+j], 1e-10)
					}
				}
				// (b) soundness: every sampled point of the box (corners included) has its
				// margins above the lower bounds.
				pt := make([]float64, len(xb))
				for s := range 3000 {
					for i := range pt {
						switch {
						case s < 16: // box corners
							if s>>i&1 == 1 {
								pt[i] = u[i]
							} else {
								pt[i] = l[i]
							}
						default:
							pt[i] = l[i] + r.Float64()*(u[i]-l[i])
						}
					}
					zs := hostLogits(n, pt)
					for j := range c {
						require.GreaterOrEqual(t, zs[y]-zs[j], got[b*c+j]-1e-10, "example %d sample %d class %d", b, s, j)
					}
				}
			}
		})
	}
}

// Gradients of the IBP verified loss w.r.t. the input and every parameter match central
// finite differences (the bounds are piecewise linear; the random point is away from kinks).
func TestVerifiedLossGradient(t *testing.T) {
	n := newNet(5)
	r := rand.New(rand.NewPCG(5, 1))
	const batch = 3
	x := make([]float64, batch*n.dims[0])
	for i := range x {
		x[i] = 0.2 + 0.6*r.Float64() // eps = 0.1 keeps the box inside [0, 1]: no clipping kink
	}
	labels := tensors.FromFlatDataAndDimensions([]int32{0, 2, 1}, batch)
	inputs := [][]float64{x}
	shapes := [][]int{{batch, n.dims[0]}}
	for _, p := range params(n) {
		inputs = append(inputs, tensors.MustCopyFlatData[float64](p))
		shapes = append(shapes, p.Shape().Dimensions)
	}
	res, err := gradcheck.Check(backend.MustDefault(), func(_ *model.Scope, xs []*graph.Node) *graph.Node {
		lab := graph.Const(xs[0].Graph(), labels)
		return certified.VerifiedLoss(graphMargins(xs, lab, 0.1))
	}, inputs, shapes, 1e-6, 1e-7, 1e-5)
	require.NoError(t, err, res.String())
}

func TestValidation(t *testing.T) {
	std, err := certified.IBPInitStd(64)
	require.NoError(t, err)
	require.InDelta(t, math.Sqrt(2*math.Pi)/64, std, 1e-15)
	_, err = certified.IBPInitStd(0)
	require.ErrorContains(t, err, "fan_in=0")
	for _, tc := range []struct {
		eps, lo, hi float64
		msg         string
	}{
		{-0.1, 0, 1, "eps=-0.1"},
		{math.NaN(), 0, 1, "eps=NaN"},
		{0.1, 1, 1, "input range [1, 1] is empty"},
	} {
		exec, err := model.NewExec(backend.MustDefault(), model.NewStore(), func(_ *model.Scope, x *graph.Node) *graph.Node {
			b, err := certified.InputBox(x, tc.eps, tc.lo, tc.hi)
			if err != nil {
				panic(err)
			}
			return b.Lower
		})
		require.NoError(t, err)
		_, err = exec.Call(tensors.FromFlatDataAndDimensions([]float64{0.5}, 1))
		require.ErrorContains(t, err, tc.msg)
		exec.Finalize()
	}
}
