// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"unsafe"

	"github.com/gomlx/compute/internal/gobackend"
)

// fastTranspose transposes operand into output without the per-element TransposeIterator,
// for the two layouts that dominate training graphs (attention head split/merge, weight
// gradients, transposed matmul operands). It first merges axes that stay adjacent and in order
// (and drops size-1 axes); then:
//
//   - if the last axis stays last, it copies contiguous rows (one copy per row);
//   - if the permutation swaps the last two merged axes under leading batch axes, it transposes
//     each [rows, cols] matrix in cache-sized square tiles.
//
// It works on raw bytes for 1, 2, 4 and 8-byte dtypes, so it is exact for every dtype. It
// returns false (and writes nothing) for the other cases, which the generic iterator handles.
func fastTranspose(operand, output *gobackend.Buffer, permutations []int) bool {
	dims, perm := mergeTransposeAxes(operand.RawShape.Dimensions, permutations)
	elemSize := operand.RawShape.DType.Size()
	if elemSize != 1 && elemSize != 2 && elemSize != 4 && elemSize != 8 {
		return false
	}
	src, err := operand.MutableBytes()
	if err != nil {
		return false
	}
	dst, err := output.MutableBytes()
	if err != nil {
		return false
	}
	n := operand.RawShape.Size() * elemSize
	if len(src) < n || len(dst) < n {
		return false
	}
	src, dst = src[:n], dst[:n]
	rank := len(dims)
	if rank <= 1 {
		copy(dst, src)
		return true
	}
	if perm[rank-1] == rank-1 {
		transposeRows(src, dst, dims, perm, elemSize)
		return true
	}
	for i := 0; i < rank-2; i++ {
		if perm[i] != i {
			return false
		}
	}
	if perm[rank-2] != rank-1 || perm[rank-1] != rank-2 {
		return false
	}
	batch := 1
	for _, d := range dims[:rank-2] {
		batch *= d
	}
	rows, cols := dims[rank-2], dims[rank-1]
	switch elemSize {
	case 4:
		transposeTiles32(bytesAs[uint32](src), bytesAs[uint32](dst), batch, rows, cols)
	case 8:
		transposeTiles(bytesAs[uint64](src), bytesAs[uint64](dst), batch, rows, cols)
	case 2:
		transposeTiles(bytesAs[uint16](src), bytesAs[uint16](dst), batch, rows, cols)
	default:
		transposeTiles(src, dst, batch, rows, cols)
	}
	return true
}

func bytesAs[T uint16 | uint32 | uint64](b []byte) []T {
	var zero T
	n := len(b) / int(unsafe.Sizeof(zero))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n)
}

// mergeTransposeAxes drops size-1 axes and merges operand axes that remain consecutive in
// the output, returning the reduced operand dimensions and permutation (same semantics as
// Transpose's: output axis i is operand axis perm[i]).
func mergeTransposeAxes(dimensions, permutations []int) (dims, perm []int) {
	// Keep non-trivial axes, renumbered.
	newIdx := make([]int, len(dimensions))
	var keptDims []int
	for axis, d := range dimensions {
		if d == 1 {
			newIdx[axis] = -1
			continue
		}
		newIdx[axis] = len(keptDims)
		keptDims = append(keptDims, d)
	}
	var p []int
	for _, axis := range permutations {
		if newIdx[axis] >= 0 {
			p = append(p, newIdx[axis])
		}
	}
	// Merge runs of output axes that are consecutive operand axes.
	groupOf := make([]int, len(keptDims)) // operand axis -> group id (in output order)
	var groupFirst []int                  // first operand axis of each group
	for i, axis := range p {
		if i > 0 && axis == p[i-1]+1 {
			groupOf[axis] = groupOf[p[i-1]]
			continue
		}
		groupOf[axis] = len(groupFirst)
		groupFirst = append(groupFirst, axis)
	}
	// Groups in operand order give the merged operand axes.
	numGroups := len(groupFirst)
	operandOrder := make([]int, 0, numGroups) // merged operand axis -> group id
	for axis := range keptDims {
		if axis == 0 || groupOf[axis] != groupOf[axis-1] {
			operandOrder = append(operandOrder, groupOf[axis])
		}
	}
	groupAxis := make([]int, numGroups) // group id -> merged operand axis
	dims = make([]int, numGroups)
	for mergedAxis, gid := range operandOrder {
		groupAxis[gid] = mergedAxis
	}
	for axis, d := range keptDims {
		g := groupAxis[groupOf[axis]]
		if dims[g] == 0 {
			dims[g] = 1
		}
		dims[g] *= d
	}
	perm = make([]int, numGroups)
	for gid := range numGroups {
		perm[gid] = groupAxis[gid]
	}
	return dims, perm
}

// transposeRows handles permutations that keep the last (merged) axis last: each output row
// of dims[last] elements is one contiguous copy from the operand.
func transposeRows(src, dst []byte, dims, perm []int, elemSize int) {
	rank := len(dims)
	rowBytes := dims[rank-1] * elemSize
	// Operand strides (bytes) per operand axis.
	strides := make([]int, rank)
	stride := elemSize
	for axis := rank - 1; axis >= 0; axis-- {
		strides[axis] = stride
		stride *= dims[axis]
	}
	// Odometer over the output's leading axes (all but the last).
	outDims := make([]int, rank-1)
	outStrides := make([]int, rank-1) // operand byte stride of each output axis
	for i := range rank - 1 {
		outDims[i] = dims[perm[i]]
		outStrides[i] = strides[perm[i]]
	}
	idx := make([]int, rank-1)
	srcOff := 0
	for dstOff := 0; dstOff < len(dst); dstOff += rowBytes {
		copy(dst[dstOff:dstOff+rowBytes], src[srcOff:srcOff+rowBytes])
		for axis := rank - 2; axis >= 0; axis-- {
			idx[axis]++
			srcOff += outStrides[axis]
			if idx[axis] < outDims[axis] {
				break
			}
			srcOff -= outStrides[axis] * outDims[axis]
			idx[axis] = 0
		}
	}
}

// transposeTiles32 is transposeTiles for 4-byte elements; replaced by a SIMD version where the
// build and the CPU allow (transpose_fast_simd_amd64.go).
var transposeTiles32 = transposeTiles[uint32]

// transposeTileSize is the side of the square tiles of transposeTiles: 16 rows of the source
// and 16 of the destination per tile (1 KiB each for 4-byte elements) stay in L1 even when the
// row strides are powers of two.
const transposeTileSize = 16

// transposeTiles writes the transpose of each of batch [rows, cols] matrices of src into dst
// ([cols, rows] each), tile by tile; within a tile it writes destination rows contiguously.
func transposeTiles[T any](src, dst []T, batch, rows, cols int) {
	size := rows * cols
	for b := range batch {
		s, d := src[b*size:(b+1)*size], dst[b*size:(b+1)*size]
		for r0 := 0; r0 < rows; r0 += transposeTileSize {
			r1 := min(r0+transposeTileSize, rows)
			for c0 := 0; c0 < cols; c0 += transposeTileSize {
				c1 := min(c0+transposeTileSize, cols)
				for c := c0; c < c1; c++ {
					out := d[c*rows+r0 : c*rows+r1]
					idx := r0*cols + c
					for i := range out {
						out[i] = s[idx]
						idx += cols
					}
				}
			}
		}
	}
}
