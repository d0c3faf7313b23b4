package physics

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLevenbergMarquardt(t *testing.T) {
	// Linear least squares: r = A x - b, closed form x = (AᵀA)⁻¹Aᵀb.
	a := []float64{1, 2, 3, 4, 5, 7, 2, -1}
	bv := []float64{1, 0, 2, -3}
	linear := func(x []float64) ([]float64, []float64) {
		r := make([]float64, 4)
		for i := range 4 {
			r[i] = a[2*i]*x[0] + a[2*i+1]*x[1] - bv[i]
		}
		return r, append([]float64(nil), a...)
	}
	ata, atb := make([]float64, 4), make([]float64, 2)
	normalEquations(a, bv, 2, ata, atb)
	want, err := cholSolve(ata, atb, 2)
	require.NoError(t, err)
	// Rosenbrock as least squares: r = (10(y - x²), 1 - x), minimum (1, 1).
	rosen := func(x []float64) ([]float64, []float64) {
		return []float64{10 * (x[1] - x[0]*x[0]), 1 - x[0]}, []float64{-20 * x[0], 10, -1, 0}
	}
	for _, tc := range []struct {
		name string
		f    ResidualFunc
		x0   []float64
		want []float64
	}{
		{"linear", linear, []float64{5, -5}, want},
		{"rosenbrock", rosen, []float64{-1.2, 1}, []float64{1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := LevenbergMarquardt(tc.f, tc.x0, LMOptions{RTol: 1e-12, ATol: 1e-12, MaxIter: 500})
			require.NoError(t, err)
			require.True(t, res.Converged, "iters %d", res.Iters)
			require.InDeltaSlice(t, tc.want, res.X, 1e-8)
		})
	}
}

func TestDiffAdjoint(t *testing.T) {
	p := DiffusionSorption(7, 5)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, axis := range []int{0, 1} {
		u, v := make([]float64, p.P()*3), make([]float64, p.P()*3)
		for i := range u {
			u[i], v[i] = rng.NormFloat64(), rng.NormFloat64()
		}
		du, dtv := make([]float64, len(u)), make([]float64, len(u))
		p.diff1(u, du, 3, axis, false)
		p.diff1(v, dtv, 3, axis, true)
		require.InDelta(t, dot(du, v), dot(u, dtv), 1e-9*math.Abs(dot(du, v))+1e-9, "axis %d", axis)
	}
	// The stencil is exact on a linear function.
	lin := make([]float64, p.P())
	for j := range p.Nt {
		for i := range p.Nx {
			lin[j*p.Nx+i] = 3*p.X(i) + 0.5*p.Time(j)
		}
	}
	dx, dt := make([]float64, p.P()), make([]float64, p.P())
	p.diff1(lin, dx, 1, 1, false)
	p.diff1(lin, dt, 1, 0, false)
	for i := range dx {
		require.InDelta(t, 3, dx[i], 1e-9)
		require.InDelta(t, 0.5, dt[i], 1e-9)
	}
}

// tinyLoss is the full hard-constraint loss as a function of φ (for finite differences).
func tinyLoss(t *testing.T, p *Problem, hc HardConstraint, rows [][]Row, phi []float64, n int) (float64, *Solution, *Basis) {
	b, err := NewBasis(p, phi, n)
	require.NoError(t, err)
	sol, err := hc.Solve(b, rows)
	require.NoError(t, err)
	l, _, _, _ := Loss(b, sol.W, false)
	return l, sol, b
}

