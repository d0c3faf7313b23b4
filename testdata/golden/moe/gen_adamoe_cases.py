#!/usr/bin/env python3
"""Golden vectors for AdaMoE (Mixtral variant) from the official block and balance loss.

Usage: /usr/bin/python3 gen_adamoe_cases.py DIR OUTDIR COMMIT
(DIR holds the official adaptive_moe_utils.py, e.g.
`git -C MIRROR show COMMIT:exp_2/LLaMA_Factory/src/llamafactory/model/adaptive_moe_utils.py > DIR/adaptive_moe_utils.py`.)

Imports CustomMixtralSparseMoeBlock and load_balancing_loss_func_with_null_experts from the
official file and runs them unchanged. Only `transformers` is stubbed: the file imports it for
MixtralBlockSparseTop2MLP (the expert, not part of the routing method), which is replaced by a
stand-in expert x -> x @ W_e^T with a fixed matrix per expert.

Cases (n = 8 true experts, as the official block hard-codes, m = 8 null experts, hidden 10,
batch 2 x seq 8 = 16 tokens, float64 parameters and input, eval mode, no jitter):
- adamoe_mixtral_m8_k{K}_s{S}: random routers, k = 2, 3, 4, seeds 1-4; the official code as
  released, whose router softmax runs in float32 (F.softmax(..., dtype=torch.float)).
- adamoe_mixtral_f64_m8_k{K}_s{S}: the same inputs with the block's softmax in float64: the
  module's `F` is wrapped so that softmax(..., dtype=torch.float) keeps the input's float64
  dtype; everything else (selection, renormalisation, loss) is the official code. These test
  the routing maths at float64 precision (atol 1e-9).
- adamoe_mixtral_nullties_{f64_}m8_k{K}_s{S}: tied null experts as the official code produces
  them: its Mixtral conversion (loader.py) sets gate2 = gate.repeat(m/8, 1), so null experts
  share router rows. Here the null rows are tied among themselves only (rows 4..7 of gate2 are
  copies of rows 0..3, so null expert 8+j and 12+j have identical logits for every token).
- adamoe_mixtral_nullzero_f64_m8_k{K}_s1: a zero null router (all m null logits 0, all tied).
"""
import json, sys, types

import numpy as np
import torch
import torch.nn as nn

src, outdir, commit = sys.argv[1], sys.argv[2], sys.argv[3]


class StandInExpert(nn.Module):
    """Replaces transformers' MixtralBlockSparseTop2MLP: x -> x @ W^T (bias-free)."""

    def __init__(self, config):
        super().__init__()
        self.W = nn.Parameter(torch.zeros(config.hidden_size, config.hidden_size, dtype=torch.float64))

    def forward(self, x):
        return x @ self.W.t()


tf = types.ModuleType("transformers")
tfm = types.ModuleType("transformers.models")
tfmm = types.ModuleType("transformers.models.mixtral")
tfmmm = types.ModuleType("transformers.models.mixtral.modeling_mixtral")
tfmmm.MixtralBlockSparseTop2MLP = StandInExpert
tf.models, tfm.mixtral, tfmm.modeling_mixtral = tfm, tfmm, tfmmm
for name, mod in [("transformers", tf), ("transformers.models", tfm), ("transformers.models.mixtral", tfmm),
                  ("transformers.models.mixtral.modeling_mixtral", tfmmm)]:
    sys.modules[name] = mod
sys.path.insert(0, src)
import adaptive_moe_utils as official  # noqa: E402  (official code)

OfficialF = official.F


class Float64Softmax:
    """The module's `F` with softmax(..., dtype=torch.float) kept in the input's float64."""

    def __getattr__(self, name):
        return getattr(OfficialF, name)

    @staticmethod
    def softmax(x, dim=None, dtype=None):
        if dtype == torch.float32 and x.dtype == torch.float64:
            dtype = torch.float64
        return OfficialF.softmax(x, dim=dim, dtype=dtype)


torch.set_default_dtype(torch.float64)
N_TRUE, M_NULL, D, B, S = 8, 8, 10, 2, 8
REF_FILE = "exp_2/LLaMA_Factory/src/llamafactory/model/adaptive_moe_utils.py"
enc = lambda a, dt="float64": {"shape": list(a.shape), "values": a.detach().reshape(-1).tolist(), "dtype": dt}


