package quant

import (
	"fmt"
	"math"
	"slices"

	"github.com/moeboost/moeboost/internal/registry"
)

// Mu is the number of inputs that share one look-up table (LUT-GEMM's μ = 8): one byte of a
// bit plane is one table key.
const Mu = 8

// MaxBits is the largest number of binary planes (bits) a Matrix may have.
const MaxBits = 8

// Config selects a quantization.
type Config struct {
	// Bits is q, the number of binary planes: 1..MaxBits (the paper studies 1..4).
	Bits int
	// GroupSize is the number of consecutive inputs that share α and z; 0 or >= K means one
	// group per row. A group smaller than K must be a multiple of Mu (8).
	GroupSize int
	// Method names a registered quantizer: "bcq" (default), "bcq_offset" or "rtn".
	Method string
	// Rounds of alternating refinement for the BCQ methods (0: bcq.py's default 15; negative:
	// greedy only).
	Rounds int
}

// Validate checks c against a matrix of k inputs and fills defaults.
func (c *Config) Validate(k int) error {
	if c.Bits < 1 || c.Bits > MaxBits {
		return fmt.Errorf("quant: bits=%d must be in [1, %d]", c.Bits, MaxBits)
	}
	if c.GroupSize < 0 {
		return fmt.Errorf("quant: group_size=%d must be >= 0 (0 = one group per row)", c.GroupSize)
	}
	if c.GroupSize > 0 && c.GroupSize < k && c.GroupSize%Mu != 0 {
		return fmt.Errorf("quant: group_size=%d must be a multiple of %d (or 0, or >= the %d inputs)", c.GroupSize, Mu, k)
	}
	if c.Method == "" {
		c.Method = "bcq"
	}
	if _, err := quantizers.Get(c.Method); err != nil {
		return fmt.Errorf("quant: %w", err)
	}
	if c.Rounds == 0 {
		c.Rounds = 15
	}
	return nil
}

// Matrix is a BCQ-quantized [Rows, Cols] matrix (Rows outputs, Cols inputs) in LUT-GEMM's
// layout.
type Matrix struct {
	Rows, Cols int
	// Bits is q; GroupSize the inputs per group (a multiple of Mu unless there is one group,
	// then Cols); Groups = ceil(Cols/GroupSize); RowBytes = ceil(Cols/8) bytes per plane row.
	Bits, GroupSize, Groups, RowBytes int
	// Planes are the packed binary codes, [Rows][Bits][RowBytes]: bit j of byte v of plane i
	// of row m is b_i[m, 8v+j] (1 = +1, 0 = −1); bits past Cols are 0.
	Planes []uint8
	// Alpha is [Rows][Groups][Bits], Offset [Rows][Groups] (all zero for "bcq").
	Alpha, Offset []float32
	// Method is the quantizer that produced the matrix.
	Method string
}

// Bytes returns the storage of the matrix: packed planes, and scales plus offsets at
// scaleBytes bytes each (4 as stored here, 2 for the paper's FP16).
func (w *Matrix) Bytes(scaleBytes int) int {
	return len(w.Planes) + scaleBytes*(len(w.Alpha)+len(w.Offset))
}

// group returns the input range [lo, hi) of group g.
func (w *Matrix) group(g int) (lo, hi int) {
	return g * w.GroupSize, min((g+1)*w.GroupSize, w.Cols)
}

// Quantizer fits the BCQ codes of one segment w (one row, one group): it writes the codes
// (codes[k] bit i = b_i[k] is +1), the q scales and returns the offset.
type Quantizer func(w []float64, bits, rounds int, codes []uint8, alpha []float64) (offset float64)

var quantizers = registry.NewKind[Quantizer]("quantizer")

// Register adds a quantizer under name, from an init function; it panics on a duplicate name.
func Register(name string, q Quantizer) { quantizers.Register(name, q) }

// Names returns the registered quantizer names, sorted.
func Names() []string { return quantizers.Names() }

func init() {
	Register("bcq", func(w []float64, bits, rounds int, codes []uint8, alpha []float64) float64 {
		fitBCQ(w, bits, rounds, false, codes, alpha)
		return 0
	})
	Register("bcq_offset", func(w []float64, bits, rounds int, codes []uint8, alpha []float64) float64 {
		return fitBCQ(w, bits, rounds, true, codes, alpha)
	})
	Register("rtn", func(w []float64, bits, _ int, codes []uint8, alpha []float64) float64 {
		u := fitUniform(w, bits)
		copy(codes, u.Codes)
		a, z := ToBCQ(u.Scale, u.Zero, bits)
		copy(alpha, a)
		return z
	})
}

