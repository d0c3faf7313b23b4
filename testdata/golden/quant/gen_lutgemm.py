"""Golden vectors for moeboost/quant from LUT-GEMM's official quantization code.

Usage: /usr/bin/python3 gen_lutgemm.py PATH/TO/lut-gemm/examples [OUTDIR]

It imports the official modules (naver-aics/lut-gemm, examples/bcq.py, rtn_parameter.py,
utils.py) from the given checkout, unmodified, and runs them on the CPU: Tensor.cuda is made the
identity and tqdm (a progress bar) is stubbed, nothing else changes. Each case is one JSON file:

  lutgemm_bcq_*.json  quantize(w, qbits, rounds, group_size): the dequantized matrix "ret",
                      "alpha" [rows, groups, bits] and the binary codes "binary" [rows, groups,
                      group, bits] (+1/-1); rounds 0 is the greedy fit, >= 2 alternating.
  lutgemm_rtn_*.json  RTNParameter.compress(qbits, group_size, perchannel, sym=False): "scale",
                      "zero", "codes"; convert_bcq_format: "alpha", "offset"; and decompress:
                      "dequant".
"""
import json
import os
import sys
import types

import torch

sys.modules.setdefault("tqdm", types.SimpleNamespace(tqdm=lambda x: x))
torch.Tensor.cuda = lambda self, *a, **k: self
sys.path.insert(0, sys.argv[1])
from bcq import quantize  # noqa: E402
from rtn_parameter import RTNParameter  # noqa: E402

out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
SOURCE = "naver-aics/lut-gemm@647d49fcf0b054b6dafee04b5ce1c8c2adb047e5 examples/{bcq,rtn_parameter,utils}.py, torch " + torch.__version__


def flat(t):
    return [float(v) for v in t.reshape(-1).tolist()]


def save(name, doc):
    doc["source"] = SOURCE
    with open(os.path.join(out, name), "w") as f:
        json.dump(doc, f)


for seed, (rows, cols, bits, group, rounds) in enumerate([
        (6, 32, 2, 16, 0), (6, 32, 3, 16, 0), (6, 32, 2, 16, 15), (6, 32, 3, 16, 15),
        (4, 64, 4, 32, 15), (3, 48, 3, 48, 5)]):
    torch.manual_seed(100 + seed)
    w = torch.randn(rows, cols)
    ret, binary, alpha, _ = quantize(w.clone(), bits, rounds=rounds, group_size=group)
    save(f"lutgemm_bcq_q{bits}_g{group}_r{rounds}_{rows}x{cols}.json", {
        "format": "lutgemm_bcq", "rows": rows, "cols": cols, "bits": bits, "group": group,
        "rounds": rounds, "w": flat(w), "ret": flat(ret), "alpha": flat(alpha), "binary": flat(binary)})

for seed, (rows, cols, bits, group) in enumerate([(5, 32, 2, 16), (5, 32, 3, 16), (4, 64, 4, 32), (3, 24, 3, 8)]):
    torch.manual_seed(200 + seed)
    w = torch.randn(rows, cols) * 0.1 + 0.02
    p = RTNParameter(w.clone())
    scale, zero, codes, shape = p.compress(in_ch_wise=False, qbits=bits, group_size=group, perchannel=True, sym=False)
    alpha, binary, _, offset = p.convert_bcq_format(scale, zero, codes, qbits=bits, do_packing=False, in_ch_wise=False)
    p.decompress(scale, zero, codes, shape, in_ch_wise=False)
    save(f"lutgemm_rtn_q{bits}_g{group}_{rows}x{cols}.json", {
        "format": "lutgemm_rtn", "rows": rows, "cols": cols, "bits": bits, "group": group,
        "w": flat(w), "scale": flat(scale), "zero": flat(zero), "codes": flat(codes),
        "alpha": flat(alpha), "offset": flat(offset), "dequant": flat(p.data)})
