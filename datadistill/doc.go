// Package datadistill learns small synthetic training sets by matching training trajectories:
// MTT (Cazenavette, Wang, Torralba, Efros, Zhu, "Dataset distillation by matching training
// trajectories", CVPR 2022) and the switches of AST (Shen et al., "Efficient dataset
// distillation through alignment with smooth and high-quality expert trajectories", arXiv
// 2310.10541).
//
// The pieces:
//
//   - TrainExperts trains expert networks on the real data and keeps each one's parameters at
//     initialization and after every epoch (a Trajectory; MTT's buffer.py);
//   - Distill learns IPC synthetic examples per class and a student learning rate α: each
//     iteration starts a student at an expert's epoch s, trains it N steps on the synthetic set
//     (differentiably, second order through all N steps) and moves the synthetic set and α down
//     the gradient of ‖θ_N − θ*_{s+M}‖² / ‖θ*_s − θ*_{s+M}‖² (MTT eq. 2, Alg. 1);
//   - Evaluate trains fresh networks on a set with MTT's evaluation recipe (evaluate_synset:
//     SGD momentum 0.9, weight decay 5e-4, LR ×0.1 after half the epochs).
//
// Presets are registered by name ("mtt", "ast") like every moeboost plugin.
//
// Checked against the official code (GeorgeCazenavette/mtt-distillation distill.py, buffer.py,
// utils.py; shenjiyuan123/AST-Alignment-with-Smooth-Expert distill.py, buffer.py, utils.py):
// MTT's defaults (syn_steps 20, expert_epochs 3, max_start_epoch 25, lr_img 1000, lr_lr 1e-5,
// lr_teacher 0.01, SGD momentum 0.5 on images and α, batch_syn = the whole synthetic set, sums of
// squares in both numerator and denominator); its experts (SGD LR 0.01, no momentum, no weight
// decay); AST's inner momentum (b ← 0.9b + g from the second step on), --balance_loss,
// --agg_middle_loss (weight 1 at student steps (N/M)·i), its smooth experts (SGD momentum 0.9,
// L2 1e-3, LR 0.003, loss × 0.5 … 0.95 in the first ten epochs, gradient penalty λ = 2) and its
// representative init. The golden cases in testdata/golden/datadistill re-state these formulas
// in PyTorch (gen_datadistill.py) and check the matching loss, its gradients and an AST expert
// step.
//
// Deviations: the networks are MLPs on flat features (the papers' ConvNets and differentiable
// augmentation, DSA, do not apply to 8×8 digits or tabular rows); α is kept ≥ 1e-8; the last
// incomplete batch of an epoch is dropped; AST's gradient-penalty norm is per example (its code
// takes it over the channel axis, per pixel for grayscale images); AST's representative init
// clusters into k = IPC centres as the paper says (its code keeps int(IPC/10) per cluster of 10,
// which selects nothing below IPC 10); AST's weight perturbation applies to convolution kernels
// only and is not implemented.
package datadistill
