package physics

import (
	"fmt"
	"math/rand/v2"
)

// Basis holds N basis functions φ_k on the grid and their finite-difference derivatives,
// computed once on the full grid before any partition into experts (as the official code
// does: compute_pde_residual_terms on each basis image, then reweighting by w is a matvec).
// All slices are P × N, t-major.
type Basis struct {
	N                int
	Phi, Pt, Px, Pxx []float64
	prob             *Problem
}

// NewBasis computes the derivatives of phi (P × N) on prob's grid: φ_t with the official
// first-derivative stencil in t, φ_x in x, and φ_xx as that stencil applied twice
// (diffusion_sorption.py compute_pde_residual_terms).
func NewBasis(prob *Problem, phi []float64, n int) (*Basis, error) {
	if n <= 0 || len(phi) != prob.P()*n {
		return nil, fmt.Errorf("physics: basis has %d values, want P×N = %d×%d", len(phi), prob.P(), n)
	}
	b := &Basis{N: n, Phi: phi, prob: prob, Pt: make([]float64, len(phi)), Px: make([]float64, len(phi)), Pxx: make([]float64, len(phi))}
	prob.diff1(phi, b.Pt, n, 0, false)
	prob.diff1(phi, b.Px, n, 1, false)
	prob.diff1(b.Px, b.Pxx, n, 1, false)
	return b, nil
}

// BasisGrad accumulates a gradient with respect to the basis features.
type BasisGrad struct{ Phi, Pt, Px, Pxx []float64 }

func newBasisGrad(size int) *BasisGrad {
	return &BasisGrad{make([]float64, size), make([]float64, size), make([]float64, size), make([]float64, size)}
}

// ToPhi folds the derivative gradients back onto φ through the adjoint stencils.
func (g *BasisGrad) ToPhi(prob *Problem, n int) []float64 {
	out := append([]float64(nil), g.Phi...)
	prob.diff1(g.Pt, out, n, 0, true)
	dpx := append([]float64(nil), g.Px...)
	prob.diff1(g.Pxx, dpx, n, 1, true)
	prob.diff1(dpx, out, n, 1, true)
	return out
}

// RowKind is the kind of one residual row.
type RowKind int

const (
	RowPDE   RowKind = iota // u_t - D/R(u) u_xx
	RowIC                   // (u - u0)/u0 at t = 0
	RowLeft                 // u - Left at x = 0, t > 0
	RowRight                // u - D u_x at x = 1, t > 0
)

// Row is one residual at grid point Point.
type Row struct {
	Kind  RowKind
	Point int
}

// eval returns the residual of row with weights w and its partials with respect to
// (u, u_t, u_x, u_xx).
func (b *Basis) eval(row Row, w []float64) (r float64, g [4]float64) {
	p, n := b.prob, b.N
	off := row.Point * n
	var u, ut, ux, uxx float64
	for k := range n {
		u += b.Phi[off+k] * w[k]
	}
	switch row.Kind {
	case RowPDE:
		for k := range n {
			ut += b.Pt[off+k] * w[k]
			uxx += b.Pxx[off+k] * w[k]
		}
		rr, dr := p.Retardation(u)
		sc := p.PDEScale
		if sc == 0 {
			sc = 1
		}
		return sc * (ut - p.D/rr*uxx), [4]float64{sc * p.D * uxx * dr / (rr * rr), sc, 0, -sc * p.D / rr}
	case RowIC:
		u0 := p.U0(p.X(row.Point % p.Nx))
		return (u - u0) / u0, [4]float64{1 / u0, 0, 0, 0}
	case RowLeft:
		return u - p.Left, [4]float64{1, 0, 0, 0}
	default:
		for k := range n {
			ux += b.Px[off+k] * w[k]
		}
		return u - p.D*ux, [4]float64{1, 0, -p.D, 0}
	}
}

// jacRow writes ∂r/∂w for partials g at point into dst.
func (b *Basis) jacRow(point int, g [4]float64, dst []float64) {
	off := point * b.N
	for k := range b.N {
		dst[k] = g[0]*b.Phi[off+k] + g[1]*b.Pt[off+k] + g[2]*b.Px[off+k] + g[3]*b.Pxx[off+k]
	}
}

// vjpFeatures accumulates a·∂r/∂(features) of row (evaluated at w) into grad.
func (b *Basis) vjpFeatures(row Row, w []float64, a float64, grad *BasisGrad) {
	_, g := b.eval(row, w)
	off := row.Point * b.N
	for k := range b.N {
		wk := a * w[k]
		grad.Phi[off+k] += g[0] * wk
		grad.Pt[off+k] += g[1] * wk
		grad.Px[off+k] += g[2] * wk
		grad.Pxx[off+k] += g[3] * wk
	}
}

