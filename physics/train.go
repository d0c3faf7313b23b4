package physics

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Method is how the network's output becomes u.
type Method int

const (
	// Soft is PI-SC: u = Σ_k w_k φ_k with w trained jointly with the network by the physics
	// loss (the soft-constraint PINN baseline).
	Soft Method = iota
	// Hard is PI-HC / PI-HC-MoE: w* from the per-expert NLLS, gradients by the IFT.
	Hard
)

// TrainConfig is one training run.
type TrainConfig struct {
	Method Method
	HC     HardConstraint // Hard only
	Basis  int            // N basis functions (network outputs)
	Hidden int            // MLP width
	Steps  int
	LR     float64 // Adam learning rate (official 1e-3)
	Clip   float64 // clip by global norm (official 1.0)
	Seed   uint64
}

// TrainResult is the outcome of a run.
type TrainResult struct {
	RelL2       float64   // ‖u - u_ref‖₂ / ‖u_ref‖₂
	PDEResidual float64   // RMS of the PDE residual u_t - D/R·u_xx over the grid (physical units)
	Loss        float64   // final physics loss
	MsPerStep   float64   // median step time
	LossCurve   []float64 // physics loss per step
	MeanLMIters float64   // mean LM iterations per expert solve (Hard)
	NotConv     int       // expert solves that hit MaxIter (Hard)
	U           []float64
}

// Train fits the basis network to the physics loss and scores it against ref.
func Train(ctx context.Context, prob *Problem, ref []float64, cfg TrainConfig) (*TrainResult, error) {
	if err := prob.Validate(); err != nil {
		return nil, err
	}
	if cfg.Basis < 1 || cfg.Hidden < 1 || cfg.Steps < 1 {
		return nil, fmt.Errorf("physics: basis=%d hidden=%d steps=%d, all must be ≥ 1", cfg.Basis, cfg.Hidden, cfg.Steps)
	}
	if len(ref) != prob.P() {
		return nil, fmt.Errorf("physics: reference has %d values, want %d", len(ref), prob.P())
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	net := NewMLP(2, cfg.Hidden, cfg.Basis, rng)
	x := make([]float64, 2*prob.P())
	for j := range prob.Nt {
		for i := range prob.Nx {
			pt := j*prob.Nx + i
			x[2*pt], x[2*pt+1] = prob.X(i), float64(j)/float64(prob.Nt-1)
		}
	}
	n := cfg.Basis
	// Soft: the trainable combination weights ride at the end of the parameter vector.
	params := net.Params
	if cfg.Method == Soft {
		params = append(append([]float64(nil), net.Params...), make([]float64, n)...)
		for k := range n {
			params[len(net.Params)+k] = 1 / float64(n)
		}
		net.Params = params[:len(net.Params)]
	}
	opt := &Adam{LR: cfg.LR, Clip: cfg.Clip}
	res := &TrainResult{}
	times := make([]float64, 0, cfg.Steps)
	solves, iters := 0, 0
	for step := range cfg.Steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		phi, cache := net.Forward(x)
		b, err := NewBasis(prob, phi, n)
		if err != nil {
			return nil, err
		}
		var w [][]float64
		var sol *Solution
		if cfg.Method == Soft {
			w = [][]float64{params[len(net.Params):]}
		} else {
			rows, err := cfg.HC.SampleRows(prob, rng)
			if err != nil {
				return nil, err
			}
			if sol, err = cfg.HC.Solve(b, rows); err != nil {
				return nil, err
			}
			w = sol.W
			for e := range sol.Iters {
				solves++
				iters += sol.Iters[e]
				if !sol.Conv[e] {
					res.NotConv++
				}
			}
		}
		loss, _, gf, gw := Loss(b, w, true)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("physics: loss diverged to %g at step %d", loss, step)
		}
		res.LossCurve = append(res.LossCurve, loss)
		if sol != nil {
			if err := sol.Backward(gw, gf); err != nil {
				return nil, err
			}
		}
		gphi := gf.ToPhi(prob, n)
		grad := net.Backward(cache, gphi)
		if cfg.Method == Soft {
			grad = append(grad, gw[0]...)
		}
		opt.Step(params, grad)
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
	}
	// Final evaluation with the trained network (a fresh solve for Hard).
	phi, _ := net.Forward(x)
	b, err := NewBasis(prob, phi, n)
	if err != nil {
		return nil, err
	}
	var w [][]float64
	if cfg.Method == Hard {
		rows, err := cfg.HC.SampleRows(prob, rng)
		if err != nil {
			return nil, err
		}
		sol, err := cfg.HC.Solve(b, rows)
		if err != nil {
			return nil, err
		}
		w = sol.W
	} else {
		w = [][]float64{params[len(net.Params):]}
	}
	loss, pde, _, _ := Loss(b, w, false)
	res.Loss, res.PDEResidual = loss, math.Sqrt(pde)
	if prob.PDEScale != 0 {
		res.PDEResidual /= math.Abs(prob.PDEScale) // always reported in physical units
	}
	res.U = U(b, w)
	res.RelL2 = RelL2(res.U, ref)
	res.MsPerStep = median(times)
	if solves > 0 {
		res.MeanLMIters = float64(iters) / float64(solves)
	}
	return res, nil
}

// RelL2 is ‖u - ref‖₂ / ‖ref‖₂ (the official metric).
func RelL2(u, ref []float64) float64 {
	num, den := 0.0, 0.0
	for i := range u {
		d := u[i] - ref[i]
		num += d * d
		den += ref[i] * ref[i]
	}
	return math.Sqrt(num / den)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2]
}
