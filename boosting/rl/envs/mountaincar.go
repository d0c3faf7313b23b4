package envs

import (
	"math"
	"math/rand/v2"
)

// MountainCar is gymnasium's MountainCar-v0: an under-powered car in a valley must reach the
// flag on the right hill.
//
// Reference code: gymnasium/envs/classic_control/mountain_car.py (MountainCarEnv).
//
// Dynamics: v <- clip(v + (a-1)*0.001 + cos(3x)*(-0.0025), -0.07, 0.07);
// x <- clip(x + v, -1.2, 0.6); v <- 0 when x == -1.2 and v < 0. Terminates when x >= 0.5 and
// v >= 0. Reward -1 on every step. Reset: x ~ U(-0.6, -0.4), v = 0. Time limit 200 steps,
// reward threshold -110.
type MountainCar struct {
	pos, vel float64
}

const (
	mcMinPos  = -1.2
	mcMaxPos  = 0.6
	mcMaxVel  = 0.07
	mcGoalPos = 0.5
	mcGoalVel = 0.0
	mcForce   = 0.001
	mcGravity = 0.0025
)

func init() { Register("mountaincar-v0", func() Env { return &MountainCar{} }) }

// Spec implements Env.
func (m *MountainCar) Spec() Spec {
	return Spec{ID: "MountainCar-v0", NumObs: 2, ObsLow: []float32{mcMinPos, -mcMaxVel},
		ObsHigh: []float32{mcMaxPos, mcMaxVel}, Actions: 3, MaxEpisodeSteps: 200,
		RewardThreshold: -110, HasRewardThreshold: true}
}

// State returns (position, velocity).
func (m *MountainCar) State() (pos, vel float64) { return m.pos, m.vel }

// SetState sets (position, velocity).
func (m *MountainCar) SetState(pos, vel float64) { m.pos, m.vel = pos, vel }

// Reset implements Env.
func (m *MountainCar) Reset(rng *rand.Rand, num []float32, _ []string) {
	m.pos, m.vel = uniform(rng, -0.6, -0.4), 0
	num[0], num[1] = float32(m.pos), float32(m.vel)
}

// Step implements Env.
func (m *MountainCar) Step(_ *rand.Rand, a int, _ []float32, num []float32, _ []string) (float64, bool) {
	m.vel += float64(a-1)*mcForce + math.Cos(3*m.pos)*(-mcGravity)
	m.vel = min(max(m.vel, -mcMaxVel), mcMaxVel)
	m.pos += m.vel
	m.pos = min(max(m.pos, mcMinPos), mcMaxPos)
	if m.pos == mcMinPos && m.vel < 0 {
		m.vel = 0
	}
	terminated := m.pos >= mcGoalPos && m.vel >= mcGoalVel
	num[0], num[1] = float32(m.pos), float32(m.vel)
	return -1, terminated
}
