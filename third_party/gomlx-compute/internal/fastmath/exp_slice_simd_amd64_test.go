//go:build amd64 && goexperiment.simd

package fastmath

import (
	"math"
	"math/rand/v2"
	"simd/archsimd"
	"testing"
)

func init() {
	if archsimd.X86.AVX2() {
		sliceImpls["avx2"] = [2]func(dst, src []float32){exp32SliceAVX2, logistic32SliceAVX2}
	}
	if archsimd.X86.AVX512() {
		sliceImpls["avx512"] = [2]func(dst, src []float32){exp32SliceAVX512, logistic32SliceAVX512}
	}
}

// TestSoftmaxRow32MatchesSteps: SoftmaxRow32 equals, bit for bit, the fused softmax's steps done
// one at a time (scalar max, shift, Exp32Slice, sum in index order, scaling), for row lengths
// around the vector width, with signed zeros, infinities and NaN in some rows.
func TestSoftmaxRow32MatchesSteps(t *testing.T) {
	if SoftmaxRow32 == nil {
		if archsimd.X86.AVX512() {
			t.Fatal("SoftmaxRow32 is nil on an AVX-512 CPU")
		}
		return // AVX2 or older: the fused softmax keeps its step-by-step path, tested there.
	}
	r := rand.New(rand.NewPCG(15, 16))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.NaN()), 80, -80}
	for _, n := range []int{1, 5, 15, 16, 17, 31, 64, 100, 257} {
		for trial := range 20 {
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(r.NormFloat64() * 4)
				if trial%4 == 3 && r.IntN(6) == 0 {
					src[i] = special[r.IntN(len(special))]
				}
			}
			want := make([]float32, n)
			m := float32(math.Inf(-1))
			for _, x := range src {
				if x > m {
					m = x
				}
			}
			for i, x := range src {
				want[i] = x - m
			}
			Exp32Slice(want, want)
			var sum float32
			for _, e := range want {
				sum += e
			}
			inv := 1 / sum
			for i := range want {
				want[i] *= inv
			}
			got := make([]float32, n)
			SoftmaxRow32(got, src)
			for i := range want {
				w, g := want[i], got[i]
				if (w != w) != (g != g) || (w == w && math.Float32bits(w) != math.Float32bits(g)) {
					t.Fatalf("n=%d trial %d element %d: want %v, got %v (src %v)", n, trial, i, w, g, src)
				}
			}
		}
	}
}
