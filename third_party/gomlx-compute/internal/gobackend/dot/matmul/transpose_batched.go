// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package matmul

// transposeBatched returns a new slice with each of the batch [rows, cols] matrices of src
// transposed to [cols, rows]; the SIMD routers use it to change the layout of a small rhs.
func transposeBatched[T any](src []T, batch, rows, cols int) []T {
	dst := make([]T, len(src))
	size := rows * cols
	for b := range batch {
		s, d := src[b*size:(b+1)*size], dst[b*size:(b+1)*size]
		for r := range rows {
			for c, v := range s[r*cols : (r+1)*cols] {
				d[c*rows+r] = v
			}
		}
	}
	return dst
}
