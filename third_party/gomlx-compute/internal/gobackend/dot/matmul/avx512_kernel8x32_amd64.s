// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

#include "textflag.h"

// func avx512Kernel8x32F32(lhsA, lhsB, rhs, out unsafe.Pointer, k, outStride int)
//
// 8×32 float32 micro-kernel: two packed LHS strips of 4 rows (lhsA, lhsB: 4 values per
// contracting step), the packed RHS (32 values per contracting step), k contracting steps; writes
// the 8×32 products to out (row stride outStride bytes). Each accumulator adds its products in
// contracting order with one fused multiply-add each, as avx512LargeKernelFloat32 does.
TEXT ·avx512Kernel8x32F32(SB), NOSPLIT, $0-48
	MOVQ lhsA+0(FP), AX
	MOVQ lhsB+8(FP), BX
	MOVQ rhs+16(FP), CX
	MOVQ out+24(FP), DX
	MOVQ k+32(FP), SI
	MOVQ outStride+40(FP), DI
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15
	TESTQ SI, SI
	JEQ   store

loop:
	VMOVUPS (CX), Z16
	VMOVUPS 64(CX), Z17
	VFMADD231PS.BCST (AX), Z16, Z0
	VFMADD231PS.BCST (AX), Z17, Z1
	VFMADD231PS.BCST 4(AX), Z16, Z2
	VFMADD231PS.BCST 4(AX), Z17, Z3
	VFMADD231PS.BCST 8(AX), Z16, Z4
	VFMADD231PS.BCST 8(AX), Z17, Z5
	VFMADD231PS.BCST 12(AX), Z16, Z6
	VFMADD231PS.BCST 12(AX), Z17, Z7
	VFMADD231PS.BCST (BX), Z16, Z8
	VFMADD231PS.BCST (BX), Z17, Z9
	VFMADD231PS.BCST 4(BX), Z16, Z10
	VFMADD231PS.BCST 4(BX), Z17, Z11
	VFMADD231PS.BCST 8(BX), Z16, Z12
	VFMADD231PS.BCST 8(BX), Z17, Z13
	VFMADD231PS.BCST 12(BX), Z16, Z14
	VFMADD231PS.BCST 12(BX), Z17, Z15
	ADDQ $16, AX
	ADDQ $16, BX
	ADDQ $128, CX
	DECQ SI
	JNE  loop

store:
	VMOVUPS Z0, (DX)
	VMOVUPS Z1, 64(DX)
	ADDQ    DI, DX
	VMOVUPS Z2, (DX)
	VMOVUPS Z3, 64(DX)
	ADDQ    DI, DX
	VMOVUPS Z4, (DX)
	VMOVUPS Z5, 64(DX)
	ADDQ    DI, DX
	VMOVUPS Z6, (DX)
	VMOVUPS Z7, 64(DX)
	ADDQ    DI, DX
	VMOVUPS Z8, (DX)
	VMOVUPS Z9, 64(DX)
	ADDQ    DI, DX
	VMOVUPS Z10, (DX)
	VMOVUPS Z11, 64(DX)
	ADDQ    DI, DX
	VMOVUPS Z12, (DX)
	VMOVUPS Z13, 64(DX)
	ADDQ    DI, DX
	VMOVUPS Z14, (DX)
	VMOVUPS Z15, 64(DX)
	VZEROUPPER
	RET
