package physics

import (
	"fmt"
	"math"
)

// Problem is 1-D diffusion-sorption (PDEBench; the PI-HC-MoE paper's 1-D benchmark) on a
// uniform nt × nx grid of (t, x) ∈ [0, T] × [0, 1]:
//
//	u_t = D / R(u) · u_xx,  R(u) = 1 + (1-φ)/φ · ρ_s · k_f · n_f · (u+1e-6)^(n_f-1)  (u > 0),
//	                        R(u) = 1 + (1-φ)/φ · ρ_s · k_f · n_f · 1e-6^(n_f-1)      (u ≤ 0),
//	u(0, x) = U0(x),  u(t, 0) = Left (t > 0),  u(t, 1) = D · u_x(t, 1)  (t > 0).
//
// Constants and the ε branch of R follow neptune/pdes/diffusion_sorption.py
// (compute_pde_residual, compute_boundary_conditions) of the official code.
// Grid values are stored t-major: index j·Nx + i for time j and space i.
type Problem struct {
	D, Porosity, RhoS, KF, NF float64
	T                         float64 // final time (PDEBench: 500 s)
	Left                      float64 // Dirichlet value at x = 0
	Nx, Nt                    int
	U0                        func(x float64) float64 // initial condition, must be > 0 (the IC residual is relative)
	// PDEScale multiplies the PDE residual rows (in the NLLS and the loss). 0 or 1 is the
	// official residual in physical time (u_t ~ 1/500 s⁻¹, so the IC/BC rows dominate);
	// T gives the residual in τ = t/T units, u_τ - T·D/R·u_xx, where the PDE rows weigh as
	// much as the boundary rows.
	PDEScale float64
}

// DiffusionSorption returns the PDEBench diffusion-sorption problem on an nt × nx grid, with
// the smooth initial condition u0(x) = 0.1 + 0.05·sin(πx) (PDEBench samples random initial
// fields; this package ships no data, so one fixed positive field is used).
func DiffusionSorption(nx, nt int) Problem {
	return Problem{D: 5e-4, Porosity: 0.29, RhoS: 2880, KF: 3.5e-4, NF: 0.874, T: 500, Left: 1, Nx: nx, Nt: nt,
		U0: func(x float64) float64 { return 0.1 + 0.05*math.Sin(math.Pi*x) }}
}

// Validate reports a bad configuration.
func (p Problem) Validate() error {
	switch {
	case p.Nx < 3 || p.Nt < 3:
		return fmt.Errorf("physics: grid %d × %d (nt × nx) too small, need at least 3 × 3", p.Nt, p.Nx)
	case !(p.D > 0):
		return fmt.Errorf("physics: diffusion coefficient D=%g, must be > 0", p.D)
	case !(p.T > 0):
		return fmt.Errorf("physics: final time T=%g, must be > 0", p.T)
	case p.Porosity <= 0 || p.Porosity > 1:
		return fmt.Errorf("physics: porosity %g, must be in (0, 1]", p.Porosity)
	case p.U0 == nil:
		return fmt.Errorf("physics: initial condition U0 is nil")
	}
	for i := range p.Nx {
		if u := p.U0(p.X(i)); !(u > 0) {
			return fmt.Errorf("physics: U0(%g)=%g, must be > 0 (the IC residual is relative)", p.X(i), u)
		}
	}
	return nil
}

// P is the number of grid points.
func (p Problem) P() int { return p.Nx * p.Nt }

// Dx and Dt are the grid spacings.
func (p Problem) Dx() float64 { return 1 / float64(p.Nx-1) }
func (p Problem) Dt() float64 { return p.T / float64(p.Nt-1) }

// X and Time are the coordinates of grid index i (space) and j (time).
func (p Problem) X(i int) float64    { return float64(i) * p.Dx() }
func (p Problem) Time(j int) float64 { return float64(j) * p.Dt() }

// Retardation returns R(u) and dR/du (0 on the ε branch u ≤ 0).
func (p Problem) Retardation(u float64) (r, dr float64) {
	c := (1 - p.Porosity) / p.Porosity * p.RhoS * p.KF * p.NF
	if u > 0 {
		pw := math.Pow(u+1e-6, p.NF-1)
		return 1 + c*pw, c * (p.NF - 1) * pw / (u + 1e-6)
	}
	return 1 + c*math.Pow(1e-6, p.NF-1), 0
}

// diff1 applies the official first-derivative stencil (neptune/pdes/finite_differences.py
// fdm_first_order_derivative: central inside, forward at the first and backward at the last
// point) along one axis of src (t-major grid × n channels) into dst. axis 0 is t, 1 is x.
// transpose applies the adjoint stencil, accumulating into dst.
func (p Problem) diff1(src, dst []float64, n, axis int, transpose bool) {
	length, stride, h := p.Nt, p.Nx*n, p.Dt()
	outer, inner := 1, p.Nx*n
	if axis == 1 {
		length, stride, h = p.Nx, n, p.Dx()
		outer, inner = p.Nt, n
	}
	if !transpose {
		clear(dst)
	}
	for o := range outer {
		for c := range inner {
			base := o*length*stride + c
			if axis == 0 {
				base = c
			}
			at := func(k int) int { return base + k*stride }
			if !transpose {
				dst[at(0)] = (src[at(1)] - src[at(0)]) / h
				dst[at(length-1)] = (src[at(length-1)] - src[at(length-2)]) / h
				for k := 1; k < length-1; k++ {
					dst[at(k)] = (src[at(k+1)] - src[at(k-1)]) / (2 * h)
				}
				continue
			}
			g0, gl := src[at(0)]/h, src[at(length-1)]/h
			dst[at(0)] -= g0
			dst[at(1)] += g0
			dst[at(length-1)] += gl
			dst[at(length-2)] -= gl
			for k := 1; k < length-1; k++ {
				g := src[at(k)] / (2 * h)
				dst[at(k+1)] += g
				dst[at(k-1)] -= g
			}
		}
	}
}
