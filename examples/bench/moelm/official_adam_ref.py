#!/usr/bin/env python3
"""moe-lm's -quick char LM in PyTorch with the official MomentumSMoE layers (SMoE vs AdamSMoE).

Usage: /usr/bin/python3 official_adam_ref.py DIR [SEEDS] [LAYERS]
(DIR holds rachtsy/MomentumSMoE's models.py: git -C MIRROR show COMMIT:models.py > DIR/models.py.)

Question it answers: does the official AdamSMoE layer itself train worse than the official SMoE
layer at moe-lm's scale? Both arms run the official CustomizedMoEPositionwiseFF (g = "g") and
CustomizedMoEPositionwiseFFAdam (g = "a") inside the official TransformerSeqLayer (post-LN:
h = norm1(h + attn); h = norm2(h + moe_out)), unchanged. Stand-ins, as fastmoe needs CUDA:
the expert block FMoETransformerMLP is a dense-compute top-k MoE (linear gate, top-k logits then
softmax over them as fastmoe's naive gate, experts d -> h -> d with the official ReLU activation,
plus a Switch balance loss 0.01 as the official load_balance 0.01), and the official
MultiHeadSeqAttention (relative key_pe, cache) is replaced by causal nn.MultiheadAttention on
learned absolute positions. Data, split and sizes are moe-lm -quick's: Newton's Opticks, first
90% train, validation capped at 6000 characters, d 32, 2 heads, 8 experts top-2, expert hidden
64, seq 32, batch 16, 400 steps, AdamW lr 1e-2 (cosine, 1/15 warm-up, min 0.1), clip 1.
Prints validation bits per character per arm and seed.
"""
import math, os, sys, types

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

d_dir = sys.argv[1]
seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
n_layers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
torch.set_num_threads(1)
BAL = []


class StandInMoE(nn.Module):
    """fastmoe FMoETransformerMLP stand-in: dense-compute top-k MoE with the official activation."""

    def __init__(self, num_expert=8, d_model=32, d_hidden=64, moe_top_k=2, activation=None, gate=None, **kw):
        super().__init__()
        num_expert = E  # TransformerSeqLayer does not pass moe_num_expert (official default 16): moe-lm's 8
        self.E, self.k = num_expert, moe_top_k
        self.gate = nn.Linear(d_model, num_expert)
        self.w1 = nn.Parameter(torch.randn(num_expert, d_model, d_hidden) / math.sqrt(d_model))
        self.b1 = nn.Parameter(torch.zeros(num_expert, d_hidden))
        self.w2 = nn.Parameter(torch.randn(num_expert, d_hidden, d_model) / math.sqrt(d_hidden))
        self.b2 = nn.Parameter(torch.zeros(num_expert, d_model))
        self.act = activation

    def forward(self, inp):
        shape = inp.shape
        x = inp.reshape(-1, shape[-1])
        logits = self.gate(x)
        val, idx = torch.topk(logits, self.k, dim=-1)
        w = F.softmax(val, dim=-1)
        hid = self.act(torch.einsum("td,edh->teh", x, self.w1) + self.b1)
        out = torch.einsum("teh,ehd->ted", hid, self.w2) + self.b2  # [T, E, d]
        sel = torch.gather(out, 1, idx.unsqueeze(-1).expand(-1, -1, shape[-1]))
        y = (w.unsqueeze(-1) * sel).sum(1)
        if self.training:  # Switch balance loss on the first choice
            probs = F.softmax(logits, dim=-1)
            frac = F.one_hot(idx[:, 0], self.E).float().mean(0)
            BAL.append(self.E * (frac * probs.mean(0)).sum())
        return y.reshape(shape)


ct = types.ModuleType("custom_transformer")
ct.FMoETransformerMLP = StandInMoE
ct.FMoETransformerMLPOpt = StandInMoE
cg = types.ModuleType("custom_gates")
cg.CustomNaiveGate_Balance_SMoE = None
cg.__all__ = ["CustomNaiveGate_Balance_SMoE"]
sys.modules["custom_transformer"] = ct
sys.modules["custom_gates"] = cg
sys.modules.setdefault("tqdm", types.ModuleType("tqdm"))
sys.path.insert(0, d_dir)
import models  # noqa: E402  (official code)

