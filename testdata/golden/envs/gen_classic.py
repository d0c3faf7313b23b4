"""Reference trajectories for the Go classic-control environments.

Re-states, operation by operation, the step functions of gymnasium 1.x
(gymnasium/envs/classic_control/{cartpole,acrobot,mountain_car,pendulum}.py) with numpy
float64 arithmetic, starts each environment from fixed states, applies a fixed action sequence
and writes every step's internal state, observation (float32), reward and termination flag.

    /usr/bin/python3 gen_classic.py > classic_control.json
"""
import json
import math

import numpy as np
from numpy import cos, pi, sin


def cartpole_step(state, action):
    gravity, masscart, masspole = 9.8, 1.0, 0.1
    total_mass = masspole + masscart
    length = 0.5
    polemass_length = masspole * length
    force_mag, tau = 10.0, 0.02
    theta_threshold_radians = 12 * 2 * math.pi / 360
    x_threshold = 2.4
    x, x_dot, theta, theta_dot = state
    force = force_mag if action == 1 else -force_mag
    costheta = np.cos(theta)
    sintheta = np.sin(theta)
    temp = (force + polemass_length * np.square(theta_dot) * sintheta) / total_mass
    thetaacc = (gravity * sintheta - costheta * temp) / (
        length * (4.0 / 3.0 - masspole * np.square(costheta) / total_mass))
    xacc = temp - polemass_length * thetaacc * costheta / total_mass
    x = x + tau * x_dot
    x_dot = x_dot + tau * xacc
    theta = theta + tau * theta_dot
    theta_dot = theta_dot + tau * thetaacc
    state = np.array((x, x_dot, theta, theta_dot), dtype=np.float64)
    terminated = bool(x < -x_threshold or x > x_threshold
                      or theta < -theta_threshold_radians or theta > theta_threshold_radians)
    return state, np.array(state, dtype=np.float32), 1.0, terminated


def acrobot_dsdt(s_augmented):
    m1 = m2 = l1 = 1.0
    lc1 = lc2 = 0.5
    I1 = I2 = 1.0
    g = 9.8
    a = s_augmented[-1]
    s = s_augmented[:-1]
    theta1, theta2, dtheta1, dtheta2 = s[0], s[1], s[2], s[3]
    d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * cos(theta2)) + I1 + I2
    d2 = m2 * (lc2**2 + l1 * lc2 * cos(theta2)) + I2
    phi2 = m2 * lc2 * g * cos(theta1 + theta2 - pi / 2.0)
    phi1 = (-m2 * l1 * lc2 * dtheta2**2 * sin(theta2)
            - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin(theta2)
            + (m1 * lc1 + m2 * l1) * g * cos(theta1 - pi / 2) + phi2)
    ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * sin(theta2) - phi2) / (
        m2 * lc2**2 + I2 - d2**2 / d1)
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    return dtheta1, dtheta2, ddtheta1, ddtheta2, 0.0


def rk4(derivs, y0, t):
    yout = np.zeros((len(t), len(y0)), np.float64)
    yout[0] = y0
    for i in np.arange(len(t) - 1):
        dt = t[i + 1] - t[i]
        dt2 = dt / 2.0
        y0 = yout[i]
        k1 = np.asarray(derivs(y0))
        k2 = np.asarray(derivs(y0 + dt2 * k1))
        k3 = np.asarray(derivs(y0 + dt2 * k2))
        k4 = np.asarray(derivs(y0 + dt * k3))
        yout[i + 1] = y0 + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return yout[-1][:4]


def wrap(x, m, M):
    diff = M - m
    while x > M:
        x = x - diff
    while x < m:
        x = x + diff
    return x