// Quantize quantizes the row-major [rows, cols] matrix w (rows outputs, cols inputs).
func Quantize(w []float32, rows, cols int, cfg Config) (*Matrix, error) {
	if rows < 1 || cols < 1 {
		return nil, fmt.Errorf("quant: matrix shape [%d, %d] must have rows >= 1 and cols >= 1", rows, cols)
	}
	if len(w) != rows*cols {
		return nil, fmt.Errorf("quant: %d values for a [%d, %d] matrix (want %d)", len(w), rows, cols, rows*cols)
	}
	if err := cfg.Validate(cols); err != nil {
		return nil, err
	}
	fit, _ := quantizers.Get(cfg.Method)
	m := newMatrix(rows, cols, cfg.Bits, cfg.GroupSize, cfg.Method)
	seg := make([]float64, m.GroupSize)
	codes := make([]uint8, m.GroupSize)
	alpha := make([]float64, m.Bits)
	for r := range rows {
		for g := range m.Groups {
			lo, hi := m.group(g)
			s := seg[:hi-lo]
			for k := range s {
				s[k] = float64(w[r*cols+lo+k])
			}
			z := fit(s, m.Bits, cfg.Rounds, codes[:hi-lo], alpha)
			m.set(r, g, codes[:hi-lo], alpha, z)
		}
	}
	return m, nil
}

func newMatrix(rows, cols, bits, group int, method string) *Matrix {
	if group <= 0 || group >= cols {
		group = cols
	}
	m := &Matrix{Rows: rows, Cols: cols, Bits: bits, GroupSize: group, Groups: (cols + group - 1) / group,
		RowBytes: (cols + Mu - 1) / Mu, Method: method}
	m.Planes = make([]uint8, rows*bits*m.RowBytes)
	m.Alpha = make([]float32, rows*m.Groups*bits)
	m.Offset = make([]float32, rows*m.Groups)
	return m
}

// set stores the codes, scales and offset of row r, group g.
func (w *Matrix) set(r, g int, codes []uint8, alpha []float64, z float64) {
	lo, _ := w.group(g)
	for i := range w.Bits {
		plane := w.Planes[(r*w.Bits+i)*w.RowBytes:]
		for k, c := range codes {
			col := lo + k
			bit := uint8(1) << (col % Mu)
			if c>>i&1 == 1 {
				plane[col/Mu] |= bit
			} else {
				plane[col/Mu] &^= bit
			}
		}
		w.Alpha[(r*w.Groups+g)*w.Bits+i] = float32(alpha[i])
	}
	w.Offset[r*w.Groups+g] = float32(z)
}

// Sign returns b_i[r, k] (+1 or −1).
func (w *Matrix) Sign(r, i, k int) float64 {
	if w.Planes[(r*w.Bits+i)*w.RowBytes+k/Mu]>>(k%Mu)&1 == 1 {
		return 1
	}
	return -1
}

// Dequantize returns the row-major [Rows, Cols] matrix Σ_i α_i b_i + z in float64 (from the
// stored float32 scales), the reference the kernel is tested against.
func (w *Matrix) Dequantize() []float64 {
	out := make([]float64, w.Rows*w.Cols)
	for r := range w.Rows {
		for g := range w.Groups {
			lo, hi := w.group(g)
			a := w.Alpha[(r*w.Groups+g)*w.Bits:][:w.Bits]
			z := float64(w.Offset[r*w.Groups+g])
			for k := lo; k < hi; k++ {
				v := z
				for i := range w.Bits {
					v += float64(a[i]) * w.Sign(r, i, k) // Eq. (2) plus the group offset
				}
				out[r*w.Cols+k] = v
			}
		}
	}
	return out
}

// DequantizeTransposed returns the dequantized matrix as float32 in the transposed,
// [Cols, Rows] layout (GoMLX's Dense weights [inputs, outputs]).
func (w *Matrix) DequantizeTransposed() []float32 {
	d := w.Dequantize()
	out := make([]float32, len(d))
	for r := range w.Rows {
		for k := range w.Cols {
			out[k*w.Rows+r] = float32(d[r*w.Cols+k])
		}
	}
	return out
}

