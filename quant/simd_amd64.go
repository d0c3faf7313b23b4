//go:build amd64 && goexperiment.simd

package quant

import "simd/archsimd"

// useSIMD reports whether the AVX2+FMA paths run (GOEXPERIMENT=simd build on such a CPU).
var useSIMD = archsimd.X86.AVX2() && archsimd.X86.FMA()

// SIMD reports whether this build uses simd/archsimd vectors for the float32 reference dot
// product and the batch-8 table accumulation.
func SIMD() bool { return useSIMD }

// dot is Σ a_i·b_i, four 8-wide FMA accumulators when available.
func dot(a, b []float32) float32 {
	if !useSIMD || len(a) < 32 {
		return dotGo(a, b)
	}
	b = b[:len(a)]
	var s0, s1, s2, s3 archsimd.Float32x8
	n := len(a) &^ 31
	for i := 0; i < n; i += 32 {
		s0 = archsimd.LoadFloat32x8Slice(a[i:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i:]), s0)
		s1 = archsimd.LoadFloat32x8Slice(a[i+8:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i+8:]), s1)
		s2 = archsimd.LoadFloat32x8Slice(a[i+16:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i+16:]), s2)
		s3 = archsimd.LoadFloat32x8Slice(a[i+24:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i+24:]), s3)
	}
	var lanes [8]float32
	s0.Add(s1).Add(s2.Add(s3)).StoreSlice(lanes[:])
	s := (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
	for i := n; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

// planeSumB is planeSumBGo; a batch of 8 keeps the row's sums in one vector register and adds
// one 8-wide table entry per key.
func planeSumB(racc, tmp, lut []float32, keys []uint8, v0 int, alpha []float32, q, gsub int) {
	if !useSIMD || len(racc) != 8 {
		planeSumBGo(racc, tmp, lut, keys, v0, alpha, q, gsub)
		return
	}
	r := archsimd.LoadFloat32x8Slice(racc)
	for g := 0; g*gsub < len(keys); g++ {
		lo, hi := g*gsub, min((g+1)*gsub, len(keys))
		var s archsimd.Float32x8
		for j, key := range keys[lo:hi] {
			s = s.Add(archsimd.LoadFloat32x8Slice(lut[((v0+lo+j)*256+int(key))*8:]))
		}
		r = s.MulAdd(archsimd.BroadcastFloat32x8(alpha[g*q]), r) // α · Σ b·x, for 8 vectors
	}
	r.StoreSlice(racc)
}
