#!/usr/bin/env python3
"""PyTorch side of moeboost's step-speed benchmark: the same training steps, on CPU.

Usage: torch_ref.py [--tasks mlp,transformer-block,moe-block,dense-block-512] [--steps N] [--warmup W] [--threads 1,2]
Prints one JSON object:
  "torch": version; "results": {task: {threads: median ms per step}}; "steps": {task: N};
  "mean_ms": {task: {threads: wall time of the timed loop / N}};
  "cpu_user_ms", "cpu_sys_ms": {task: {threads: process user / system CPU ms per step}} and
  "minor_faults": {task: {threads: minor page faults per step}}, all from resource.getrusage
  around the timed loop (the whole process, every thread);
  "aten_threads": {task: {threads: torch.get_num_threads()}} and "blas_threads": {task: {threads:
  the BLAS pool size in effect during the timing, per threadpoolctl}};
  "blas_limit": "threadpoolctl" when the BLAS pool was limited with threadpoolctl, else why not;
  "blas": [threadpoolctl's threadpool_info() entries of the BLAS libraries loaded];
  "cpu_capability": the ATen kernel level; "openblas_env": the OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE
  this process saw; "malloc_env": the glibc allocator variables it saw.
Each time is the median of N steady-state steps after W warm-up steps.

Threads: torch.set_num_threads limits ATen's OpenMP pool only; OpenBLAS keeps its own pthreads
pool (measured on a 2-vCPU EPYC with Debian's torch 1.13: openmp 1 thread, openblas 2), so a
"1-thread" run without a BLAS limit still runs its matmuls on both cores. Each thread count th
is therefore timed with torch.set_num_threads(th) and threadpoolctl's
threadpool_limits(th, user_api="blas") held for the whole timing.

moeboost runs this script with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (suite.ReferenceEnv),
so OpenBLAS picks its kernel for the CPU ("blas" records which one), and with glibc's
MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ raised, so the step's large buffers are reused
instead of mmapped and unmapped every step ("malloc_env" records them; see package stepspeed).
"""
import argparse
import json
import os
import resource
import statistics
import time

import torch
import torch.nn as nn


def mlp_step():
    # 64 -> 256 -> 256 -> 1, ReLU, batch 256, Adam, MSE: as moeboost's "mlp" task.
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(256, 64), torch.randn(256, 1)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return step


class Block(nn.Module):
    # Pre-LN transformer block: x += MHA(LN(x)); x += FFN(LN(x)); FFN d -> ffn -> d with GELU (tanh).
    def __init__(self, d, heads, ffn, moe=None):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ffn = moe if moe is not None else nn.Sequential(nn.Linear(d, ffn), nn.GELU(approximate="tanh"), nn.Linear(ffn, d))

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.ffn(self.ln2(x))


class MoE(nn.Module):
    # Top-2-of-4 token-choice MoE with capacity factor 1.25 (softmax, top-k, renormalize),
    # dispatch by scatter into [E, C, d] slots, batched expert matmuls, combine by gather.
    def __init__(self, d, ffn, experts=4, k=2, cf=1.25):
        super().__init__()
        self.e, self.k, self.cf = experts, k, cf
        self.router = nn.Linear(d, experts, bias=False)
        self.w1 = nn.Parameter(torch.randn(experts, d, ffn) * (2 / d) ** 0.5)
        self.b1 = nn.Parameter(torch.zeros(experts, 1, ffn))
        self.w2 = nn.Parameter(torch.randn(experts, ffn, d) * (2 / ffn) ** 0.5)
        self.b2 = nn.Parameter(torch.zeros(experts, 1, d))

    def forward(self, x):
        b, s, d = x.shape
        t = x.reshape(-1, d)
        n = t.shape[0]
        cap = int(self.cf * n * self.k / self.e)
        probs = torch.softmax(self.router(t), dim=-1)
        gates, idx = probs.topk(self.k, dim=-1)
        gates = gates / gates.sum(-1, keepdim=True)
        onehot = nn.functional.one_hot(idx.t().reshape(-1), self.e)  # slot-major: [k*n, E]
        pos = (torch.cumsum(onehot, 0) - 1) * onehot
        pos = pos.sum(-1)
        keep = (pos < cap)
        flat_e = idx.t().reshape(-1)
        slot = flat_e * cap + pos.clamp(max=cap - 1)
        src = t.repeat(self.k, 1) * keep.unsqueeze(-1)
        buf = torch.zeros(self.e * cap, d).index_add(0, slot, src).reshape(self.e, cap, d)
        h = torch.nn.functional.gelu(torch.bmm(buf, self.w1) + self.b1, approximate="tanh")
        out = (torch.bmm(h, self.w2) + self.b2).reshape(self.e * cap, d)
        y = out[slot] * (gates.t().reshape(-1) * keep).unsqueeze(-1)
        return y.reshape(self.k, n, d).sum(0).reshape(b, s, d)


