"""Golden vectors for boosting/gbnn, computed by the official GBNN code.

Runs GAA-UAM/GBNN (commit b0b4cfa, gbnn/GBNN.py, LGPL-2.1; imported, not copied) with Debian's
python3-sklearn 1.2.1 / numpy 1.24.2 and writes two kinds of JSON files (recognized by "kind"):

  gbnn_stage_math  the official loss classes (model0, derive, newton_step) driven by fixed
                   stage predictions h_t: F0, the residuals and rho of every stage, the final F
                   and the mean losses. Checks the boosting arithmetic without any fitting.
  gbnn_to_nn       an official fit (GNEGNEClassifier / GNEGNERegressor with a seeded numpy
                   global RNG), every stage's sklearn weights and rho, the assembled to_NN
                   network's weights, and its raw outputs and the ensemble's decision function
                   on held-out rows. Checks Model.Assemble against to_NN.

    /usr/bin/python3 gen_golden.py /path/to/GBNN-checkout  # writes gbnn_*.json here
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(sys.argv[1], "gbnn"))  # GBNN.py alone (the package needs pandas)
import GBNN  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = "GAA-UAM/GBNN b0b4cfa gbnn/GBNN.py, sklearn 1.2.1, numpy 1.24.2 (gen_golden.py)"


def tolist(a):
    return np.asarray(a, dtype=np.float64).tolist()


def stage_math(name, task, eta, seed):
    rng = np.random.RandomState(seed)
    n, stages = 12, 4
    if task == "regression":
        loss, y = GBNN.squared_loss(), rng.normal(2.0, 3.0, size=n)
        k = 1
    elif task == "binary":
        loss, y = GBNN.log_exponential_loss(), np.where(rng.rand(n) < 0.4, -1.0, 1.0)
        k = 1
    else:
        k = 3
        loss = GBNN.multi_class_loss()
        y = np.eye(k)[rng.randint(0, k, size=n)]
    hs = [rng.normal(0, 1.5, size=y.shape) for _ in range(stages)]
    f0 = loss.model0(y)
    acum = np.ones_like(y) * f0
    out = {"kind": "gbnn_stage_math", "source": SOURCE, "task": task, "eta": eta, "n": n, "k": k,
           "y": tolist(y).copy(), "h": [tolist(h) for h in hs], "f0": tolist(np.atleast_1d(f0)),
           "residuals": [], "rho": [], "losses": []}
    for h in hs:
        r = loss.derive(y, acum)
        rho = eta * loss.newton_step(y, r, h)
        acum = acum + rho * h
        out["residuals"].append(tolist(r))
        out["rho"].append(float(rho))
        out["losses"].append(float(np.mean(loss(y, acum))))
    out["f_final"] = tolist(acum)
    write(name, out)


def to_nn(name, task, seed, total_nn, num_nn_step, eta):
    rng = np.random.RandomState(seed)
    n, d, n_test = 40, 3, 6
    x = rng.normal(size=(n + n_test, d))
    if task == "regression":
        y = x[:, 0] - 2 * x[:, 1] + 0.5 * np.sin(3 * x[:, 2]) + 0.1 * rng.normal(size=n + n_test)
        est = GBNN.GNEGNERegressor(total_nn=total_nn, num_nn_step=num_nn_step, eta=eta, max_iter=50)
    else:
        classes = 2 if task == "binary" else 3
        score = x[:, 0] + np.sin(2 * x[:, 1]) - 0.5 * x[:, 2]
        y = np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))
        est = GBNN.GNEGNEClassifier(total_nn=total_nn, num_nn_step=num_nn_step, eta=eta, max_iter=50)
    xtr, ytr, xte = x[:n], y[:n], x[n:]
    np.random.seed(seed)  # The official subsampling draws from numpy's global RNG.
    est.fit(xtr, ytr)
    nn = est.to_NN()
    hidden = 1 / (1 + np.exp(-(xte @ nn.coefs_[0] + nn.intercepts_[0])))
    raw = hidden @ nn.coefs_[1] + nn.intercepts_[1]
    out = {"kind": "gbnn_to_nn", "source": SOURCE, "task": task, "activation": "logistic",
           "units_per_stage": num_nn_step, "inputs": d, "outputs": int(nn.coefs_[1].shape[1]),
           "num_classes": 0 if task == "regression" else int(len(est.classes_)),
           "f0": tolist(np.atleast_1d(est.intercept)),
           "stages": [{"w1": tolist(m.coefs_[0]), "b1": tolist(m.intercepts_[0]),
                       "w2": tolist(m.coefs_[1]), "b2": tolist(m.intercepts_[1]), "rho": float(rho)}
                      for m, rho in zip(est.models, est.steps)],
           "nn_w1": tolist(nn.coefs_[0]), "nn_b1": tolist(nn.intercepts_[0]),
           "nn_w2": tolist(nn.coefs_[1]), "nn_b2": tolist(nn.intercepts_[1]),
           "x_test": tolist(xte), "decision": tolist(est._decision_function(xte)),
           "nn_output": tolist(raw)}
    if task != "regression":
        out["nn_proba"] = tolist(nn.predict_proba(xte))
        out["proba"] = tolist(est.predict_proba(xte))
    write(name, out)


def write(name, obj):
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    stage_math("gbnn_stage_math_regression", "regression", 0.5, 1)
    stage_math("gbnn_stage_math_binary", "binary", 1.0, 2)
    stage_math("gbnn_stage_math_multiclass", "multiclass", 0.1, 3)
    to_nn("gbnn_to_nn_regression", "regression", 4, 6, 2, 0.5)
    to_nn("gbnn_to_nn_binary", "binary", 5, 6, 2, 1.0)
    to_nn("gbnn_to_nn_multiclass", "multiclass", 6, 6, 3, 0.1)
