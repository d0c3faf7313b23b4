// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package ops

import (
	"simd/archsimd"
	"unsafe"
)

func init() {
	if archsimd.X86.AVX512() {
		transposeTiles32 = transposeTiles32AVX512
	}
}

// transposeTiles32AVX512 is transposeTiles for 4-byte elements with AVX-512: each full 16×16
// tile is transposed as four blocks of 4 rows × 16 columns in registers (two permutes and an
// interleave per 4 output columns) into a buffer, then written row by row; partial tiles at the
// edges are copied element by element.
func transposeTiles32AVX512(src, dst []uint32, batch, rows, cols int) {
	const tile = 16
	size := rows * cols
	for b := range batch {
		s, d := src[b*size:(b+1)*size], dst[b*size:(b+1)*size]
		for r0 := 0; r0 < rows; r0 += tile {
			r1 := min(r0+tile, rows)
			for c0 := 0; c0 < cols; c0 += tile {
				c1 := min(c0+tile, cols)
				r := r0
				if c1-c0 == tile && r1-r0 == tile {
					// A full tile: transpose its four 4×16 blocks into a 16×16 buffer, then write
					// each output row's 16 elements as one 64-byte run (16 short writes at a
					// power-of-two stride would conflict in the L1 cache).
					var buf [tile * tile]uint32
					for i := 0; i < tile; i += 4 {
						transposeBlock4x16(s[(r0+i)*cols+c0:], cols, buf[i:], tile)
					}
					base := unsafe.Pointer(unsafe.SliceData(d[c0*rows+r0:]))
					_ = d[(c1-1)*rows+r0+tile-1]
					for j := range tile {
						archsimd.LoadUint32x16((*[16]uint32)(buf[j*tile:])).Store((*[16]uint32)(unsafe.Add(base, j*rows*4)))
					}
					r = r1
				}
				// Rows (and, for a partial tile, columns) left over: element by element.
				for c := c0; c < c1; c++ {
					out := d[c*rows+r : c*rows+r1]
					idx := r*cols + c
					for i := range out {
						out[i] = s[idx]
						idx += cols
					}
				}
			}
		}
	}
}

var (
	transposeIdx0 = [16]uint32{0, 16, 0, 0, 1, 17, 0, 0, 2, 18, 0, 0, 3, 19, 0, 0}
	transposeIdx1 = [16]uint32{4, 20, 0, 0, 5, 21, 0, 0, 6, 22, 0, 0, 7, 23, 0, 0}
	transposeIdx2 = [16]uint32{8, 24, 0, 0, 9, 25, 0, 0, 10, 26, 0, 0, 11, 27, 0, 0}
	transposeIdx3 = [16]uint32{12, 28, 0, 0, 13, 29, 0, 0, 14, 30, 0, 0, 15, 31, 0, 0}
)

// transposeBlock4x16 writes the transpose of the 4×16 block at src (row stride srcStride) to
// dst: column j of the block becomes the 4 elements at dst[j*dstStride:].
func transposeBlock4x16(src []uint32, srcStride int, dst []uint32, dstStride int) {
	_ = src[3*srcStride+15]
	_ = dst[15*dstStride+3]
	v0 := archsimd.LoadUint32x16Slice(src)
	v1 := archsimd.LoadUint32x16Slice(src[srcStride:])
	v2 := archsimd.LoadUint32x16Slice(src[2*srcStride:])
	v3 := archsimd.LoadUint32x16Slice(src[3*srcStride:])
	var buf [64]uint32
	for q, idx := range [4]*[16]uint32{&transposeIdx0, &transposeIdx1, &transposeIdx2, &transposeIdx3} {
		perm := archsimd.LoadUint32x16(idx)
		// Lanes of each 128-bit group: (row0, row2, -, -) and (row1, row3, -, -) of one column,
		// interleaved into (row0, row1, row2, row3).
		t0 := v0.ConcatPermute(v2, perm)
		t1 := v1.ConcatPermute(v3, perm)
		t0.InterleaveLoGrouped(t1).Store((*[16]uint32)(buf[16*q:]))
	}
	base := unsafe.Pointer(unsafe.SliceData(dst))
	for j := range 16 {
		*(*[4]uint32)(unsafe.Add(base, j*dstStride*4)) = *(*[4]uint32)(buf[4*j:])
	}
}
