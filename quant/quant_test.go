package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func randMatrix(r *rand.Rand, n int) []float32 {
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	return w
}

// TestKernelMatchesDequantized checks the LUT kernel against the float64 product with the
// dequantized matrix, for shapes that are and are not multiples of 8 and of the group size.
func TestKernelMatchesDequantized(t *testing.T) {
	cases := []struct {
		rows, cols, group, bits, batch int
		method                         string
	}{
		{1, 8, 0, 1, 1, "bcq"},
		{5, 13, 0, 3, 1, "bcq"},   // cols not a multiple of 8, one group
		{7, 100, 32, 2, 1, "rtn"}, // last group of 4 inputs, last byte half empty
		{7, 100, 32, 4, 3, "bcq_offset"},
		{16, 64, 64, 3, 8, "bcq"},  // the SIMD batch path
		{33, 129, 64, 4, 8, "rtn"}, // 3 groups, the last of 1 input
		{9, 256, 128, 2, 5, "bcq_offset"},
		{12, 4096, 32, 3, 1, "rtn"},  // K tiling over many groups
		{12, 4096, 128, 3, 8, "bcq"}, // K tiling with batch tables
		{3, 1000, 200, 4, 2, "rtn"},  // group 200 (multiple of 8) over 1000 inputs
		{20, 100, 32, 3, 8, "rtn"},   // batch 8 with group 32 and a short last group
		{20, 4100, 32, 2, 8, "bcq"},  // batch 8 over many tiles of group 32
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s_%dx%d_g%d_q%d_b%d", c.method, c.rows, c.cols, c.group, c.bits, c.batch), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(c.rows*c.cols), 7))
			w, err := Quantize(randMatrix(r, c.rows*c.cols), c.rows, c.cols, Config{Bits: c.bits, GroupSize: c.group, Method: c.method})
			require.NoError(t, err)
			x := randMatrix(r, c.batch*c.cols)
			k, err := NewKernel(w, 8)
			require.NoError(t, err)
			y := make([]float32, c.batch*c.rows)
			require.NoError(t, k.MatMul(y, x, c.batch))
			d := w.Dequantize()
			for b := range c.batch {
				for m := range c.rows {
					var ref, mag float64
					for j := range c.cols {
						p := d[m*c.cols+j] * float64(x[b*c.cols+j])
						ref += p
						mag += math.Abs(p)
					}
					// float32 accumulation: a few ulps of the magnitude of the terms.
					require.InDelta(t, ref, float64(y[b*c.rows+m]), 2e-6*mag+1e-6, "row %d batch %d", m, b)
				}
			}
			if c.batch == 1 {
				y1 := make([]float32, c.rows)
				require.NoError(t, k.MatVec(y1, x))
				require.Equal(t, y, y1)
			}
		})
	}
}

// TestReconstructionErrorFallsWithBits: more planes, smaller error, for every quantizer; the
// alternating refinement beats the greedy start; smaller groups beat larger ones.
func TestReconstructionErrorFallsWithBits(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const rows, cols = 32, 256
	w := randMatrix(r, rows*cols)
	mse := func(cfg Config) float64 {
		m, err := Quantize(w, rows, cols, cfg)
		require.NoError(t, err)
		d := m.Dequantize()
		var s float64
		for i, v := range w {
			s += (float64(v) - d[i]) * (float64(v) - d[i])
		}
		return s / float64(len(w))
	}
	for _, method := range Names() {
		prev := math.Inf(1)
		for bits := 1; bits <= 4; bits++ {
			e := mse(Config{Bits: bits, GroupSize: 64, Method: method})
			require.Less(t, e, prev, "%s bits=%d", method, bits)
			require.Less(t, e, 1.0, "%s bits=%d must beat the zero matrix (mse = variance = 1)", method, bits)
			prev = e
		}
		require.Less(t, mse(Config{Bits: 3, GroupSize: 32, Method: method}), mse(Config{Bits: 3, GroupSize: 0, Method: method}), method)
	}
	for bits := 2; bits <= 4; bits++ {
		greedy := mse(Config{Bits: bits, GroupSize: 64, Method: "bcq", Rounds: -1})
		alt := mse(Config{Bits: bits, GroupSize: 64, Method: "bcq"})
		require.Less(t, alt, greedy, "bits=%d", bits)
		// The jointly fitted offset can only help a least-squares fit started from the same point.
		require.LessOrEqual(t, mse(Config{Bits: bits, GroupSize: 64, Method: "bcq_offset"}), alt*1.02, "bits=%d", bits)
	}
}

// TestGreedyHandCase: one plane over [1, −3, 2, 0]: α = mean|w| = 1.5, codes sign(w) with
// sign(0) = +1; with an offset the mean 0 stays 0.
func TestGreedyHandCase(t *testing.T) {
	m, err := Quantize([]float32{1, -3, 2, 0}, 1, 4, Config{Bits: 1, Method: "bcq"})
	require.NoError(t, err)
	require.Equal(t, []float32{1.5}, m.Alpha)
	require.Equal(t, []float64{1.5, -1.5, 1.5, 1.5}, m.Dequantize())
	// Two planes, greedy only: α1 = 1.5, residual [−0.5, −1.5, 0.5, −1.5] → α2 = 1.
	m, err = Quantize([]float32{1, -3, 2, 0}, 1, 4, Config{Bits: 2, Method: "bcq", Rounds: -1})
	require.NoError(t, err)
	require.Equal(t, []float32{1.5, 1}, m.Alpha)
	require.Equal(t, []float64{0.5, -2.5, 2.5, 0.5}, m.Dequantize())
}

