package gbnn

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/moeboost/moeboost/train/data"
)

// Kind is the boosting loss, chosen from the training table's task.
type Kind int

const (
	// Regression: squared loss (y−F)², F0 = mean(y), r = y − F, Newton factor 1.
	Regression Kind = iota + 1
	// Binary: y ∈ {−1,+1}, log(1 + exp(−2yF)), F0 = ½·log((1+ȳ)/(1−ȳ)), r = 2y/(1+exp(2yF)),
	// P(y=+1) = σ(2F).
	Binary
	// MultiClass: one-hot y over K classes, −Σ_k y_k F_k + logsumexp(F), F0 = 0,
	// r = y − softmax(F).
	MultiClass
)

func (k Kind) String() string {
	switch k {
	case Regression:
		return "regression"
	case Binary:
		return "binary"
	case MultiClass:
		return "multiclass"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// kindOf returns the loss for a table and the number of learner outputs K.
func kindOf(t *data.Table) (Kind, int, error) {
	switch t.Task {
	case data.Regression:
		return Regression, 1, nil
	case data.Classification:
		switch {
		case t.NumClasses == 2:
			return Binary, 1, nil
		case t.NumClasses > 2:
			return MultiClass, t.NumClasses, nil
		}
		return 0, 0, fmt.Errorf("gbnn: %s has num_classes=%d: classification needs >= 2 classes", t.Name, t.NumClasses)
	}
	return 0, 0, fmt.Errorf("gbnn: %s has task %s: want classification or regression", t.Name, t.Task)
}

// encodeTargets returns the official code's target encoding, n×K row-major: the value for
// regression, ±1 for binary (LabelBinarizer(neg_label=−1)), one-hot for K classes.
func encodeTargets(kind Kind, t *data.Table, k int) []float64 {
	y := make([]float64, t.N*k)
	for i, v := range t.Y {
		switch kind {
		case Regression:
			y[i] = v
		case Binary:
			y[i] = -1
			if v == 1 {
				y[i] = 1
			}
		case MultiClass:
			y[i*k+int(v)] = 1
		}
	}
	return y
}

// initialBias returns F0 (K values), the constant that minimises the loss (official model0).
func initialBias(kind Kind, y []float64, n, k int) ([]float64, error) {
	f0 := make([]float64, k)
	switch kind {
	case Regression:
		var s float64
		for _, v := range y {
			s += v
		}
		f0[0] = s / float64(n) // F0 = mean(y)
	case Binary:
		var s float64
		for _, v := range y {
			s += v
		}
		m := s / float64(n)
		if math.Abs(m) >= 1 {
			return nil, fmt.Errorf("gbnn: binary training set holds one class only (mean label %g): F0 would be infinite", m)
		}
		f0[0] = 0.5 * math.Log((1+m)/(1-m)) // F0 = ½·log((1+ȳ)/(1−ȳ))
	case MultiClass:
		// F0 = 0 (the official code's zero vector, not the class priors).
	}
	return f0, nil
}

// residuals writes the pseudo-residuals r = −∂loss/∂F at F into r (official derive).
func residuals(kind Kind, y, f, r []float64, n, k int) {
	switch kind {
	case Regression:
		for i := range y {
			r[i] = y[i] - f[i] // r = y − F
		}
	case Binary:
		for i := range y {
			r[i] = nanToNum(2 * y[i] / (1 + math.Exp(2*y[i]*f[i]))) // r = 2y/(1+exp(2yF))
		}
	case MultiClass:
		for i := range n {
			row, out := f[i*k:(i+1)*k], r[i*k:(i+1)*k]
			lse := logSumExp(row)
			for c := range k {
				out[c] = y[i*k+c] - nanToNum(math.Exp(row[c]-lse)) // r = y − softmax(F)
			}
		}
	}
}

// nanToNum is numpy's nan_to_num, which the official derive applies: NaN → 0, ±Inf → the
// largest finite value of that sign. It only matters without the guard, once F is not finite.
func nanToNum(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return 0
	case math.IsInf(x, 1):
		return math.MaxFloat64
	case math.IsInf(x, -1):
		return -math.MaxFloat64
	}
	return x
}

func logSumExp(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = math.Max(m, x)
	}
	if math.IsInf(m, 0) {
		return m
	}
	var s float64
	for _, x := range xs {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}

// newtonTerms returns the numerator and denominator of the official one-step Newton factor for
// the new stage's predictions h on all training rows (official newton_step):
//
//	binary:     Σ r·h / Σ r·h²·(2y − r)     (r(2y−r) = |r|(2−|r|))
//	multiclass: Σ h·r / Σ h²·p(1−p), p = y − r = softmax(F), summed over rows and classes
//
// and, for the guard's floor, Σ h². Regression has no line search (factor 1).
func newtonTerms(kind Kind, y, r, h []float64) (num, den, hh float64) {
	for i := range h {
		hh += h[i] * h[i]
		num += r[i] * h[i]
		switch kind {
		case Binary:
			den += r[i] * h[i] * h[i] * (2*y[i] - r[i])
		case MultiClass:
			p := y[i] - r[i]
			den += h[i] * h[i] * p * (1 - p)
		}
	}
	return num, den, hh
}

// denominatorFloor is the guard's relative floor on the Newton denominator: den ≤ ¼·Σh² always
// (the curvature p(1−p) is at most ¼), so den < 1e-12·Σh² means every row the stage moves is
// saturated and the curvature has underflowed.
const denominatorFloor = 1e-12

// stepSize returns ρ = eta·factor for a stage and whether the guard changed it.
//
// Official: factor = num/den (1 for regression), with no protection: once predictions
// saturate, den underflows to 0 and ρ = ±Inf (the notes measured collapses to chance at eta=1
// on iris and digits, and |ρ| of 240–840 in the runs that survived). Guarded (the default): a
// denominator under the floor or a non-finite factor falls back to factor 1 (ρ = eta), and
// |ρ| is clipped to maxStep (default 10, the largest |ρ| the notes saw in the stable runs at
// eta = 0.1, so the guard leaves those untouched).
func stepSize(kind Kind, num, den, hh, eta, maxStep float64, guard bool) (rho float64, guarded bool) {
	if kind == Regression {
		return eta, false
	}
	factor := num / den // Friedman's one-step Newton estimate
	if !guard {
		return eta * factor, false
	}
	if !(den > denominatorFloor*hh) || math.IsNaN(factor) || math.IsInf(factor, 0) {
		return eta, true // Curvature underflowed: fall back to factor 1.
	}
	rho = eta * factor
	switch {
	case rho > maxStep:
		return maxStep, true
	case rho < -maxStep:
		return -maxStep, true
	}
	return rho, false
}

// meanLoss is the official code's recorded training loss: mean over rows of the loss at F.
func meanLoss(kind Kind, y, f []float64, n, k int) float64 {
	var s float64
	switch kind {
	case Regression:
		for i := range y {
			d := y[i] - f[i]
			s += d * d
		}
	case Binary:
		for i := range y {
			s += softplus(-2 * y[i] * f[i]) // log(1 + exp(−2yF))
		}
	case MultiClass:
		for i := range n {
			row := f[i*k : (i+1)*k]
			s += logSumExp(row)
			for c := range k {
				s -= y[i*k+c] * row[c]
			}
		}
	}
	return s / float64(n)
}

func softplus(x float64) float64 {
	if x > 30 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

// activation is a hidden-unit nonlinearity on the host and in a graph, with its derivative
// σ'(z) in a graph given z and a = σ(z).
type activation struct {
	host  func(float64) float64
	graph func(*graph.Node) *graph.Node
	deriv func(z, a *graph.Node) *graph.Node
	// initFactor is sklearn's Glorot factor: bound = sqrt(factor/(fan_in+fan_out)).
	initFactor float64
}

var activations = map[string]activation{
	"logistic": {
		host:       func(x float64) float64 { return 1 / (1 + math.Exp(-x)) },
		graph:      graph.Sigmoid,
		deriv:      func(_, a *graph.Node) *graph.Node { return graph.Mul(a, graph.OneMinus(a)) }, // σ(1−σ)
		initFactor: 2,
	},
	"tanh": {
		host:       math.Tanh,
		graph:      graph.Tanh,
		deriv:      func(_, a *graph.Node) *graph.Node { return graph.OneMinus(graph.Square(a)) }, // 1 − tanh²
		initFactor: 6,
	},
	"relu": {
		host:  func(x float64) float64 { return math.Max(x, 0) },
		graph: func(x *graph.Node) *graph.Node { return graph.Max(x, graph.ZerosLike(x)) },
		deriv: func(z, _ *graph.Node) *graph.Node { // 1 where z > 0 (sklearn's derivative at 0: 0)
			return graph.ConvertDType(graph.GreaterThan(z, graph.ZerosLike(z)), z.DType())
		},
		initFactor: 6,
	},
	"identity": {
		host:       func(x float64) float64 { return x },
		graph:      func(x *graph.Node) *graph.Node { return x },
		deriv:      func(z, _ *graph.Node) *graph.Node { return graph.OnesLike(z) },
		initFactor: 6,
	},
}
