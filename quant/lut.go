package quant

import (
	"encoding/binary"
	"fmt"
)

// tableBytes is the size of the look-up tables one K tile keeps hot (the reference kernel
// keeps its tile's tables in shared memory; here the tile is sized for the L1/L2 cache).
const tableBytes = 32 << 10

// Kernel multiplies by a Matrix with LUT-GEMM's look-up tables. It owns its work buffers
// (tables for up to MaxBatch vectors), so one Kernel must not be used by two goroutines at once.
type Kernel struct {
	W        *Matrix
	MaxBatch int
	lut      []float32 // [RowBytes][256][batch]
	gsum     []float32 // [Groups][batch]: Σ x over each group
	acc, tmp []float32 // [batch]
}

// NewKernel returns a kernel for w and batches of up to maxBatch vectors.
func NewKernel(w *Matrix, maxBatch int) (*Kernel, error) {
	if maxBatch < 1 {
		return nil, fmt.Errorf("quant: max batch %d must be >= 1", maxBatch)
	}
	return &Kernel{W: w, MaxBatch: maxBatch,
		lut:  make([]float32, w.RowBytes*256*maxBatch),
		gsum: make([]float32, w.Groups*maxBatch),
		acc:  make([]float32, maxBatch),
		tmp:  make([]float32, maxBatch)}, nil
}

// MatVec computes y = W·x for one vector x [Cols] into y [Rows].
func (k *Kernel) MatVec(y, x []float32) error { return k.MatMul(y, x, 1) }

// MatMul computes y[b, m] = Σ_c W[m, c]·x[b, c] for batch row-major vectors x [batch, Cols]
// into y [batch, Rows], without dequantizing W: it builds the batch's tables, then adds, per
// output row, bit plane and group, one table entry per packed byte (Sec. 3.1, Alg. 1).
func (k *Kernel) MatMul(y, x []float32, batch int) error {
	w := k.W
	if batch < 1 || batch > k.MaxBatch {
		return fmt.Errorf("quant: batch=%d must be in [1, %d] (the kernel's MaxBatch)", batch, k.MaxBatch)
	}
	if len(x) != batch*w.Cols || len(y) != batch*w.Rows {
		return fmt.Errorf("quant: MatMul of a [%d, %d] matrix with batch %d wants x of %d and y of %d values; got %d and %d",
			w.Rows, w.Cols, batch, batch*w.Cols, batch*w.Rows, len(x), len(y))
	}
	k.build(x, batch)
	clear(y)
	gsub := (w.GroupSize + Mu - 1) / Mu // bytes (sub-vectors) per group
	// K tiles of whole groups whose tables fit tableBytes (at least one group).
	tileGroups := max(1, tableBytes/(gsub*256*4*batch))
	for g0 := 0; g0 < w.Groups; g0 += tileGroups {
		g1 := min(g0+tileGroups, w.Groups)
		if batch == 1 {
			k.tile1(y, g0, g1, gsub)
		} else {
			k.tileB(y, batch, g0, g1, gsub)
		}
	}
	return nil
}

// build fills the tables: lut[v][p][b] = Σ_j (2·bit_j(p) − 1)·x[b, 8v+j], built as
// t[0] = −Σ_j x_j, t[i + 2^s] = t[i] + 2·x_s (256 adds per sub-vector); inputs past Cols are 0.
// gsum[g][b] = Σ x over group g, read from the all-ones entry t[255] of its sub-vectors.
func (k *Kernel) build(x []float32, batch int) {
	w := k.W
	var xs [Mu]float32
	var t [256]float32
	for b := range batch {
		row := x[b*w.Cols : (b+1)*w.Cols]
		for v := range w.RowBytes {
			clear(xs[:])
			copy(xs[:], row[v*Mu:min((v+1)*Mu, w.Cols)])
			var s float32
			for _, xv := range xs {
				s += xv
			}
			t[0] = -s
			for j := range Mu {
				step := 1 << j
				d := 2 * xs[j]
				for i := range step {
					t[i+step] = t[i] + d
				}
			}
			base := v * 256 * batch
			for p := range 256 {
				k.lut[base+p*batch+b] = t[p]
			}
		}
	}
	gsub := (w.GroupSize + Mu - 1) / Mu
	clear(k.gsum[:w.Groups*batch])
	for v := range w.RowBytes {
		g := v / gsub
		for b := range batch {
			k.gsum[g*batch+b] += k.lut[(v*256+255)*batch+b]
		}
	}
}

// tile1 is the batch-1 inner loop over groups [g0, g1) of every row: per row the offsets
// z·Σx, then per bit plane the scaled group sums of that plane's keys.
func (k *Kernel) tile1(y []float32, g0, g1, gsub int) {
	w := k.W
	q := w.Bits
	v0, v1 := g0*gsub, min(g1*gsub, w.RowBytes)
	t := k.lut[v0*256 : v1*256]
	gs := k.gsum[g0:g1]
	for m := range w.Rows {
		planes := w.Planes[m*q*w.RowBytes : (m+1)*q*w.RowBytes]
		alpha := w.Alpha[(m*w.Groups+g0)*q : (m*w.Groups+g1)*q]
		var ym float32
		for g, z := range w.Offset[m*w.Groups+g0 : m*w.Groups+g1] {
			ym += z * gs[g] // z·Σx over the group
		}
		for i := range q {
			ym += planeSum(t, planes[i*w.RowBytes+v0:i*w.RowBytes+v1], alpha[i:], q, gsub)
		}
		y[m] += ym
	}
}