D, H, E, K, HID, SEQ, BATCH, STEPS, LR, MAXV = 32, 2, 8, 2, 64, 32, 16, 400, 1e-2, 6000
here = os.path.dirname(os.path.abspath(__file__))
text = open(os.path.join(here, "testdata", "Isaac.Newton-Opticks.txt"), encoding="utf-8").read()
vocab = sorted(set(text) | set("AAA"))
ix = {c: i for i, c in enumerate(vocab)}
data = np.array([ix[c] for c in text], dtype=np.int64)
cut = len(data) * 9 // 10
train, vali = data[:cut], data[cut:][:MAXV]


class Block(nn.Module):
    def __init__(self, g, layerth):
        super().__init__()
        self.attn = nn.MultiheadAttention(D, H, batch_first=True)
        self.seq = models.TransformerSeqLayer(hidden_size=D, inner_hidden_size=HID, dropout=0.0, s="x", g=g, f="x",
                                              gate_name="smoe", optimal_policy=False, moe_top_k=K, freq=0, alpha=0,
                                              act_experts="shuffle", g_blance=False, opt_blance=False,
                                              combine_gate=False, opt_loss="mse", gamma1=1.0, gamma2=1.0, mu=0.7,
                                              beta1=0.9, beta2=0.999, layerth=layerth, moe_num_expert=E)

    def forward(self, h, moment, mask):
        a, _ = self.attn(h, h, h, attn_mask=mask, need_weights=False)
        h = self.seq.norm1(h + a)  # official: h = norm1(h + attn_out)
        return self.seq(h, None, moment, None)  # attention off inside: h = norm2(h + smoe_out)


class LM(nn.Module):
    def __init__(self, g):
        super().__init__()
        self.g = g
        self.emb = nn.Embedding(len(vocab), D)
        self.pos = nn.Parameter(torch.randn(SEQ, D) * 0.02)
        self.blocks = nn.ModuleList([Block(g, i) for i in range(n_layers)])
        self.head = nn.Linear(D, len(vocab))

    def forward(self, x):
        h = self.emb(x) + self.pos[: x.shape[1]]
        mask = torch.triu(torch.ones(x.shape[1], x.shape[1], dtype=torch.bool), 1)
        z = torch.zeros_like(h)
        moment = (z, z, z) if self.g == "a" else z
        for b in self.blocks:
            h, moment = b(h, moment, mask)
        return self.head(h)


def run(g, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    m = LM(g)
    opt = torch.optim.AdamW(m.parameters(), lr=LR)
    warm = STEPS // 15
    sched = lambda s: (s + 1) / warm if s < warm else 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (s - warm) / (STEPS - warm)))
    lr_s = torch.optim.lr_scheduler.LambdaLR(opt, sched)
    for step in range(STEPS):
        st = rng.integers(0, len(train) - SEQ - 1, BATCH)
        xb = torch.tensor(np.stack([train[s:s + SEQ] for s in st]))
        yb = torch.tensor(np.stack([train[s + 1:s + SEQ + 1] for s in st]))
        m.train()
        BAL.clear()
        loss = F.cross_entropy(m(xb).reshape(-1, len(vocab)), yb.reshape(-1)) + 0.01 * sum(BAL)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        lr_s.step()
    m.eval()
    tot, n = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(vali) - SEQ - 1, SEQ):
            xb = torch.tensor(vali[s:s + SEQ])[None]
            yb = torch.tensor(vali[s + 1:s + SEQ + 1])[None]
            tot += F.cross_entropy(m(xb).reshape(-1, len(vocab)), yb.reshape(-1), reduction="sum").item()
            n += SEQ
    return tot / n / math.log(2)


res = {}
for g, name in [("g", "smoe (official CustomizedMoEPositionwiseFF)"), ("a", "adam-smoe (official CustomizedMoEPositionwiseFFAdam)")]:
    vals = [run(g, s + 1) for s in range(seeds)]
    res[g] = vals
    print(f"{name}: layers {n_layers}, bpc " + " ".join(f"{v:.4f}" for v in vals) + f"  mean {np.mean(vals):.4f} std {np.std(vals, ddof=1) if len(vals) > 1 else 0:.4f}", flush=True)
print(f"adam - smoe: {np.mean(res['a']) - np.mean(res['g']):+.4f} bpc")
