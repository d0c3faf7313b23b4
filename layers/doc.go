// Package layers holds the building blocks moeboost's models need beyond GoMLX's own layers
// (which it uses wherever they serve: Dense, LayerNorm, RMSNorm, multi-head attention):
//
//   - MLP: a multi-layer perceptron builder (Config + Done), ReLU/GELU/SiLU/tanh activations,
//     dropout, optional residual connections and normalization;
//   - Block and Stack: a transformer block (pre-LN by default, post-LN as an option) with a
//     pluggable feed-forward slot (FFN) where the moe package plugs its layers, and a state
//     (Carry) threaded through the stack for layers such as MomentumSMoE;
//   - ExpertMatmul and ExpertFFN: the batched per-expert matmul [E, C, d] x [E, d, h];
//   - Embedding with a tied output projection, and learned positional embeddings;
//   - KAN: KAT's group-rational KAN FFN (GR-KAN) with FlashKAT's backward pass; block FFNs are
//     registered by name (kind "ffn": "dense", "gr_kan");
//   - training stability (stability.go): SelfAttentionWith with qk-layernorm, RoPE and the
//     attention-logit metric, GLM-130B's DeepNorm in Block, ShrinkGradient (embedding gradient
//     shrink), fan-in and Xavier initializers.
//
// Layers are functions of a GoMLX model.Scope: variables live under scope.In(name).
//
// Importing layers (or train/backend) installs internal/fastgrad: gradient rules for
// DotGeneral, broadcasts and Max/Min that are identical to GoMLX's but avoid the Go backend's
// slow Transpose, ReduceSum and Sign kernels.
package layers

import _ "github.com/moeboost/moeboost/internal/fastgrad" // Faster, identical gradient rules.
