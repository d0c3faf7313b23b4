package envs

import (
	"math"
	"math/rand/v2"
)

// Acrobot is gymnasium's Acrobot-v1: a two-link pendulum actuated at the middle joint must swing
// its tip above a line.
//
// Reference code: gymnasium/envs/classic_control/acrobot.py (AcrobotEnv, book dynamics, rk4,
// wrap, bound).
//
// Dynamics ("book" version; l1 = l2 = 1, m1 = m2 = 1, lc1 = lc2 = 0.5, I1 = I2 = 1, g = 9.8,
// dt = 0.2): torque in {-1, 0, +1} for a = 0, 1, 2;
// d1 = m1 lc1^2 + m2 (l1^2 + lc2^2 + 2 l1 lc2 cos th2) + I1 + I2; d2 = m2 (lc2^2 + l1 lc2 cos th2) + I2;
// phi2 = m2 lc2 g cos(th1 + th2 - pi/2);
// phi1 = -m2 l1 lc2 th2dot^2 sin th2 - 2 m2 l1 lc2 th2dot th1dot sin th2 + (m1 lc1 + m2 l1) g cos(th1 - pi/2) + phi2;
// th2acc = (tau + d2/d1 phi1 - m2 l1 lc2 th1dot^2 sin th2 - phi2) / (m2 lc2^2 + I2 - d2^2/d1);
// th1acc = -(d2 th2acc + phi1)/d1. One classical RK4 step of dt; wrap the angles into [-pi, pi],
// clip the velocities to 4pi and 9pi. Terminates when -cos th1 - cos(th1 + th2) > 1; reward -1,
// 0 on the terminating step. Reset: the four state values ~ U(-0.1, 0.1), stored as float32.
// Time limit 500, reward threshold -100.
type Acrobot struct {
	state [4]float64 // th1, th2, th1dot, th2dot
}

// The constants are float64 variables, not Go constants: Go folds constant expressions exactly,
// while Python rounds every operation, so e.g. (m1*lc1 + m2*l1)*g must be evaluated at run time
// to give gymnasium's bits.
var (
	acDt, acL1, acM1, acM2, acLC1, acLC2, acMOI, acG float64 = 0.2, 1, 1, 1, 0.5, 0.5, 1, 9.8
	acPi                                             float64 = math.Pi
	acMaxV1, acMaxV2                                         = 4 * acPi, 9 * acPi
	acTorques                                                = [3]float64{-1, 0, 1}
)

func init() { Register("acrobot-v1", func() Env { return &Acrobot{} }) }

// Spec implements Env.
func (e *Acrobot) Spec() Spec {
	high := []float32{1, 1, 1, 1, float32(acMaxV1), float32(acMaxV2)}
	low := make([]float32, 6)
	for i, h := range high {
		low[i] = -h
	}
	return Spec{ID: "Acrobot-v1", NumObs: 6, ObsLow: low, ObsHigh: high, Actions: 3,
		MaxEpisodeSteps: 500, RewardThreshold: -100, HasRewardThreshold: true}
}

// State returns the internal state (th1, th2, th1dot, th2dot).
func (e *Acrobot) State() [4]float64 { return e.state }

// SetState sets the internal state.
func (e *Acrobot) SetState(s [4]float64) { e.state = s }

// Reset implements Env.
func (e *Acrobot) Reset(rng *rand.Rand, num []float32, _ []string) {
	for i := range e.state {
		e.state[i] = float64(float32(uniform(rng, -0.1, 0.1))) // .astype(np.float32)
	}
	e.observe(num)
}

func (e *Acrobot) observe(num []float32) {
	s := e.state
	num[0], num[1] = float32(math.Cos(s[0])), float32(math.Sin(s[0]))
	num[2], num[3] = float32(math.Cos(s[1])), float32(math.Sin(s[1]))
	num[4], num[5] = float32(s[2]), float32(s[3])
}

// dsdt is the time derivative of the augmented state (th1, th2, th1dot, th2dot) under torque a.
func acrobotDsdt(s [4]float64, a float64) [4]float64 {
	m1, m2, l1, lc1, lc2, I1, I2, g, pi := acM1, acM2, acL1, acLC1, acLC2, acMOI, acMOI, acG, acPi
	theta1, theta2, dtheta1, dtheta2 := s[0], s[1], s[2], s[3]
	d1 := m1*(lc1*lc1) + m2*((l1*l1)+(lc2*lc2)+2*l1*lc2*math.Cos(theta2)) + I1 + I2
	d2 := m2*((lc2*lc2)+l1*lc2*math.Cos(theta2)) + I2
	phi2 := m2 * lc2 * g * math.Cos(theta1+theta2-pi/2.0)
	phi1 := -m2*l1*lc2*(dtheta2*dtheta2)*math.Sin(theta2) -
		2*m2*l1*lc2*dtheta2*dtheta1*math.Sin(theta2) +
		(m1*lc1+m2*l1)*g*math.Cos(theta1-pi/2) + phi2
	ddtheta2 := (a + d2/d1*phi1 - m2*l1*lc2*(dtheta1*dtheta1)*math.Sin(theta2) - phi2) /
		(m2*(lc2*lc2) + I2 - (d2*d2)/d1)
	ddtheta1 := -(d2*ddtheta2 + phi1) / d1
	return [4]float64{dtheta1, dtheta2, ddtheta1, ddtheta2}
}

// acrobotRK4 is gymnasium's rk4 over t = [0, dt] (one step), the torque held constant.
func acrobotRK4(y0 [4]float64, a, dt float64) [4]float64 {
	dt2 := dt / 2.0
	add := func(y [4]float64, h float64, k [4]float64) (out [4]float64) {
		for i := range y {
			out[i] = y[i] + h*k[i]
		}
		return
	}
	k1 := acrobotDsdt(y0, a)
	k2 := acrobotDsdt(add(y0, dt2, k1), a)
	k3 := acrobotDsdt(add(y0, dt2, k2), a)
	k4 := acrobotDsdt(add(y0, dt, k3), a)
	var y [4]float64
	for i := range y {
		y[i] = y0[i] + dt/6.0*(k1[i]+2*k2[i]+2*k3[i]+k4[i])
	}
	return y
}

// wrap is gymnasium's wrap(x, m, M): shift x by M-m until m <= x <= M.
func wrap(x, m, M float64) float64 {
	diff := M - m
	for x > M {
		x = x - diff
	}
	for x < m {
		x = x + diff
	}
	return x
}

// Step implements Env.
func (e *Acrobot) Step(_ *rand.Rand, a int, _ []float32, num []float32, _ []string) (float64, bool) {
	torque := acTorques[a]
	ns := acrobotRK4(e.state, torque, acDt)
	ns[0] = wrap(ns[0], -acPi, acPi)
	ns[1] = wrap(ns[1], -acPi, acPi)
	ns[2] = min(max(ns[2], -acMaxV1), acMaxV1)
	ns[3] = min(max(ns[3], -acMaxV2), acMaxV2)
	e.state = ns
	terminated := -math.Cos(ns[0])-math.Cos(ns[1]+ns[0]) > 1.0
	e.observe(num)
	if terminated {
		return 0, true
	}
	return -1, false
}
