package certified

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/graph"
)

// Warm-up regularizers of Shi et al. (2021, §3.3, Eqs. 9–12), restated from the official
// regularization.py (compute_reg, lines 59–145 of Fast-Certified-Robust-Training HEAD):
//
//	tightness_0 = mean((u0 − l0)/2) over the input box                                (line 71)
//	for every ReLU, with [l, u] its pre-activation bounds, c = (u+l)/2:
//	  L_tight += relu(τ − tightness_0 / max(mean((u−l)/2), 1e-12)) / τ              (line 84)
//	  act = l > 0, inact = u < 0 (masks; means are over ALL entries)                (line 89)
//	  mean_ratio = mean(c·act) / −mean(c·inact)                                     (lines 90–96)
//	  var_ratio  = Σ (c − mean c)²·act / Σ (c − mean c)²·inact                       (lines 92–97)
//	  a = min(mean_ratio, 1/max(mean_ratio, 1e-12)), v likewise                      (lines 98–99)
//	  L_relu += (relu(τ − a) + relu(τ − v)) / τ, skipped when NaN or ±Inf            (lines 100–104)
//	L_tight /= m, L_relu /= m (m = number of ReLU layers)                           (lines 125–127)
//	L_reg = L_tight + L_relu (default --reg-obj relu tightness, argparser.py:9)
//	loss += λ0·(1 − ε_t/ε_max)·L_reg with λ0 = 0.5 (--reg-lambda, argparser.py:10)   (lines 140–143)
//	τ = 0.5 (--tol, argparser.py:18); the regularizer is on for epochs
//	t ≤ start + length − 1 of the eps schedule (argparser.py:104–108, train.py:60).
//
// The masked means and sums multiply by the boolean masks, so the gradient flows through c
// only (the masks are piecewise constant), as in PyTorch.

// Regularizers returns (L_tightness, L_relu) for the input box and the pre-activation
// bounds of every ReLU layer, each a scalar averaged over the layers. tau must be > 0 and
// preReLU non-empty.
func Regularizers(input Bounds, preReLU []Bounds, tau float64) (tight, reluBal *graph.Node, err error) {
	if !(tau > 0) {
		return nil, nil, fmt.Errorf("certified: tau=%g, want tau > 0", tau)
	}
	if len(preReLU) == 0 {
		return nil, nil, fmt.Errorf("certified: no ReLU layers given, want at least one pre-activation bound")
	}
	g := input.Lower.Graph()
	dt := input.Lower.DType()
	_, r0 := input.centreRadius()
	tight0 := graph.ReduceAllMean(r0)
	tight = graph.ScalarZero(g, dt)
	reluBal = graph.ScalarZero(g, dt)
	zero := graph.ScalarZero(g, dt)
	hinge := func(x *graph.Node) *graph.Node { // relu(τ − x)/τ
		return graph.DivScalar(graph.Max(graph.Sub(graph.Scalar(g, dt, tau), x), zero), tau)
	}
	symRatio := func(x *graph.Node) *graph.Node { // min(x, 1/max(x, 1e-12))
		return graph.Min(x, graph.Inverse(graph.Max(x, graph.Scalar(g, dt, 1e-12))))
	}
	for _, b := range preReLU {
		c, r := b.centreRadius()
		tight = graph.Add(tight, hinge(graph.Div(tight0, graph.Max(graph.ReduceAllMean(r), graph.Scalar(g, dt, 1e-12)))))
		act := graph.ConvertDType(graph.GreaterThan(b.Lower, graph.ZerosLike(b.Lower)), dt)
		inact := graph.ConvertDType(graph.LessThan(b.Upper, graph.ZerosLike(b.Upper)), dt)
		meanRatio := graph.Div(graph.ReduceAllMean(graph.Mul(c, act)), graph.Neg(graph.ReduceAllMean(graph.Mul(c, inact))))
		delta := graph.Square(graph.Sub(c, graph.ReduceAllMean(c)))
		varRatio := graph.Div(graph.ReduceAllSum(graph.Mul(delta, act)), graph.ReduceAllSum(graph.Mul(delta, inact)))
		layer := graph.Add(hinge(symRatio(meanRatio)), hinge(symRatio(varRatio)))
		// Skip the layer when its value is NaN or ±Inf (e.g. no inactive neuron): the
		// gradient of the skipped branch is masked by Where.
		finite := graph.LogicalAnd(graph.Equal(layer, layer), graph.LessThan(graph.Abs(layer), graph.Scalar(g, dt, math.Inf(1))))
		safe := graph.Where(finite, layer, zero)
		reluBal = graph.Add(reluBal, safe)
	}
	m := float64(len(preReLU))
	return graph.DivScalar(tight, m), graph.DivScalar(reluBal, m), nil
}

// RegLambda is the warm-up weight λ_t = λ0·(1 − ε_t/ε_max) of regularization.py:143; it is
// 0 once ε_t reaches ε_max. epsMax must be > 0 and 0 ≤ eps ≤ epsMax.
func RegLambda(lambda0, eps, epsMax float64) (float64, error) {
	if !(epsMax > 0) {
		return 0, fmt.Errorf("certified: eps_max=%g, want eps_max > 0", epsMax)
	}
	if eps < 0 || eps > epsMax {
		return 0, fmt.Errorf("certified: eps=%g outside [0, eps_max=%g]", eps, epsMax)
	}
	return lambda0 * (1 - eps/epsMax), nil
}
