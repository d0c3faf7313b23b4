"""Classic-control golden trajectories from real gymnasium (not a re-statement).

Imports gymnasium itself, builds each environment with gymnasium.make (so the registered
TimeLimit/OrderEnforcing/PassiveEnvChecker wrappers run too), resets it, overwrites the
unwrapped environment's `state` with a fixed initial state, applies a fixed action policy
and records, for every step, the unwrapped internal state (float64), the observation returned
by step (float32), the reward and the terminated flag. Same cases as gen_classic.py (the
earlier numpy re-statement) so the two files can be compared.

gymnasium is not packaged by Debian and pip is not reachable here, so it was run from a
source checkout of Farama-Foundation/Gymnasium (v1.4.0, commit
3f0476a8cc224dcce2167cc4b6971ae0f04d5cfc) with Debian's numpy 1.24.2, python3-cloudpickle and
python3-typing-extensions, and an empty stand-in for the farama_notifications package (it
only prints upgrade notices):

    mkdir -p /tmp/stub/farama_notifications && echo 'notifications = {}' > /tmp/stub/farama_notifications/__init__.py
    PYTHONPATH=/path/to/Gymnasium:/tmp/stub /usr/bin/python3 gen_gymnasium.py > gymnasium_classic_control.json
"""
import json
import warnings

import numpy as np
import gymnasium

warnings.simplefilter("ignore")  # the passive checker's float64-state notes


def run(env_id, init, policy, n):
    env = gymnasium.make(env_id)
    env.reset(seed=0)
    u = env.unwrapped
    if env_id.startswith("MountainCar"):
        u.state = np.array(init, dtype=np.float64)
    else:
        u.state = np.array(init, dtype=np.asarray(init).dtype)
    out = {"env": env_id.lower(), "init": [float(v) for v in u.state], "steps": []}
    for t in range(n):
        a = policy(t, np.asarray(u.state, dtype=np.float64))
        obs, r, term, trunc, _ = env.step(a)
        out["steps"].append({
            "action": float(a[0]) if isinstance(a, np.ndarray) else int(a),
            "state": [float(v) for v in np.asarray(u.state, dtype=np.float64)],
            "obs": [float(v) for v in obs],
            "reward": float(r),
            "terminated": bool(term),
        })
        if term or trunc:
            break
    env.close()
    return out


cases = [
    run("CartPole-v1", np.array([0.01, -0.02, 0.03, 0.04]), lambda t, s: (t * 7 + 3) % 3 % 2, 60),
    run("CartPole-v1", np.array([-0.04, 0.03, -0.02, 0.01]), lambda t, s: 1, 60),
    run("CartPole-v1", np.array([0.02, 0.01, -0.03, 0.02]),
        lambda t, s: 1 if s[2] + 0.5 * s[3] + 0.01 * s[0] + 0.1 * s[1] > 0 else 0, 150),
    run("Acrobot-v1", np.array([0.05, -0.03, 0.02, -0.01], dtype=np.float32), lambda t, s: (t // 5) % 3, 40),
    run("Acrobot-v1", np.array([-0.09, 0.08, 0.07, -0.06], dtype=np.float32), lambda t, s: 2 if s[3] > 0 else 0, 300),
    run("MountainCar-v0", (-0.5, 0.0), lambda t, s: 2 if s[1] >= 0 else 0, 200),
    run("MountainCar-v0", (-1.1, -0.05), lambda t, s: 0, 40),
    run("Pendulum-v1", np.array([3.0, -0.5]), lambda t, s: np.array([((t * 13) % 9 - 4) * 0.7], dtype=np.float32), 80),
    run("Pendulum-v1", np.array([-2.9, 7.5]), lambda t, s: np.array([2.5], dtype=np.float32), 40),
]
print(json.dumps({"source": "gymnasium %s (gymnasium.make, unwrapped state) via gen_gymnasium.py" % gymnasium.__version__,
                  "cases": cases}, indent=1))
