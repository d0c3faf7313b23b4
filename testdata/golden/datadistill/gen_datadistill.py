"""Golden cases for package datadistill, computed with PyTorch autograd (torch 1.13, float64).

mtt_matching_*.json: the matching loss of MTT's distill.py (student trained from start params
for syn_steps steps of SGD on the synthetic set with create_graph=True, AST's inner momentum
b <- mom*b + g from AST's distill.py, AST's --agg_middle_loss terms and --balance_loss factor),
grand loss = sum((w_N - target)^2) / sum((start - target)^2) [+ middle terms], and its
gradients with respect to the synthetic examples and the learned LR.

ast_expert_step_*.json: one step of AST's smooth expert (buffer.py --optim SGDMOM with
--loss_decay and --gp True: CE * decay + 2 * mean((||d sum(f(x))/dx||_2 - 1)^2), torch.optim.SGD
with momentum and weight_decay).

The MLP is functional with weights stored [in, out] (x @ W + b), ReLU hidden activations.
Run: /usr/bin/python3 gen_datadistill.py (writes the JSON files beside this script).
"""
import json
import os

import torch

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))


def mlp(params, x, act="relu"):
    h = x
    n = len(params) // 2
    for l in range(n):
        h = h @ params[2 * l] + params[2 * l + 1]
        if l + 1 < n:
            h = torch.relu(h) if act == "relu" else torch.tanh(h)
    return h


def rand_params(sizes, gen, scale=0.5):
    out = []
    for i in range(len(sizes) - 1):
        out.append(torch.randn(sizes[i], sizes[i + 1], generator=gen) * scale)
        out.append(torch.randn(sizes[i + 1], generator=gen) * scale)
    return out


def flat(ps):
    return [p.reshape(-1).tolist() for p in ps]


def matching_case(name, seed, syn_steps, expert_epochs, mom, middle, factor):
    gen = torch.Generator().manual_seed(seed)
    sizes, classes, ipc = [5, 4, 3], 3, 2
    k = classes * ipc
    x = torch.rand(k, sizes[0], generator=gen).requires_grad_(True)
    labels = torch.tensor([c for c in range(classes) for _ in range(ipc)])
    alpha = torch.tensor(0.05).requires_grad_(True)
    start = rand_params(sizes, gen)
    target = [p + 0.1 * torch.randn(p.shape, generator=gen) for p in start]
    middles = [[p + 0.05 * torch.randn(p.shape, generator=gen) for p in start] for _ in range(expert_epochs - 1)]
    match_pool = [(syn_steps // expert_epochs) * (i + 1) for i in range(expert_epochs - 1)] if middle else []
    w = [p.clone().requires_grad_(True) for p in start]
    ce = torch.nn.CrossEntropyLoss()
    buf = None
    extra = []
    mid_left = list(middles)
    for step in range(syn_steps):
        loss = ce(mlp(w, x), labels) * factor
        g = torch.autograd.grad(loss, w, create_graph=True)
        if mom > 0 and buf is not None:
            g = [mom * b + gi for b, gi in zip(buf, g)]
        buf = g
        w = [wi - alpha * gi for wi, gi in zip(w, g)]
        if step + 1 in match_pool and step < syn_steps - 1:
            tgt = mid_left.pop(0)
            num = sum(((wi - ti) ** 2).sum() for wi, ti in zip(w, tgt))
            den = sum(((si - ti) ** 2).sum() for si, ti in zip(start, tgt))
            extra.append(num / den)
    num = sum(((wi - ti) ** 2).sum() for wi, ti in zip(w, target))
    den = sum(((si - ti) ** 2).sum() for si, ti in zip(start, target))
    grand = num / den
    for e in extra:
        grand = grand + e
    gx, ga = torch.autograd.grad(grand, [x, alpha])
    doc = {
        "kind": "mtt_matching", "sizes": sizes, "act": "relu", "classes": classes, "ipc": ipc,
        "syn_steps": syn_steps, "expert_epochs": expert_epochs, "inner_momentum": mom,
        "middle_matching": middle, "factor": factor, "alpha": alpha.item(),
        "x": x.detach().reshape(-1).tolist(), "labels": labels.tolist(),
        "start": flat(start), "target": flat(target), "middles": [flat(m) for m in middles] if middle else [],
        "loss": grand.item(), "grad_x": gx.reshape(-1).tolist(), "grad_alpha": ga.item(),
    }
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump(doc, f)


def expert_case(name, seed, decay, gp_lambda, mom, l2):
    gen = torch.Generator().manual_seed(seed)
    sizes, batch = [5, 4, 3], 7
    x = torch.rand(batch, sizes[0], generator=gen)
    labels = torch.randint(0, sizes[-1], (batch,), generator=gen)
    params = [p.requires_grad_(True) for p in rand_params(sizes, gen)]
    vel = [0.1 * torch.randn(p.shape, generator=gen) for p in params]
    lr = 0.05
    opt = torch.optim.SGD(params, lr=lr, momentum=mom, weight_decay=l2)
    for p, v in zip(params, vel):  # seed the momentum buffers with vel
        opt.state[p]["momentum_buffer"] = v.clone()
    out = mlp(params, x)
    loss = torch.nn.CrossEntropyLoss()(out, labels) * decay
    if gp_lambda > 0:
        xg = x.clone().requires_grad_(True)
        og = mlp(params, xg)
        grads = torch.autograd.grad(og, xg, grad_outputs=torch.ones(og.size()), create_graph=True)[0]
        loss = loss + ((torch.norm(grads, p=2, dim=1) - 1) ** 2).mean() * gp_lambda
    opt.zero_grad()
    loss.backward()
    opt.step()
    doc = {
        "kind": "ast_expert_step", "sizes": sizes, "act": "relu", "classes": sizes[-1],
        "x": x.reshape(-1).tolist(), "labels": labels.tolist(), "lr": lr, "momentum": mom, "l2": l2,
        "loss_decay": decay, "grad_penalty": gp_lambda,
        "params": flat([p.detach() - 0 for p in params]), "velocity": flat(vel),
        "new_params": flat([p.detach() for p in params]),
        "new_velocity": flat([opt.state[p]["momentum_buffer"] for p in params]), "loss": loss.item(),
    }
    # params before the step were overwritten by opt.step(); recompute them from the generator.
    gen = torch.Generator().manual_seed(seed)
    torch.rand(batch, sizes[0], generator=gen)
    torch.randint(0, sizes[-1], (batch,), generator=gen)
    doc["params"] = flat(rand_params(sizes, gen))
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump(doc, f)


if __name__ == "__main__":
    matching_case("mtt_matching_plain_s1", 1, 4, 2, 0.0, False, 1.0)
    matching_case("mtt_matching_ast_s2", 2, 4, 2, 0.9, True, 1.3)
    matching_case("mtt_matching_ast_m3_s3", 3, 6, 3, 0.9, True, 0.8)
    expert_case("ast_expert_step_gp_s1", 1, 0.6, 2.0, 0.9, 1e-3)
    expert_case("ast_expert_step_plain_s2", 2, 1.0, 0.0, 0.0, 0.0)