// Uniform is round-to-nearest asymmetric uniform quantization of one segment: value k·s − zp·s
// with integer codes k in [0, 2^q − 1].
type Uniform struct {
	Scale, Zero float64
	Codes       []uint8
}

// fitUniform is the GPTQ quantizer of the reference code (utils.py Quantizer, perchannel,
// sym=False, mse=False) on one segment: the range [min(w,0), max(w,0)] (a range of zeros
// becomes [−1, 1]), s = range/(2^q − 1), zp = round(−min/s), k = clamp(round(w/s) + zp).
// Rounding is half to even, as torch.round.
func fitUniform(w []float64, bits int) Uniform {
	maxq := float64(int(1)<<bits - 1)
	lo, hi := min(slices.Min(w), 0), max(slices.Max(w), 0)
	if lo == 0 && hi == 0 {
		lo, hi = -1, 1
	}
	// The reference computes in float32; so do the scale and zero point here, so that the
	// codes and levels match it.
	s := float64(float32(hi-lo) / float32(maxq))
	zp := math.RoundToEven(float64(float32(-lo) / float32(s)))
	u := Uniform{Scale: s, Zero: zp, Codes: make([]uint8, len(w))}
	for k, v := range w {
		u.Codes[k] = uint8(min(max(math.RoundToEven(float64(float32(v)/float32(s)))+zp, 0), maxq))
	}
	return u
}

// Dequantize returns s·(k − zp) per code.
func (u Uniform) Dequantize() []float64 {
	out := make([]float64, len(u.Codes))
	for i, c := range u.Codes {
		out[i] = u.Scale * (float64(c) - u.Zero)
	}
	return out
}

// ToBCQ converts uniform quantization with scale s and zero point zp at q bits to BCQ (the
// paper's Sec. 3.2 and rtn_parameter.py convert_bcq_format): with b_i = 2·((k>>i)&1) − 1,
//
//	α_i = s·2^i/2,  z = Σ_i α_i − s·zp,  so  Σ_i α_i b_i + z = s·Σ_i 2^i·bit_i − s·zp = s·(k − zp).
//
// The codes keep their bits (bit i of k is plane i). In float64 the identity is exact for a
// float32 s (every term is s/2 times an integer below 2^(q+1)).
func ToBCQ(s, zp float64, bits int) (alpha []float64, z float64) {
	alpha = make([]float64, bits)
	for i := range alpha {
		alpha[i] = s / 2 * float64(int(1)<<i) // α_i = s·2^i/2
		z += alpha[i]
	}
	return alpha, z - s*zp // z = Σα_i − s·zp
}

// FromUniform builds the BCQ matrix of a uniformly quantized [rows, cols] matrix: codes
// [rows][cols], scale and zero point per (row, group). It is how a round-to-nearest (or OPTQ)
// model runs on the LUT kernel.
func FromUniform(rows, cols, bits, group int, codes []uint8, scale, zero []float64) (*Matrix, error) {
	m := newMatrix(rows, cols, bits, group, "rtn")
	if len(codes) != rows*cols || len(scale) != rows*m.Groups || len(zero) != rows*m.Groups {
		return nil, fmt.Errorf("quant: FromUniform wants %d codes and %d scales and zero points for [%d, %d] with %d groups; got %d, %d, %d",
			rows*cols, rows*m.Groups, rows, cols, m.Groups, len(codes), len(scale), len(zero))
	}
	for r := range rows {
		for g := range m.Groups {
			lo, hi := m.group(g)
			for _, c := range codes[r*cols+lo : r*cols+hi] {
				if int(c) >= 1<<bits {
					return nil, fmt.Errorf("quant: code %d does not fit %d bits", c, bits)
				}
			}
			a, z := ToBCQ(scale[r*m.Groups+g], zero[r*m.Groups+g], bits)
			m.set(r, g, codes[r*cols+lo:r*cols+hi], a, z)
		}
	}
	return m, nil
}

