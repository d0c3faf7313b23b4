package physics

import (
	"fmt"
	"math"
)

// Reference solves the problem by explicit finite differences (method of lines, forward
// Euler) on a grid refined refine times in x, and returns u on the problem's nt × nx grid
// (t-major). Interior: u_i += dt·D/R(u_i)·(u_{i+1} - 2u_i + u_{i-1})/h². Left: u = Left for
// t > 0. Right: u = D·u_x with the second-order one-sided difference
// u_x ≈ (3u_N - 4u_{N-1} + u_{N-2})/(2h). The time step is 0.4·h²/D (R ≥ 1, so stable).
// This is the ground truth of the benchmark (PDEBench's own data uses a finite-volume solver;
// no data is downloaded here).
func (p Problem) Reference(refine int) ([]float64, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if refine < 1 {
		return nil, fmt.Errorf("physics: refine=%d, must be ≥ 1", refine)
	}
	nf := (p.Nx-1)*refine + 1
	h := 1 / float64(nf-1)
	den := 1 - 3*p.D/(2*h)
	if math.Abs(den) < 1e-3 {
		return nil, fmt.Errorf("physics: refine=%d puts h=%g at 3D/2 where the right boundary is singular; pick another", refine, h)
	}
	interval := p.Dt()
	sub := int(math.Ceil(interval / (0.4 * h * h / p.D)))
	dt := interval / float64(sub)
	u := make([]float64, nf)
	for i := range u {
		u[i] = p.U0(float64(i) * h)
	}
	out := make([]float64, p.P())
	for i := range p.Nx {
		out[i] = u[i*refine]
	}
	next := make([]float64, nf)
	for j := 1; j < p.Nt; j++ {
		for range sub {
			for i := 1; i < nf-1; i++ {
				r, _ := p.Retardation(u[i])
				next[i] = u[i] + dt*p.D/r*(u[i+1]-2*u[i]+u[i-1])/(h*h)
			}
			next[0] = p.Left
			next[nf-1] = p.D * (-4*next[nf-2] + next[nf-3]) / (2 * h) / den
			u, next = next, u
		}
		for i := range p.Nx {
			out[j*p.Nx+i] = u[i*refine]
		}
	}
	return out, nil
}
