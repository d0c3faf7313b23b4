// Package imbalance holds losses for class-imbalanced training, registered in the shared
// train/losses registry (so train.Run's Config.Loss, -set loss=... and the distill
// package's hard-label term find them by name):
//
//   - "dice": self-adjusting Dice loss (Li et al., ACL 2020), ShannonAI/dice_loss_for_NLP.
//   - "focal": focal loss (Lin et al., ICCV 2017), softmax or sigmoid.
//   - "logit_adjusted_ce": logit-adjusted cross-entropy (Menon et al., ICLR 2021).
//
// StableMax cross-entropy ("stablemax_ce") lives in train/losses (one implementation, shared
// with the optimizers' grokking study).
//
// Each loss has a Config (zero value: the paper's or code's defaults, documented), Validate
// through New, a graph function (Compute) for direct use, and a factory reading store params.
package imbalance
