"""Golden vectors for the optimizers' non-default switches, from the official code.

The official optimizers are imported from checkouts of their repositories (none of their code
lives here): pass the directory holding them, one sub-directory per repository named
OWNER+NAME (as the project's fetch tool writes them):

    cd testdata/golden/optimizers && /usr/bin/python3 gen_switches.py /path/to/refs

Needs Debian's python3-torch 1.13 (CPU). Each case replays the fixed gradient sequence of an
existing `*_default_fixed.json` file (same tensors, same 20 gradients) through the official
optimizer built with the case's hyperparameters, in float64, and writes
`NAME_CASE_fixed.json` in the format of README.md. torch.optim's own AdamW, Adam and SGD are
the reference for our `adamw` (AMSGrad, L2) and `sgd` (Nesterov, dampening) switches.
SGD-SaI's official step fails with momentum 0 (UnboundLocalError: `buf` is only bound when
momentum != 0), so that switch is checked against a hand-computed step in variants_test.go.
"""
import importlib.util
import json
import math
import os
import subprocess
import sys
import types

import torch

torch.set_default_dtype(torch.float64)
REFS = sys.argv[1] if len(sys.argv) > 1 else "/tmp/offref"
HERE = os.path.dirname(os.path.abspath(__file__))

# Optional imports of the official files that do not change the arithmetic.
for name in ("tabulate", "colorama", "transformers", "transformers.utils", "transformers.utils.versions"):
    if name not in sys.modules:
        m = types.ModuleType(name)
        m.tabulate = lambda *a, **k: ""
        m.Fore = m.Back = m.Style = types.SimpleNamespace(RED="", GREEN="", BLUE="", RESET_ALL="", YELLOW="")
        m.require_version = lambda *a, **k: None
        sys.modules[name] = m


def load(repo, path, module):
    full = os.path.join(REFS, repo, path)
    pkg_dir = os.path.dirname(full)
    pkg_name = module.rsplit(".", 1)[0] if "." in module else None
    if pkg_name and pkg_name not in sys.modules:
        pkg = types.ModuleType(pkg_name)
        pkg.__path__ = [pkg_dir]
        sys.modules[pkg_name] = pkg
    spec = importlib.util.spec_from_file_location(module, full)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[module] = mod
    spec.loader.exec_module(mod)
    return mod


def commit(repo):
    d = os.path.join(REFS, repo)
    for g in (os.path.join("/work/.mirror", repo, "repo", ".git"), os.path.join("/work/.mirror", repo, "repo")):
        try:
            return subprocess.check_output(["git", "--git-dir", g, "rev-parse", "HEAD"], stderr=subprocess.DEVNULL).decode().strip()
        except Exception:
            pass
    return "unknown"


adamp = load("clovaai+AdamP", "adamp/adamp.py", "adamp_pkg.adamp")
sgdp = load("clovaai+AdamP", "adamp/sgdp.py", "adamp_pkg.sgdp")
adan = load("sail-sg+Adan", "adan.py", "adan_ref")
adab = load("juntang-zhuang+Adabelief-Optimizer", "pypi_packages/adabelief_pytorch0.2.1/adabelief_pytorch/AdaBelief.py", "adabelief_ref")
spam = load("TianjinYellow+SPAM-Optimizer", "galore_torch/SPAM.py", "spam_ref")
sspam = load("TianjinYellow+StableSPAM", "galore_torch/stablespam.py", "stablespam_ref")
sai = load("AnonymousAlethiometer+SGD_SaI", "sgd_sai/sgd_sai.py", "sgdsai_ref")
load("xichen-fy+Fira", "optimizer_torch/gradient_projection.py", "fira_pkg.gradient_projection")
fira = load("xichen-fy+Fira", "optimizer_torch/fira_adamw.py", "fira_pkg.fira_adamw")
lion = load("google+automl", "lion/lion_pytorch.py", "lion_ref")
ortho = load("LucasPrietoAl+grokking-at-the-edge-of-numerical-stability", "orthograd.py", "orthograd_ref")

TORCH = {"repo": "pytorch/pytorch", "file": "torch/optim", "commit": "v" + torch.__version__, "symbol": None}


def ref(repo, file, symbol):
    return {"repo": repo.replace("+", "/"), "file": file, "commit": commit(repo), "symbol": symbol}


