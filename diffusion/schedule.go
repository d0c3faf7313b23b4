package diffusion

import (
	"fmt"
	"math"
)

// CosineAlphaBar returns ᾱ_t for t = 0..T (ᾱ_0 = 1) of the cosine schedule of Nichol & Dhariwal,
// "Improved Denoising Diffusion Probabilistic Models", ICML 2021 (arXiv:2102.09672), Eq. (17):
// ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T)+s)/(1+s)·π/2), s = 0.008, with each β_t = 1 - ᾱ_t/ᾱ_{t-1}
// clipped to at most 0.999 as in the paper (Sec. 3.2). Chosen over the linear schedule because
// on 64-pixel images the linear schedule's last steps are almost pure noise (the paper's argument
// for low resolutions).
func CosineAlphaBar(T int) ([]float64, error) {
	if T < 1 {
		return nil, fmt.Errorf("diffusion: steps T=%d must be >= 1", T)
	}
	const s = 0.008
	f := func(t int) float64 {
		c := math.Cos((float64(t)/float64(T) + s) / (1 + s) * math.Pi / 2)
		return c * c
	}
	ab := make([]float64, T+1)
	ab[0] = 1
	for t := 1; t <= T; t++ {
		beta := min(1-f(t)/f(t-1), 0.999) // Eq. (17) with the β clip of Sec. 3.2
		ab[t] = ab[t-1] * (1 - beta)
	}
	return ab, nil
}

// X0FromEps converts an ε prediction at noise level ᾱ into the x0 prediction the APG guider works
// on: x0 = (x_t - √(1-ᾱ)·ε)/√ᾱ (Ho et al. 2020, Eq. 4 solved for x0).
func X0FromEps(xt, eps []float64, alphaBar float64) []float64 {
	out := make([]float64, len(xt))
	a, b := math.Sqrt(alphaBar), math.Sqrt(1-alphaBar)
	for i := range out {
		out[i] = (xt[i] - b*eps[i]) / a
	}
	return out
}

// DDIMStep takes one deterministic DDIM step (Song, Meng, Ermon, "Denoising Diffusion Implicit
// Models", ICLR 2021, Eq. 12 with σ = 0) from x_t to the level ᾱ_prev given a (guided) x0
// prediction: ε = (x_t - √ᾱ·x0)/√(1-ᾱ), x_prev = √ᾱ_prev·x0 + √(1-ᾱ_prev)·ε.
func DDIMStep(xt, x0 []float64, alphaBar, alphaBarPrev float64) []float64 {
	out := make([]float64, len(xt))
	a, b := math.Sqrt(alphaBar), math.Sqrt(1-alphaBar)
	ap, bp := math.Sqrt(alphaBarPrev), math.Sqrt(1-alphaBarPrev)
	for i := range out {
		eps := (xt[i] - a*x0[i]) / b
		out[i] = ap*x0[i] + bp*eps
	}
	return out
}