def acrobot_step(s, a):
    torque = [-1.0, 0.0, +1][a]
    ns = rk4(acrobot_dsdt, np.append(s, torque), [0, 0.2])
    ns[0] = wrap(ns[0], -pi, pi)
    ns[1] = wrap(ns[1], -pi, pi)
    ns[2] = min(max(ns[2], -4 * pi), 4 * pi)
    ns[3] = min(max(ns[3], -9 * pi), 9 * pi)
    terminated = bool(-cos(ns[0]) - cos(ns[1] + ns[0]) > 1.0)
    obs = np.array([cos(ns[0]), sin(ns[0]), cos(ns[1]), sin(ns[1]), ns[2], ns[3]], dtype=np.float32)
    return ns, obs, (0.0 if terminated else -1.0), terminated


def mountaincar_step(state, action):
    position, velocity = state
    velocity += (action - 1) * 0.001 + math.cos(3 * position) * (-0.0025)
    velocity = np.clip(velocity, -0.07, 0.07)
    position += velocity
    position = np.clip(position, -1.2, 0.6)
    if position == -1.2 and velocity < 0:
        velocity = 0
    terminated = bool(position >= 0.5 and velocity >= 0)
    state = (position, velocity)
    return state, np.array(state, dtype=np.float32), -1.0, terminated


def angle_normalize(x):
    return ((x + np.pi) % (2 * np.pi)) - np.pi


def pendulum_step(state, u):
    th, thdot = state
    g, m, l, dt = 10.0, 1.0, 1.0, 0.05
    u = np.clip(u, -2.0, 2.0)[0]
    costs = angle_normalize(th) ** 2 + 0.1 * thdot**2 + 0.001 * (u**2)
    newthdot = thdot + (3 * g / (2 * l) * np.sin(th) + 3.0 / (m * l**2) * u) * dt
    newthdot = np.clip(newthdot, -8.0, 8.0)
    newth = th + newthdot * dt
    state = np.array([newth, newthdot])
    obs = np.array([np.cos(newth), np.sin(newth), newthdot], dtype=np.float32)
    return state, obs, -costs, False


def run(name, state, step, action, n):
    out = {"env": name, "init": [float(v) for v in state], "steps": []}
    for t in range(n):
        a = action(t, state)
        state, obs, r, term = step(state, a)
        out["steps"].append({
            "action": a if not isinstance(a, np.ndarray) else float(a[0]),
            "state": [float(v) for v in state],
            "obs": [float(v) for v in obs],
            "reward": float(r),
            "terminated": term,
        })
        if term:
            break
    return out


cases = [
    run("cartpole-v1", np.array([0.01, -0.02, 0.03, 0.04]), cartpole_step, lambda t, s: (t * 7 + 3) % 3 % 2, 60),
    run("cartpole-v1", np.array([-0.04, 0.03, -0.02, 0.01]), cartpole_step, lambda t, s: 1, 60),
    run("cartpole-v1", np.array([0.02, 0.01, -0.03, 0.02]), cartpole_step,
        lambda t, s: 1 if s[2] + 0.5 * s[3] + 0.01 * s[0] + 0.1 * s[1] > 0 else 0, 150),
    run("acrobot-v1", np.array([0.05, -0.03, 0.02, -0.01], dtype=np.float32), acrobot_step, lambda t, s: (t // 5) % 3, 40),
    run("acrobot-v1", np.array([-0.09, 0.08, 0.07, -0.06], dtype=np.float32), acrobot_step,
        lambda t, s: 2 if s[3] > 0 else 0, 300),
    run("mountaincar-v0", (-0.5, 0.0), mountaincar_step, lambda t, s: 2 if s[1] >= 0 else 0, 200),
    run("mountaincar-v0", (-1.1, -0.05), mountaincar_step, lambda t, s: 0, 40),
    run("pendulum-v1", np.array([3.0, -0.5]), pendulum_step,
        lambda t, s: np.array([((t * 13) % 9 - 4) * 0.7], dtype=np.float32), 80),
    run("pendulum-v1", np.array([-2.9, 7.5]), pendulum_step, lambda t, s: np.array([2.5], dtype=np.float32), 40),
]
print(json.dumps({"source": "gen_classic.py (gymnasium 1.x step functions re-stated in numpy)",
                  "cases": cases}, indent=1))
