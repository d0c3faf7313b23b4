// Package excelformer is ExcelFormer: the GLU feature tokenizer, semi-permeable multi-head
// attention in mutual-information order, the tanh-GLU FFN, the token-axis readout, the
// FEAT-MIX / HID-MIX rules with their label weights, the full model (Forward) and the
// registered learner "excelformer" (Learner, boosting.Learner interface).
//
// Paper: Chen et al., "Can a Deep Learning Model be a Sure Bet for Tabular Prediction?"
// (ExcelFormer), KDD 2024, arXiv 2301.02819. Reference code: github.com/WhatAShot/ExcelFormer.
//
// Verified against the official code (file:line of its HEAD snapshot):
//   - attenuated init, bin/excel_former.py:15-22: U(±sqrt(3)·gain·scale/sqrt(fan_in)), gain of
//     leaky_relu with a = sqrt(5); scale 0.01 (init_scale) for W_q, W_k, W_v (lines 98-101)
//     and linear0 (lines 227-228), 1 elsewhere; q/k/v/out and linear0 biases zero.
//   - tokenizer, bin/excel_former.py:74-79 (E = (W x + b)·tanh(W2 x + b2)), biases kaiming
//     a = sqrt(5) (lines 64-65): GLUEmbed.
//   - mask, bin/excel_former.py:115-121: allowed iff key index <= query index, -1e4 otherwise
//     (token 0 = highest MI): SemiPermeableMask, maskedAttention.
//   - attention, bin/excel_former.py:123-160: scaled dot product, W_out only when n_heads > 1.
//   - block, bin/excel_former.py:283-310 with _start/_end_residual: prenorm, norm0 skipped in
//     layer 0, x + tanglu(linear0(norm1(x))) with no second projection; tanglu lib/deep.py:98-100.
//   - readout, bin/excel_former.py:312-316: last_fc Linear(f->1) over tokens, LayerNorm, PReLU,
//     head Linear(d->d_out).
//   - FEAT-MIX lib/aug_utils.py:6-18 (keep own feature where U > lam), HID-MIX :21-33 (keep own
//     dimension where U < lam, label weight lam); label mixing run_default_config_excel.py:343-361
//     (FEAT-MIX weight sum of normalized MI over kept features; regression mixes the targets,
//     classification the losses).
//   - MI order, run_default_config_excel.py:125-132: sklearn mutual_info_* on the train split,
//     argsort(-MI), normalized MI for FEAT-MIX.
//   - defaults, run_default_config_excel.py:31-35, 141-156, 204-211: d_token 256, 3 layers,
//     32 heads, attention dropout 0.3, ffn/residual dropout 0, init_scale 0.01, AdamW lr 1e-4
//     weight decay 0, quantile normalization, early stop 200, beta 0.5, mix_type default
//     "none"; batch by feature count (ReferenceBatch); linear warm-up then cosine (lines 307-331).
//
// Deviations (the learner, for 2 CPU cores): binned (10 equal-frequency bins) MI instead of
// sklearn's kNN estimator (BinnedMI; only the order is used), z-score instead of quantile
// normalization, d_token 32 / 4 heads by default, Adam at lr 1e-3 for a fixed number of steps
// with no warm-up, cosine schedule or early stopping, attention dropout 0, and no mixup in
// the learner's training (the mix rules are implemented and tested in mix.go but the learner
// trains with mix_type "none", the reference script's default). No golden vectors from the
// official module yet.
package excelformer
