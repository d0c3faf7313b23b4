// Package gbnn trains a one-hidden-layer network by gradient boosting (GBNN) and assembles the
// boosted stages into one ordinary GoMLX network.
//
// Paper: S. Emami, G. Martínez-Muñoz, "Sequential Training of Neural Networks With Gradient
// Boosting", IEEE Access 11:42738–42750 (2023), doi 10.1109/ACCESS.2023.3271515,
// arXiv:1909.12098.
// Reference code: GAA-UAM/GBNN (commit b0b4cfa, gbnn/GBNN.py: GNEGNE.fit, the loss classes,
// to_NN).
//
// A one-hidden-layer network F(x) = b + Σ_u w_u·σ(a_u·x + c_u) is an additive expansion, so it
// can be grown like a boosted ensemble. Fit sets the bias to the loss's constant minimiser F0,
// then for t = 1..T fits a fresh network of J hidden units (K linear outputs) to the
// pseudo-residuals r of the current F on a subsample of floor(s·n) rows, and adds it with the
// one-step Newton size ρ_t = eta·(Σ r·h / Σ h²·curvature) computed on all rows:
//
//	regression (squared loss):  F0 = mean(y),             r = y − F,               ρ = eta
//	binary (y ∈ ±1, log(1+e^(−2yF))): F0 = ½·log((1+ȳ)/(1−ȳ)), r = 2y/(1+e^(2yF)),
//	                            ρ = eta·Σ r·h / Σ r·h²·(2y − r),  P(y=+1) = σ(2F)
//	K classes (softmax):        F0 = 0,                   r = y − softmax(F),
//	                            ρ = eta·Σ h·r / Σ h²·p(1−p)   (one ρ over all rows and classes)
//
// Model.Assemble stacks the T stage networks into one network with T·J hidden units (stage t's
// input weights in hidden block t, its output weights scaled by c·ρ_t, the output bias
// c·(F0 + Σ ρ_t·b2_t); c = 2 for binary so a plain sigmoid gives σ(2F)): the official to_NN.
// The network's variables live in a model.Store, so moeboost/GoMLX checkpoints save and load
// it (LoadNetwork rebuilds its description from the store's params) and train.Predict serves
// it; Network.Truncated cuts it to its first stages ("switch off the last units at test time").
//
// Each stage's network is fitted either by the official solver, full-batch L-BFGS (Solver
// "lbfgs", the default: gonum/optimize on the host, loss and gradient from one GoMLX graph
// compiled once per fit), or by any registered optimizer through moeboost's training loop
// (train.Run; e.g. "adam" at learning rate 0.01, full batch, max_iter steps). The weak learner's objective is sklearn MLPRegressor's,
// ½·mean((r−h)²) + ½·alpha·Σ‖W‖²/n with alpha = 1e-4, and its initialization sklearn's
// (uniform ±sqrt(2/(fan_in+fan_out)) for logistic units).
//
// Defaults (Config's zero value): total_nn = 200 units, J = 1 unit per stage (T = 200
// stages), subsample = 0.5, logistic units, L-BFGS (the official code's), max_iter = 30, eta = 0.1,
// features and a regression target standardized inside Fit, and for regression the number of
// stages chosen on a 10% validation split (see Deviations). Official() is the official
// configuration exactly.
//
// Registered names: learner "gbnn" (RegisterLearner / NewLearner, configured from store params
// gbnn_*; see Config).
//
// Deviations from the official code:
//   - Shrinkage eta defaults to 0.1 (sklearn GradientBoosting's learning_rate), not 1.
//   - Fit standardizes features and a regression target on the training rows and folds the
//     scaling back into the stages (NoStandardize: off). The official code takes the data as
//     given; its experiments standardize outside, which this reproduces up to rounding.
//   - Regression holds out 10% of the training rows and keeps the stages up to the best loss
//     on them, stopping after 20 stages without an improvement of 1e-4 (sklearn
//     GradientBoosting's validation_fraction / n_iter_no_change / tol; ValidationFraction
//     < 0: off, > 0: also for classification). The official code fits every stage: on
//     diabetes (5-fold CV) 200 L-BFGS stages at eta 0.1 overfit to RMSE 78.3, worse than the
//     training mean's 77.0; with the split they score 55.0 (least squares: 55.2).
//     Unlike sklearn, the stages after the best one are dropped (as sklearn's MLP with
//     early_stopping restores its best weights).
//   - L-BFGS runs 30 iterations per stage by default, not 200: fully fitted one-unit stages
//     chase the noise of their subsample (5-fold CV, with the validation split: diabetes
//     RMSE 54.6 at 30 iterations, 55.0 at 200; the synthetic heavy-tailed counts
//     data.HeavyTailedCounts(20000, 1) 4.260 at 30, 4.262 at 50, least squares 4.266).
//     gonum's L-BFGS (More–Thuente line search) is not scipy's L-BFGS-B, so iterates differ
//     even from the same start.
//   - The Newton-step guard (on by default; NoGuard restores the official behaviour): at the
//     official default eta = 1 the multi-class step blows up once predictions saturate
//     (Σ h²p(1−p) underflows to 0, ρ = ±Inf, the model collapses to chance; reproduced in
//     TestEtaOneMultiClassGuard). Guarded, a denominator below 1e-12·Σh² or a non-finite
//     factor falls back to ρ = eta, and |ρ| is clipped to MaxStep = 10.
//   - Subsampling and initialization draw from a seeded PCG generator (Config.Seed); the
//     official code draws the subsample from numpy's global RNG, so its runs cannot be
//     reproduced.
//   - Stage.Loss is the mean training loss over rows; the official multi-class loss records the
//     sum over rows.
//   - The official code builds the full network by calling sklearn's MLPClassifier.fit for 2
//     iterations only to get its structure; Assemble writes the variables directly.
package gbnn
