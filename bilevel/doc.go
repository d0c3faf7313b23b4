// Package bilevel solves bilevel problems
//
//	min_x F(x, y*(x))   s.t.   y*(x) ∈ argmin_y { g(x, y) : c(x, y) ≤ 0 }
//
// on GoMLX graphs: a Problem gives F, g (and optionally c and a projection) as graph functions
// of flat float64 vectors; an Oracle compiles their gradients, Hessian-vector products
// ∇²_yy g·z and mixed products ∇²_xy g·z (reverse mode applied twice); Methods, registered by
// name like every moeboost plugin, iterate on them:
//
//	"aid"     approximate implicit differentiation with warm starts (AID-FP; Grazzi et al., ICML
//	          2020; Ji, Yang & Liang, ICML 2021): the plain alternating baseline
//	"bo-rep"  BO-REP (Hao, Gong & Liu, "Bilevel optimization under unbounded smoothness", ICLR
//	          2024, Alg. 1): initialization refinement, periodic lower updates, one projected
//	          step on the linear-system variable z, normalized momentum on x
//	"lv-hba"  LV-HBA (Yao et al., "Constrained bi-level optimization: proximal Lagrangian value
//	          function approach and Hessian-free algorithm", ICLR 2024, Alg. 1): single loop,
//	          first order, and the only one that accepts lower-level constraints
//
// What was checked against the official code:
//
//   - BO-REP (MingruiLiu-ML-Lab/Bilevel-Optimization-under-Unbounded-Smoothness,
//     data_cleaning/bo_rep.py and main.py): defaults outer LR 0.05, inner LR 0.05, β 0.9, ν 0.01,
//     interval 2, 10 lower steps per periodic update (y_warm_start); z initialized Xavier-uniform
//     over a column of n_y entries and updated z ← z − ν(∇²_yy g·z − ∇_y F) once per iteration;
//     the hypergradient −∇_λ(∇_y g·z) uses the updated z; momentum m ← βm + (1−β)h, and the
//     outer step divides the learning rate by 1e-10 + ‖m‖ (grad_normalized). Its data-cleaning
//     lower objective is mean_i σ(λᵢ)·CEᵢ + 1e-4·‖y‖ on λ initialized to 1, the upper the mean
//     validation cross-entropy. Deviations here: the ridge is squared (strong convexity, as the
//     analysis assumes); full batches instead of minibatches (so the method is deterministic);
//     the official code accumulates gradients across its inner steps without zeroing them,
//     which this does not copy; the refinement (Alg. 2) runs as stages of plain steps with the
//     step size halved per stage (the official data-cleaning code has none; RefineStages 0).
//   - LV-HBA (SUSTech-Optimization/LV-HBA, Hyperparameter optimization/Data Clean/LV-HBA/
//     LV-HBA.py): α 0.01, β 0.1, η 0.01, the proximal coefficients written gama1 = gama2 = 0.1
//     multiply (θ − y) and (λ − z), i.e. 1/γ = 0.1; ck = 1/√(k+1) scales ∇F; λ and z start at
//     ones; θ and λ are updated first and the (x, y) step uses the updated ones. The code's
//     update of the hyperparameters is out of place (so they move only through the projection),
//     λ is not projected onto ≥ 0 and z never moves: this package follows the paper there.
//
// The data hyper-cleaning problem of both papers is LogisticCleaning (with an optional
// ball-constrained lower level for LV-HBA); the `bilevel` benchmark runs it on digits.
//
// Second-order graphs: GoMLX's gradient of Slice is a Pad, which has no gradient, so lower
// objectives must not slice y; LogisticCleaning selects parts of y with constant 0/1 matrices.
package bilevel
