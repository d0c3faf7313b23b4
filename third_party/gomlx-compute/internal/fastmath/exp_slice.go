// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package fastmath

// Slice forms of Exp32 and of the logistic function, vectorized (exp_slice_simd_amd64.go) where
// the build and the CPU allow: the same Cephes range reduction and polynomial as Exp32, in
// float32 lanes, so both agree to within an ulp or two (TestExp32SliceMatchesExp32).

// Exp32Slice sets dst[i] = Exp32(src[i]) for i < len(dst); dst may be src.
var Exp32Slice = exp32SliceScalar

// Logistic32Slice sets dst[i] = 1/(1+e^(-src[i])) for i < len(dst), computed from e = Exp32(-|x|)
// as 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0 (no overflow, accurate tails); dst may be src.
var Logistic32Slice = logistic32SliceScalar

// Vectorized reports whether Exp32Slice and Logistic32Slice use SIMD kernels.
var Vectorized = false

func exp32SliceScalar(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] = Exp32(x)
	}
}

func logistic32SliceScalar(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] = logistic32(x)
	}
}

func logistic32(x float32) float32 {
	ax := x
	if ax < 0 {
		ax = -ax
	}
	e := Exp32(-ax)
	r := 1 / (1 + e)
	if x < 0 {
		return e * r
	}
	return r
}

// SoftmaxRow32, where not nil (SIMD builds on AVX-512 CPUs), sets dst to the softmax of the
// contiguous row src as the fused softmax computes it: m = max(src), e = Exp32Slice(src − m),
// the sum of e in index order, dst = e · (1/sum); its results are bit-identical to those steps
// done one at a time, with the max, the shift, the exponential and the scaling in SIMD lanes.
var SoftmaxRow32 func(dst, src []float32)
