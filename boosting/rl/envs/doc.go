// Package envs holds reinforcement-learning environments written in Go for the GBRL benchmark:
// gymnasium's classic-control tasks with their exact dynamics, rewards and termination and
// truncation constants, and a small MiniGrid-like gridworld whose observation is categorical
// (string) cell features, in the spirit of GBRL's categorical MiniGrid wrapper.
//
// Registered environments (registry kind "environment"; lookup by the registry key or by the
// gymnasium id, case-insensitively):
//
//	cartpole-v1     CartPole-v1      Discrete(2), 4 numeric features, 500 steps, threshold 475
//	acrobot-v1      Acrobot-v1       Discrete(3), 6 numeric features, 500 steps, threshold -100
//	mountaincar-v0  MountainCar-v0   Discrete(3), 2 numeric features, 200 steps, threshold -110
//	pendulum-v1     Pendulum-v1      Box[-2,2]^1, 3 numeric features, 200 steps, no threshold
//	keydoor-5x5-v0  KeyDoor-5x5-v0   Discrete(7), 49+2 categorical features, 250 steps
//
// Reference code: Farama-Foundation/Gymnasium, gymnasium/envs/classic_control/{cartpole,
// acrobot,mountain_car,pendulum}.py and gymnasium/envs/__init__.py (time limits, thresholds);
// Farama-Foundation/Minigrid, minigrid/envs/doorkey.py and minigrid/core (view, visibility).
//
// An Env is one unwrapped environment (no time limit), as gymnasium's env.unwrapped. Vec runs n
// copies with the registered time limit, auto-reset (Stable-Baselines3's convention: the
// observation after a finished episode is the first one of the next, and the last observation
// of the finished episode is kept in FinalNum/FinalCat so that GAE can bootstrap on truncation),
// per-copy seeded random number generators, and episode statistics.
//
// Deviations: random starts use Go's PCG generator, not numpy's, so a seed gives a different
// (equally distributed) start than gymnasium's; the dynamics from a given state are the same
// float64 computations in the same order, with observations rounded to float32 as gymnasium
// does.
package envs