// TestUniformAsBCQ: RTN codes converted to BCQ give the uniform levels: exactly in float64
// (ToBCQ), and to float32 rounding of the stored scales (Matrix).
func TestUniformAsBCQ(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, bits := range []int{1, 2, 3, 4, 8} {
		for _, n := range []int{5, 32, 128} {
			w := make([]float64, n)
			for i := range w {
				w[i] = float64(float32(r.NormFloat64()*0.1 + 0.05))
			}
			u := fitUniform(w, bits)
			alpha, z := ToBCQ(u.Scale, u.Zero, bits)
			for i, a := range alpha {
				require.Equal(t, u.Scale*math.Pow(2, float64(i))/2, a)
			}
			ref := u.Dequantize()
			for k, c := range u.Codes {
				v := z
				for i := range bits {
					v += alpha[i] * float64(2*int(c>>i&1)-1)
				}
				require.Equal(t, ref[k], v, "bits=%d code %d", bits, c)
			}
			// The stored float32 matrix: Quantize("rtn") equals FromUniform of the same codes and
			// dequantizes to the uniform levels within float32 rounding.
			w32 := make([]float32, n)
			for i, v := range w {
				w32[i] = float32(v)
			}
			m, err := Quantize(w32, 1, n, Config{Bits: bits, Method: "rtn"})
			require.NoError(t, err)
			fu, err := FromUniform(1, n, bits, 0, u.Codes, []float64{u.Scale}, []float64{u.Zero})
			require.NoError(t, err)
			require.Equal(t, m.Planes, fu.Planes)
			require.Equal(t, m.Alpha, fu.Alpha)
			require.Equal(t, m.Offset, fu.Offset)
			d := m.Dequantize()
			for k := range d {
				require.InDelta(t, ref[k], d[k], 4e-7*(math.Abs(ref[k])+u.Scale*float64(int(1)<<bits)), "bits=%d", bits)
			}
		}
	}
	// The reference quantizer's range always contains 0, and a zero segment gets [−1, 1].
	u := fitUniform([]float64{1, 2, 3}, 2)
	require.InDelta(t, 1.0, u.Scale, 1e-7)
	require.Equal(t, 0.0, u.Zero)
	require.Equal(t, []uint8{1, 2, 3}, u.Codes)
	u = fitUniform([]float64{0, 0}, 2)
	require.InDelta(t, 2.0/3, u.Scale, 1e-7)
	require.Equal(t, []float64{0, 0}, u.Dequantize())
}

// TestPackingRoundTrip: every code written into the planes reads back, bits past Cols stay 0.
func TestPackingRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct{ rows, cols, bits, group int }{{3, 8, 1, 0}, {4, 21, 3, 8}, {2, 100, 4, 32}, {1, 64, 8, 64}} {
		m := newMatrix(c.rows, c.cols, c.bits, c.group, "test")
		codes := make([]uint8, c.rows*c.cols)
		for i := range codes {
			codes[i] = uint8(r.IntN(1 << c.bits))
		}
		alpha := make([]float64, c.bits)
		for row := range c.rows {
			for g := range m.Groups {
				lo, hi := m.group(g)
				m.set(row, g, codes[row*c.cols+lo:row*c.cols+hi], alpha, 0)
			}
		}
		// Overwrite once more (set must clear bits, not only set them).
		for i := range codes {
			codes[i] = ^codes[i] & uint8(1<<c.bits-1)
		}
		for row := range c.rows {
			for g := range m.Groups {
				lo, hi := m.group(g)
				m.set(row, g, codes[row*c.cols+lo:row*c.cols+hi], alpha, 0)
			}
		}
		require.Len(t, m.Planes, c.rows*c.bits*((c.cols+7)/8))
		for row := range c.rows {
			for k := range c.cols {
				for i := range c.bits {
					want := float64(2*int(codes[row*c.cols+k]>>i&1) - 1)
					require.Equal(t, want, m.Sign(row, i, k))
				}
			}
			for i := range c.bits {
				last := m.Planes[(row*c.bits+i)*m.RowBytes+m.RowBytes-1]
				if c.cols%8 != 0 {
					require.Zero(t, last>>(c.cols%8), "padding bits must be 0")
				}
			}
		}
		// Byte layout: bit j of byte v is column 8v+j.
		if c.cols >= 8 {
			var b uint8
			for j := range 8 {
				if codes[j]&1 == 1 {
					b |= 1 << j
				}
			}
			require.Equal(t, b, m.Planes[0])
		}
	}
}

