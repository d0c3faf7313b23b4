#!/usr/bin/python3
"""Golden cases for train/multitask's Rep-MTL regularizers (run with Debian's python3-torch 1.13).

Rep-MTL (Wang, Li & Xu, ICCV 2025, arXiv 2507.21049) has no released code (github.com/Jacky1128/Rep-MTL
holds only a README at commit ecef712), so this is a float64 PyTorch re-statement of the formulas the Go
package documents (train/multitask/repmtl.go, RepMTLTerms), differentiated with torch.autograd
(create_graph=True for the saliency, i.e. the second-order terms):

    Z     = relu(X W1 + b1)                                  shared representation [B, H]
    out_t = Z Wt + bt                                        linear heads
    L_t   = mean softmax cross-entropy (classification) or mean squared error (regression)
    S_t   = dL_t/dZ                                          task saliency
    s_t   = |S_t|;  P = s_t / (sum_t s_t + eps);  TSR = mean_{b,d} -sum_t P log(P + eps)
    u_t   = s_t / sqrt(|s_t|^2 + eps) per sample;  CSA = mean over ordered pairs t != t' of
            mean_b -log softmax_b'(<u_t[b], u_t'[b']> / tau)[b]
    obj   = sum_t L_t + l_tsr TSR + l_csa CSA,  eps = 1e-8

Each case file holds the inputs, the values and d obj / d (every parameter).
"""
import json
import os

import torch

EPS = 1e-8


def terms(sal, tau):
    mag = [s.abs() for s in sal]
    st = torch.stack(mag, -1)  # [B, H, T]
    p = st / (st.sum(-1, keepdim=True) + EPS)
    tsr = (-(p * torch.log(p + EPS)).sum(-1)).mean()
    units = [m / torch.sqrt((m * m).sum(-1, keepdim=True) + EPS) for m in mag]
    B = sal[0].shape[0]
    target = torch.arange(B)
    tot, pairs = 0.0, 0
    for a in range(len(sal)):
        for b in range(len(sal)):
            if a == b:
                continue
            logits = units[a] @ units[b].T / tau
            tot = tot + torch.nn.functional.cross_entropy(logits, target)
            pairs += 1
    return tsr, tot / pairs


def case(seed, B, D, H, tasks, l_tsr, l_csa, tau):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(B, D, generator=g, dtype=torch.float64)
    W1 = (torch.randn(D, H, generator=g, dtype=torch.float64) / D ** 0.5).requires_grad_()
    b1 = (0.1 * torch.randn(H, generator=g, dtype=torch.float64)).requires_grad_()
    heads, targets = [], []
    for kind, classes in tasks:
        out = classes if kind == "classification" else 1
        W = (torch.randn(H, out, generator=g, dtype=torch.float64) / H ** 0.5).requires_grad_()
        b = (0.1 * torch.randn(out, generator=g, dtype=torch.float64)).requires_grad_()
        heads.append((W, b))
        if kind == "classification":
            targets.append(torch.randint(0, classes, (B,), generator=g))
        else:
            targets.append(torch.randn(B, generator=g, dtype=torch.float64))
    Z = torch.relu(X @ W1 + b1)
    losses = []
    for (kind, _), (W, b), y in zip(tasks, heads, targets):
        o = Z @ W + b
        if kind == "classification":
            losses.append(torch.nn.functional.cross_entropy(o, y))
        else:
            losses.append(((o[:, 0] - y) ** 2).mean())
    sal = [torch.autograd.grad(l, Z, create_graph=True)[0] for l in losses]
    tsr, csa = terms(sal, tau)
    obj = sum(losses) + l_tsr * tsr + l_csa * csa
    params = [W1, b1] + [p for h in heads for p in h]
    grads = torch.autograd.grad(obj, params)
    flat = lambda t: t.detach().reshape(-1).tolist()
    return {
        "kind": "repmtl",
        "seed": seed, "B": B, "D": D, "H": H,
        "tasks": [{"kind": k, "classes": c} for k, c in tasks],
        "tsr_weight": l_tsr, "csa_weight": l_csa, "tau": tau,
        "x": flat(X), "w1": flat(W1), "b1": flat(b1),
        "head_w": [flat(W) for W, _ in heads], "head_b": [flat(b) for _, b in heads],
        "targets": [t.to(torch.float64).reshape(-1).tolist() for t in targets],
        "losses": [l.item() for l in losses], "tsr": tsr.item(), "csa": csa.item(), "objective": obj.item(),
        "grad_w1": flat(grads[0]), "grad_b1": flat(grads[1]),
        "grad_head_w": [flat(grads[2 + 2 * i]) for i in range(len(tasks))],
        "grad_head_b": [flat(grads[3 + 2 * i]) for i in range(len(tasks))],
        "source": "float64 PyTorch %s re-statement of train/multitask RepMTLTerms (no official Rep-MTL code released)" % torch.__version__,
    }


CASES = [
    ("repmtl_2tasks_s1", dict(seed=1, B=8, D=5, H=6, tasks=[("classification", 3), ("regression", 0)], l_tsr=0.5, l_csa=0.3, tau=0.2)),
    ("repmtl_3tasks_s2", dict(seed=2, B=6, D=4, H=5, tasks=[("classification", 4), ("classification", 2), ("regression", 0)], l_tsr=1.0, l_csa=1.0, tau=0.1)),
    ("repmtl_4tasks_s3", dict(seed=3, B=10, D=6, H=7, tasks=[("classification", 10), ("classification", 2), ("classification", 2), ("regression", 0)], l_tsr=0.1, l_csa=0.1, tau=0.5)),
]

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    for name, kw in CASES:
        with open(os.path.join(here, name + ".json"), "w") as f:
            json.dump(case(**kw), f, indent=1)
            f.write("\n")
        print("wrote", name)
