package envs

import (
	"math"
	"math/rand/v2"
)

// Pendulum is gymnasium's Pendulum-v1: swing a pendulum up and keep it upright with a bounded
// torque.
//
// Reference code: gymnasium/envs/classic_control/pendulum.py (PendulumEnv, g = 10).
//
// Dynamics (g = 10, m = 1, l = 1, dt = 0.05, max speed 8, max torque 2): u = clip(a, -2, 2);
// cost = norm(th)^2 + 0.1*thdot^2 + 0.001*u^2 with norm(th) = ((th + pi) mod 2pi) - pi, on the
// pre-step state; thdot' = clip(thdot + (3g/(2l)*sin th + 3/(m l^2)*u)*dt, -8, 8);
// th' = th + thdot'*dt (th is not wrapped). Reward = -cost; never terminates. Observation
// (cos th, sin th, thdot). Reset: th ~ U(-pi, pi), thdot ~ U(-1, 1). Time limit 200 steps.
type Pendulum struct {
	th, thdot float64
}

const (
	pdMaxSpeed  = 8.0
	pdMaxTorque = 2.0
	pdDt        = 0.05
	pdG         = 10.0
	pdM         = 1.0
	pdL         = 1.0
)

func init() { Register("pendulum-v1", func() Env { return &Pendulum{} }) }

// Spec implements Env.
func (p *Pendulum) Spec() Spec {
	return Spec{ID: "Pendulum-v1", NumObs: 3, ObsLow: []float32{-1, -1, -pdMaxSpeed},
		ObsHigh: []float32{1, 1, pdMaxSpeed}, ActionDim: 1, ActionLow: []float32{-pdMaxTorque},
		ActionHigh: []float32{pdMaxTorque}, MaxEpisodeSteps: 200}
}

// State returns (theta, theta_dot).
func (p *Pendulum) State() (th, thdot float64) { return p.th, p.thdot }

// SetState sets (theta, theta_dot).
func (p *Pendulum) SetState(th, thdot float64) { p.th, p.thdot = th, thdot }

// Reset implements Env.
func (p *Pendulum) Reset(rng *rand.Rand, num []float32, _ []string) {
	p.th = uniform(rng, -math.Pi, math.Pi)
	p.thdot = uniform(rng, -1, 1)
	p.observe(num)
}

func (p *Pendulum) observe(num []float32) {
	num[0], num[1], num[2] = float32(math.Cos(p.th)), float32(math.Sin(p.th)), float32(p.thdot)
}

// angleNormalize is gymnasium's angle_normalize: ((x + pi) % (2 pi)) - pi with Python's
// floored modulo.
func angleNormalize(x float64) float64 {
	m := math.Mod(x+math.Pi, 2*math.Pi)
	if m < 0 {
		m += 2 * math.Pi
	}
	return m - math.Pi
}

// Step implements Env.
func (p *Pendulum) Step(_ *rand.Rand, _ int, u []float32, num []float32, _ []string) (float64, bool) {
	checkLen("pendulum action", len(u), 1)
	// np.clip on the float32 action array keeps float32; the cost uses it as a float.
	torque := float64(min(max(u[0], -pdMaxTorque), pdMaxTorque))
	an := angleNormalize(p.th)
	cost := an*an + 0.1*p.thdot*p.thdot + 0.001*(torque*torque)
	newThdot := p.thdot + (3*pdG/(2*pdL)*math.Sin(p.th)+3.0/(pdM*pdL*pdL)*torque)*pdDt
	newThdot = min(max(newThdot, -pdMaxSpeed), pdMaxSpeed)
	p.th = p.th + newThdot*pdDt
	p.thdot = newThdot
	p.observe(num)
	return -cost, false
}