// fitBCQ is bcq.py's quantize on one segment: greedy_mean (r = w; per plane b = sign(r),
// α = mean|r|, r −= α·b), then `rounds` of refine_mean (least-squares α given B, sorted by
// |α| descending, then every weight takes the nearest of the 2^q levels, found by binary search
// over the sorted levels). With offset the group mean starts as z, the least squares solves for
// [α, z] jointly and the levels are shifted by z. It writes codes and alpha and returns z.
func fitBCQ(w []float64, bits, rounds int, offset bool, codes []uint8, alpha []float64) float64 {
	n := len(w)
	z := 0.0
	if offset {
		for _, v := range w {
			z += v
		}
		z /= float64(n)
	}
	r := make([]float64, n)
	for k, v := range w {
		r[k] = v - z
		codes[k] = 0
	}
	for i := range bits { // greedy_mean_torch
		a := 0.0
		for _, v := range r {
			a += math.Abs(v)
		}
		a /= float64(n)
		alpha[i] = a
		for k, v := range r {
			if v >= 0 { // sign(0) = +1 (see Deviations)
				codes[k] |= 1 << i
				r[k] -= a
			} else {
				r[k] += a
			}
		}
	}
	if bits == 1 { // bcq.py refines only when qbits > 1
		return z
	}
	cols := bits
	if offset {
		cols++
	}
	ata := make([]float64, cols*cols)
	atw := make([]float64, cols)
	sol := make([]float64, cols)
	row := make([]float64, cols)
	levels := make([]level, 1<<bits)
	for range max(rounds, 0) { // refine_mean_torch
		clear(ata)
		clear(atw)
		for k, v := range w {
			for i := range bits {
				row[i] = -1
				if codes[k]>>i&1 == 1 {
					row[i] = 1
				}
			}
			if offset {
				row[bits] = 1
			}
			for i := range cols {
				atw[i] += row[i] * v
				for j := range cols {
					ata[i*cols+j] += row[i] * row[j]
				}
			}
		}
		if !solve(ata, atw, sol, cols) {
			break // singular (e.g. two identical planes): keep the current fit
		}
		for i := range bits {
			alpha[i] = math.Abs(sol[i])
		}
		slices.SortFunc(alpha[:bits], func(a, b float64) int { return -cmpFloat(a, b) })
		if offset {
			z = sol[bits]
		}
		nearestCodes(w, alpha[:bits], z, levels, codes)
	}
	return z
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// level is one of the 2^q values Σ α_i c_i + z and its code.
type level struct {
	v    float64
	code uint8
}

// nearestCodes assigns every w[k] the code of the nearest level (find_B_torch): the levels are
// sorted and a binary search compares w with the midpoints (w < mid goes left).
func nearestCodes(w, alpha []float64, z float64, levels []level, codes []uint8) {
	for c := range levels {
		v := z
		for i, a := range alpha {
			if c>>i&1 == 1 {
				v += a
			} else {
				v -= a
			}
		}
		levels[c] = level{v, uint8(c)}
	}
	slices.SortStableFunc(levels, func(a, b level) int { return cmpFloat(a.v, b.v) })
	for k, v := range w {
		lo, hi := 0, len(levels)-1
		for lo < hi {
			mid := (lo + hi - 1) / 2
			if v < (levels[mid].v+levels[mid+1].v)/2 {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		codes[k] = levels[lo].code
	}
}

// solve solves the n×n system a·x = b by Gaussian elimination with partial pivoting (a and b
// are overwritten); it returns false when a is singular to working precision.
func solve(a, b, x []float64, n int) bool {
	scale := 0.0
	for _, v := range a {
		scale = max(scale, math.Abs(v))
	}
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r*n+c]) > math.Abs(a[p*n+c]) {
				p = r
			}
		}
		if math.Abs(a[p*n+c]) <= 1e-12*scale {
			return false
		}
		if p != c {
			for j := range n {
				a[c*n+j], a[p*n+j] = a[p*n+j], a[c*n+j]
			}
			b[c], b[p] = b[p], b[c]
		}
		for r := c + 1; r < n; r++ {
			f := a[r*n+c] / a[c*n+c]
			for j := c; j < n; j++ {
				a[r*n+j] -= f * a[c*n+j]
			}
			b[r] -= f * b[c]
		}
	}
	for r := n - 1; r >= 0; r-- {
		s := b[r]
		for j := r + 1; j < n; j++ {
			s -= a[r*n+j] * x[j]
		}
		x[r] = s / a[r*n+r]
	}
	return true
}
