package rl

import (
	"math"
	"math/rand/v2"
)

// Distribution math for the policy heads, with the per-sample derivatives PPO and A2C need.
// Derivatives are with respect to the head outputs: the logits (categorical) or the means and
// the state-independent log standard deviations (diagonal Gaussian).

// logSoftmax writes log p = z - logsumexp(z) into lp and returns it.
func logSoftmax(z []float32, lp []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = max(m, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	lse := m + math.Log(s)
	for i, v := range z {
		lp[i] = float64(v) - lse
	}
	return lp
}

// categoricalSample draws an action from softmax(z).
func categoricalSample(z []float32, lp []float64, rng *rand.Rand) int {
	logSoftmax(z, lp)
	u := rng.Float64()
	var c float64
	for i, l := range lp {
		c += math.Exp(l)
		if u < c {
			return i
		}
	}
	return len(z) - 1
}

// argmax returns the index of the largest value.
func argmax(z []float32) int {
	best := 0
	for i, v := range z {
		if v > z[best] {
			best = i
		}
	}
	return best
}

// categoricalGrad returns log p(a) and the entropy H of softmax(z), and writes into g the
// derivative of wLogp*log p(a) + wEnt*H with respect to z:
// d log p(a)/dz_j = [j = a] - p_j, dH/dz_j = -p_j (log p_j + H).
func categoricalGrad(z []float32, a int, wLogp, wEnt float64, lp []float64, g []float32) (logp, ent float64) {
	logSoftmax(z, lp)
	for _, l := range lp {
		ent -= math.Exp(l) * l
	}
	for j, l := range lp {
		p := math.Exp(l)
		d := -p
		if j == a {
			d += 1
		}
		g[j] = float32(wLogp*d + wEnt*(-p*(l+ent)))
	}
	return lp[a], ent
}

const log2Pi = 1.8378770664093453 // log(2 pi)

// gaussianLogp returns log N(a; mu, exp(logStd)^2) summed over dimensions.
func gaussianLogp(a, mu []float32, logStd []float64) float64 {
	var lp float64
	for d := range a {
		s := math.Exp(logStd[d])
		z := (float64(a[d]) - float64(mu[d])) / s
		lp += -0.5*z*z - logStd[d] - 0.5*log2Pi
	}
	return lp
}

// gaussianEntropy is the entropy of the diagonal Gaussian: sum_d 0.5 + 0.5 log(2 pi) + logStd_d.
func gaussianEntropy(logStd []float64) float64 {
	var h float64
	for _, l := range logStd {
		h += 0.5 + 0.5*log2Pi + l
	}
	return h
}

// gaussianGrad writes into gMu the derivative of wLogp*log p(a) with respect to the means
// ((a - mu)/sigma^2 per dimension) and adds into gLogStd the derivative of
// wLogp*log p(a) + wEnt*H with respect to the log-stds ((a - mu)^2/sigma^2 - 1, and 1 for H).
func gaussianGrad(a, mu []float32, logStd []float64, wLogp, wEnt float64, gMu []float32, gLogStd []float64) {
	for d := range a {
		v := math.Exp(2 * logStd[d])
		diff := float64(a[d]) - float64(mu[d])
		gMu[d] = float32(wLogp * diff / v)
		gLogStd[d] += wLogp*(diff*diff/v-1) + wEnt
	}
}
