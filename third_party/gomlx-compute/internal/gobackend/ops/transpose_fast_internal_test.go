package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

func newTestBuffer(shape shapes.Shape) *gobackend.Buffer {
	b := &gobackend.Buffer{RawShape: shape}
	switch shape.DType {
	case dtypes.Float32:
		b.Flat = make([]float32, shape.Size())
	case dtypes.Float64:
		b.Flat = make([]float64, shape.Size())
	case dtypes.Int16:
		b.Flat = make([]int16, shape.Size())
	case dtypes.Int8:
		b.Flat = make([]int8, shape.Size())
	}
	return b
}

func fill(b *gobackend.Buffer) {
	bytes, _ := b.MutableBytes()
	for i := range bytes {
		bytes[i] = byte(i*7 + i/13)
	}
}

func genericTranspose(operand *gobackend.Buffer, perm []int, outShape shapes.Shape) *gobackend.Buffer {
	out := newTestBuffer(outShape)
	it := NewTransposeIterator(operand.RawShape, perm)
	fnAny, _ := TransposeDTypeMap.Get(operand.RawShape.DType)
	fnAny.(func(operand, output *gobackend.Buffer, it *TransposeIterator))(operand, out, it)
	return out
}

func permuted(dims, perm []int) []int {
	out := make([]int, len(perm))
	for i, a := range perm {
		out[i] = dims[a]
	}
	return out
}

// TestFastTransposeMatchesIterator compares fastTranspose with the generic iterator on the
// training-graph layouts and on random shapes and permutations, for 1, 2, 4 and 8-byte dtypes.
func TestFastTransposeMatchesIterator(t *testing.T) {
	type tc struct {
		dims, perm []int
	}
	cases := []tc{
		{[]int{2048, 128}, []int{1, 0}},
		{[]int{32, 64, 4, 32}, []int{0, 2, 1, 3}},
		{[]int{32, 4, 64, 32}, []int{0, 2, 1, 3}},
		{[]int{32, 4, 64, 64}, []int{0, 1, 3, 2}},
		{[]int{4, 1280, 128}, []int{0, 2, 1}},
		{[]int{3, 1, 5}, []int{2, 1, 0}},
		{[]int{1, 1}, []int{1, 0}},
		{[]int{7}, []int{0}},
		{[]int{2, 3, 4, 5}, []int{3, 2, 1, 0}},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		rank := 1 + r.IntN(5)
		dims := make([]int, rank)
		for i := range dims {
			dims[i] = 1 + r.IntN(6)
		}
		cases = append(cases, tc{dims, r.Perm(rank)})
	}
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64, dtypes.Int16, dtypes.Int8} {
		for _, c := range cases {
			in := newTestBuffer(shapes.Make(dt, c.dims...))
			fill(in)
			outShape := shapes.Make(dt, permuted(c.dims, c.perm)...)
			want := genericTranspose(in, c.perm, outShape)
			got := newTestBuffer(outShape)
			handled := fastTranspose(in, got, c.perm)
			if !handled {
				continue
			}
			wb, _ := want.MutableBytes()
			gb, _ := got.MutableBytes()
			if string(wb) != string(gb) {
				t.Fatalf("dtype %s dims %v perm %v: fastTranspose differs from the iterator", dt, c.dims, c.perm)
			}
		}
	}
	// The training layouts must all take the fast path.
	for _, c := range cases[:5] {
		in := newTestBuffer(shapes.Make(dtypes.Float32, c.dims...))
		if !fastTranspose(in, newTestBuffer(shapes.Make(dtypes.Float32, permuted(c.dims, c.perm)...)), c.perm) {
			t.Fatalf("dims %v perm %v: not handled by the fast path", c.dims, c.perm)
		}
	}
}

// BenchmarkTranspose compares the generic iterator with fastTranspose on the float32
// transposes of a transformer-block / MoE-block training step.
func BenchmarkTranspose(b *testing.B) {
	for _, c := range []struct {
		name       string
		dims, perm []int
	}{
		{"weight-grad-2048x128", []int{2048, 128}, []int{1, 0}},
		{"heads-split-32x64x4x32", []int{32, 64, 4, 32}, []int{0, 2, 1, 3}},
		{"scores-T-32x4x64x64", []int{32, 4, 64, 64}, []int{0, 1, 3, 2}},
		{"experts-4x1280x128", []int{4, 1280, 128}, []int{0, 2, 1}},
	} {
		in := newTestBuffer(shapes.Make(dtypes.Float32, c.dims...))
		fill(in)
		outShape := shapes.Make(dtypes.Float32, permuted(c.dims, c.perm)...)
		out := newTestBuffer(outShape)
		n := float64(outShape.Size())
		b.Run(fmt.Sprintf("%s/iterator", c.name), func(b *testing.B) {
			fnAny, _ := TransposeDTypeMap.Get(dtypes.Float32)
			fn := fnAny.(func(operand, output *gobackend.Buffer, it *TransposeIterator))
			for range b.N {
				fn(in, out, NewTransposeIterator(in.RawShape, c.perm))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/elem")
		})
		b.Run(fmt.Sprintf("%s/fast", c.name), func(b *testing.B) {
			for range b.N {
				fastTranspose(in, out, c.perm)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/elem")
		})
	}
}

// BenchmarkTransposeTiles32 compares the plain tile loop with the active transposeTiles32 (the
// AVX-512 blocks where available) on a weight-gradient and an expert-batch transpose.
func BenchmarkTransposeTiles32(b *testing.B) {
	for _, c := range []struct{ batch, rows, cols int }{{1, 2048, 128}, {4, 1280, 128}, {1, 2048, 256}} {
		n := c.batch * c.rows * c.cols
		src, dst := make([]uint32, n), make([]uint32, n)
		for i := range src {
			src[i] = uint32(i)
		}
		for name, fn := range map[string]func(src, dst []uint32, batch, rows, cols int){"plain": transposeTiles[uint32], "active": transposeTiles32} {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", c.batch, c.rows, c.cols, name), func(b *testing.B) {
				for b.Loop() {
					fn(src, dst, c.batch, c.rows, c.cols)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
			})
		}
	}
}

// TestTransposeTiles32MatchesPlain checks the active 4-byte tile transpose against the plain
// loop on shapes with and without full 16×16 tiles and 4-row blocks.
func TestTransposeTiles32MatchesPlain(t *testing.T) {
	for _, c := range []struct{ batch, rows, cols int }{{1, 2048, 128}, {3, 37, 50}, {2, 16, 16}, {1, 5, 33}, {2, 70, 17}, {1, 1, 64}} {
		n := c.batch * c.rows * c.cols
		src := make([]uint32, n)
		for i := range src {
			src[i] = uint32(i*2654435761) ^ uint32(i>>3)
		}
		want, got := make([]uint32, n), make([]uint32, n)
		transposeTiles(src, want, c.batch, c.rows, c.cols)
		transposeTiles32(src, got, c.batch, c.rows, c.cols)
		for i := range want {
			if want[i] != got[i] {
				t.Fatalf("%+v: element %d: want %d, got %d", c, i, want[i], got[i])
			}
		}
	}
}
