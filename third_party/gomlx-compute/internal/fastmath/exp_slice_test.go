package fastmath

import (
	"math"
	"testing"
)

// sliceImpls are the slice kernels to check: the active ones and the plain loops (and, on
// amd64 with GOEXPERIMENT=simd, each SIMD width; see exp_slice_simd_amd64_test.go).
var sliceImpls = map[string][2]func(dst, src []float32){
	"active": {func(d, s []float32) { Exp32Slice(d, s) }, func(d, s []float32) { Logistic32Slice(d, s) }},
	"scalar": {exp32SliceScalar, logistic32SliceScalar},
}

func expInputs() []float32 {
	var xs []float32
	for x := float32(-100); x <= 100; x += 0.0137 {
		xs = append(xs, x)
	}
	return append(xs, 0, float32(math.Copysign(0, -1)), 88, 88.02969, 88.1, -88.02969, -88.1, -87.3,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-30, -1e-30, 3e38, -3e38)
}

// TestExp32SliceMatchesExp32: every lane within 2 ulp-scale relative error of Exp32 and of
// math.Exp (where the result is a normal float32), the same clamps, exactly 1 at 0, NaN kept.
func TestExp32SliceMatchesExp32(t *testing.T) {
	xs := expInputs()
	for name, impl := range sliceImpls {
		for _, n := range []int{len(xs), 1, 7, 15, 17, 33} { // tails of each width
			got := make([]float32, n)
			impl[0](got, xs[len(xs)-n:])
			for i, x := range xs[len(xs)-n:] {
				want := Exp32(x)
				g := got[i]
				switch {
				case x != x:
					if g == g {
						t.Fatalf("%s: Exp(NaN) = %v", name, g)
					}
				case x == 0 && g != 1:
					t.Fatalf("%s: Exp(0) = %v, want exactly 1", name, g)
				case want < 1.2e-38 || want > 1e38:
					if math.Abs(float64(g-want)) > 1e-38 && math.Abs(float64(g/want-1)) > 3e-7 {
						t.Fatalf("%s: Exp(%g) = %g, Exp32 %g", name, x, g, want)
					}
				default:
					if rel := math.Abs(float64(g)/math.Exp(float64(x)) - 1); rel > 3e-7 {
						t.Fatalf("%s: Exp(%g) = %g, math.Exp %g (relative error %.2g)", name, x, g, math.Exp(float64(x)), rel)
					}
				}
			}
		}
	}
}

// TestLogistic32Slice: within 4e-7 relative of the float64 logistic wherever it is a normal
// float32 (both tails included), exactly 0.5 at 0, 1 at +Inf, 0 at -Inf, NaN kept; in place.
func TestLogistic32Slice(t *testing.T) {
	xs := expInputs()
	for name, impl := range sliceImpls {
		got := append([]float32(nil), xs...)
		impl[1](got, got) // in place
		for i, x := range xs {
			g := got[i]
			want := 1 / (1 + math.Exp(-float64(x)))
			switch {
			case x != x:
				if g == g {
					t.Fatalf("%s: logistic(NaN) = %v", name, g)
				}
			case x == 0 && g != 0.5:
				t.Fatalf("%s: logistic(0) = %v, want 0.5", name, g)
			case want < 1.2e-38:
				if float64(g) > 1.2e-38 {
					t.Fatalf("%s: logistic(%g) = %g, want below the normal range (%g)", name, x, g, want)
				}
			default:
				if rel := math.Abs(float64(g)/want - 1); rel > 4e-7 {
					t.Fatalf("%s: logistic(%g) = %g, want %g (relative error %.2g)", name, x, g, want, rel)
				}
			}
		}
	}
}

func BenchmarkLogistic32Slice(b *testing.B) {
	src := make([]float32, 1<<16)
	for i := range src {
		src[i] = float32(i%2000)/100 - 10
	}
	dst := make([]float32, len(src))
	for name, impl := range sliceImpls {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				impl[1](dst, src)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src)), "ns/elem")
		})
	}
}
