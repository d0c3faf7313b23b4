#!/usr/bin/env python3
"""Golden vectors for AdamSMoE over a stack of 3 MoE blocks, from the official layer.

Usage: /usr/bin/python3 gen_adamsmoe_stack.py DIR OUT.json COMMIT
(DIR holds the official models.py, e.g. `git -C MIRROR show COMMIT:models.py > DIR/models.py`.)

Imports the official TransformerSeqLayer and CustomizedMoEPositionwiseFFAdam (models.py) and
runs them unchanged; only their heavy dependencies are stubbed: fastmoe's FMoETransformerMLP
(CUDA kernels) is a stand-in expert f(x) = tanh(x @ W_l) with a fixed matrix per layer, the
gate module is empty (the stand-in has no router), tqdm is not needed. Attention is off
(s = "x"), so each block is h <- norm2(h + smoe(h, moment)); the state (m, v, p) starts at
zeros as in TransformerSeq.forward and layerth = 0, 1, 2. Eval mode (dropout off), float64.
"""
import json, sys, types

import numpy as np
import torch
import torch.nn as nn

repo, out, commit = sys.argv[1], sys.argv[2], sys.argv[3]


class StandInMLP(nn.Module):
    """Replaces fastmoe's FMoETransformerMLP: f(x) = tanh(x @ W)."""

    def __init__(self, num_expert=0, d_model=0, d_hidden=0, moe_top_k=0, activation=None, gate=None, **kw):
        super().__init__()
        self.W = nn.Parameter(torch.zeros(d_model, d_model, dtype=torch.float64))

    def forward(self, inp):
        return torch.tanh(inp @ self.W)


ct = types.ModuleType("custom_transformer")
ct.FMoETransformerMLP = StandInMLP
ct.FMoETransformerMLPOpt = StandInMLP
cg = types.ModuleType("custom_gates")
cg.CustomNaiveGate_Balance_SMoE = None
cg.__all__ = ["CustomNaiveGate_Balance_SMoE"]
sys.modules["custom_transformer"] = ct
sys.modules["custom_gates"] = cg
sys.modules.setdefault("tqdm", types.ModuleType("tqdm"))
sys.path.insert(0, repo)
import models  # noqa: E402  (official code)

torch.set_default_dtype(torch.float64)
seed, B, T, d, L = 1, 2, 5, 8, 3
mu, gamma1, gamma2, beta1, beta2 = 0.7, 1.0, 1.0, 0.9, 0.999
rng = np.random.default_rng(seed)
t = lambda *s: torch.tensor(rng.standard_normal(s))
x = t(B, T, d).requires_grad_()
Ws = [(t(d, d) / np.sqrt(d)) for _ in range(L)]
lnA = [(1 + 0.1 * t(d), 0.1 * t(d)) for _ in range(L)]
lnB = [(1 + 0.1 * t(d), 0.1 * t(d)) for _ in range(L)]
R = t(B, T, d)

blocks = []
for l in range(L):
    blk = models.TransformerSeqLayer(hidden_size=d, inner_hidden_size=d, dropout=0.1, s="x", g="a", f="x",
                                     gate_name="smoe", optimal_policy=False, moe_top_k=2, freq=0, alpha=0,
                                     act_experts="shuffle", g_blance=False, opt_blance=False, combine_gate=False,
                                     opt_loss="mse", gamma1=gamma1, gamma2=gamma2, mu=mu, beta1=beta1, beta2=beta2,
                                     layerth=l)
    with torch.no_grad():
        blk.smoe.W.copy_(Ws[l])
        blk.smoe.layer_norm.weight.copy_(lnA[l][0]); blk.smoe.layer_norm.bias.copy_(lnA[l][1])
        blk.norm2.weight.copy_(lnB[l][0]); blk.norm2.bias.copy_(lnB[l][1])
    blk.eval()
    blocks.append(blk)

h = x
moment = (torch.zeros_like(h), torch.zeros_like(h), torch.zeros_like(h))
for blk in blocks:
    h, moment = blk(h, None, moment, None)
objective = (h * R).sum() + moment[2].sum() * 0.5
params = [b.smoe.W for b in blocks]
grads = torch.autograd.grad(objective, [x] + params)

enc = lambda a: {"shape": list(a.shape), "values": a.detach().reshape(-1).tolist(), "dtype": "float64"}
inputs = {"x": enc(x), "R": enc(R)}
for l in range(L):
    inputs[f"W{l}"] = enc(Ws[l])
    inputs[f"ln_a{l}_weight"], inputs[f"ln_a{l}_bias"] = enc(lnA[l][0]), enc(lnA[l][1])
    inputs[f"ln_b{l}_weight"], inputs[f"ln_b{l}_bias"] = enc(lnB[l][0]), enc(lnB[l][1])
doc = {
    "function": "AdamSMoE over 3 stacked post-LN MoE blocks (Adam step at layerth 0, heavy-ball after)",
    "reference": {"repo": "rachtsy/MomentumSMoE", "file": "models.py", "commit": commit,
                  "symbol": "CustomizedMoEPositionwiseFFAdam.forward + TransformerSeqLayer.forward"},
    "hyperparams": {"mu": mu, "gamma1": gamma1, "gamma2": gamma2, "beta1": beta1, "beta2": beta2,
                    "layers": L, "dropout": 0.1, "training": False, "layer_norm_eps": 1e-5, "adam_eps": 1e-8},
    "dtype": "float64",
    "tolerance": {"rtol": 1e-9, "atol": 1e-11},
    "seed": seed,
    "inputs": inputs,
    "outputs": {"output": enc(h), "adam_m": enc(moment[0]), "adam_v": enc(moment[1]),
                "moment": enc(moment[2]), "objective": enc(objective)},
    "grads": {"x": enc(grads[0]), **{f"W{l}": enc(grads[1 + l]) for l in range(L)}},
    "notes": [
        "Stand-in expert: f_l(h) = tanh(h @ W_l) (row vector h times W_l, no bias) replaces fastmoe's FMoETransformerMLP; the official Adam/momentum code and block code run unchanged.",
        "Block l (attention off): (out, state) = CustomizedMoEPositionwiseFFAdam(h, state) with its own LayerNorm LN_a (ln_a{l}); h <- LN_b(h + out) with the block's norm2 (ln_b{l}). LayerNorm eps 1e-5, biased variance.",
        "layerth 0: p = mu*0 + gamma2*f; m = (1-beta1) f; v = (1-beta2) f^2; out = LN_a(h - (gamma1/sqrt(v+1e-8)*m + h)). layerth >= 1: p = mu*p + gamma2*f; out = LN_a(h - p); m, v passed on unchanged.",
        "State starts at zeros (TransformerSeq.forward). outputs.output is h after the last block; adam_m, adam_v, moment the final state.",
        "objective = sum(output*R) + 0.5*sum(moment); grads are its gradients w.r.t. x and each W_l.",
    ],
}
with open(out, "w") as fh:
    fh.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in doc.items()) + "\n}\n")
