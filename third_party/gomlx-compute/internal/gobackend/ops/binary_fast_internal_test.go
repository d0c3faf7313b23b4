package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

var genericF32 = [numBinOps]func(lhs, rhs, out []float32, lhsShape, rhsShape, outShape shapes.Shape){
	binOpAdd: execAddNumericGeneric[float32],
	binOpSub: execSubNumericGeneric[float32],
	binOpMul: execMulNumericGeneric[float32],
	binOpDiv: execDivNumericGeneric[float32],
	binOpMax: execMaxNumericGeneric[float32],
	binOpMin: execMinNumericGeneric[float32],
}

var scalarF32Kernels = [numBinOps][numBinModes]f32Kernel{
	binOpAdd: {f32AddVV, f32AddVS, f32AddSV},
	binOpSub: {f32SubVV, f32SubVS, f32SubSV},
	binOpMul: {f32MulVV, f32MulVS, f32MulSV},
	binOpDiv: {f32DivVV, f32DivVS, f32DivSV},
	binOpMax: {f32MaxVV, f32MaxVS, f32MaxSV},
	binOpMin: {f32MinVV, f32MinVS, f32MinSV},
}

// specialF32 are values drawn with some probability: NaN, infinities, signed zeros, equal values.
var specialF32 = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1, -1, 1e-38, 3e38}

func randF32(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		if r.IntN(5) == 0 {
			x[i] = specialF32[r.IntN(len(specialF32))]
		} else {
			x[i] = float32(r.NormFloat64())
		}
	}
	return x
}

// sameBits compares float32 slices bit for bit, except that any NaN matches any NaN.
func sameBits(t *testing.T, name string, want, got []float32) {
	t.Helper()
	for i := range want {
		w, g := want[i], got[i]
		if w != w && g != g {
			continue
		}
		if math.Float32bits(w) != math.Float32bits(g) {
			t.Fatalf("%s: element %d: want %v (%#x), got %v (%#x)", name, i, w, math.Float32bits(w), g, math.Float32bits(g))
		}
	}
}

// TestFastBinaryF32MatchesGeneric compares execBinaryF32 (with the SIMD kernels where present and
// with the plain loops) bit for bit with the generated generic executors, on same-shape, scalar
// and broadcast operands of random shapes, lengths around the vector widths, and special values.
func TestFastBinaryF32MatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	type tc struct{ lhs, rhs, out []int }
	cases := []tc{
		{[]int{256, 256}, []int{256, 256}, []int{256, 256}},
		{[]int{256, 256}, []int{1, 256}, []int{256, 256}},
		{[]int{32, 64, 128}, []int{32, 64, 1}, []int{32, 64, 128}},
		{[]int{32, 1, 128}, []int{32, 64, 128}, []int{32, 64, 128}},
		{[]int{1, 4, 1, 1}, []int{32, 4, 64, 64}, []int{32, 4, 64, 64}},
		{[]int{33}, []int{1}, []int{33}},
		{[]int{1}, []int{17}, []int{17}},
		{[]int{1, 1}, []int{1, 1}, []int{1, 1}},
		{[]int{0, 5}, []int{1, 5}, []int{0, 5}},
	}
	for range 300 {
		rank := 1 + r.IntN(4)
		out := make([]int, rank)
		lhs := make([]int, rank)
		rhs := make([]int, rank)
		for a := range rank {
			out[a] = 1 + r.IntN(40)
			lhs[a], rhs[a] = out[a], out[a]
			switch r.IntN(4) {
			case 0:
				lhs[a] = 1
			case 1:
				rhs[a] = 1
			}
		}
		cases = append(cases, tc{lhs, rhs, out})
	}
	for n := range 70 { // lengths around the AVX2/AVX-512 widths, each mode
		cases = append(cases, tc{[]int{n}, []int{n}, []int{n}}, tc{[]int{n}, []int{1}, []int{n}}, tc{[]int{1}, []int{n}, []int{n}})
	}
	for ci, c := range cases {
		ls, rs, os := shapes.Make(dtypes.Float32, c.lhs...), shapes.Make(dtypes.Float32, c.rhs...), shapes.Make(dtypes.Float32, c.out...)
		lhs, rhs := randF32(r, ls.Size()), randF32(r, rs.Size())
		if ci%7 == 0 && len(lhs) == len(rhs) {
			copy(rhs, lhs) // equal operands: Max/Min's tie rule
		}
		for op := range numBinOps {
			want := make([]float32, os.Size())
			genericF32[op](lhs, rhs, want, ls, rs, os)
			for _, set := range []struct {
				name    string
				kernels *[numBinOps][numBinModes]f32Kernel
			}{{"active", &fastF32Kernels}, {"scalar", &scalarF32Kernels}} {
				saved := fastF32Kernels
				fastF32Kernels = *set.kernels
				got := make([]float32, os.Size())
				execBinaryF32(op, got, lhs, rhs, ls, rs, os)
				fastF32Kernels = saved
				sameBits(t, fmt.Sprintf("case %d op %d %s lhs=%v rhs=%v", ci, op, set.name, c.lhs, c.rhs), want, got)
			}
		}
	}
}

// TestFastBinaryF32InPlace: the output may be the lhs or rhs buffer (reused when owned).
func TestFastBinaryF32InPlace(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	os := shapes.Make(dtypes.Float32, 7, 45)
	bs := shapes.Make(dtypes.Float32, 1, 45)
	for op := range numBinOps {
		lhs, rhs := randF32(r, os.Size()), randF32(r, bs.Size())
		want := make([]float32, os.Size())
		genericF32[op](lhs, rhs, want, os, bs, os)
		execBinaryF32(op, lhs, lhs, rhs, os, bs, os)
		sameBits(t, fmt.Sprintf("op %d in place", op), want, lhs)
	}
}

func BenchmarkBinaryF32(b *testing.B) {
	for _, c := range []struct {
		name          string
		lhs, rhs, out []int
	}{
		{"same-[256,256]", []int{256, 256}, []int{256, 256}, []int{256, 256}},
		{"scalar-[256,256]", []int{256, 256}, []int{1, 1}, []int{256, 256}},
		{"row-[2048,128]x[1,128]", []int{2048, 128}, []int{1, 128}, []int{2048, 128}},
		{"col-[2048,128]x[2048,1]", []int{2048, 128}, []int{2048, 1}, []int{2048, 128}},
	} {
		ls, rs, os := shapes.Make(dtypes.Float32, c.lhs...), shapes.Make(dtypes.Float32, c.rhs...), shapes.Make(dtypes.Float32, c.out...)
		r := rand.New(rand.NewPCG(1, 1))
		lhs, rhs, out := randF32(r, ls.Size()), randF32(r, rs.Size()), make([]float32, os.Size())
		b.Run(c.name+"/generic", func(b *testing.B) {
			for b.Loop() {
				execMulNumericGeneric(lhs, rhs, out, ls, rs, os)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(out)), "ns/elem")
		})
		b.Run(c.name+"/fast", func(b *testing.B) {
			for b.Loop() {
				execBinaryF32(binOpMul, out, lhs, rhs, ls, rs, os)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(out)), "ns/elem")
		})
	}
}
