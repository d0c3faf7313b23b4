#!/usr/bin/env python3
"""XGBoost side of moeboost's trees-speed benchmark.

Fits XGBoost's `hist` regressor (squared error, depth 4, eta 0.1, max_bin 256, lambda 1, base
score = mean target) on the data the Go benchmark writes, and prints one JSON object with the
median fit time (xgb.train on a prepared DMatrix; XGBoost builds its quantile sketch and
histogram index inside train) and the test RMSE.

    /usr/bin/python3 trees_xgb_ref.py --data FILE [--trees 100] [--depth 4] [--threads 2] [--repeats 3]

FILE (written by `go run ./examples/bench -only trees-speed`, see package treesspeed):
little-endian, b"MBXY", uint32 version (1), uint32 n_train, n_test, n_features, then float32
X_train [n_train, n_features], y_train, X_test, y_test.

Without --data the script generates the same distribution with numpy (not the same numbers):
x ~ N(0, 1)^20, y = x0 - 0.5 x1 + 0.25 x2 + 2 x3 - x4 + sin(2 x5) + x6 x7 + 0.5 noise.
Needs Debian's python3-xgboost (XGBoost 1.7.4 was measured) and numpy.
"""
import argparse
import json
import statistics
import struct
import sys
import time

import numpy as np


def load(path):
    with open(path, "rb") as f:
        head = f.read(20)
        magic, version, n_train, n_test, nf = struct.unpack("<4sIIII", head)
        if magic != b"MBXY" or version != 1:
            sys.exit(f"{path}: not a trees-speed data file (magic {magic!r}, version {version})")
        def mat(n, m):
            return np.frombuffer(f.read(4 * n * m), dtype="<f4").reshape(n, m)
        x_train = mat(n_train, nf)
        y_train = mat(n_train, 1)[:, 0]
        x_test = mat(n_test, nf)
        y_test = mat(n_test, 1)[:, 0]
    return x_train, y_train, x_test, y_test


def generate(n_train, n_test, nf, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_train + n_test, nf)).astype(np.float32)
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.25 * x[:, 2] + 2 * x[:, 3] - x[:, 4] + np.sin(2 * x[:, 5])
         + x[:, 6] * x[:, 7] + 0.5 * rng.standard_normal(n_train + n_test)).astype(np.float32)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data")
    p.add_argument("--trees", type=int, default=100)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--eta", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    import xgboost as xgb

    if args.data:
        x_train, y_train, x_test, y_test = load(args.data)
    else:
        x_train, y_train, x_test, y_test = generate(100_000, 20_000, 20, 1)
    params = {"tree_method": "hist", "max_depth": args.depth, "eta": args.eta, "max_bin": 256,
              "lambda": 1.0, "min_child_weight": 1.0, "objective": "reg:squarederror",
              "nthread": args.threads, "base_score": float(np.mean(y_train)), "verbosity": 0}
    runs, rmse, train_rmse, dm_secs = [], None, None, []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        dtrain = xgb.DMatrix(x_train, label=y_train, nthread=args.threads)
        dm_secs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        booster = xgb.train(params, dtrain, num_boost_round=args.trees)
        runs.append(time.perf_counter() - t0)
        pred = booster.predict(xgb.DMatrix(x_test, nthread=args.threads))
        rmse = float(np.sqrt(np.mean((pred - y_test) ** 2)))
        ptr = booster.predict(dtrain)
        train_rmse = float(np.sqrt(np.mean((ptr - y_train) ** 2)))
    print(json.dumps({"xgboost": xgb.__version__, "fit_seconds": statistics.median(runs),
                      "fit_seconds_runs": runs, "dmatrix_seconds": statistics.median(dm_secs),
                      "rmse": rmse, "train_rmse": train_rmse, "threads": args.threads,
                      "trees": args.trees, "depth": args.depth}))


if __name__ == "__main__":
    main()
