//go:build amd64 && goexperiment.simd

package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"simd/archsimd"
)

// TestFastUnaryF32MatchesGeneric compares each SIMD width's Sqrt/Ceil/Floor/Neg/Abs bit for bit
// with the generic executors' loops, on random and special values (signed zeros, NaN, infinities,
// halves, values beyond 2^23) and lengths around the vector widths.
func TestFastUnaryF32MatchesGeneric(t *testing.T) {
	generic := [numUnaryKinds]func(in, out []float32){
		unarySqrt:  execSqrtGeneric[float32],
		unaryCeil:  execCeilGeneric[float32],
		unaryFloor: execFloorGeneric[float32],
		unaryNeg:   execNegGeneric[float32],
		unaryAbs:   execAbsGeneric[float32],
	}
	widths := map[string][numUnaryKinds]func(out, in []float32){}
	if archsimd.X86.AVX2() {
		widths["avx2"] = [numUnaryKinds]func(out, in []float32){f32Sqrt8, f32Ceil8, f32Floor8, f32Neg8, f32Abs8}
	}
	if archsimd.X86.AVX512() {
		widths["avx512"] = [numUnaryKinds]func(out, in []float32){f32Sqrt16, f32Ceil16, f32Floor16, f32Neg16, f32Abs16}
	}
	if len(widths) == 0 {
		t.Fatal("amd64 build with GOEXPERIMENT=simd on a CPU without AVX2: no kernel to check")
	}
	r := rand.New(rand.NewPCG(7, 8))
	special := append(specialF32, 0.5, -0.5, 1.5, -2.5, 8388609, -8388609.5, 1e10, -1e-45)
	in := make([]float32, 4000)
	for i := range in {
		switch r.IntN(4) {
		case 0:
			in[i] = special[r.IntN(len(special))]
		case 1:
			in[i] = float32(r.IntN(64)-32) / 4
		default:
			in[i] = float32(r.NormFloat64() * 100)
		}
	}
	for name, kernels := range widths {
		for kind := range numUnaryKinds {
			for _, n := range []int{len(in), 0, 1, 7, 8, 9, 15, 16, 17, 31, 33} {
				want := make([]float32, n)
				got := make([]float32, n)
				generic[kind](in[:n], want)
				kernels[kind](got, in[:n])
				sameBits(t, fmt.Sprintf("%s kind %d n=%d", name, kind, n), want, got)
			}
			inPlace := append([]float32(nil), in...)
			want := make([]float32, len(in))
			generic[kind](in, want)
			kernels[kind](inPlace, inPlace)
			sameBits(t, fmt.Sprintf("%s kind %d in place", name, kind), want, inPlace)
		}
	}
}
