"""Golden vectors for LSKD, DIST and InfoNCE from their official code.

The official functions are re-stated below operation by operation (the repositories are not
installable packages and no reference code lives in this repository); each block names the
file and commit it re-states. Run with Debian's python3-torch 1.13 (CPU, float64):

    cd testdata/golden/distill && /usr/bin/python3 gen_lskd_dist_infonce.py

It writes lskd_s{1,2,3}.json, dist_s{1,2}.json, dist_segmentation_s1.json and
distiller_infonce_s{1,2}.json here, in the
format of README.md (inputs, outputs and autograd gradients of the student-side inputs).
"""
import json
import math

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

# --- sunshangquan/logit-standardization-KD, mdistiller/distillers/KD.py
# (commit f6e5aa5172bad618e801163c3385322eea673754): normalize, kd_loss, KD.forward_train.
LSKD_REF = {"repo": "sunshangquan/logit-standardization-KD", "file": "mdistiller/distillers/KD.py",
            "commit": "f6e5aa5172bad618e801163c3385322eea673754", "symbol": "kd_loss"}


def lskd_normalize(logit):
    mean = logit.mean(dim=-1, keepdims=True)
    stdv = logit.std(dim=-1, keepdims=True)
    return (logit - mean) / (1e-7 + stdv)


def lskd_kd_loss(logits_student_in, logits_teacher_in, temperature, logit_stand):
    logits_student = lskd_normalize(logits_student_in) if logit_stand else logits_student_in
    logits_teacher = lskd_normalize(logits_teacher_in) if logit_stand else logits_teacher_in
    log_pred_student = F.log_softmax(logits_student / temperature, dim=1)
    pred_teacher = F.softmax(logits_teacher / temperature, dim=1)
    loss_kd = F.kl_div(log_pred_student, pred_teacher, reduction="none").sum(1).mean()
    loss_kd *= temperature**2
    return loss_kd


def lskd_forward_train(logits_student, logits_teacher, target, ce_loss_weight, kd_loss_weight, temperature, logit_stand):
    loss_ce = ce_loss_weight * F.cross_entropy(logits_student, target)
    loss_kd = kd_loss_weight * lskd_kd_loss(logits_student, logits_teacher, temperature, logit_stand)
    return loss_ce, loss_kd


# --- hunto/image_classification_sota (the classification submodule of hunto/DIST_KD),
# lib/models/losses/dist_kd.py (commit 6f7a70a1dd57fd88413d83909d3d53243068f701): DIST.
DIST_REF = {"repo": "hunto/image_classification_sota", "file": "lib/models/losses/dist_kd.py",
            "commit": "6f7a70a1dd57fd88413d83909d3d53243068f701", "symbol": "DIST"}


def dist_cosine_similarity(a, b, eps=1e-8):
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


def dist_pearson_correlation(a, b, eps=1e-8):
    return dist_cosine_similarity(a - a.mean(1).unsqueeze(1), b - b.mean(1).unsqueeze(1), eps)


def dist_inter_class_relation(y_s, y_t):
    return 1 - dist_pearson_correlation(y_s, y_t).mean()


def dist_intra_class_relation(y_s, y_t):
    return dist_inter_class_relation(y_s.transpose(0, 1), y_t.transpose(0, 1))


def dist_forward(z_s, z_t, beta, gamma, tau):
    y_s = (z_s / tau).softmax(dim=1)
    y_t = (z_t / tau).softmax(dim=1)
    inter_loss = tau**2 * dist_inter_class_relation(y_s, y_t)
    intra_loss = tau**2 * dist_intra_class_relation(y_s, y_t)
    kd_loss = beta * inter_loss + gamma * intra_loss
    return kd_loss, inter_loss, intra_loss


# --- hunto/DIST_KD, segmentation/losses/dist_kd.py (commit
# 2418f18b1fedd7c2646a7b1b9a27d5c674c2170b): the segmentation copy of DIST, without tau and
# with [N, C, H, W] inputs flattened to [N*W*H, C].
DIST_SEG_REF = {"repo": "hunto/DIST_KD", "file": "segmentation/losses/dist_kd.py",
                "commit": "2418f18b1fedd7c2646a7b1b9a27d5c674c2170b", "symbol": "DIST"}


def dist_seg_forward(y_s, y_t, beta, gamma):
    assert y_s.ndim in (2, 4)
    if y_s.ndim == 4:
        num_classes = y_s.shape[1]
        y_s = y_s.transpose(1, 3).reshape(-1, num_classes)
        y_t = y_t.transpose(1, 3).reshape(-1, num_classes)
    y_s = y_s.softmax(dim=1)
    y_t = y_t.softmax(dim=1)
    inter_loss = dist_inter_class_relation(y_s, y_t)
    intra_loss = dist_intra_class_relation(y_s, y_t)
    loss = beta * inter_loss + gamma * intra_loss
    return loss, inter_loss, intra_loss


