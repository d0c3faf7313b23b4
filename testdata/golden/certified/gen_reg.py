# Golden values for certified.Regularizers: the official compute_reg formulas
# (shizhouxing/Fast-Certified-Robust-Training, regularization.py lines 70-127, default
# reg_obj = relu + tightness, tol = 0.5) restated in torch on random bounds, float64.
# Run: /usr/bin/python3 gen_reg.py > reg.json
import json
import torch
import torch.nn.functional as F

torch.manual_seed(0)
tol = 0.5
cases = []
for case in range(3):
    x = torch.rand(5, 4, dtype=torch.float64)
    eps = [0.05, 0.1, 0.3][case]
    l0, u0 = (x - eps).clamp(0, 1), (x + eps).clamp(0, 1)
    layers = []
    for width, shift in [(7, 0.0), (6, [0.2, -0.3, 1.5][case])]:
        c = torch.randn(5, width, dtype=torch.float64) + shift
        r = torch.rand(5, width, dtype=torch.float64) * [0.3, 0.8, 0.5][case]
        layers.append((c - r, c + r))
    tightness_0 = ((u0 - l0) / 2).mean()
    lt = torch.zeros((), dtype=torch.float64)
    lr = torch.zeros((), dtype=torch.float64)
    for lower, upper in layers:
        center = (upper + lower) / 2
        diff = (upper - lower) / 2
        tightness = diff.mean()
        mean_ = center.mean()
        lt += F.relu(tol - tightness_0 / tightness.clamp(min=1e-12)) / tol
        mask_act, mask_inact = lower > 0, upper < 0
        mean_act = (center * mask_act).mean()
        mean_inact = (center * mask_inact).mean()
        delta = (center - mean_) ** 2
        var_act = (delta * mask_act).sum()
        var_inact = (delta * mask_inact).sum()
        mean_ratio = mean_act / -mean_inact
        var_ratio = var_act / var_inact
        mean_ratio = torch.min(mean_ratio, 1 / mean_ratio.clamp(min=1e-12))
        var_ratio = torch.min(var_ratio, 1 / var_ratio.clamp(min=1e-12))
        l_ = (F.relu(tol - mean_ratio) + F.relu(tol - var_ratio)) / tol
        if not torch.isnan(l_) and not torch.isinf(l_):
            lr += l_
    lt /= len(layers)
    lr /= len(layers)
    cases.append({
        "x": x.flatten().tolist(), "x_shape": list(x.shape), "eps": eps,
        "layers": [{"lower": lo.flatten().tolist(), "upper": up.flatten().tolist(), "shape": list(lo.shape)} for lo, up in layers],
        "tightness": lt.item(), "relu": lr.item(),
    })
print(json.dumps({"tau": tol, "cases": cases}))