def block_step(moe, ffn=256):
    # ffn is the dense FFN width (512 in "dense-block-512": the MoE block's active FLOPs); the
    # MoE's experts are 256 wide.
    d, heads = 128, 4
    block = Block(d, heads, ffn, MoE(d, 256) if moe else None)
    opt = torch.optim.Adam(block.parameters(), lr=1e-3)
    x, y = torch.randn(32, 64, d), torch.randn(32, 64, d)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = ((block(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return step


TASKS = {"mlp": mlp_step, "transformer-block": lambda: block_step(False), "moe-block": lambda: block_step(True),
         "dense-block-512": lambda: block_step(False, 512)}


def blas_info():
    # threadpoolctl (Debian's python3-threadpoolctl) reports the BLAS that torch loaded and the
    # kernel ("architecture") OpenBLAS selected; without it the field says why.
    try:
        import threadpoolctl
    except ImportError as e:
        return [{"error": "threadpoolctl not importable: %s" % e}]
    keep = ("internal_api", "version", "architecture", "threading_layer", "num_threads", "filepath")
    return [{k: i.get(k) for k in keep} for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]


class BLASLimit:
    """Limits the BLAS pool to th threads while held (threadpoolctl), or only reports why it cannot."""

    def __init__(self):
        try:
            import threadpoolctl
            self.tpc, self.status = threadpoolctl, "threadpoolctl"
        except ImportError as e:
            self.tpc, self.status = None, "not limited: threadpoolctl not importable (%s); torch.set_num_threads only" % e

    def limit(self, th):
        if self.tpc is None:
            return _NoLimit()
        return self.tpc.threadpool_limits(limits=th, user_api="blas")

    def threads(self):
        # The BLAS pool size in effect now (the largest, if several BLAS libraries are loaded);
        # -1 when unknown.
        if self.tpc is None:
            return -1
        sizes = [i.get("num_threads") or 0 for i in self.tpc.threadpool_info() if i.get("user_api") == "blas"]
        return max(sizes) if sizes else -1


class _NoLimit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def cpu_capability():
    # The vectorized ATen kernels in use (torch >= 2.0 has an accessor; 1.13 prints it in its config).
    get = getattr(torch.backends.cpu, "get_cpu_capability", None) if hasattr(torch.backends, "cpu") else None
    if get is not None:
        return get()
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_ARENA_MAX")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", default="mlp,transformer-block")
    ap.add_argument("--steps", type=int, default=0, help="timed steps (0: 200 for mlp, 30 otherwise)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.ones(8, 8) @ torch.ones(8, 8)  # loads the BLAS library, so threadpoolctl sees it
    blas = BLASLimit()
    out = {"torch": torch.__version__, "results": {}, "steps": {}, "cpu_capability": cpu_capability(),
           "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
           "malloc_env": {k: os.environ.get(k) for k in MALLOC_ENV if k in os.environ},
           "blas_limit": blas.status}
    per = {k: {} for k in ("mean_ms", "cpu_user_ms", "cpu_sys_ms", "minor_faults", "aten_threads", "blas_threads")}
    for task in a.tasks.split(","):
        out["results"][task] = {}
        for k in per:
            per[k][task] = {}
        for th in [int(t) for t in a.threads.split(",")]:
            key = str(th)
            torch.set_num_threads(th)
            with blas.limit(th):
                step = TASKS[task]()
                n = a.steps or (200 if task == "mlp" else 30)
                out["steps"][task] = n
                for _ in range(a.warmup):
                    step()
                times = []
                r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                for _ in range(n):
                    t0 = time.perf_counter()
                    step()
                    times.append((time.perf_counter() - t0) * 1000)
                w1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
                per["blas_threads"][task][key] = blas.threads()
            out["results"][task][key] = statistics.median(times)
            per["mean_ms"][task][key] = (w1 - w0) * 1000 / n
            per["cpu_user_ms"][task][key] = (r1.ru_utime - r0.ru_utime) * 1000 / n
            per["cpu_sys_ms"][task][key] = (r1.ru_stime - r0.ru_stime) * 1000 / n
            per["minor_faults"][task][key] = (r1.ru_minflt - r0.ru_minflt) / n
            per["aten_threads"][task][key] = torch.get_num_threads()
    out.update(per)
    out["blas"] = blas_info()  # after the runs: every library torch loads lazily is in by now
    print(json.dumps(out))


if __name__ == "__main__":
    main()