# --- Cli212/Distiller, src/Distiller/textbrewer/losses.py
# (commit a6a48f7db772ed9c3dfccfe26c9d4553c67132e3): infonce_lower_bound. The official line
# `mi = torch.log(scores.shape[0]) + nll` raises TypeError (torch.log of a Python int); the one
# change here is to take the log of the batch size as a float64 tensor, which is the intent
# (Poole et al.'s original TensorFlow code casts it: tf.math.log(tf.cast(batch_size, ...))).
INFONCE_REF = {"repo": "Cli212/Distiller", "file": "src/Distiller/textbrewer/losses.py",
               "commit": "a6a48f7db772ed9c3dfccfe26c9d4553c67132e3", "symbol": "infonce_lower_bound"}


def infonce_lower_bound(scores):
    nll = torch.mean(torch.diagonal(scores) - torch.logsumexp(scores, dim=1), dim=-1)
    mi = torch.log(torch.tensor(float(scores.shape[0]))) + nll  # official: torch.log(scores.shape[0])
    return mi


# --- writing


def tensor(x, dtype="float64"):
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if dtype == "int64":
        vals = [int(v) for v in a.reshape(-1)]
    else:
        vals = [float(v) for v in a.reshape(-1)]
    return {"shape": list(a.shape), "values": vals, "dtype": dtype}


def write(name, fields):
    with open(name + ".json", "w") as f:
        f.write("{\n")
        items = list(fields.items())
        for i, (k, v) in enumerate(items):
            f.write(json.dumps(k) + ": " + json.dumps(v, allow_nan=False) + ("," if i < len(items) - 1 else "") + "\n")
        f.write("}\n")


TOL = {"rtol": 1e-9, "atol": 1e-12}


def grad(out, x):
    (g,) = torch.autograd.grad(out, x, retain_graph=True)
    return g


def lskd_case(seed, b, c, temperature, ce_w, kd_w, teacher_scale, student_offset):
    rng = np.random.default_rng(seed)
    s = torch.tensor(rng.normal(size=(b, c)) * 2.0 + student_offset, requires_grad=True)
    t = torch.tensor(rng.normal(size=(b, c)) * teacher_scale)
    y = torch.tensor(rng.integers(0, c, size=b), dtype=torch.int64)
    loss_ce, loss_kd = lskd_forward_train(s, t, y, ce_w, kd_w, temperature, True)
    loss = loss_ce + loss_kd
    kd_plain = lskd_kd_loss(s, t, temperature, True)
    write("lskd_s%d" % seed, {
        "function": "LSKD: logit-standardized KD (mdistiller KD with EXPERIMENT.LOGIT_STAND)",
        "reference": LSKD_REF,
        "hyperparams": {"temperature": temperature, "logit_stand": True, "ce_loss_weight": ce_w, "kd_loss_weight": kd_w},
        "reduction": "loss = ce_loss_weight*CE_mean(logits_student, target) + kd_loss_weight*T^2*KL(softmax(norm(t)/T) || log_softmax(norm(s)/T)).sum(1).mean(); norm(z) = (z - mean(z)) / (1e-7 + std(z)) over classes, std with Bessel's correction (torch.std); CE on the raw student logits.",
        "dtype": "float64",
        "tolerance": TOL,
        "seed": seed,
        "inputs": {"logits_student": tensor(s), "logits_teacher": tensor(t), "target": tensor(y, "int64")},
        "outputs": {"loss": tensor(loss), "loss_ce": tensor(loss_ce), "loss_kd": tensor(loss_kd), "kd_loss": tensor(kd_plain)},
        "grads": {"logits_student": tensor(grad(loss, s)), "logits_student@kd_loss": tensor(grad(kd_plain, s))},
        "notes": "loss_ce and loss_kd are forward_train's weighted terms, loss their sum, kd_loss the unweighted kd_loss(...) (T^2 applied). The sample command (README: --logit-stand --base-temp 2 --kd-weight 9) and mdistiller's CFG.KD.LOSS.CE_WEIGHT = 0.1 give s1's hyperparameters. logits_teacher are constants (torch.no_grad in forward_train).",
    })


def dist_case(seed, b, c, beta, gamma, tau):
    rng = np.random.default_rng(seed)
    s = torch.tensor(rng.normal(size=(b, c)) * 2.0, requires_grad=True)
    t = torch.tensor(rng.normal(size=(b, c)) * 3.0)
    loss, inter, intra = dist_forward(s, t, beta, gamma, tau)
    write("dist_s%d" % seed, {
        "function": "DIST: relation (Pearson) distillation",
        "reference": DIST_REF,
        "hyperparams": {"beta": beta, "gamma": gamma, "tau": tau},
        "reduction": "y = softmax(z/tau); inter_loss = tau^2*(1 - mean_b pearson(y_s[b,:], y_t[b,:])), intra_loss = tau^2*(1 - mean_c pearson(y_s[:,c], y_t[:,c])); pearson = cosine of the centered vectors with 1e-8 added to the norm product; loss = beta*inter_loss + gamma*intra_loss.",
        "dtype": "float64",
        "tolerance": TOL,
        "seed": seed,
        "inputs": {"z_s": tensor(s), "z_t": tensor(t)},
        "outputs": {"loss": tensor(loss), "inter_loss": tensor(inter), "intra_loss": tensor(intra)},
        "grads": {"z_s": tensor(grad(loss, s)), "z_s@inter_loss": tensor(grad(inter, s)), "z_s@intra_loss": tensor(grad(intra, s))},
        "notes": "inter_loss and intra_loss include tau^2 as in the official forward. kd_loss.py builds DIST(beta=1, gamma=1, tau=1) for kd_method 'dist' and tau=N for 'dist_tN'. z_t is the teacher's output (constant).",
    })