def inputs_for(seed, ties):
    rng = np.random.default_rng(seed)
    t = lambda *s: torch.tensor(rng.standard_normal(s))
    hidden = t(B, S, D)
    gate = t(N_TRUE, D) / np.sqrt(D)
    gate2 = t(M_NULL, D) / np.sqrt(D)
    experts = t(N_TRUE, D, D) / np.sqrt(D)
    R = t(B, S, D)
    if ties == "pairs":
        gate2 = gate2[: M_NULL // 2].repeat(2, 1)  # null 8+j and 12+j share a row (official repeat pattern)
    elif ties == "zero":
        gate2 = torch.zeros(M_NULL, D)
    return hidden, gate, gate2, experts, R


def run(seed, k, ties, f64):
    hidden, gate, gate2, experts, R = inputs_for(seed, ties)
    cfg = types.SimpleNamespace(hidden_size=D, intermediate_size=D, num_local_experts=N_TRUE,
                                num_experts_per_tok=k, router_jitter_noise=0)
    official.F = Float64Softmax() if f64 else OfficialF
    blk = official.CustomMixtralSparseMoeBlock(cfg, M_NULL).double()
    with torch.no_grad():
        blk.gate.weight.copy_(gate)
        blk.gate2.weight.copy_(gate2)
        for e in range(N_TRUE):
            blk.experts[e].W.copy_(experts[e])
    blk.eval()
    x = hidden.clone().requires_grad_()
    out, router_logits = blk(x)
    loss = official.load_balancing_loss_func_with_null_experts((router_logits,), N_TRUE, k, None, num_null_experts=M_NULL)
    ws = (out * R).sum()
    params = [blk.gate.weight, blk.gate2.weight, x]
    gl = torch.autograd.grad(loss, params, retain_graph=True)
    gw = torch.autograd.grad(ws, params + [blk.experts[e].W for e in range(N_TRUE)])
    official.F = OfficialF

    # The block's selection, recomputed with the same call (outputs of the official forward are
    # only the final states and logits).
    sm = torch.softmax(router_logits.detach(), dim=1, dtype=torch.float64 if f64 else torch.float32)
    rw, sel = torch.topk(sm, k, dim=-1)
    mask = sel <= N_TRUE - 1
    sw = rw * mask
    ssum = sw.sum(-1, keepdim=True)
    ssum[ssum == 0] = 1
    rw = (sw / ssum + rw * (~mask)).to(torch.float64)
    # The loss's own selection (float64 softmax) must agree with the block's (else the file would
    # be ambiguous about which one our single selection should match).
    sel_loss = torch.topk(torch.softmax(router_logits.detach(), dim=-1), k, dim=-1)[1]
    assert torch.equal(sel.sort(-1)[0], sel_loss.sort(-1)[0]) or ties, "block and loss selections differ"

    # Tie report: tokens where a group of tied null experts straddles the k boundary (some of the
    # group selected, some not): which one torch.topk picks there is implementation-defined.
    straddle = []
    if ties:
        rows = gate2.tolist()
        groups = {}
        for j, row in enumerate(rows):
            groups.setdefault(tuple(row), []).append(N_TRUE + j)
        for tok in range(B * S):
            chosen = set(sel[tok].tolist())
            for g in groups.values():
                c = sum(1 for e in g if e in chosen)
                if len(g) > 1 and 0 < c < len(g):
                    straddle.append(tok)
                    break

    wexp = torch.stack([gw[3 + e] for e in range(N_TRUE)])
    name = {None: "adamoe_mixtral", "pairs": "adamoe_mixtral_nullties", "zero": "adamoe_mixtral_nullzero"}[ties]
    name += ("_f64" if f64 else "") + f"_m{M_NULL}_k{k}_s{seed}"
    notes = [
        "router_logits = concat(hidden @ gate_weight^T, hidden @ gate2_weight^T) over T = batch*seq tokens (row-major flatten of hidden_states); columns 0..7 are the true experts, 8.. the null experts (the official block hard-codes the true-expert test as index <= 7, so n = 8).",
        ("Routing (block): softmax over all n+m logits in FLOAT64 (this file only: the module's F.softmax(..., dtype=torch.float) is wrapped to keep float64; the released code runs it in float32)"
         if f64 else "Routing (block): softmax over all n+m logits in float32 as released (F.softmax(..., dtype=torch.float))")
        + ", then torch.topk(k), slots in descending weight. Selected TRUE weights renormalised to sum 1 (sum forced to 1 when none); null slots keep their raw probability in routing_weights and contribute nothing.",
        "Experts are stand-ins: expert e maps x -> x @ expert_weight[e]^T. final_hidden_states = sum over true slots of weight * expert(x).",
        "loss = load_balancing_loss_func_with_null_experts((router_logits,), num_experts=8, top_k=k, attention_mask=None, num_null_experts=m) in float64, as released: per-slot Switch loss N * sum_e (count_e / T) * P_e over N = n+m; the '## modified' null-group line slices the k axis from index n = 8 >= k, so it is empty and has no effect (no null-group mean).",
        "grads[name] = d loss / d inputs[name]; name@weighted_sum = d weighted_sum / d inputs[name], weighted_sum = sum(final_hidden_states * R). The loss does not depend on expert_weight.",
        "Exact maths: the output does not depend on the null logits (the softmax normaliser cancels in the true-expert renormalisation), so gate2_weight@weighted_sum is exactly 0; "
        + ("here it is float64 rounding (<1e-15)." if f64 else "here it is the float32 softmax's rounding (order 1e-8..1e-6), which a float64 implementation cannot reproduce: compare it with the atol below."),
    ]
    if ties:
        notes.append("Ties: null experts with identical gate2 rows have identical logits for every token. torch.topk on CPU orders ties by std::nth_element (not by index); tokens where a tied null group straddles the k boundary: "
                     + json.dumps(straddle) + ". There the choice among the tied nulls (and so the split of d loss / d gate2 between their identical rows) is order-dependent; the output, the loss, d loss / d hidden, d loss / d gate_weight and the sum of d loss / d gate2 over each tied group are not.")
    else:
        notes.append("Ties: continuous random inputs; no ties.")
    tol = {"rtol": 1e-9, "atol": 1e-9} if f64 else {"rtol": 1e-5, "atol": 2e-6}
    if not f64:
        notes.append("Tolerance: rtol 1e-5 for the float32 softmax; atol 2e-6 covers the float32 rounding of the exactly-zero gate2_weight@weighted_sum (max |value| in this file: %.3g)." % gw[1].abs().max().item())
    doc = {
        "function": "AdaMoE routing with null experts (Mixtral variant) + null-expert balance loss",
        "reference": {"repo": "CengZihao/AdaMoE", "file": REF_FILE, "commit": commit,
                      "symbol": "CustomMixtralSparseMoeBlock.forward, load_balancing_loss_func_with_null_experts"},
        "hyperparams": {"num_local_experts": N_TRUE, "num_null_experts": M_NULL, "num_experts_per_tok": k,
                        "hidden_size": D, "router_jitter_noise": 0, "training": False, "attention_mask": None,
                        "router_softmax_dtype": "float64" if f64 else "float32", "null_router_ties": ties},
        "dtype": "float64",
        "tolerance": tol,
        "seed": seed,
        "inputs": {"hidden_states": enc(hidden), "gate_weight": enc(gate), "gate2_weight": enc(gate2),
                   "expert_weight": enc(experts), "R": enc(R)},
        "outputs": {"router_logits": enc(router_logits), "selected_experts": enc(sel, "int64"),
                    "routing_weights": enc(rw), "true_mask": enc(mask, "bool"),
                    "num_true_experts": enc(mask.sum(-1), "int64"), "final_hidden_states": enc(out),
                    "loss": enc(loss), "weighted_sum": enc(ws)},
        "grads": {"gate_weight": enc(gl[0]), "gate2_weight": enc(gl[1]), "hidden_states": enc(gl[2]),
                  "gate_weight@weighted_sum": enc(gw[0]), "gate2_weight@weighted_sum": enc(gw[1]),
                  "hidden_states@weighted_sum": enc(gw[2]), "expert_weight@weighted_sum": enc(wexp)},
        "notes": notes,
    }
    with open(f"{outdir}/{name}.json", "w") as fh:
        fh.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in doc.items()) + "\n}\n")
    return name, straddle, gw[1].abs().max().item()


