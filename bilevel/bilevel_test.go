package bilevel

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

// quadratic is a bilevel problem with a closed form: g(x, y) = ½yᵀAy − yᵀ(Bx + c),
// F(x, y) = ½‖y − t‖² + ½ρ‖x‖², so y*(x) = A⁻¹(Bx + c), ∇²_yy g = A, ∇²_xy g·z = −Bᵀz.
type quadratic struct {
	a       [3][3]float64
	b       [3][2]float64
	c, t    [3]float64
	rho     float64
	radius  float64 // > 0 adds the constraint ‖y‖² ≤ radius²
	project bool
}

func newQuadratic() *quadratic {
	return &quadratic{
		a:   [3][3]float64{{2, 0.3, 0.1}, {0.3, 1.5, -0.2}, {0.1, -0.2, 1}},
		b:   [3][2]float64{{1, 0.5}, {-0.4, 1}, {0.3, -0.7}},
		c:   [3]float64{0.2, -0.1, 0.4},
		t:   [3]float64{1, -0.5, 0.3},
		rho: 0.1,
	}
}

func (q *quadratic) problem() *Problem {
	flat := func(m any) []float64 {
		switch m := m.(type) {
		case [3][3]float64:
			return append(append(append([]float64(nil), m[0][:]...), m[1][:]...), m[2][:]...)
		case [3][2]float64:
			return append(append(append([]float64(nil), m[0][:]...), m[1][:]...), m[2][:]...)
		}
		return nil
	}
	p := &Problem{
		Name: "quadratic", X0: []float64{0.5, -0.3}, Y0: []float64{0.1, 0.2, -0.1},
		Lower: func(x, y *graph.Node) *graph.Node {
			g := x.Graph()
			a := graph.Reshape(graph.Const(g, flat(q.a)), 3, 3)
			b := graph.Reshape(graph.Const(g, flat(q.b)), 3, 2)
			ay := graph.MatMul(a, y)
			lin := graph.Add(graph.MatMul(b, x), graph.Const(g, q.c[:]))
			return graph.Sub(graph.MulScalar(graph.ReduceAllSum(graph.Mul(y, ay)), 0.5), graph.ReduceAllSum(graph.Mul(y, lin)))
		},
		Upper: func(x, y *graph.Node) *graph.Node {
			d := graph.Sub(y, graph.Const(x.Graph(), q.t[:]))
			return graph.Add(graph.MulScalar(graph.ReduceAllSum(graph.Square(d)), 0.5),
				graph.MulScalar(graph.ReduceAllSum(graph.Square(x)), q.rho/2))
		},
	}
	if q.radius > 0 {
		p.Constraints = func(_, y *graph.Node) *graph.Node {
			return graph.Reshape(graph.AddScalar(graph.ReduceAllSum(graph.Square(y)), -q.radius*q.radius), 1)
		}
		p.Project = func(_, y []float64) error {
			if n := norm(y); n > q.radius {
				scale(y, q.radius/n)
			}
			return nil
		}
	}
	return p
}

func (q *quadratic) ay(y []float64) []float64 {
	out := make([]float64, 3)
	for i := range 3 {
		for j := range 3 {
			out[i] += q.a[i][j] * y[j]
		}
	}
	return out
}

// gradY is ∇_y g = Ay − Bx − c.
func (q *quadratic) gradY(x, y []float64) []float64 {
	out := q.ay(y)
	for i := range 3 {
		out[i] -= q.b[i][0]*x[0] + q.b[i][1]*x[1] + q.c[i]
	}
	return out
}

// btz is Bᵀz (so ∇²_xy g·z = −Bᵀz and ∇_x g(x, y) = −Bᵀy).
func (q *quadratic) btz(z []float64) []float64 {
	return []float64{q.b[0][0]*z[0] + q.b[1][0]*z[1] + q.b[2][0]*z[2], q.b[0][1]*z[0] + q.b[1][1]*z[1] + q.b[2][1]*z[2]}
}

// solve3 solves A v = r by Cramer's rule.
func (q *quadratic) solve3(r []float64) []float64 {
	m := q.a
	det := func(m [3][3]float64) float64 {
		return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	}
	d := det(m)
	out := make([]float64, 3)
	for c := range 3 {
		mc := m
		for i := range 3 {
			mc[i][c] = r[i]
		}
		out[c] = det(mc) / d
	}
	return out
}