def lskd_bare_case(seed, b, c, temperature):
    rng = np.random.default_rng(seed)
    s = torch.tensor(rng.normal(size=(b, c)) * 3.0 - 7.0, requires_grad=True)
    t = torch.tensor(rng.normal(size=(b, c)) * 0.2)
    kd = lskd_kd_loss(s, t, temperature, True)
    write("lskd_s%d" % seed, {
        "function": "LSKD: mdistiller kd_loss with logit_stand (the function alone)",
        "reference": LSKD_REF,
        "hyperparams": {"temperature": temperature, "logit_stand": True},
        "reduction": "loss = kd_loss(s, t, T, True) = T^2*KL(softmax(norm(t)/T) || log_softmax(norm(s)/T)).sum(1).mean(); norm(z) = (z - mean(z)) / (1e-7 + std(z)), torch.std (Bessel).",
        "dtype": "float64",
        "tolerance": TOL,
        "seed": seed,
        "inputs": {"logits_student": tensor(s), "logits_teacher": tensor(t)},
        "outputs": {"loss": tensor(kd), "kd_loss": tensor(kd)},
        "grads": {"logits_student": tensor(grad(kd, s))},
        "notes": "kd_loss without forward_train's weights (no ce_loss_weight / kd_loss_weight in hyperparams). A low-variance teacher (std 0.2) that standardization stretches to unit variance.",
    })


def dist_seg_case(seed, n, c, h, w, beta, gamma):
    rng = np.random.default_rng(seed)
    s = torch.tensor(rng.normal(size=(n, c, h, w)) * 2.0, requires_grad=True)
    t = torch.tensor(rng.normal(size=(n, c, h, w)) * 3.0)
    loss, inter, intra = dist_seg_forward(s, t, beta, gamma)
    write("dist_segmentation_s%d" % seed, {
        "function": "DIST (segmentation copy: no tau, [N, C, H, W] logits)",
        "reference": DIST_SEG_REF,
        "hyperparams": {"beta": beta, "gamma": gamma},
        "reduction": "z [N, C, H, W] -> z.transpose(1, 3).reshape(-1, C); y = softmax; loss = beta*(1 - mean pearson over rows) + gamma*(1 - mean pearson over columns), no tau.",
        "dtype": "float64",
        "tolerance": TOL,
        "seed": seed,
        "inputs": {"y_s": tensor(s), "y_t": tensor(t)},
        "outputs": {"loss": tensor(loss), "inter_loss": tensor(inter), "intra_loss": tensor(intra)},
        "grads": {"y_s": tensor(grad(loss, s))},
        "notes": "The segmentation DIST of hunto/DIST_KD (the repository's own file; its classification code is a submodule). Without tau, i.e. tau = 1. y_t is the teacher's output (constant).",
    })


def infonce_case(seed, b, diag_boost):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(b, b)) + diag_boost * np.eye(b)
    f[1] += 40.0  # a row offset: logsumexp must be stable
    scores = torch.tensor(f, requires_grad=True)
    bound = infonce_lower_bound(scores)
    write("distiller_infonce_s%d" % seed, {
        "function": "Distiller infonce_lower_bound",
        "reference": INFONCE_REF,
        "hyperparams": {},
        "reduction": "scalar bound (NOT negated) = log B + mean_i (F_ii - logsumexp_j F_ij).",
        "dtype": "float64",
        "tolerance": TOL,
        "seed": seed,
        "inputs": {"scores": tensor(scores)},
        "outputs": {"bound": tensor(bound)},
        "grads": {"scores": tensor(grad(bound, scores))},
        "notes": "The official line torch.log(scores.shape[0]) raises TypeError (torch.log of a Python int); the generator takes torch.log(torch.tensor(float(B))), as Poole et al.'s TensorFlow original casts the batch size. Everything else is the official expression. Row 1 of the scores is offset by +40.",
    })


lskd_case(1, 8, 10, 2.0, 0.1, 9.0, 1.0, 0.0)
lskd_case(2, 6, 7, 4.0, 1.0, 1.0, 6.0, 25.0)
dist_case(1, 8, 10, 1.0, 1.0, 1.0)
dist_case(2, 6, 7, 2.0, 0.5, 4.0)
lskd_bare_case(3, 5, 6, 3.0)
dist_seg_case(1, 2, 5, 3, 4, 1.0, 1.0)
infonce_case(1, 8, 2.0)
infonce_case(2, 5, 0.0)