// planeSum is Σ_g α[g·q] · Σ_{j ∈ g} t[j][keys[j]] over the groups of gsub keys in keys (the
// last may be shorter): α_i · Σ b_i·x per group, for one bit plane.
func planeSum(t []float32, keys []uint8, alpha []float32, q, gsub int) float32 {
	var total float32
	g := 0
	if gsub == 4 { // group size 32: one uint32 of keys per group
		for ; 4*g+4 <= len(keys); g++ {
			kk := binary.LittleEndian.Uint32(keys[4*g:])
			tt := (*[4 * 256]float32)(t[g*1024 : g*1024+1024])
			total += alpha[g*q] * ((tt[kk&0xff] + tt[256+kk>>8&0xff]) + (tt[512+kk>>16&0xff] + tt[768+kk>>24]))
		}
	}
	for ; g*gsub < len(keys); g++ {
		lo, hi := g*gsub, min((g+1)*gsub, len(keys))
		total += alpha[g*q] * lookupSum(t[lo*256:hi*256], keys[lo:hi])
	}
	return total
}

// lookupSum is Σ_j t[j][keys[j]]: one look-up per 8 binary weights. Keys are read 8 at a
// time as one little-endian uint64 and the sums kept in four independent chains (a single
// float chain waits on the add latency at every look-up).
func lookupSum(t []float32, keys []uint8) float32 {
	var s0, s1, s2, s3 float32
	j := 0
	for ; j+8 <= len(keys); j += 8 {
		kk := binary.LittleEndian.Uint64(keys[j:])
		tt := (*[8 * 256]float32)(t[j*256 : (j+8)*256])
		s0 += tt[kk&0xff]
		s1 += tt[256+kk>>8&0xff]
		s2 += tt[512+kk>>16&0xff]
		s3 += tt[768+kk>>24&0xff]
		s0 += tt[1024+kk>>32&0xff]
		s1 += tt[1280+kk>>40&0xff]
		s2 += tt[1536+kk>>48&0xff]
		s3 += tt[1792+kk>>56]
	}
	for ; j < len(keys); j++ {
		s0 += (*[256]float32)(t[j*256 : (j+1)*256])[keys[j]]
	}
	return (s0 + s1) + (s2 + s3)
}

// tileB is the batch-B inner loop: each key reads B adjacent partial sums; per row the B
// results accumulate in racc across the tile's groups and bit planes.
func (k *Kernel) tileB(y []float32, batch, g0, g1, gsub int) {
	w := k.W
	q := w.Bits
	racc, tmp := k.acc[:batch], k.tmp[:batch]
	v0, v1 := g0*gsub, min(g1*gsub, w.RowBytes)
	for m := range w.Rows {
		planes := w.Planes[m*q*w.RowBytes : (m+1)*q*w.RowBytes]
		alpha := w.Alpha[(m*w.Groups+g0)*q : (m*w.Groups+g1)*q]
		clear(racc)
		for g, z := range w.Offset[m*w.Groups+g0 : m*w.Groups+g1] {
			gs := k.gsum[(g0+g)*batch : (g0+g+1)*batch]
			for b := range racc {
				racc[b] += z * gs[b] // z·Σx over the group
			}
		}
		for i := range q {
			planeSumB(racc, tmp, k.lut, planes[i*w.RowBytes+v0:i*w.RowBytes+v1], v0, alpha[i:], q, gsub)
		}
		for b, v := range racc {
			y[b*w.Rows+m] += v
		}
	}
}

// planeSumBGo adds Σ_g α[g·q] · Σ_{j ∈ g} lut[v0+j][keys[j]][0:B] into racc (B = len(racc)),
// for one bit plane over the groups of gsub keys in keys; tmp is scratch of B values.
func planeSumBGo(racc, tmp, lut []float32, keys []uint8, v0 int, alpha []float32, q, gsub int) {
	batch := len(racc)
	for g := 0; g*gsub < len(keys); g++ {
		lo, hi := g*gsub, min((g+1)*gsub, len(keys))
		clear(tmp)
		for j, key := range keys[lo:hi] {
			e := lut[((v0+lo+j)*256+int(key))*batch:][:batch]
			for b := range tmp {
				tmp[b] += e[b]
			}
		}
		a := alpha[g*q]
		for b, v := range tmp {
			racc[b] += a * v
		}
	}
}

// MatVecF32 is the float32 reference the benchmark times against: y = W·x for a row-major
// [rows, cols] float32 matrix (plain Go, or 8-wide FMA under GOEXPERIMENT=simd on AVX2).
func MatVecF32(y, w, x []float32, rows, cols int) {
	for m := range rows {
		y[m] = dot(w[m*cols:(m+1)*cols], x)
	}
}

// MatMulF32 is y[b, m] = Σ_c w[m, c]·x[b, c] for a batch of vectors, reading each row of w once
// for the whole batch.
func MatMulF32(y, w, x []float32, rows, cols, batch int) {
	for m := range rows {
		row := w[m*cols : (m+1)*cols]
		for b := range batch {
			y[b*rows+m] = dot(row, x[b*cols:(b+1)*cols])
		}
	}
}

func dotGo(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	n := len(a) &^ 3
	b = b[:len(a)]
	for i := 0; i < n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for i := n; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
