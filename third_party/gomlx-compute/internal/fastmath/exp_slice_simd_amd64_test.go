//go:build amd64 && goexperiment.simd

package fastmath

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX2() {
		sliceImpls["avx2"] = [2]func(dst, src []float32){exp32SliceAVX2, logistic32SliceAVX2}
	}
	if archsimd.X86.AVX512() {
		sliceImpls["avx512"] = [2]func(dst, src []float32){exp32SliceAVX512, logistic32SliceAVX512}
	}
}
