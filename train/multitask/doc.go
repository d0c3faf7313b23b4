// Package multitask trains multi-task networks (hard parameter sharing: a shared ReLU trunk and
// one linear head per task) with loss combiners registered by name, like database/sql drivers:
//
//	equal    equal weighting (EW): the objective Σ_t L_t (LibMTL/weighting/EW.py)
//	pcgrad   PCGrad gradient surgery on the trunk's parameters (Yu et al., NeurIPS 2020)
//	rep-mtl  EW plus Rep-MTL's representation-level saliency regularizers (Wang, Li & Xu, ICCV 2025)
//
// A Combiner sees the step's graph (the shared representation Z, the task losses, the trainable
// variables and which of them are shared) and returns one gradient per variable; Fit hands them to
// GoMLX's Adam (UpdateGraphWithGradients), so every combiner trains with the same optimizer.
// Register adds more; New looks one up (an unknown name gets an error listing the known ones).
//
// # PCGrad
//
// Paper: Tianhe Yu, Saurabh Kumar, Abhishek Gupta, Sergey Levine, Karol Hausman, Chelsea Finn,
// "Gradient Surgery for Multi-Task Learning", NeurIPS 2020, arXiv 2001.06782, Alg. 1.
// Reference code, checked: LibMTL/weighting/PCGrad.py (median-research-group/LibMTL, which the
// Rep-MTL README acknowledges first): for each task i a fresh random.shuffle of the task indices; the running g_i^PC
// is projected off the *original* g_j when ⟨g_i^PC, g_j⟩ < 0, dividing by ‖g_j‖² + 1e-8; j = i is
// visited too (a no-op); the shared gradient is Σ_i g_i^PC; task-specific parameters keep their
// own loss's gradient. This package follows LibMTL exactly (PCGrad, RandomOrders).
// The authors' PCGrad_tf.py (tianheyu927/PCGrad, commit c5fbd7c) shuffles the task list once per
// step (one order for every i), projects with min(⟨g_i,g_j⟩/‖g_j‖², 0) (no ε) and sums;
// WeiChengTseng/Pytorch-PCGrad (commit e987ac6, pcgrad.py) shuffles per i like LibMTL but averages
// the shared gradients (its `if self._reduction:` takes the mean branch for "sum" too) — a 1/T
// rescaling that Adam mostly absorbs.
//
// # Rep-MTL
//
// Paper: Zedong Wang, Siyuan Li, Dan Xu, "Rep-MTL: Unleashing the Power of Representation-level
// Task Saliency for Multi-Task Learning", ICCV 2025, arXiv 2507.21049.
// Reference code: none released. github.com/Jacky1128/Rep-MTL (fetched; newest commit ecef712)
// holds only README.md and a teaser image; the README says the code is being cleaned, confirms the
// two terms' names (Task-specific Saliency Regulation, TSR; Cross-task Saliency Alignment, CSA)
// and the four benchmarks, and acknowledges LibMTL, CAGrad, MTAN, FAMO and Nash-MTL. The abstract confirms "entropy-based
// penalization" and "sample-wise cross-task alignment" of saliencies and pairing with equal
// weighting. What could NOT be checked against code (and is our reading of the method, marked
// unverified in the project's seed notes, shared/research/seeds/learning-schemes.md §6):
//
//   - Saliency: S_t = ∂L_t/∂Z, the gradient of each task loss with respect to the shared
//     representation (not multiplied elementwise by Z), kept differentiable so the regularizers
//     act through second-order terms on the trunk and heads (Saliency).
//   - TSR: at each representation unit, the task shares P_t = |S_t| / Σ_t' |S_t'| (normalized
//     across tasks, which also removes each loss's scale); the penalty is their entropy averaged
//     over samples and units, so each unit is pushed towards one task (task-specific patterns).
//   - CSA: each sample's saliency magnitude |S_t[b,:]| L2-normalized to u_t[b]; InfoNCE over the
//     batch with the same sample under another task as the positive and the other samples as
//     negatives, at temperature τ, averaged over ordered task pairs.
//   - Coefficients: λ_tsr = λ_csa = 0.1, τ = 0.1 are our defaults (the paper's values are not in
//     the released material); ε = 1e-8 guards the shares, the log and the normalization.
//
// The objective is Σ_t L_t + λ_tsr·TSR + λ_csa·CSA with the optimizer unchanged (RepMTLTerms). A
// float64 PyTorch re-statement (testdata/golden/multitask/gen_repmtl.py, torch 1.13) checks the
// values and the second-order gradients; finite differences check them too.
//
// Deviations:
//   - Representation: the paper's Z is a B×C×H×W feature map whose saliency is aggregated over
//     channels before the per-position entropy; an MLP's Z is B×D with no spatial axis, so each unit
//     d plays the role of a position (no channel aggregation).
//   - Heads are linear (the paper's decoders are task-specific networks); the trunk is Dense+ReLU.
//
// Costs: rep-mtl differentiates through T saliency gradients (a second-order graph), about 4–9×
// an EW step on the Go backend for the digits benchmark; pcgrad takes T trunk gradients and the
// projection loop, about 3×.
package multitask
