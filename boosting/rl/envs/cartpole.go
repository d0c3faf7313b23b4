package envs

import (
	"math"
	"math/rand/v2"
)

// CartPole is gymnasium's CartPole-v1: a pole hinged on a cart moving on a frictionless track.
//
// Reference code: gymnasium/envs/classic_control/cartpole.py (CartPoleEnv, euler integrator).
//
// Dynamics (tau = 0.02 s, g = 9.8, m_cart = 1, m_pole = 0.1, half pole length l = 0.5,
// force 10 N): F = +10 if a = 1 else -10;
// temp = (F + m_pole*l*thdot^2*sin th)/M; thacc = (g sin th - cos th * temp) /
// (l*(4/3 - m_pole*cos^2 th/M)); xacc = temp - m_pole*l*thacc*cos th/M; explicit Euler with the
// old rates. Terminates when |x| > 2.4 or |th| > 12*2*pi/360. Reward +1 on every step
// (including the terminating one). Reset: all four state values ~ U(-0.05, 0.05). Time limit
// 500 steps, reward threshold 475.
type CartPole struct {
	state [4]float64 // x, x_dot, theta, theta_dot (float64, as gymnasium keeps it)
}

const (
	cpGravity   = 9.8
	cpMassCart  = 1.0
	cpMassPole  = 0.1
	cpTotalMass = cpMassPole + cpMassCart
	cpLength    = 0.5
	cpPoleML    = cpMassPole * cpLength
	cpForce     = 10.0
	cpTau       = 0.02
	cpXThresh   = 2.4
)

// cpThetaThresh is 12 degrees in radians, rounded operation by operation as gymnasium computes
// it (Go would fold the constant expression exactly).
var cpThetaThresh = func() float64 { pi := math.Pi; return 12 * 2 * pi / 360 }()

func init() { Register("cartpole-v1", func() Env { return &CartPole{} }) }

// Spec implements Env.
func (c *CartPole) Spec() Spec {
	inf := float32(math.Inf(1))
	high := []float32{cpXThresh * 2, inf, float32(cpThetaThresh * 2), inf}
	low := make([]float32, 4)
	for i, h := range high {
		low[i] = -h
	}
	return Spec{ID: "CartPole-v1", NumObs: 4, ObsLow: low, ObsHigh: high, Actions: 2,
		MaxEpisodeSteps: 500, RewardThreshold: 475, HasRewardThreshold: true}
}

// State returns the internal float64 state (x, x_dot, theta, theta_dot).
func (c *CartPole) State() [4]float64 { return c.state }

// SetState sets the internal state (for tests and replays).
func (c *CartPole) SetState(s [4]float64) { c.state = s }

// Reset implements Env.
func (c *CartPole) Reset(rng *rand.Rand, num []float32, _ []string) {
	for i := range c.state {
		c.state[i] = uniform(rng, -0.05, 0.05)
	}
	c.observe(num)
}

func (c *CartPole) observe(num []float32) {
	for i, v := range c.state {
		num[i] = float32(v)
	}
}

// Step implements Env.
func (c *CartPole) Step(_ *rand.Rand, a int, _ []float32, num []float32, _ []string) (float64, bool) {
	x, xDot, theta, thetaDot := c.state[0], c.state[1], c.state[2], c.state[3]
	force := -cpForce
	if a == 1 {
		force = cpForce
	}
	cosT, sinT := math.Cos(theta), math.Sin(theta)
	temp := (force + cpPoleML*(thetaDot*thetaDot)*sinT) / cpTotalMass
	thetaAcc := (cpGravity*sinT - cosT*temp) / (cpLength * (4.0/3.0 - cpMassPole*(cosT*cosT)/cpTotalMass))
	xAcc := temp - cpPoleML*thetaAcc*cosT/cpTotalMass
	x = x + cpTau*xDot // Euler: positions use the old rates.
	xDot = xDot + cpTau*xAcc
	theta = theta + cpTau*thetaDot
	thetaDot = thetaDot + cpTau*thetaAcc
	c.state = [4]float64{x, xDot, theta, thetaDot}
	terminated := x < -cpXThresh || x > cpXThresh || theta < -cpThetaThresh || theta > cpThetaThresh
	c.observe(num)
	return 1, terminated
}