// optimum returns the minimizer of Φ(x) = F(x, y*(x)): (ρI + BᵀA⁻²B)x = −BᵀA⁻¹(A⁻¹c − t).
func (q *quadratic) optimum() []float64 {
	col := func(j int) []float64 { return q.solve3([]float64{q.b[0][j], q.b[1][j], q.b[2][j]}) } // A⁻¹B column j
	m0, m1 := col(0), col(1)
	ainvc := q.solve3(q.c[:])
	r := make([]float64, 3)
	for i := range 3 {
		r[i] = ainvc[i] - q.t[i]
	}
	dot := func(u, v []float64) float64 { return u[0]*v[0] + u[1]*v[1] + u[2]*v[2] }
	h := [2][2]float64{{q.rho + dot(m0, m0), dot(m0, m1)}, {dot(m1, m0), q.rho + dot(m1, m1)}}
	rhs := []float64{-dot(m0, r), -dot(m1, r)}
	det := h[0][0]*h[1][1] - h[0][1]*h[1][0]
	return []float64{(rhs[0]*h[1][1] - h[0][1]*rhs[1]) / det, (h[0][0]*rhs[1] - h[1][0]*rhs[0]) / det}
}

// testBackend is created at package initialization, so that the Go backend's one-line notice
// is printed before any Example captures its output.
var testBackend = backend.MustDefault()

func newOracle(t *testing.T, p *Problem) *Oracle {
	t.Helper()
	o, err := NewOracle(testBackend, p)
	require.NoError(t, err)
	t.Cleanup(o.Close)
	return o
}

func TestOracleMatchesClosedForm(t *testing.T) {
	q := newQuadratic()
	o := newOracle(t, q.problem())
	x, y, z := []float64{0.3, -0.8}, []float64{0.5, -1, 0.25}, []float64{-0.2, 0.7, 1.1}
	h, err := o.HyperAt(x, y, z)
	require.NoError(t, err)
	require.InDeltaSlice(t, []float64{q.rho * x[0], q.rho * x[1]}, h.GradXF, 1e-12)
	require.InDeltaSlice(t, []float64{y[0] - q.t[0], y[1] - q.t[1], y[2] - q.t[2]}, h.GradYF, 1e-12)
	require.InDeltaSlice(t, q.ay(z), h.HZ, 1e-12)
	btz := q.btz(z)
	require.InDeltaSlice(t, []float64{-btz[0], -btz[1]}, h.JZ, 1e-12)

	// LowerSteps = host gradient descent (13 steps: one unrolled chunk of 10 and one of 3).
	got, err := o.LowerSteps(x, y, 0.2, 13)
	require.NoError(t, err)
	want := clone(y)
	for range 13 {
		g := q.gradY(x, want)
		for i := range want {
			want[i] -= 0.2 * g[i]
		}
	}
	require.InDeltaSlice(t, want, got, 1e-12)
	require.Equal(t, []float64{0.5, -1, 0.25}, y, "LowerSteps must not modify its input")

	// FixedPointZ = host iteration z ← z − ν(Az − ∇_y F).
	gotZ, _, err := o.FixedPointZ(x, y, z, 0.3, 12)
	require.NoError(t, err)
	wantZ := clone(z)
	for range 12 {
		az := q.ay(wantZ)
		for i := range wantZ {
			wantZ[i] -= 0.3 * (az[i] - (y[i] - q.t[i]))
		}
	}
	require.InDeltaSlice(t, wantZ, gotZ, 1e-12)
}

// TestHypergradientFiniteDifferences checks the implicit hypergradient of the logistic cleaning
// problem against central differences of Φ(λ) = F(y*(λ)), y* solved to convergence.
func TestHypergradientFiniteDifferences(t *testing.T) {
	tab, err := data.Builtin("iris")
	require.NoError(t, err)
	tr, va, err := tab.Split(0.3, 1)
	require.NoError(t, err)
	_, tr, others := data.Standardize(tr, false, va)
	noisy, _, err := CorruptLabels(tr, 0.4, 3)
	require.NoError(t, err)
	p, err := LogisticCleaning(noisy, others[0], 0.1, 0)
	require.NoError(t, err)
	o := newOracle(t, p)
	x := clone(p.X0)
	for i := range x {
		x[i] = float64(i%5) - 2
	}
	solve := func(x []float64) []float64 {
		y, err := o.LowerSteps(x, p.Y0, 0.5, 3000)
		require.NoError(t, err)
		return y
	}
	_, h, err := o.FixedPointZ(x, solve(x), make([]float64, len(p.Y0)), 0.5, 3000)
	require.NoError(t, err)
	hg := h.Hypergradient()
	for _, i := range []int{0, 1, 2, 7, len(x) - 1} {
		const eps = 1e-4
		xp, xm := clone(x), clone(x)
		xp[i] += eps
		xm[i] -= eps
		fp, _, err := o.Values(xp, solve(xp))
		require.NoError(t, err)
		fm, _, err := o.Values(xm, solve(xm))
		require.NoError(t, err)
		fd := (fp - fm) / (2 * eps)
		require.InDelta(t, fd, hg[i], 1e-7+1e-4*math.Abs(fd), "entry %d", i)
	}
}

