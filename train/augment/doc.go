// Package augment holds host-side image augmentations for the training batch pipeline:
// plugins that rewrite a batch of images (flat float32 [B, H, W] or [B, H, W, C] in a given
// value range, e.g. [0, 1] or the digits' [0, 16]) before it reaches the graph, and the
// Dataset wrapper that applies one to every training batch of a GoMLX train.Dataset.
//
// Registered augmentations (kind "augmentation"; the distillation package's learned HARD
// augmentors are the separate kind "augmenter"):
//
//	identity      returns the batch unchanged (the no-augmentation arm)
//	randaugment   RandAugment (Cubuk et al., 2020): N ops drawn uniformly with replacement
//	              from the paper's list, all at the one global magnitude M
//
// Every augmentation is deterministic given its seed: image b of the batch at training step s
// draws from a stream fixed by (seed, s, b), so a resumed run (Dataset.SetStep) sees the
// augmented batches an uninterrupted run would.
//
// The image operations (Rotate, ShearX, TranslateX, AutoContrast, Equalize, Solarize,
// Posterize, Contrast, Brightness, Sharpness, Color) are exported, each written in Go after
// the PIL semantics the paper's reference code re-implements; the geometric ones share one
// affine warp (nearest or bilinear).
package augment