# (golden optimizer name, case, template, reference, hyperparameters as named in the official
# code, constructor taking (params or groups), notes, low-rank group for Fira)
CASES = [
    ("AdamW", "amsgrad", "AdamP", dict(TORCH, symbol="torch.optim.AdamW"),
     {"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.1, "amsgrad": True},
     lambda p, h: torch.optim.AdamW(p, **h)),
    ("Adam", "l2", "AdamP", dict(TORCH, symbol="torch.optim.Adam"),
     {"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.1, "amsgrad": False},
     lambda p, h: torch.optim.Adam(p, **h)),
    ("SGD", "nesterov_wd", "AdamP", dict(TORCH, symbol="torch.optim.SGD"),
     {"lr": 0.01, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.1, "nesterov": True},
     lambda p, h: torch.optim.SGD(p, **h)),
    ("SGD", "dampening", "AdamP", dict(TORCH, symbol="torch.optim.SGD"),
     {"lr": 0.01, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.0, "nesterov": False},
     lambda p, h: torch.optim.SGD(p, **h)),
    ("AdamP", "nesterov", "AdamP", ref("clovaai+AdamP", "adamp/adamp.py", "AdamP"),
     {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.1, "delta": 0.1, "wd_ratio": 0.1, "nesterov": True},
     lambda p, h: adamp.AdamP(p, **h)),
    ("SGDP", "nesterov", "SGDP", ref("clovaai+AdamP", "adamp/sgdp.py", "SGDP"),
     {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.01, "nesterov": True, "eps": 1e-8, "delta": 0.1, "wd_ratio": 0.1},
     lambda p, h: sgdp.SGDP(p, **h)),
    ("Adan", "clip_noprox", "Adan", ref("sail-sg+Adan", "adan.py", "Adan"),
     {"lr": 0.001, "betas": [0.98, 0.92, 0.99], "eps": 1e-8, "weight_decay": 0.02, "max_grad_norm": 0.5, "no_prox": True, "foreach": True},
     lambda p, h: adan.Adan(p, **h)),
    ("AdaBelief", "amsgrad", "AdaBelief", ref("juntang-zhuang+Adabelief-Optimizer", "pypi_packages/adabelief_pytorch0.2.1/adabelief_pytorch/AdaBelief.py", "AdaBelief"),
     {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-16, "weight_decay": 0.1, "amsgrad": True, "weight_decouple": True, "fixed_decay": False, "rectify": True, "degenerated_to_sgd": True},
     lambda p, h: adab.AdaBelief(p, print_change_log=False, **h)),
    ("AdaBelief", "norectify_l2", "AdaBelief", ref("juntang-zhuang+Adabelief-Optimizer", "pypi_packages/adabelief_pytorch0.2.1/adabelief_pytorch/AdaBelief.py", "AdaBelief"),
     {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-16, "weight_decay": 0.1, "amsgrad": False, "weight_decouple": False, "fixed_decay": False, "rectify": False, "degenerated_to_sgd": True},
     lambda p, h: adab.AdaBelief(p, print_change_log=False, **h)),
    ("AdaBelief", "fixeddecay_nosgd", "AdaBelief", ref("juntang-zhuang+Adabelief-Optimizer", "pypi_packages/adabelief_pytorch0.2.1/adabelief_pytorch/AdaBelief.py", "AdaBelief"),
     {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-16, "weight_decay": 0.1, "amsgrad": False, "weight_decouple": True, "fixed_decay": True, "rectify": True, "degenerated_to_sgd": False},
     lambda p, h: adab.AdaBelief(p, print_change_log=False, **h)),
    ("SPAM", "nocorrect_accu", "SPAM", ref("TianjinYellow+SPAM-Optimizer", "galore_torch/SPAM.py", "AdamW (exported as SPAM)"),
     {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-6, "weight_decay": 0.0, "correct_bias": False, "warmup_steps": 2, "threshold": 50, "DeltaT": 3, "grad_accu_steps": 2},
     lambda p, h: spam.AdamW(p, **h)),
    ("StableSPAM", "amsgrad_gamma1", "StableSPAM", ref("TianjinYellow+StableSPAM", "galore_torch/stablespam.py", "StableSPAM"),
     {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "amsgrad": True, "gamma1": -1.0, "gamma2": 0.9, "gamma3": 0.999, "total_T": 3, "eta_min": 0.5, "update_proj_gap": 1000},
     lambda p, h: sspam.StableSPAM(p, **h)),
    ("Fira", "reverse_std", "Fira", ref("xichen-fy+Fira", "optimizer_torch/fira_adamw.py (+ gradient_projection.py)", "AdamW (exported as FiraAdamW)"),
     {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-6, "weight_decay": 0.0, "correct_bias": True, "rank": 2, "update_proj_gap": 200, "alpha": 0.25, "proj_type": "reverse_std"},
     "fira"),
    ("Fira", "right_nobias", "Fira", ref("xichen-fy+Fira", "optimizer_torch/fira_adamw.py (+ gradient_projection.py)", "AdamW (exported as FiraAdamW)"),
     {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-6, "weight_decay": 0.0, "correct_bias": False, "rank": 2, "update_proj_gap": 200, "alpha": 0.25, "proj_type": "right"},
     "fira"),
    ("Fira", "left_rank1", "Fira", ref("xichen-fy+Fira", "optimizer_torch/fira_adamw.py (+ gradient_projection.py)", "AdamW (exported as FiraAdamW)"),
     {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-6, "weight_decay": 0.0, "correct_bias": True, "rank": 1, "update_proj_gap": 200, "alpha": 0.25, "proj_type": "left"},
     "fira"),
    ("PerpGrad", "lion", "PerpGrad_sgd", ref("LucasPrietoAl+grokking-at-the-edge-of-numerical-stability", "orthograd.py", "OrthoGrad"),
     {"base": "lion_pytorch.Lion", "lr": 0.0001, "betas": [0.9, 0.99], "weight_decay": 0.0},
     lambda p, h: ortho.OrthoGrad(p, lion.Lion, **{k: (tuple(v) if k == "betas" else v) for k, v in h.items() if k != "base"})),
]


def template(name):
    fn = os.path.join(HERE, (name if "_" in name else name + "_default") + "_fixed.json")
    with open(fn) as f:
        return json.load(f)


def fira_groups(params, h):
    low = [p for p in params if p.dim() == 2]
    rest = [p for p in params if p.dim() != 2]
    hp = dict(h)
    lr_args = {k: hp.pop(k) for k in ("rank", "update_proj_gap", "alpha", "proj_type")}
    groups = [dict({"params": low}, **lr_args), {"params": rest}]
    hp["betas"] = tuple(hp["betas"])
    return fira.AdamW(groups, **hp)


def run_case(opt_name, case, tmpl_name, reference, h, make):
    t = template(tmpl_name)
    params = [torch.nn.Parameter(torch.tensor(p["values"], dtype=torch.float64).reshape(p["shape"])) for p in t["params_initial"]]
    hh = {k: (tuple(v) if k == "betas" else v) for k, v in h.items()}
    opt = fira_groups(params, h) if make == "fira" else make(params, hh)
    after = []
    for step in range(len(t["grads"])):
        for p, g in zip(params, t["grads"][step]):
            p.grad = torch.tensor(g, dtype=torch.float64).reshape(p.shape).clone()
        opt.step()
        after.append([p.detach().reshape(-1).tolist() for p in params])
    out = {
        "optimizer": opt_name, "case": case, "mode": "fixed", "reference": reference, "hyperparams": h,
        "dtype": "float64", "seed": t["seed"], "steps": len(t["grads"]),
        "tolerance": {"rtol": 1e-9, "atol": 1e-12},
        "notes": ["switch case generated by gen_switches.py from the gradients of " + tmpl_name + "_default_fixed.json"],
        "params_initial": t["params_initial"], "grads": t["grads"], "params_after_each_step": after,
    }
    if make == "fira":
        out["notes"].append("Param groups: tensors with ndim == 2 (w, w_wide) are in the low-rank group with rank/update_proj_gap/alpha/proj_type; the others use plain (Fira-less) AdamW.")
        out["notes"].append("The reference computes the projector SVD in float32; 'projectors' holds the matrices it used (computed once: update_proj_gap >= steps).")
        out["tolerance"].update({"rtol_own_svd": 2e-4, "atol_own_svd": 1e-6})
        projs = []
        for i, p in enumerate(params):
            st = opt.state[p]
            if "projector" in st:
                m = st["projector"].ortho_matrix
                rows, cols = p.shape
                kind = {"right": "right", "left": "left", "reverse_std": "left" if rows >= cols else "right",
                        "std": "right" if rows >= cols else "left"}[h["proj_type"]]
                name = t["params_initial"][i]["name"]
                projs.append({"tensor": name, "computed_at_step": 1, "kind": kind, "shape": list(m.shape), "values": m.reshape(-1).tolist()})
        out["projectors"] = projs
    fn = os.path.join(HERE, "%s_%s_fixed.json" % (opt_name, case))
    with open(fn, "w") as f:
        f.write("{\n" + ",\n".join("%s: %s" % (json.dumps(k), json.dumps(v)) for k, v in out.items()) + "\n}\n")
    print("wrote", fn)


for c in CASES:
    run_case(*c)