for seed in range(1, 5):
    for k in (2, 3, 4):
        for f64 in (False, True):
            print(*run(seed, k, None, f64))
        print(*run(seed, k, "pairs", True))
for k in (2, 3, 4):
    print(*run(1, k, "pairs", False))
    print(*run(1, k, "zero", True))


# Not a golden file: how torch.topk breaks the true/null ties of the official Mixtral conversion
# init (loader.py: gate2 = gate.repeat(m/8, 1)) compared with a lowest-index rule, on random tokens.
for m in (8, 16):
    for k in (2, 3, 4):
        rng = np.random.default_rng(1)
        x = torch.tensor(rng.standard_normal((4096, D)))
        gate = torch.tensor(rng.standard_normal((N_TRUE, D))) / np.sqrt(D)
        p = torch.softmax(torch.cat([x @ gate.t(), x @ gate.repeat(m // N_TRUE, 1).t()], 1), 1, dtype=torch.float)
        torch_true = (torch.topk(p, k, dim=-1)[1] < N_TRUE).sum(-1).double().mean().item()
        low_true = (torch.sort(p, dim=-1, descending=True, stable=True)[1][:, :k] < N_TRUE).sum(-1).double().mean().item()
        print(f"conversion-init ties m={m} k={k}: true experts/token torch.topk {torch_true:.3f}, lowest index {low_true:.3f}")