func TestIFTGradient(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kf      float64 // 0: linear PDE (R = 1), the IFT with JᵀJ is exact; else Gauss-Newton (drops Σ r·∇²r)
		experts int
		tol     float64
	}{
		{"linear-global", 0, 1, 1e-7},
		{"linear-moe", 0, 2, 1e-7},
		{"sorption-moe", 3.5e-4, 2, 2e-3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DiffusionSorption(8, 6)
			p.KF = tc.kf
			p.T = 5 // a short horizon keeps u_t comparable with the boundary rows
			n := 3
			hc := HardConstraint{Experts: tc.experts, Samples: 20, LM: LMOptions{RTol: 1e-11, ATol: 1e-11, MaxIter: 500, Lambda0: 1e-6}}
			rng := rand.New(rand.NewPCG(3, 4))
			rows, err := hc.SampleRows(&p, rng)
			require.NoError(t, err)
			phi := make([]float64, p.P()*n)
			for i := range phi {
				phi[i] = 0.5 + 0.3*rng.NormFloat64()
			}
			_, sol, b := tinyLoss(t, &p, hc, rows, phi, n)
			for e, c := range sol.Conv {
				require.True(t, c, "expert %d: %d LM iterations", e, sol.Iters[e])
			}
			_, _, gf, gw := Loss(b, sol.W, true)
			require.NoError(t, sol.Backward(gw, gf))
			grad := gf.ToPhi(&p, n)
			maxErr, scale := 0.0, 0.0
			for _, idx := range []int{0, 5, 17, 40, 77, 101, 130, p.P()*n - 1} {
				h := 1e-6
				pp := append([]float64(nil), phi...)
				pp[idx] += h
				lp, _, _ := tinyLoss(t, &p, hc, rows, pp, n)
				pp[idx] -= 2 * h
				lm, _, _ := tinyLoss(t, &p, hc, rows, pp, n)
				fd := (lp - lm) / (2 * h)
				maxErr = max(maxErr, math.Abs(fd-grad[idx]))
				scale = max(scale, math.Abs(fd))
			}
			require.Greater(t, scale, 0.0)
			t.Logf("max |IFT - FD| / max |FD| = %.3g", maxErr/scale)
			require.Less(t, maxErr/scale, tc.tol, "max |IFT - FD| = %g, max |FD| = %g", maxErr, scale)
		})
	}
}

func TestReferenceConverges(t *testing.T) {
	// Linear diffusion (no sorption, D = 0.002) so the solution is smooth; self-convergence
	// against a 16× refined solve: the error should drop ≈ 4× per halving of h (2nd order).
	p := DiffusionSorption(9, 5)
	p.KF, p.D, p.T = 0, 0.002, 100
	p.U0 = func(x float64) float64 { return 1 - 0.5*x*x }
	fine, err := p.Reference(16)
	require.NoError(t, err)
	var errs []float64
	for _, r := range []int{1, 2, 4} {
		u, err := p.Reference(r)
		require.NoError(t, err)
		errs = append(errs, RelL2(u, fine))
	}
	t.Logf("errors %v", errs)
	for i := 1; i < len(errs); i++ {
		require.Greater(t, errs[i-1]/errs[i], 3.5, "errors %v", errs)
	}
	_, err = p.Reference(0)
	require.ErrorContains(t, err, "refine=0")
}

func TestMoEWithOneExpertIsGlobal(t *testing.T) {
	p := DiffusionSorption(16, 8)
	n := 4
	rng := rand.New(rand.NewPCG(5, 6))
	phi := make([]float64, p.P()*n)
	for i := range phi {
		phi[i] = 0.5 + 0.2*rng.NormFloat64()
	}
	b, err := NewBasis(&p, phi, n)
	require.NoError(t, err)
	hc := HardConstraint{Experts: 1, Samples: 60}
	rows, err := hc.SampleRows(&p, rand.New(rand.NewPCG(7, 8)))
	require.NoError(t, err)
	sol, err := hc.Solve(b, rows)
	require.NoError(t, err)
	// The global PI-HC assembled by hand: the same sampled PDE rows and all IC/BC rows.
	global := append([]Row(nil), rows[0][:60]...)
	global = append(global, p.BoundaryRows()...)
	w0 := []float64{1, 1, 1, 1}
	res, err := LevenbergMarquardt(system{b, global}.residual, w0, LMOptions{})
	require.NoError(t, err)
	require.Equal(t, res.X, sol.W[0])
	require.Equal(t, U(b, [][]float64{res.X}), U(b, sol.W))
	// Every sampled PDE point lies in the expert's chunk.
	hc.Experts, hc.Samples = 4, 20
	rows4, err := hc.SampleRows(&p, rand.New(rand.NewPCG(7, 8)))
	require.NoError(t, err)
	for e, rs := range rows4 {
		for _, r := range rs[:20] {
			require.Equal(t, e, p.Expert(r.Point, 4))
		}
	}
}

func TestBadInput(t *testing.T) {
	p := DiffusionSorption(8, 4)
	for _, tc := range []struct {
		hc   HardConstraint
		want string
	}{
		{HardConstraint{Experts: 0, Samples: 4}, "0 experts"},
		{HardConstraint{Experts: 2, Samples: 100}, "100 sampled points"},
	} {
		_, err := tc.hc.SampleRows(&p, rand.New(rand.NewPCG(1, 1)))
		require.ErrorContains(t, err, tc.want)
	}
	bad := p
	bad.U0 = func(float64) float64 { return 0 }
	require.ErrorContains(t, bad.Validate(), "must be > 0")
	_, err := Train(context.Background(), &p, make([]float64, p.P()), TrainConfig{Basis: 0, Hidden: 4, Steps: 1})
	require.ErrorContains(t, err, "basis=0")
}
