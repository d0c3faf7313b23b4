package excelformer

import (
	"fmt"
	"math"
)

// MaskNegative is the additive value the reference code puts on forbidden attention entries.
const MaskNegative = -1e4

// SemiPermeableMask returns the [f, f] additive attention mask of semi-permeable attention for
// f feature tokens already sorted by descending mutual information (token 0 is the most
// informative): M[i][j] = 0 when j <= i (query i may read key j only if j is at least as
// informative), MaskNegative otherwise. Information thus flows only from more- to
// less-informative features (paper Sec. 4, semi-permeable attention; a causal mask in MI order).
func SemiPermeableMask(f int) ([][]float64, error) {
	if f < 1 {
		return nil, fmt.Errorf("excelformer: number of features f=%d must be >= 1", f)
	}
	m := make([][]float64, f)
	for i := range m {
		m[i] = make([]float64, f)
		for j := i + 1; j < f; j++ {
			m[i][j] = MaskNegative
		}
	}
	return m, nil
}

// NormalizeMI returns Ibar = I / sum(I) for non-negative mutual-information scores; the
// FEAT-MIX label weight is a sum of these shares. All-zero scores give equal shares 1/f.
func NormalizeMI(mi []float64) ([]float64, error) {
	if len(mi) == 0 {
		return nil, fmt.Errorf("excelformer: mutual information must have at least one feature, got 0")
	}
	var sum float64
	for i, v := range mi {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("excelformer: mutual information mi[%d]=%g must be finite and >= 0", i, v)
		}
		sum += v
	}
	out := make([]float64, len(mi))
	for i, v := range mi {
		if sum == 0 {
			out[i] = 1 / float64(len(mi))
		} else {
			out[i] = v / sum
		}
	}
	return out, nil
}

// FeatMixLambda returns the FEAT-MIX label weight of one sample, Lambda = sum_i s_i * Ibar_i,
// where keep[i] (s_i) says feature i was kept from the sample itself rather than taken from its
// partner. The mixed loss is Lambda*L(pred, y) + (1-Lambda)*L(pred, y_partner) (paper Eq. for
// FEAT-MIX; lib/aug_utils.py).
func FeatMixLambda(keep []bool, ibar []float64) (float64, error) {
	if len(keep) != len(ibar) {
		return 0, fmt.Errorf("excelformer: keep has %d features but ibar has %d; they must match", len(keep), len(ibar))
	}
	var lam float64
	for i, k := range keep {
		if k {
			lam += ibar[i]
		}
	}
	return lam, nil
}

// HidMix mixes two [f, d] token embeddings along the embedding dimension: out[i][k] = a[i][k]
// when keep[k], else b[i][k]; the same dimension mask is shared by every feature token. Its label
// weight is the Beta draw lambda itself, not the realised fraction of kept dimensions (HID-MIX,
// lib/aug_utils.py).
func HidMix(a, b [][]float64, keep []bool) ([][]float64, error) {
	if len(a) != len(b) {
		return nil, fmt.Errorf("excelformer: HidMix got %d and %d feature tokens; they must match", len(a), len(b))
	}
	out := make([][]float64, len(a))
	for i := range a {
		if len(a[i]) != len(keep) || len(b[i]) != len(keep) {
			return nil, fmt.Errorf("excelformer: token %d has dims %d and %d but the mask has %d; they must match", i, len(a[i]), len(b[i]), len(keep))
		}
		out[i] = make([]float64, len(keep))
		for k, kk := range keep {
			if kk {
				out[i][k] = a[i][k]
			} else {
				out[i][k] = b[i][k]
			}
		}
	}
	return out, nil
}

// MixTarget returns the regression target of a mixed sample, lambda*y + (1-lambda)*yPartner.
func MixTarget(lambda, y, yPartner float64) float64 {
	return lambda*y + (1-lambda)*yPartner
}
