"""Reference numbers for the gbnn benchmark: the official GBNN code and sklearn's MLPs on the
benchmark's own CV folds (written by foldsdump), with the benchmark's full settings.

    go run ./examples/bench/gbnn/foldsdump -out /tmp/gbnn_folds.json
    /usr/bin/python3 examples/bench/gbnn/gbnn_ref.py /path/to/GAA-UAM/GBNN /tmp/gbnn_folds.json

GBNN: GAA-UAM/GBNN gbnn/GBNN.py (imported from the checkout given), 200 stages of 1 logistic
unit, eta 0.1, subsample 0.5, lbfgs, max_iter 200; its subsample draws from numpy's global RNG
(seeded here per fold). MLPs: sklearn MLPClassifier/MLPRegressor with 200 logistic units,
max_iter 2000, solver adam / sgd (sklearn defaults otherwise), random_state = fold. Prints one
line per dataset and arm: mean ± std over folds (accuracy, or RMSE in the target's units).
"""
import json
import os
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

sys.path.insert(0, os.path.join(sys.argv[1], "gbnn"))  # GBNN.py alone (the package needs pandas)
import GBNN  # noqa: E402

warnings.filterwarnings("ignore", category=ConvergenceWarning)
warnings.filterwarnings("ignore", category=RuntimeWarning)


def score(task, pred, y, y_std):
    if task == "regression":
        return float(np.sqrt(np.mean((pred - y) ** 2)) * y_std)
    return float(np.mean(pred == y))


def main():
    folds = json.load(open(sys.argv[2]))
    results = {}
    for f in folds:
        xtr, ytr = np.array(f["x_train"]), np.array(f["y_train"])
        xte, yte = np.array(f["x_test"]), np.array(f["y_test"])
        reg = f["task"] == "regression"
        arms = {
            "gbnn": (GBNN.GNEGNERegressor if reg else GBNN.GNEGNEClassifier)(
                total_nn=200, num_nn_step=1, eta=0.1, subsample=0.5, solver="lbfgs", max_iter=200),
            "mlp-adam": (MLPRegressor if reg else MLPClassifier)(
                hidden_layer_sizes=(200,), activation="logistic", solver="adam", max_iter=2000,
                random_state=f["fold"]),
            "mlp-sgd": (MLPRegressor if reg else MLPClassifier)(
                hidden_layer_sizes=(200,), activation="logistic", solver="sgd", max_iter=2000,
                random_state=f["fold"]),
        }
        for arm, est in arms.items():
            np.random.seed(f["fold"] + 1)
            t0 = time.time()
            est.fit(xtr, ytr)
            secs = time.time() - t0
            s = score(f["task"], est.predict(xte), yte, f["y_std"])
            results.setdefault((f["dataset"], arm), []).append((s, secs))
    for (ds, arm), vals in results.items():
        s = np.array([v[0] for v in vals])
        secs = np.mean([v[1] for v in vals])
        print(f"{ds:14s} {arm:9s} {s.mean():.3f} ± {s.std(ddof=1) if len(s) > 1 else 0:.3f}"
              f"  ({len(s)} folds, {secs:.1f} s/fit)")


if __name__ == "__main__":
    main()