// BoundaryRows returns the IC and BC rows of the whole grid (replicated to every expert for
// diffusion-sorption, as in the official MoE).
func (p Problem) BoundaryRows() []Row {
	var rows []Row
	for i := range p.Nx {
		rows = append(rows, Row{RowIC, i})
	}
	for j := 1; j < p.Nt; j++ {
		rows = append(rows, Row{RowLeft, j * p.Nx})
	}
	for j := 1; j < p.Nt; j++ {
		rows = append(rows, Row{RowRight, j*p.Nx + p.Nx - 1})
	}
	return rows
}

// Expert returns the expert that owns grid point: the fixed uniform split of x into k chunks
// (neptune/models/MoE/spatial_temporal_router.py, num_experts [1, K]: 1 chunk in t, K in x).
func (p Problem) Expert(point, k int) int { return (point % p.Nx) * k / p.Nx }

// Ridge is the official ridge weight (diffusion_sorption.py vector_objective_function).
const Ridge = 1e-4

// system is one expert's NLLS: its rows plus the ridge rows Ridge·w.
type system struct {
	b    *Basis
	rows []Row
}

func (s system) residual(w []float64) (r, jac []float64) {
	n := s.b.N
	m := len(s.rows) + n
	r, jac = make([]float64, m), make([]float64, m*n)
	for i, row := range s.rows {
		v, g := s.b.eval(row, w)
		r[i] = v
		s.b.jacRow(row.Point, g, jac[i*n:(i+1)*n])
	}
	for k := range n {
		r[len(s.rows)+k] = Ridge * w[k]
		jac[(len(s.rows)+k)*n+k] = Ridge
	}
	return r, jac
}

// HardConstraint is the PI-HC / PI-HC-MoE layer: u = Σ_k w_k φ_k, w* = argmin ‖r(w)‖² per
// expert (Chalapathi et al. 2024, Eq. 3-4 and §3.2).
type HardConstraint struct {
	Experts int       // K experts along x (1: the global PI-HC)
	Samples int       // sampled interior PDE points per expert
	LM      LMOptions // solver settings
}

// Solution is a forward solve.
type Solution struct {
	W     [][]float64 // K × N weights
	Rows  [][]Row     // each expert's NLLS rows (without ridge)
	Iters []int
	Conv  []bool
	basis *Basis
	hc    HardConstraint
}

// SampleRows draws each expert's PDE points (without replacement inside its chunk, all t) and
// appends the global boundary rows.
func (hc HardConstraint) SampleRows(p *Problem, rng *rand.Rand) ([][]Row, error) {
	if hc.Experts < 1 || hc.Experts > p.Nx {
		return nil, fmt.Errorf("physics: %d experts, must be in [1, Nx=%d]", hc.Experts, p.Nx)
	}
	chunks := make([][]int, hc.Experts)
	for pt := range p.P() {
		e := p.Expert(pt, hc.Experts)
		chunks[e] = append(chunks[e], pt)
	}
	bnd := p.BoundaryRows()
	out := make([][]Row, hc.Experts)
	for e, pts := range chunks {
		if hc.Samples < 1 || hc.Samples > len(pts) {
			return nil, fmt.Errorf("physics: %d sampled points per expert, must be in [1, %d] (points in expert %d's chunk)", hc.Samples, len(pts), e)
		}
		perm := rng.Perm(len(pts))[:hc.Samples]
		for _, q := range perm {
			out[e] = append(out[e], Row{RowPDE, pts[q]})
		}
		out[e] = append(out[e], bnd...)
	}
	return out, nil
}

// Solve runs one LM solve per expert from w = 1 (the official initialisation for
// diffusion-sorption).
func (hc HardConstraint) Solve(b *Basis, rows [][]Row) (*Solution, error) {
	sol := &Solution{Rows: rows, basis: b, hc: hc}
	for _, rs := range rows {
		w0 := make([]float64, b.N)
		for k := range w0 {
			w0[k] = 1
		}
		res, err := LevenbergMarquardt(system{b, rs}.residual, w0, hc.LM)
		if err != nil {
			return nil, err
		}
		sol.W = append(sol.W, res.X)
		sol.Iters = append(sol.Iters, res.Iters)
		sol.Conv = append(sol.Conv, res.Converged)
	}
	return sol, nil
}

