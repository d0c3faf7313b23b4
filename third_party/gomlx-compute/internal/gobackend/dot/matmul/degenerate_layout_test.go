// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package matmul_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/support/testutil"
)

// TestDegenerateLayouts checks the products whose rhs is both layouts at once (a contracting
// size of 1: outer products; an rhs cross size of 1: matrix-vector and dot products), which the
// SIMD routers re-route to the layout their kernels handle, against a float64 reference.
func TestDegenerateLayouts(t *testing.T) {
	backend := compute.MustNew()
	defer backend.Finalize()
	mat := func(rows, cols, seed int) [][]float32 {
		m := make([][]float32, rows)
		for i := range m {
			m[i] = make([]float32, cols)
			for j := range m[i] {
				m[i][j] = float32(math.Sin(float64(seed*1000+i*cols+j))) * 2
			}
		}
		return m
	}
	for _, c := range []struct {
		name           string
		m, k, n        int
		rhsContracting int // 0: rhs [K, N] (NonTransposed), 1: rhs [N, K] (Transposed)
	}{
		{"outer-product-transposed", 256, 1, 256, 1},
		{"outer-product-nontransposed", 256, 1, 256, 0},
		{"matrix-vector-nontransposed", 256, 256, 1, 0},
		{"matrix-vector-transposed", 256, 256, 1, 1},
		{"dot-nontransposed", 1, 300, 1, 0},
		{"row-times-matrix", 1, 256, 256, 0},
		{"tall-outer", 37, 1, 19, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			lhs := mat(c.m, c.k, 1)
			var rhs [][]float32
			if c.rhsContracting == 0 {
				rhs = mat(c.k, c.n, 2)
			} else {
				rhs = mat(c.n, c.k, 2)
			}
			got, err := testutil.Exec1(backend, []any{lhs, rhs}, func(f compute.Function, params []compute.Value) (compute.Value, error) {
				return f.DotGeneral(params[0], []int{1}, nil, params[1], []int{c.rhsContracting}, nil, compute.DotGeneralConfig{})
			})
			if err != nil {
				t.Fatalf("DotGeneral: %v", err)
			}
			out := got.([][]float32)
			for i := range c.m {
				for j := range c.n {
					var want float64
					for p := range c.k {
						var r float32
						if c.rhsContracting == 0 {
							r = rhs[p][j]
						} else {
							r = rhs[j][p]
						}
						want += float64(lhs[i][p]) * float64(r)
					}
					if d := math.Abs(float64(out[i][j]) - want); d > 1e-4*(1+math.Abs(want)) {
						t.Fatalf("%s: out[%d][%d] = %g, want %g", fmt.Sprint(c), i, j, out[i][j], want)
					}
				}
			}
		})
	}
}
