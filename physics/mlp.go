package physics

import (
	"math"
	"math/rand/v2"
)

// MLP is the basis generator that replaces the paper's FNO: (x, t/T) → tanh(H) → tanh(H) → N
// outputs φ_k(t, x) (float64, manual backpropagation). The inputs are the normalised grid, as
// the official process_input feeds the FNO.
type MLP struct {
	In, H, Out int
	Params     []float64 // W1 (In×H), b1, W2 (H×H), b2, W3 (H×Out), b3
}

// NewMLP draws Glorot-uniform weights and zero biases.
func NewMLP(in, h, out int, rng *rand.Rand) *MLP {
	m := &MLP{In: in, H: h, Out: out}
	m.Params = make([]float64, in*h+h+h*h+h+h*out+out)
	fill := func(w []float64, fi, fo int) {
		lim := math.Sqrt(6 / float64(fi+fo))
		for i := range w {
			w[i] = (2*rng.Float64() - 1) * lim
		}
	}
	w1, _, w2, _, w3, _ := m.split(m.Params)
	fill(w1, in, h)
	fill(w2, h, h)
	fill(w3, h, out)
	return m
}

func (m *MLP) split(p []float64) (w1, b1, w2, b2, w3, b3 []float64) {
	o := 0
	take := func(n int) []float64 { s := p[o : o+n]; o += n; return s }
	return take(m.In * m.H), take(m.H), take(m.H * m.H), take(m.H), take(m.H * m.Out), take(m.Out)
}

// mlpCache keeps the activations of a forward pass for Backward.
type mlpCache struct{ x, h1, h2 []float64 }

// Forward maps x (rows × In) to rows × Out.
func (m *MLP) Forward(x []float64) ([]float64, *mlpCache) {
	w1, b1, w2, b2, w3, b3 := m.split(m.Params)
	rows := len(x) / m.In
	h1 := dense(x, w1, b1, rows, m.In, m.H, true)
	h2 := dense(h1, w2, b2, rows, m.H, m.H, true)
	return dense(h2, w3, b3, rows, m.H, m.Out, false), &mlpCache{x, h1, h2}
}

func dense(x, w, b []float64, rows, in, out int, act bool) []float64 {
	y := make([]float64, rows*out)
	for r := range rows {
		yr := y[r*out : (r+1)*out]
		copy(yr, b)
		for i := range in {
			xi := x[r*in+i]
			wi := w[i*out : (i+1)*out]
			for o := range out {
				yr[o] += xi * wi[o]
			}
		}
		if act {
			for o := range yr {
				yr[o] = math.Tanh(yr[o])
			}
		}
	}
	return y
}

// Backward returns the parameter gradient for the output gradient gy.
func (m *MLP) Backward(c *mlpCache, gy []float64) []float64 {
	w1, _, w2, _, w3, _ := m.split(m.Params)
	grad := make([]float64, len(m.Params))
	g1, gb1, g2, gb2, g3, gb3 := m.split(grad)
	rows := len(c.x) / m.In
	gh2 := denseBack(c.h2, w3, gy, g3, gb3, rows, m.H, m.Out)
	for i, h := range c.h2 {
		gh2[i] *= 1 - h*h
	}
	gh1 := denseBack(c.h1, w2, gh2, g2, gb2, rows, m.H, m.H)
	for i, h := range c.h1 {
		gh1[i] *= 1 - h*h
	}
	denseBack(c.x, w1, gh1, g1, gb1, rows, m.In, m.H)
	return grad
}

func denseBack(x, w, gy, gw, gb []float64, rows, in, out int) []float64 {
	gx := make([]float64, rows*in)
	for r := range rows {
		gr := gy[r*out : (r+1)*out]
		for o, g := range gr {
			gb[o] += g
		}
		for i := range in {
			xi := x[r*in+i]
			wi, gwi := w[i*out:(i+1)*out], gw[i*out:(i+1)*out]
			s := 0.0
			for o, g := range gr {
				gwi[o] += xi * g
				s += wi[o] * g
			}
			gx[r*in+i] = s
		}
	}
	return gx
}

// Adam is Adam with clipping by global norm (the official optimiser chain: clip 1.0, Adam).
type Adam struct {
	LR, Clip float64
	m, v     []float64
	t        int
}

// Step updates params in place with grad.
func (a *Adam) Step(params, grad []float64) {
	if a.m == nil {
		a.m, a.v = make([]float64, len(params)), make([]float64, len(params))
	}
	if a.Clip > 0 {
		if nrm := math.Sqrt(dot(grad, grad)); nrm > a.Clip {
			for i := range grad {
				grad[i] *= a.Clip / nrm
			}
		}
	}
	a.t++
	c1, c2 := 1-math.Pow(0.9, float64(a.t)), 1-math.Pow(0.999, float64(a.t))
	for i, g := range grad {
		a.m[i] = 0.9*a.m[i] + 0.1*g
		a.v[i] = 0.999*a.v[i] + 0.001*g*g
		params[i] -= a.LR * (a.m[i] / c1) / (math.Sqrt(a.v[i]/c2) + 1e-8)
	}
}
