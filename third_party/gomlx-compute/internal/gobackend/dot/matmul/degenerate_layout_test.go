// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package matmul_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/support/testutil"
)

// TestDegenerateLayouts checks, against a float64 reference, the products the AVX-512 router
// re-routes to the layout its SIMD kernels handle: rhs with both layouts at once (a contracting
// size of 1: outer products; an rhs cross size of 1: matrix-vector and dot products) and narrow
// rhs transposed into the other layout (few rhs columns with a long contracting axis, a short
// contracting axis with many columns).
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
		{"narrow-rhs-nontransposed", 300, 128, 4, 0},
		{"narrow-rhs-nontransposed-16", 70, 33, 16, 0},
		{"short-contracting-transposed", 300, 4, 128, 1},
		{"short-contracting-transposed-15", 50, 15, 40, 1},
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