// TestMethodsMatchRestatement runs each method for a few iterations on the quadratic problem
// and compares every iterate with a float64 host re-statement of the paper's update.
func TestMethodsMatchRestatement(t *testing.T) {
	q := newQuadratic()
	t.Run("aid", func(t *testing.T) {
		cfg := AIDConfig{LowerSteps: 3, FixedPointSteps: 4, LowerLR: 0.3, FixedPointLR: 0.2, UpperLR: 0.5}
		p := q.problem()
		o := newOracle(t, p)
		m := NewAID(cfg)
		x, y, z := clone(p.X0), clone(p.Y0), make([]float64, 3)
		require.NoError(t, Solve(context.Background(), o, m, 6, func(int) error {
			for range cfg.LowerSteps {
				g := q.gradY(x, y)
				for i := range y {
					y[i] -= cfg.LowerLR * g[i]
				}
			}
			for range cfg.FixedPointSteps {
				az := q.ay(z)
				for i := range z {
					z[i] -= cfg.FixedPointLR * (az[i] - (y[i] - q.t[i]))
				}
			}
			btz := q.btz(z)
			for i := range x {
				x[i] -= cfg.UpperLR * (q.rho*x[i] + btz[i])
			}
			require.InDeltaSlice(t, x, m.X(), 1e-12)
			require.InDeltaSlice(t, y, m.Y(), 1e-12)
			return nil
		}))
	})
	t.Run("bo-rep", func(t *testing.T) {
		cfg := BOREPConfig{UpperLR: 0.1, LowerLR: 0.3, ZLR: 0.2, Beta: 0.8, Interval: 3, LowerSteps: 2, Radius: 0.5, RefineStages: 2, RefineSteps: 4, Seed: 7}
		p := q.problem()
		o := newOracle(t, p)
		m := NewBOREP(cfg)
		x, y, mom := clone(p.X0), clone(p.Y0), make([]float64, 2)
		r := rand.New(rand.NewPCG(cfg.Seed, 0x626f726570))
		z := make([]float64, 3)
		for i := range z {
			z[i] = (2*r.Float64() - 1) * math.Sqrt(6.0/4)
		}
		gd := func(lr float64, steps int) {
			for range steps {
				g := q.gradY(x, y)
				for i := range y {
					y[i] -= lr * g[i]
				}
			}
		}
		gd(0.3, 4)
		gd(0.15, 4)
		k := 0
		require.NoError(t, Solve(context.Background(), o, m, 7, func(int) error {
			if k > 0 && k%cfg.Interval == 0 {
				gd(cfg.LowerLR, cfg.LowerSteps)
			}
			k++
			az := q.ay(z)
			for i := range z {
				z[i] -= cfg.ZLR * (az[i] - (y[i] - q.t[i]))
			}
			if n := norm(z); n > cfg.Radius {
				scale(z, cfg.Radius/n)
			}
			btz := q.btz(z)
			for i := range mom {
				mom[i] = cfg.Beta*mom[i] + (1-cfg.Beta)*(q.rho*x[i]+btz[i])
			}
			n := norm(mom)
			for i := range x {
				x[i] -= cfg.UpperLR * mom[i] / (1e-10 + n)
			}
			require.InDeltaSlice(t, x, m.X(), 1e-12)
			require.InDeltaSlice(t, y, m.Y(), 1e-12)
			return nil
		}))
	})
	t.Run("lv-hba-constrained", func(t *testing.T) {
		cfg := LVHBAConfig{Alpha: 0.05, Beta: 0.2, Eta: 0.1, Gamma1: 5, Gamma2: 4, CPower: 0.5, Lambda0: 0.5}
		qc := *q
		qc.radius = 0.6
		p := qc.problem()
		o := newOracle(t, p)
		m := NewLVHBA(cfg)
		x, y := clone(p.X0), clone(p.Y0)
		th, lam, z := clone(y), 0.5, 0.5
		k := 0
		require.NoError(t, Solve(context.Background(), o, m, 8, func(int) error {
			g := qc.gradY(x, th)
			cons := th[0]*th[0] + th[1]*th[1] + th[2]*th[2] - qc.radius*qc.radius
			for i := range th {
				th[i] -= cfg.Eta * (g[i] + 2*lam*th[i] + (th[i]-y[i])/cfg.Gamma1)
			}
			lam = max(0, lam+cfg.Eta*(cons-(lam-z)/cfg.Gamma2))
			inv := math.Pow(float64(k+1), -cfg.CPower)
			k++
			bty, btth := qc.btz(y), qc.btz(th)
			gy := qc.gradY(x, y)
			nx := clone(x)
			for i := range x {
				nx[i] -= cfg.Alpha * (inv*qc.rho*x[i] - bty[i] + btth[i])
			}
			for i := range y {
				y[i] -= cfg.Alpha * (inv*(y[i]-qc.t[i]) + gy[i] - (y[i]-th[i])/cfg.Gamma1)
			}
			x = nx
			z = max(0, z-cfg.Beta*(z-lam)/cfg.Gamma2)
			if n := norm(y); n > qc.radius {
				scale(y, qc.radius/n)
			}
			require.InDeltaSlice(t, x, m.X(), 1e-12)
			require.InDeltaSlice(t, y, m.Y(), 1e-12)
			require.LessOrEqual(t, norm(m.Y()), qc.radius+1e-12)
			return nil
		}))
	})
}

