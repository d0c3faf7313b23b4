// Package prune is magnitude pruning with lottery-ticket rewinding, as used by Grokking Tickets:
// masks taken from a trained (generalized) network, applied to a fresh copy of the same
// initialization, and kept fixed while it retrains.
//
// Paper: Minegishi, Iwasawa & Matsuo, "Bridging Lottery Ticket and Grokking: Understanding
// Grokking from Inner Structure of Networks" (Grokking Tickets), arXiv:2310.19470.
// Reference code: gouki510/Grokking-Tickets (pruner.py Mag/Rand and _global_mask/_local_mask,
// prune.py prune_loop with reinitialize=True, model.py weight_mask buffers).
//
// The recipe, one shot:
//
//	θ0 = init; save θ0                          (store.Clone() after the variables exist)
//	θT = train(θ0) with AdamW, weight decay     (until test accuracy is high)
//	M  = Magnitude(θT, sparsity)                 (|w| ranked over the network: Global)
//	ticket = M ⊙ θ0                              (ResetToInit)
//	retrain the ticket with Optimizer(inner)     (pruned weights stay exactly 0)
//
// Pieces:
//   - Masks, Layer: one keep mask per pruned variable; Magnitude (Global or LayerWise) and
//     Random (the random-pruning control with the same number pruned in every layer, seeded).
//   - Masks.Save / Load: masks live in the model store as non-trainable variables under
//     "/prune_mask" (MaskScope), so checkpoints carry them; Masks.Apply zeroes pruned weights.
//   - ResetToInit: rewind a store to θ0 with the masks applied (kept weights bit-identical).
//   - Optimizer: wraps any optimizer; masks gradients and re-applies the masks after each step.
//
// Registered optimizers: "masked" (inner optimizer from the "masked_base" param, default
// "adamw"), "masked+adamw", "masked+sgd".
//
// Paper switches: sparsity (the paper's code names the kept fraction "sparsity"; Config.Sparsity
// here is the pruned fraction, so the code's default 0.4 is Sparsity 0.6), scope global|layer,
// pruner mag|rand (SNIP, GraSP and SynFlow, the paper's pruning-at-init controls, are not
// implemented).
//
// Deviations: exact pruned counts (ties broken by position, see Magnitude); the random control
// matches the per-layer sparsity exactly (see Random); masks are enforced through the optimizer
// (gradient and weight multiplied by the mask) rather than by multiplying in the forward pass,
// which gives the same training trajectory for elementwise optimizers.
package prune
