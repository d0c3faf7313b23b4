// Package trees is moeboost's gradient-boosted tree core in plain Go (no graph): vector-output
// regression trees fitted to per-sample gradient vectors, ensembles whose learning rates are
// applied at prediction time (GBRL's design), a versioned binary file format, and a plain
// squared-loss gradient-boosting regressor on top (XGBoost's hist method).
//
// Paper: B. Fuhrer, C. Tessler, G. Dalal, "Gradient Boosting Reinforcement Learning", ICML 2025,
// arXiv 2407.08250 (trees as actor-critic function approximators); T. Chen, C. Guestrin,
// "XGBoost: A Scalable Tree Boosting System", KDD 2016 (histogram method, sibling subtraction).
//
// Reference code: NVlabs/gbrl gbrl/src/cpp (fitter.cpp, node.cpp, split_candidate_generator.cpp,
// predictor.cpp, optimizer.cpp, scheduler.h); XGBoost 1.7 tree_method=hist.
//
// # Trees
//
// Ensemble.Step grows exactly one tree on a batch (Data: numeric float32 features and
// categorical string features) and a gradient matrix G [N, OutDim], as GBRL's step:
//
//   - split candidates are made from the batch itself: Quantile (the last value of each of the
//     first Bins of Bins+1 equal-count groups of the sorted column, duplicates removed) or
//     Uniform (min + i*(max-min)/Bins); categorical candidates are the distinct values (one value
//     against the rest; beyond CatFeatures*Bins of them, those with the highest mean squared
//     gradient norm);
//   - scores: L2 = sum over children of ||S_c||^2/(n_c + Lambda), on gradients standardized per
//     column (GBRL); Cosine (GBRL's CPU code) = sum over children of n_c*||S_c||/sqrt(Q_c), Q_c
//     the sum of squared gradient norms, or the paper's cosine sqrt(sum_c ||S_c||^2/n_c);
//     children with fewer than MinDataInLeaf samples score -Inf; FeatureWeights multiply scores;
//   - Greedy trees: each node takes its best split when score - parent score >= MinSplitGain
//     (the root's parent score is 0); Oblivious trees: one split per level maximising the sum of
//     the level's node scores, stopping only when no candidate is valid;
//   - leaves hold the mean gradient S/(n + Lambda);
//   - missing values (NaN numeric features): a feature with NaN in the batch gets a bin of its
//     own (threshold -Inf first, so candidate 0 is "missing against the rest"), and Greedy
//     trees learn a default direction per split as XGBoost does (Chen & Guestrin 2016,
//     Algorithm 3, sparsity-aware split finding; xgboost src/tree/hist/evaluate_splits.h):
//     each threshold is scored with the missing rows on the left and on the right, the better
//     wins (ties left), stored as Split.MissingRight. Oblivious trees send them left.
//
// Unlike GBRL, which scores every candidate with a pass over the node's samples
// (O(depth*candidates*n*OutDim)), the builder quantizes the batch once and accumulates per-node
// gradient histograms ([bins, OutDim+1(+1)] per feature, parallel over row chunks with
// goroutines), builds only the smaller child's histogram and gets the sibling by subtraction,
// and scans bin prefixes: O(depth*n*features + candidates*OutDim), with the same splits
// (tested against a brute-force re-statement of GBRL's builder).
//
// # Ensembles
//
// F_k(x) = Bias_k - sum_t lr_k(t)*leaf_t(x)_k, where lr_k(t) comes from the LR slice covering
// output k (Constant or GBRL's Linear schedule over the tree index); SetLRs changes it for all
// trees after the fact. Predict is batched (tree-major, parallel over row chunks) on a flat copy
// of the trees with pre-scaled leaves (all-oblivious numeric ensembles: a padded, branch-free
// layout). Importance sums split gains per feature; SHAP gives path-dependent TreeSHAP
// attributions (Lundberg et al.) that add up to the prediction. Save/Load use a
// versioned little-endian format with a CRC-32 that rejects truncated and corrupt files with
// errors wrapping ErrTruncated / ErrCorrupt (FuzzLoad fuzzes the loader).
//
// # Regressor
//
// FitRegressor is squared-loss gradient boosting (XGBoost defaults: 100 trees, eta 0.3, depth 6,
// 256 bins, lambda 1): the data is quantized once (exact quantiles by a radix sort, or an evenly
// spaced sample above SketchRows rows), every round fits a Greedy L2 tree with Lambda to
// g = F - y and updates F by -eta*leaf.
//
// Deviations: a categorical feature keeps at most 255 candidate values per batch (the rest share
// one bin that is never split off); NaN numeric values are left out of quantiles, and a
// feature with NaN keeps at most 254 thresholds besides -Inf; oblivious trees send NaN left
// (no learned direction); a missing categorical value is just another string (FromFrame
// gives it as "");
// GBRL's per-sample Adam optimizer, control variates and C-header export are not implemented;
// single-output histograms (the regressor, and any one-output L2 step on fewer than 2^20 rows)
// accumulate gradients rounded to 2^-42*n*max|g| in packed int64 cells (float32-level
// precision, exact sums); scores are computed in float64 (GBRL: float32), so near-ties may break
// differently; categorical ties are broken by sorted value (GBRL: hash order).
package trees
