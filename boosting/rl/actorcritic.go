package rl

import (
	"fmt"
	"math"

	"github.com/moeboost/moeboost/boosting/rl/envs"
)

// ActorCritic holds the function approximators of an actor-critic agent: in shared mode one
// approximator Joint whose outputs are [policy..., value] (GBRL's shared tree structure, with
// separate learning rates for the two output slices); otherwise an Actor (policy outputs) and a
// Critic (one value output). Continuous policies add a state-independent log standard deviation
// per action dimension, trained with its own Adam (GBRL's log_std_optimizer).
type ActorCritic struct {
	Spec                 envs.Spec
	Joint, Actor, Critic Approximator
	// PolicyDim is the number of policy outputs: the number of actions (logits) or the action
	// dimension (Gaussian means).
	PolicyDim int
	LogStd    []float64
	logStdOpt *adam
}

// Shared reports whether one approximator carries both policy and value.
func (ac *ActorCritic) Shared() bool { return ac.Joint != nil }

// NumUpdates returns the updates made by all approximators (trees grown, optimizer steps).
func (ac *ActorCritic) NumUpdates() int {
	if ac.Shared() {
		return ac.Joint.Updates()
	}
	return ac.Actor.Updates() + ac.Critic.Updates()
}

// prediction is the policy outputs and values of a batch, with the approximator versions they
// were computed at.
type prediction struct {
	pol        []float32 // [N, PolicyDim]
	val        []float32 // [N]
	joint      []float32 // shared mode: [N, PolicyDim+1]
	vJ, vA, vC int
}

func (ac *ActorCritic) predict(obs Obs) (prediction, error) {
	var p prediction
	if ac.Shared() {
		out, err := ac.Joint.Predict(obs)
		if err != nil {
			return p, err
		}
		p.joint, p.vJ = out, ac.Joint.Updates()
		p.split(ac.PolicyDim)
		return p, nil
	}
	pol, err := ac.Actor.Predict(obs)
	if err != nil {
		return p, err
	}
	val, err := ac.Critic.Predict(obs)
	if err != nil {
		return p, err
	}
	p.pol, p.val, p.vA, p.vC = pol, val, ac.Actor.Updates(), ac.Critic.Updates()
	return p, nil
}

// PolicyOutputs returns the policy outputs [obs.N, PolicyDim] for obs (observations already
// normalized as in training, e.g. with Result.Norm.ObsFrozen): the logits for discrete actions,
// the Gaussian means for continuous ones. Argmax and mean are the deterministic actions that
// Evaluate takes.
func (ac *ActorCritic) PolicyOutputs(obs Obs) ([]float32, error) {
	p, err := ac.predict(obs)
	return p.pol, err
}

func (p *prediction) split(pd int) {
	n := len(p.joint) / (pd + 1)
	p.pol = make([]float32, n*pd)
	p.val = make([]float32, n)
	for i := 0; i < n; i++ {
		copy(p.pol[i*pd:(i+1)*pd], p.joint[i*(pd+1):i*(pd+1)+pd])
		p.val[i] = p.joint[i*(pd+1)+pd]
	}
}

// refresh brings stored predictions of obs up to date: incremental approximators add the
// contribution of their updates since, others predict again.
func (ac *ActorCritic) refresh(obs Obs, p prediction) (prediction, error) {
	if ac.Shared() {
		if inc, ok := ac.Joint.(Incremental); ok {
			q := prediction{joint: append([]float32(nil), p.joint...), vJ: ac.Joint.Updates()}
			if err := inc.AddSince(obs, p.vJ, q.joint); err != nil {
				return q, err
			}
			q.split(ac.PolicyDim)
			return q, nil
		}
		return ac.predict(obs)
	}
	q := prediction{vA: ac.Actor.Updates(), vC: ac.Critic.Updates()}
	var err error
	if inc, ok := ac.Actor.(Incremental); ok {
		q.pol = append([]float32(nil), p.pol...)
		err = inc.AddSince(obs, p.vA, q.pol)
	} else {
		q.pol, err = ac.Actor.Predict(obs)
	}
	if err != nil {
		return q, err
	}
	if inc, ok := ac.Critic.(Incremental); ok {
		q.val = append([]float32(nil), p.val...)
		err = inc.AddSince(obs, p.vC, q.val)
	} else {
		q.val, err = ac.Critic.Predict(obs)
	}
	return q, err
}

// values returns V(obs).
func (ac *ActorCritic) values(obs Obs) ([]float32, error) {
	if ac.Shared() {
		p, err := ac.predict(obs)
		return p.val, err
	}
	return ac.Critic.Predict(obs)
}

// update applies per-sample gradients: policy [N, PolicyDim] and value [N].
func (ac *ActorCritic) update(obs Obs, gPol, gVal []float32) error {
	pd := ac.PolicyDim
	if ac.Shared() {
		g := make([]float32, obs.N*(pd+1))
		for i := 0; i < obs.N; i++ {
			copy(g[i*(pd+1):], gPol[i*pd:(i+1)*pd])
			g[i*(pd+1)+pd] = gVal[i]
		}
		return ac.Joint.Update(obs, g)
	}
	if err := ac.Actor.Update(obs, gPol); err != nil {
		return err
	}
	return ac.Critic.Update(obs, gVal)
}

// clipRows rescales each row of g (width w) whose L2 norm exceeds c to norm c (w > 1), or clips
// each value to [-c, c] (w = 1), as GBRL's clip_grad_norm intends. c <= 0 disables it.
//
// Deviation: GBRL's numpy code divides a too-long row by itself element-wise (setting every
// entry to +c); we scale by the row norm.
func clipRows(g []float32, w int, c float64) {
	if c <= 0 {
		return
	}
	if w == 1 {
		for i, v := range g {
			g[i] = float32(min(max(float64(v), -c), c))
		}
		return
	}
	for i := 0; i+w <= len(g); i += w {
		var s float64
		for _, v := range g[i : i+w] {
			s += float64(v) * float64(v)
		}
		if n := math.Sqrt(s); n > c {
			for j := i; j < i+w; j++ {
				g[j] = float32(float64(g[j]) * c / n)
			}
		}
	}
}

// adam is a small Adam for the log-std vector (torch.optim.Adam defaults: betas 0.9, 0.999,
// eps 1e-8).
type adam struct {
	m, v []float64
	t    int
}

func (a *adam) step(x, g []float64, lr float64) {
	if a.m == nil {
		a.m, a.v = make([]float64, len(x)), make([]float64, len(x))
	}
	a.t++
	b1, b2, eps := 0.9, 0.999, 1e-8
	c1, c2 := 1-math.Pow(b1, float64(a.t)), 1-math.Pow(b2, float64(a.t))
	for i := range x {
		a.m[i] = b1*a.m[i] + (1-b1)*g[i]
		a.v[i] = b2*a.v[i] + (1-b2)*g[i]*g[i]
		x[i] -= lr * (a.m[i] / c1) / (math.Sqrt(a.v[i]/c2) + eps)
	}
}

func checkPolicy(spec envs.Spec) (int, error) {
	if spec.Discrete() {
		return spec.Actions, nil
	}
	if spec.ActionDim < 1 {
		return 0, fmt.Errorf("rl: environment %s has neither discrete nor continuous actions", spec.ID)
	}
	return spec.ActionDim, nil
}