// TestMethodsConverge checks that every method reaches the closed-form minimizer of the
// unconstrained quadratic problem.
func TestMethodsConverge(t *testing.T) {
	q := newQuadratic()
	want := q.optimum()
	for _, tc := range []struct {
		m     Method
		iters int
		tol   float64
	}{
		{NewAID(AIDConfig{LowerSteps: 10, FixedPointSteps: 10, LowerLR: 0.3, FixedPointLR: 0.3, UpperLR: 0.5}), 300, 1e-6},
		// Normalized steps of fixed size end in a ball of radius ~ UpperLR around x*.
		{NewBOREP(BOREPConfig{UpperLR: 0.002, LowerLR: 0.3, ZLR: 0.3, Beta: 0.9, Interval: 2, LowerSteps: 10, RefineStages: 3, RefineSteps: 50, Seed: 1}), 1500, 0.02},
		{NewLVHBA(LVHBAConfig{Alpha: 0.1, Beta: 0.5, Eta: 0.3, Gamma1: 10, Gamma2: 10, CPower: 0.3, Lambda0: 1}), 3000, 0.05},
	} {
		t.Run(tc.m.Name(), func(t *testing.T) {
			o := newOracle(t, q.problem())
			require.NoError(t, Solve(context.Background(), o, tc.m, tc.iters, nil))
			require.InDeltaSlice(t, want, tc.m.X(), tc.tol, "x* = %v", want)
		})
	}
}

func TestBadSettings(t *testing.T) {
	q := newQuadratic()
	for _, tc := range []struct {
		name string
		m    Method
		want string
	}{
		{"aid lr", NewAID(AIDConfig{LowerSteps: 1, FixedPointSteps: 1, LowerLR: 0.1, FixedPointLR: 0.1, UpperLR: -1}), "UpperLR = -1"},
		{"aid steps", NewAID(AIDConfig{LowerSteps: 0, FixedPointSteps: 1, LowerLR: 0.1, FixedPointLR: 0.1, UpperLR: 1}), "LowerSteps = 0"},
		{"bo-rep beta", NewBOREP(BOREPConfig{UpperLR: 1, LowerLR: 1, ZLR: 1, Beta: 1, Interval: 1, LowerSteps: 1}), "Beta = 1"},
		{"bo-rep interval", NewBOREP(BOREPConfig{UpperLR: 1, LowerLR: 1, ZLR: 1, Interval: 0, LowerSteps: 1}), "Interval = 0"},
		{"bo-rep radius", NewBOREP(BOREPConfig{UpperLR: 1, LowerLR: 1, ZLR: 1, Interval: 1, LowerSteps: 1, Radius: math.NaN()}), "Radius = NaN"},
		{"lv-hba gamma", NewLVHBA(LVHBAConfig{Alpha: 1, Beta: 1, Eta: 1, Gamma1: 0, Gamma2: 1}), "Gamma1 = 0"},
		{"lv-hba lambda", NewLVHBA(LVHBAConfig{Alpha: 1, Beta: 1, Eta: 1, Gamma1: 1, Gamma2: 1, Lambda0: -1}), "Lambda0 = -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOracle(t, q.problem())
			err := Solve(context.Background(), o, tc.m, 1, nil)
			require.ErrorContains(t, err, tc.want)
		})
	}
	// The implicit methods refuse a constrained lower problem.
	qc := *q
	qc.radius = 1
	for _, name := range []string{"aid", "bo-rep"} {
		m, err := New(name)
		require.NoError(t, err)
		require.ErrorContains(t, Solve(context.Background(), newOracle(t, qc.problem()), m, 1, nil), "lower-level constraints")
	}
	_, err := New("sgd")
	require.ErrorContains(t, err, `unknown bilevel_method "sgd"`)
	_, err = NewOracle(backend.MustDefault(), &Problem{Name: "p", X0: []float64{1}, Y0: []float64{math.Inf(1)}, Upper: q.problem().Upper, Lower: q.problem().Lower})
	require.ErrorContains(t, err, "Y0[0] = +Inf")
	_, err = NewOracle(backend.MustDefault(), &Problem{Name: "p", Y0: []float64{1}})
	require.ErrorContains(t, err, "X0 is empty")
	require.ErrorContains(t, Solve(context.Background(), newOracle(t, q.problem()), NewAID(DefaultAIDConfig()), -1, nil), "iterations = -1")
}