func TestMemory(t *testing.T) {
	m, err := Quantize(make([]float32, 64*256), 64, 256, Config{Bits: 3, GroupSize: 128, Method: "rtn"})
	require.NoError(t, err)
	// 3 planes of 32 bytes per row, 2 groups × (3 α + 1 z) scales per row.
	require.Equal(t, 64*3*32+64*2*4*4, m.Bytes(4))
	require.Equal(t, 64*3*32+64*2*4*2, m.Bytes(2))
}

func TestBadInput(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		rows int
		cols int
		n    int
		want string
	}{
		{Config{Bits: 0}, 2, 16, 32, "bits=0 must be in [1, 8]"},
		{Config{Bits: 9}, 2, 16, 32, "bits=9 must be in [1, 8]"},
		{Config{Bits: 2, GroupSize: 12}, 2, 16, 32, "group_size=12 must be a multiple of 8"},
		{Config{Bits: 2, GroupSize: -1}, 2, 16, 32, "group_size=-1 must be >= 0"},
		{Config{Bits: 2, Method: "gptq"}, 2, 16, 32, `unknown quantizer "gptq": known quantizers are "bcq", "bcq_offset", "rtn"`},
		{Config{Bits: 2}, 2, 16, 31, "31 values for a [2, 16] matrix"},
		{Config{Bits: 2}, 0, 16, 0, "matrix shape [0, 16]"},
	} {
		_, err := Quantize(make([]float32, c.n), c.rows, c.cols, c.cfg)
		require.ErrorContains(t, err, c.want)
	}
	// A group size >= K is one group per row, whatever its remainder.
	m, err := Quantize(make([]float32, 20), 2, 10, Config{Bits: 2, GroupSize: 12})
	require.NoError(t, err)
	require.Equal(t, 1, m.Groups)
	k, err := NewKernel(m, 2)
	require.NoError(t, err)
	require.ErrorContains(t, k.MatMul(make([]float32, 6), make([]float32, 30), 3), "batch=3 must be in [1, 2]")
	require.ErrorContains(t, k.MatMul(make([]float32, 4), make([]float32, 19), 2), "wants x of 20 and y of 4 values; got 19 and 4")
	_, err = NewKernel(m, 0)
	require.ErrorContains(t, err, "max batch 0")
	_, err = FromUniform(1, 4, 2, 0, []uint8{0, 1, 2, 4}, []float64{1}, []float64{0})
	require.ErrorContains(t, err, "code 4 does not fit 2 bits")
}

// TestFloat32Reference: the float32 matvec/matmul used as the timing baseline is a correct
// product (SIMD or not).
func TestFloat32Reference(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for _, c := range []struct{ rows, cols, batch int }{{3, 5, 1}, {4, 100, 3}, {2, 257, 8}} {
		w, x := randMatrix(r, c.rows*c.cols), randMatrix(r, c.batch*c.cols)
		y := make([]float32, c.batch*c.rows)
		MatMulF32(y, w, x, c.rows, c.cols, c.batch)
		for b := range c.batch {
			for m := range c.rows {
				var ref, mag float64
				for j := range c.cols {
					ref += float64(w[m*c.cols+j]) * float64(x[b*c.cols+j])
					mag += math.Abs(float64(w[m*c.cols+j]) * float64(x[b*c.cols+j]))
				}
				require.InDelta(t, ref, float64(y[b*c.rows+m]), 1e-6*mag)
			}
		}
		if c.batch == 1 {
			y1 := make([]float32, c.rows)
			MatVecF32(y1, w, x, c.rows, c.cols)
			require.Equal(t, y, y1)
		}
	}
}

func benchShapes() []struct{ rows, cols int } {
	return []struct{ rows, cols int }{{1024, 1024}, {4096, 4096}}
}

// BenchmarkLUTMatMul times the LUT kernel (3 bits, group 128) at batch 1 and 8.
func BenchmarkLUTMatMul(b *testing.B) {
	for _, s := range benchShapes() {
		r := rand.New(rand.NewPCG(1, 1))
		w, err := Quantize(randMatrix(r, s.rows*s.cols), s.rows, s.cols, Config{Bits: 3, GroupSize: 128, Method: "rtn"})
		require.NoError(b, err)
		k, err := NewKernel(w, 8)
		require.NoError(b, err)
		for _, batch := range []int{1, 8} {
			x, y := randMatrix(r, batch*s.cols), make([]float32, batch*s.rows)
			b.Run(fmt.Sprintf("%dx%d/b%d", s.rows, s.cols, batch), func(b *testing.B) {
				for b.Loop() {
					_ = k.MatMul(y, x, batch)
				}
			})
		}
	}
}

// BenchmarkF32MatMul times the float32 reference on the same shapes.
func BenchmarkF32MatMul(b *testing.B) {
	for _, s := range benchShapes() {
		r := rand.New(rand.NewPCG(1, 1))
		w := randMatrix(r, s.rows*s.cols)
		for _, batch := range []int{1, 8} {
			x, y := randMatrix(r, batch*s.cols), make([]float32, batch*s.rows)
			b.Run(fmt.Sprintf("%dx%d/b%d", s.rows, s.cols, batch), func(b *testing.B) {
				for b.Loop() {
					MatMulF32(y, w, x, s.rows, s.cols, batch)
				}
			})
		}
	}
}
