// Package distill is moeboost's knowledge distillation: teacher/student plumbing, the
// distillation losses of the literature as registered terms, and the schemes that keep state
// across steps (per-sample memories, EMA teachers), all built into one train.Run.
//
// # Plumbing
//
// A Distiller (NewDistiller(Config)) turns a student model, an optional Teacher and a list of
// WeightedTerms into the Model and LossFn of a train.Config:
//
//   - the student is built under "/student"; Export keeps only those variables, so teacher
//     copies, adapters (FitNet regressors), critics (MI bounds), augmentors (HARD) and
//     memories (PS-KD, MDB), all under "/distill", never reach an exported model;
//   - teachers: Frozen (a trained model rebuilt in the training graph, variables copied
//     non-trainable, run in evaluation mode, gradients stopped), Cached (logits precomputed
//     once with CacheLogits, optionally saved with SaveLogits, served by sample id), EMA (mean
//     teacher) and its FST look-ahead variant;
//   - Tap(scope, name, x) exposes intermediate tensors by scope name to feature losses;
//   - sample ids come from data.NewTrainBatches(...).WithIndices() (Config.UseIndices);
//   - Views make several views of a batch (MDCS's weak/strong, HARD's clean/augmented);
//   - each term is added with train.AddExtraLoss as "distill/<name>", weighted by Weight and
//     an in-graph Schedule ("constant", "warmup", "linear", "step", in steps or epochs);
//   - RunStages runs multi-stage training (e.g. hint pre-training, then KD) on one store.
//
// Every non-trainable state (teacher copies, EMA averages, PS-KD and MDB memories, the
// initialization flags) is a store variable: train.Run's checkpoints carry it and a resumed
// run continues bit-identically.
//
// # Registered names
//
// Terms (kind "distiller"; Register, Names, New): "at", "ce", "dcd", "dist", "dkd",
// "dkd_mdcs", "fitnet", "hard", "infonce", "kd", "lskd", "mdb", "mdcs", "mi_alpha", "nwj",
// "pkt", "pskd", "rkd", "tuba". Teachers (kind "teacher"): "cached", "ema", "frozen", "fst".
// Augmenters (kind "augmenter"): "hard_affine", "hard_additive". Local learning (kind
// "local_learner"): "e2e", "greedy", "man". Losses in the shared train/losses registry (from
// subpackage imbalance, imported here): "dice", "focal", "logit_adjusted_ce"; StableMax
// cross-entropy is train/losses' own "stablemax_ce" when present.
//
// # Conventions
//
// Logits are [B, C], labels int [B] or [B, 1]. "batchmean" means summed over classes and batch,
// divided by B; each type's doc states its reduction. Where a paper and its official code
// differ, the code's behaviour is the default and a documented switch gives the paper's
// (KD's SoftOnly, DKD's Variant, AT's Mode, DCD's Weighting, MDCS's Temperature, Dice's
// Denominator). Golden tests compare outputs and gradients with vectors produced by the
// official code (testdata/golden/distill with ../shared/golden/distill, and MOEBOOST_GOLDEN_DIR).
package distill

import (
	_ "github.com/moeboost/moeboost/distill/imbalance" // Registers "dice", "focal", "logit_adjusted_ce".
)