func TestDivergenceIsReported(t *testing.T) {
	q := newQuadratic()
	m := NewAID(AIDConfig{LowerSteps: 5, FixedPointSteps: 5, LowerLR: 5, FixedPointLR: 0.1, UpperLR: 0.1})
	err := Solve(context.Background(), newOracle(t, q.problem()), m, 200, nil)
	require.ErrorContains(t, err, "diverged")
}

func TestDetectionAUC(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	score := make([]float64, 60)
	bad := make([]bool, 60)
	for i := range score {
		score[i] = float64(r.IntN(7)) // many ties
		bad[i] = r.IntN(3) == 0
	}
	// Brute force: P(clean outranks corrupted) + ½P(tie).
	var wins, pairs float64
	for i := range score {
		for j := range score {
			if !bad[i] && bad[j] {
				pairs++
				switch {
				case score[i] > score[j]:
					wins++
				case score[i] == score[j]:
					wins += 0.5
				}
			}
		}
	}
	require.InDelta(t, wins/pairs, DetectionAUC(score, bad), 1e-12)
	require.Equal(t, 1.0, DetectionAUC([]float64{3, 4, 1}, []bool{false, false, true}))
	require.True(t, math.IsNaN(DetectionAUC([]float64{1, 2}, []bool{false, false})))
}

func TestCorruptLabels(t *testing.T) {
	tab, err := data.Builtin("digits")
	require.NoError(t, err)
	noisy, bad, err := CorruptLabels(tab, 0.4, 9)
	require.NoError(t, err)
	n := 0
	for i := range bad {
		if bad[i] {
			n++
			require.NotEqual(t, tab.Y[i], noisy.Y[i], "a corrupted label is another class")
		} else {
			require.Equal(t, tab.Y[i], noisy.Y[i])
		}
	}
	require.InDelta(t, 0.4, float64(n)/float64(tab.N), 0.04)
	again, _, err := CorruptLabels(tab, 0.4, 9)
	require.NoError(t, err)
	require.Equal(t, noisy.Y, again.Y, "deterministic by seed")
	_, _, err = CorruptLabels(tab, 1.5, 1)
	require.ErrorContains(t, err, "rate 1.5")
	reg, err := data.Builtin("diabetes")
	require.NoError(t, err)
	_, _, err = CorruptLabels(reg, 0.1, 1)
	require.ErrorContains(t, err, "classification")
}

func TestLogisticCleaningBall(t *testing.T) {
	tab, err := data.Builtin("iris")
	require.NoError(t, err)
	tr, va, err := tab.Split(0.3, 1)
	require.NoError(t, err)
	_, tr, others := data.Standardize(tr, false, va)
	_, err = LogisticCleaning(tr, others[0], 0, 0)
	require.ErrorContains(t, err, "mu = 0")
	_, err = LogisticCleaning(tr, others[0], 0.1, -1)
	require.ErrorContains(t, err, "radius = -1")
	p, err := LogisticCleaning(tr, others[0], 1e-3, 1.5)
	require.NoError(t, err)
	o := newOracle(t, p)
	m := NewLVHBA(DefaultLVHBAConfig())
	require.NoError(t, Solve(context.Background(), o, m, 50, func(int) error {
		require.LessOrEqual(t, norm(m.Y()), 1.5+1e-12, "projection keeps y in the ball")
		return nil
	}))
	acc, err := LogisticAccuracy(m.Y(), others[0])
	require.NoError(t, err)
	require.Greater(t, acc, 0.7, "a ball-constrained classifier still learns iris")
	_, err = LogisticAccuracy([]float64{1, 2}, others[0])
	require.ErrorContains(t, err, "y has 2 entries")
}
