// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

import (
	"runtime"
	"unsafe"
)

// avx512Kernel8x32F32 is in avx512_kernel8x32_amd64.s: 16 accumulators and FMAs with broadcast
// memory operands, which the Go compiler's register allocation cannot express (an 8×32 kernel
// in Go spilled; see docs of avx512LargeKernelAsmFloat32).
//
//go:noescape
func avx512Kernel8x32F32(lhsA, lhsB, rhs, out unsafe.Pointer, k, outStride int)

// avx512LargeKernelAsmFloat32 is avx512LargeKernelFloat32 with the assembly 8×32 micro-kernel
// for each pair of packed 4-row LHS strips (two RHS vectors loaded per contracting step feed 16
// FMAs instead of 8); a trailing odd strip goes to avx512LargeKernelFloat32. Each output element
// accumulates the same fused products in the same order, so results are bit-identical.
func avx512LargeKernelAsmFloat32(
	packedLHS, packedRHS []float32,
	packedOutput []float32,
	lhsPanelRows, rhsPanelCols int,
	contractingLen int,
	lhsActiveRows, rhsActiveCols int,
) {
	const (
		stripRows  = 4
		kernelCols = 32
	)
	_ = packedLHS[contractingLen*lhsActiveRows-1]
	_ = packedRHS[contractingLen*rhsActiveCols-1]
	_ = packedOutput[lhsActiveRows*rhsPanelCols-1]
	lhsBase := unsafe.Pointer(unsafe.SliceData(packedLHS))
	rhsBase := unsafe.Pointer(unsafe.SliceData(packedRHS))
	outBase := unsafe.Pointer(unsafe.SliceData(packedOutput))
	stripElems := stripRows * contractingLen
	// Rows covered by strip pairs; each RHS strip (contractingLen×32) then stays in L1 while
	// every pair of LHS strips passes over it.
	pairRows := 0
	for pairRows+stripRows < lhsActiveRows && pairRows+2*stripRows <= lhsPanelRows {
		pairRows += 2 * stripRows
	}
	for col := 0; col < rhsActiveCols; col += kernelCols {
		rhs := unsafe.Add(rhsBase, col*contractingLen*4)
		for row := 0; row < pairRows; row += 2 * stripRows {
			lhsA := unsafe.Add(lhsBase, row*contractingLen*4)
			avx512Kernel8x32F32(lhsA, unsafe.Add(lhsA, stripElems*4), rhs,
				unsafe.Add(outBase, (row*rhsPanelCols+col)*4), contractingLen, rhsPanelCols*4)
		}
	}
	row := pairRows
	runtime.KeepAlive(packedLHS)
	runtime.KeepAlive(packedRHS)
	runtime.KeepAlive(packedOutput)
	if row < lhsActiveRows {
		avx512LargeKernelFloat32(packedLHS[row*contractingLen:], packedRHS, packedOutput[row*rhsPanelCols:],
			lhsPanelRows, rhsPanelCols, contractingLen, lhsActiveRows-row, rhsActiveCols)
	}
}
