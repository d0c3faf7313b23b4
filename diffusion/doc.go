// Package diffusion is a small class-conditional diffusion model on flat images: an ε-prediction
// MLP denoiser (model.go), its GoMLX training loop, a guided DDIM sampler (sample.go), and the
// guidance rules that combine a conditional and an unconditional prediction at each sampling
// step, registered by name like database/sql drivers.
//
// Registered guidance names: "apg", "cfg".
//
//   - "cfg": classifier-free guidance (Ho & Salimans, "Classifier-Free Diffusion Guidance",
//     NeurIPS 2021 workshop, arXiv:2207.12598): pred = uncond + w*(cond - uncond).
//   - "apg": adaptive projected guidance (Sadat, Hilliges, Weber, "Eliminating Oversaturation and
//     Artifacts of High Guidance Scales in Diffusion Models", ICLR 2025, arXiv:2410.02416),
//     Algorithm 1 of the paper's appendix: reverse momentum on Δ = cond - uncond (Eq. 11), norm
//     rescaling to radius r (Eq. 9), projection of Δ onto the conditional prediction (Eq. 5-6) with
//     the parallel part scaled by eta (Eq. 7), and pred = cond + (w-1)*(Δ⊥ + eta*Δ∥) (Eq. 8). The
//     paper applies it to the x0 (denoised) prediction; callers pass x0 predictions.
//
// Verified (this session): HF diffusers src/diffusers/guiders/adaptive_projected_guidance.py at
// commit 09094a8e, functions MomentumBuffer.update (running = Δ + β·running) and
// normalized_guidance (rescale by min(1, r/‖Δ‖) when r > 0; project Δ onto normalize(cond) in
// float64; update = Δ⊥ + η·Δ∥), plus the paper's appendix code as reproduced in public ports
// (MomentumBuffer default β = -0.75, norm_threshold default 2.5, eta default 0,
// pred = cond + (w-1)·update). ComfyUI comfy_extras/nodes_apg.py was not read.
//
// Deviations:
//   - Vectors are flat per sample ([batch, features]); norms and projections are over all
//     non-batch axes, as the paper's dim=[-1,-2,-3] on [B,C,H,W].
//   - The projection is computed in float64 like the paper's code (v.double()); inputs and outputs
//     here are float64 already, so there is no cast back.
//   - diffusers' normalized_guidance with use_original_formulation=false writes
//     pred = uncond + w·update; this package follows the paper's code, pred = cond + (w-1)·update.
//     The two agree when eta = 1 (then both equal CFG when also r = Inf and β = 0).
//   - A zero conditional prediction gives a zero parallel part (torch's normalize divides by
//     max(‖c‖, 1e-12), which also gives zero); a zero Δ skips rescaling (min(1, r/0) = 1 in torch).
//
// Sampling helpers (schedule.go): the cosine ᾱ schedule (Nichol & Dhariwal 2021, Eq. 17), the ε→x0
// conversion APG needs (it guides in x0 space), and the deterministic DDIM step (Song et al. 2021,
// Eq. 12, σ = 0) from a guided x0.
//
// Model and sampler (model.go, sample.go): Denoiser is an MLP with a sinusoidal time embedding and
// a class embedding table with a null class (index Classes); Train fits it with the simplified DDPM
// loss (Ho et al. 2020, Eq. 14; "mse", optimizer by name, default "adamw") under the cosine
// schedule, replacing the class by the null class with probability LabelDrop (the benchmark uses
// 0.15). Sampler.Sample runs deterministic DDIM (seeded x_T) with the conditional and null-class
// passes in one batch, ε → x0 → Guider.Guide → DDIMStep, resetting the guider once per run.
// Deviations: an MLP instead of a U-Net (8×8 images); DDIM timesteps use diffusers' "leading"
// spacing with offset 1, so sampling starts below T; x0 is not clipped during sampling (the
// benchmark clips the final images to [-1, 1] before measuring them).
package diffusion