// U returns the stitched solution on the grid: u(p) = φ(p)·w_{e(p)}.
func U(b *Basis, w [][]float64) []float64 {
	p := b.prob
	u := make([]float64, p.P())
	for pt := range u {
		we := w[p.Expert(pt, len(w))]
		for k := range b.N {
			u[pt] += b.Phi[pt*b.N+k] * we[k]
		}
	}
	return u
}

// LossRows are the physics-loss rows: the PDE at every grid point, the IC and both BCs.
func (p Problem) LossRows() [4][]Row {
	var out [4][]Row
	for pt := range p.P() {
		out[RowPDE] = append(out[RowPDE], Row{RowPDE, pt})
	}
	for _, r := range p.BoundaryRows() {
		out[r.Kind] = append(out[r.Kind], r)
	}
	return out
}

// Loss is the physics loss Σ_groups mean(r²) over LossRows (weights IC = BC = PDE = 1, data 0,
// the official ds.yaml), each row evaluated with its owning expert's weights. It returns the
// loss, the PDE part (mean squared residual) and, when wantGrad, the gradients with respect to
// the basis features (at fixed w) and to each expert's w.
func Loss(b *Basis, w [][]float64, wantGrad bool) (loss, pde float64, gf *BasisGrad, gw [][]float64) {
	p := b.prob
	k := len(w)
	if wantGrad {
		gf = newBasisGrad(len(b.Phi))
		gw = make([][]float64, k)
		for e := range gw {
			gw[e] = make([]float64, b.N)
		}
	}
	jr := make([]float64, b.N)
	for gi, rows := range p.LossRows() {
		s := 0.0
		for _, row := range rows {
			we := w[p.Expert(row.Point, k)]
			r, g := b.eval(row, we)
			s += r * r
			if wantGrad {
				a := 2 * r / float64(len(rows))
				b.vjpFeatures(row, we, a, gf)
				b.jacRow(row.Point, g, jr)
				ge := gw[p.Expert(row.Point, k)]
				for j := range jr {
					ge[j] += a * jr[j]
				}
			}
		}
		s /= float64(len(rows))
		loss += s
		if RowKind(gi) == RowPDE {
			pde = s
		}
	}
	return loss, pde, gf, gw
}

// Backward adds to grad the implicit-function-theorem gradient of a loss through w*: given
// dL/dw*_e for each expert, at the optimum g(w, φ) = Jᵀr = 0, so
//
//	dL/dφ = -∂/∂φ [vᵀ Jᵀ r],  v = (JᵀJ)⁻¹ dL/dw*   (Gauss-Newton ∂g/∂w ≈ JᵀJ, as the seed notes),
//
// with ∂/∂φ[(Jv)ᵀ r] = (Jv)ᵀ ∂r/∂φ + d/dε rᵀ ∂r(w*+εv)/∂φ; the second (curvature of r in w)
// term is taken by a central difference in ε. The gradient is computed on the host in float64
// (no backprop through LM iterations, as optimistix's ImplicitAdjoint).
func (sol *Solution) Backward(gw [][]float64, grad *BasisGrad) error {
	b := sol.basis
	n := b.N
	a, g := make([]float64, n*n), make([]float64, n)
	for e, rows := range sol.Rows {
		sys := system{b, rows}
		w := sol.W[e]
		r, jac := sys.residual(w)
		normalEquations(jac, r, n, a, g)
		v, err := cholSolve(a, gw[e], n)
		if err != nil {
			return fmt.Errorf("physics: IFT solve of expert %d: %w", e, err)
		}
		// jv = J v (rows only, the ridge rows do not depend on φ).
		vn, wn := 0.0, 0.0
		for k := range n {
			vn = max(vn, abs(v[k]))
			wn = max(wn, abs(w[k]))
		}
		for i, row := range rows {
			jv := dot(jac[i*n:(i+1)*n], v)
			b.vjpFeatures(row, w, -jv, grad)
		}
		if vn == 0 {
			continue
		}
		eps := 1e-6 * max(1, wn) / vn
		wp, wm := make([]float64, n), make([]float64, n)
		for k := range n {
			wp[k], wm[k] = w[k]+eps*v[k], w[k]-eps*v[k]
		}
		for i, row := range rows {
			c := -r[i] / (2 * eps)
			b.vjpFeatures(row, wp, c, grad)
			b.vjpFeatures(row, wm, -c, grad)
		}
	}
	return nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
