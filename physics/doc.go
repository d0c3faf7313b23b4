// Package physics implements physics-informed hard constraints and their mixture-of-experts
// scaling (PI-HC and PI-HC-MoE; Chalapathi, Du, Krishnapriyan, "Scaling physics-informed hard
// constraints with mixture-of-experts", ICLR 2024) on 1-D diffusion-sorption, in float64 on
// the host.
//
// A network emits N basis functions φ_k(t, x) on a grid. The hard-constrained solution is
// u = Σ_k w_k φ_k, where w* minimises ‖r(w)‖² (paper Eq. 3-4): r stacks the PDE residual at
// sampled grid points, the relative IC residual, both boundary conditions and a ridge 1e-4·w
// (Problem, Row, HardConstraint). The NLLS is solved by Levenberg-Marquardt from w = 1
// (LevenbergMarquardt), and the loss is differentiated through w* by the implicit function
// theorem with the Gauss-Newton matrix JᵀJ for ∂(Jᵀr)/∂w (Solution.Backward): one 16 × 16
// solve per expert, no backpropagation through the LM iterations. The gradient is computed
// on the host, not as a GoMLX custom VJP: the basis network here is a small float64 MLP
// (MLP) with manual backpropagation, since the whole method needs float64 (the official code
// runs with JAX_ENABLE_X64; f32 LM stalls). PI-HC-MoE splits x into K equal chunks with no
// gating network; each expert solves its own NLLS on PDE points of its chunk plus the global
// IC/BC rows, and the outputs are stitched (not continuous at chunk borders, as in the paper).
// Train runs the soft-constraint PINN (PI-SC) or a hard variant; Reference is the explicit
// finite-difference ground truth.
//
// The issue named diffusion-reaction; the paper's and the official code's 1-D benchmark is
// diffusion-sorption (PDEBench), which is what is built here. No diffusion-reaction residual
// is implemented.
//
// Checked against the official code (github.com/ASK-Berkeley/physics-NNs-hard-constraints,
// HEAD of the stored snapshot):
//   - neptune/pdes/diffusion_sorption.py:112-129 (compute_pde_residual): D = 5e-4,
//     porosity 0.29, ρ_s = 2880, k_f = 3.5e-4, n_f = 0.874, R(u) = 1 + (1-φ)/φ·ρ_s·k_f·n_f·
//     (u+1e-6)^(n_f-1) for u > 0 and 1e-6^(n_f-1) otherwise; residual u_t - D/R·u_xx.
//   - diffusion_sorption.py:82-98: left BC u(t>0, 0) = 1, right BC u(t>0, 1) = D·u_x(t>0, 1).
//   - diffusion_sorption.py:100-110 and finite_differences.py:5-17: u_t, u_x by central
//     differences inside, forward/backward at the ends; u_xx is that stencil applied twice.
//   - diffusion_sorption.py:131-171 (vector_objective_function): r = [sampled PDE residuals,
//     (u - u0)/u0 at t = 0, left BC, right BC, 1e-4·w].
//   - neptune/models/constraints/constraint_utils.py:13-16: atol = rtol = 1e-4, maxiter 100;
//     hard_constraint.py:29 optx.LevenbergMarquardt(rtol, atol), :119-122 w_init = ones for
//     diffusion-sorption, :128 optx.least_squares (implicit adjoint by default).
//   - configs/models/fno2d-64-8m-hard-constraint-moe.yaml: out_dim 16, num_sampled_points
//     20000, moe_config split "spatialtemporal", num_experts [1, 4];
//     neptune/models/MoE/spatial_temporal_router.py:35-70: residual terms computed on the full
//     grid then partitioned; the IC is partitioned only for Navier-Stokes.
//   - configs/training/ds.yaml: Adam lr 1e-3 (scheduler "ds"), loss weights IC = BC = PDE = 1,
//     interior (data) 0.
//
// Not taken from the official code (assumptions of this package): the FNO is replaced by an
// MLP; one fixed initial field u0 = 0.1 + 0.05 sin(πx) instead of PDEBench's random fields;
// the LM damping schedule (λ ← λ/3 on success, 10λ on failure, step-size stopping) is this
// package's own, not optimistix's trust-region update; the learning-rate schedule is not used;
// PDE points are sampled over the whole chunk including t = 0 and the boundaries.
package physics
