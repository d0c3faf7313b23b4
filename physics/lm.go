package physics

import (
	"fmt"
	"math"
)

// LMOptions configure LevenbergMarquardt. The defaults (zero values) follow the official
// code's ConstraintConfig (neptune/models/constraints/constraint_utils.py:13-16: atol = rtol =
// 1e-4, maxiter 100, damping_parameter 1).
type LMOptions struct {
	MaxIter    int
	RTol, ATol float64
	Lambda0    float64
}

func (o LMOptions) withDefaults() LMOptions {
	if o.MaxIter <= 0 {
		o.MaxIter = 100
	}
	if o.RTol <= 0 {
		o.RTol = 1e-4
	}
	if o.ATol <= 0 {
		o.ATol = 1e-4
	}
	if o.Lambda0 <= 0 {
		o.Lambda0 = 1
	}
	return o
}

// LMResult is the outcome of a solve.
type LMResult struct {
	X         []float64
	Cost      float64 // ½‖r(X)‖²
	Iters     int
	Converged bool
}

// ResidualFunc returns r(x) (length m) and its Jacobian (m × n, row-major).
type ResidualFunc func(x []float64) (r, jac []float64)

// LevenbergMarquardt minimises ½‖r(x)‖² from x0 in float64: each step solves
// (JᵀJ + λI) δ = -Jᵀr, accepts it when the cost drops (λ ← λ/3) and otherwise raises λ ← 10λ.
// It stops when an accepted step satisfies |δ_i| ≤ atol + rtol·|x_i| for every i (the
// Cauchy-type termination of optimistix, which the official code calls).
func LevenbergMarquardt(f ResidualFunc, x0 []float64, opts LMOptions) (LMResult, error) {
	opts = opts.withDefaults()
	n := len(x0)
	x := append([]float64(nil), x0...)
	r, jac := f(x)
	if len(jac) != len(r)*n {
		return LMResult{}, fmt.Errorf("physics: LM Jacobian has %d entries, want %d×%d", len(jac), len(r), n)
	}
	cost := 0.5 * dot(r, r)
	lambda := opts.Lambda0
	a, g := make([]float64, n*n), make([]float64, n)
	res := LMResult{}
	for res.Iters = 1; res.Iters <= opts.MaxIter; res.Iters++ {
		normalEquations(jac, r, n, a, g)
		for i := range n {
			a[i*n+i] += lambda
			g[i] = -g[i]
		}
		delta, err := cholSolve(a, g, n)
		if err != nil {
			lambda *= 10
			continue
		}
		xn := make([]float64, n)
		for i := range n {
			xn[i] = x[i] + delta[i]
		}
		small := true
		for i := range n {
			if math.Abs(delta[i]) > opts.ATol+opts.RTol*math.Abs(xn[i]) {
				small = false
			}
		}
		rn, jn := f(xn)
		cn := 0.5 * dot(rn, rn)
		if !(cn <= cost) || math.IsNaN(cn) {
			if small && lambda <= opts.Lambda0 {
				// A step under tolerance that cannot lower the cost: x is at the minimum to
				// rounding.
				res.Converged = true
				break
			}
			lambda *= 10
			if lambda > 1e16 {
				break
			}
			continue
		}
		x, r, jac, cost = xn, rn, jn, cn
		lambda = max(lambda/3, 1e-12)
		if small {
			res.Converged = true
			break
		}
	}
	res.Iters = min(res.Iters, opts.MaxIter)
	res.X, res.Cost = x, cost
	return res, nil
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// normalEquations sets a = JᵀJ and g = Jᵀr.
func normalEquations(jac, r []float64, n int, a, g []float64) {
	clear(a)
	clear(g)
	for row := range r {
		jr := jac[row*n : (row+1)*n]
		for i, ji := range jr {
			if ji == 0 {
				continue
			}
			g[i] += ji * r[row]
			ai := a[i*n:]
			for k := i; k < n; k++ {
				ai[k] += ji * jr[k]
			}
		}
	}
	for i := range n {
		for k := 0; k < i; k++ {
			a[i*n+k] = a[k*n+i]
		}
	}
}

// cholSolve solves a x = b for a symmetric positive definite n × n a (not modified).
func cholSolve(a, b []float64, n int) ([]float64, error) {
	l := make([]float64, n*n)
	for i := range n {
		for k := 0; k <= i; k++ {
			s := a[i*n+k]
			for m := range k {
				s -= l[i*n+m] * l[k*n+m]
			}
			if i == k {
				if !(s > 0) {
					return nil, fmt.Errorf("physics: matrix not positive definite (pivot %d = %g)", i, s)
				}
				l[i*n+i] = math.Sqrt(s)
			} else {
				l[i*n+k] = s / l[k*n+k]
			}
		}
	}
	y := make([]float64, n)
	for i := range n {
		s := b[i]
		for m := range i {
			s -= l[i*n+m] * y[m]
		}
		y[i] = s / l[i*n+i]
	}
	for i := n - 1; i >= 0; i-- {
		s := y[i]
		for m := i + 1; m < n; m++ {
			s -= l[m*n+i] * y[m]
		}
		y[i] = s / l[i*n+i]
	}
	return y, nil
}
