package rl

import "math"

// RunningMeanStd tracks a mean and variance over batches (Stable-Baselines3's RunningMeanStd:
// parallel-variance update, initial count 1e-4, mean 0, variance 1).
type RunningMeanStd struct {
	Mean, Var []float64
	Count     float64
}

// NewRunningMeanStd returns statistics of dim values.
func NewRunningMeanStd(dim int) *RunningMeanStd {
	r := &RunningMeanStd{Mean: make([]float64, dim), Var: make([]float64, dim), Count: 1e-4}
	for i := range r.Var {
		r.Var[i] = 1
	}
	return r
}

// Update adds a batch x [n, dim].
func (r *RunningMeanStd) Update(x []float64, n int) {
	dim := len(r.Mean)
	if n == 0 {
		return
	}
	bm := make([]float64, dim)
	bv := make([]float64, dim)
	for i := 0; i < n; i++ {
		for j := 0; j < dim; j++ {
			bm[j] += x[i*dim+j]
		}
	}
	for j := range bm {
		bm[j] /= float64(n)
	}
	for i := 0; i < n; i++ {
		for j := 0; j < dim; j++ {
			d := x[i*dim+j] - bm[j]
			bv[j] += d * d
		}
	}
	for j := range bv {
		bv[j] /= float64(n)
	}
	bc := float64(n)
	tot := r.Count + bc
	for j := 0; j < dim; j++ {
		delta := bm[j] - r.Mean[j]
		r.Mean[j] += delta * bc / tot
		m2 := r.Var[j]*r.Count + bv[j]*bc + delta*delta*r.Count*bc/tot
		r.Var[j] = m2 / tot
	}
	r.Count = tot
}

// Normalizer is Stable-Baselines3's VecNormalize for one vector of environments: rewards are
// divided by the standard deviation of the discounted return (clipped to +-10), numeric
// observations standardized with running statistics (clipped to +-10), epsilon 1e-8.
type Normalizer struct {
	NormObs, NormReward bool
	Gamma               float64
	ClipObs, ClipReward float64
	obs                 *RunningMeanStd
	ret                 *RunningMeanStd
	returns             []float64
	Training            bool
}

// NewNormalizer returns a normalizer for nEnvs environments with numDim numeric features.
func NewNormalizer(nEnvs, numDim int, normObs, normReward bool, gamma float64) *Normalizer {
	return &Normalizer{NormObs: normObs, NormReward: normReward, Gamma: gamma, ClipObs: 10, ClipReward: 10,
		obs: NewRunningMeanStd(numDim), ret: NewRunningMeanStd(1), returns: make([]float64, nEnvs), Training: true}
}

const normEps = 1e-8

// Obs standardizes numeric observations in place (updating the statistics when Training).
func (n *Normalizer) Obs(num []float32, rows int) {
	if !n.NormObs || len(n.obs.Mean) == 0 {
		return
	}
	if n.Training {
		x := make([]float64, len(num))
		for i, v := range num {
			x[i] = float64(v)
		}
		n.obs.Update(x, rows)
	}
	n.ObsFrozen(num)
}

// ObsFrozen standardizes with the current statistics, without updating them.
func (n *Normalizer) ObsFrozen(num []float32) {
	if !n.NormObs || len(n.obs.Mean) == 0 {
		return
	}
	dim := len(n.obs.Mean)
	for i, v := range num {
		j := i % dim
		z := (float64(v) - n.obs.Mean[j]) / math.Sqrt(n.obs.Var[j]+normEps)
		num[i] = float32(min(max(z, -n.ClipObs), n.ClipObs))
	}
}

// Reward normalizes rewards in place given which environments finished an episode.
func (n *Normalizer) Reward(r []float64, done []bool) {
	if !n.NormReward {
		return
	}
	if n.Training {
		for i := range r {
			n.returns[i] = n.returns[i]*n.Gamma + r[i]
		}
		n.ret.Update(n.returns, len(n.returns))
	}
	s := math.Sqrt(n.ret.Var[0] + normEps)
	for i := range r {
		r[i] = min(max(r[i]/s, -n.ClipReward), n.ClipReward)
		if done[i] {
			n.returns[i] = 0
		}
	}
}
