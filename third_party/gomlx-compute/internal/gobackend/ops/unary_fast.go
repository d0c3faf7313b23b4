// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/fastmath"
	"github.com/gomlx/compute/internal/gobackend"
)

// Vectorized float32 Logistic: where fastmath has SIMD kernels (amd64 with GOEXPERIMENT=simd,
// AVX2 or AVX-512), float32 Logistic runs fastmath.Logistic32Slice (Exp32's float32 polynomial,
// within 4e-7 relative of the exact logistic; the generic executor goes through float64
// math.Exp one element at a time, about 14x slower). Other dtypes, and builds without SIMD, keep
// the generic executor.
func init() {
	if fastmath.Vectorized {
		gobackend.SetNodeExecutor(compute.OpTypeLogistic, gobackend.PriorityTyped, execLogisticFast)
	}
	for _, e := range []struct {
		opType  compute.OpType
		kind    unaryKind
		generic gobackend.NodeExecutor
	}{
		{compute.OpTypeSqrt, unarySqrt, execSqrt},
		{compute.OpTypeCeil, unaryCeil, execCeil},
		{compute.OpTypeFloor, unaryFloor, execFloor},
		{compute.OpTypeNeg, unaryNeg, execNeg},
		{compute.OpTypeAbs, unaryAbs, execAbs},
	} {
		gobackend.SetNodeExecutor(e.opType, gobackend.PriorityTyped, fastUnaryExecutor(e.kind, e.generic))
	}
}

// Vectorized float32 Sqrt, Ceil, Floor, Neg and Abs (gen_unary_fast_simd.go, where the build and
// the CPU allow), bit-identical to the generic executors; other dtypes, and builds without SIMD,
// keep the generic executors.
type unaryKind int

const (
	unarySqrt unaryKind = iota
	unaryCeil
	unaryFloor
	unaryNeg
	unaryAbs
	numUnaryKinds
)

// fastUnaryF32[kind](out, in) computes out[i] = kind(in[i]) for i < len(out); nil where no
// SIMD kernel is available. out may be in.
var fastUnaryF32 [numUnaryKinds]func(out, in []float32)

func fastUnaryExecutor(kind unaryKind, generic gobackend.NodeExecutor) gobackend.NodeExecutor {
	return func(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
		kernel := fastUnaryF32[kind]
		if kernel == nil || inputs[0].RawShape.DType != dtypes.Float32 {
			return generic(backend, node, inputs, inputsOwned)
		}
		input, output, err := unaryOperandAndOutput(backend, inputs, inputsOwned)
		if err != nil {
			return nil, err
		}
		kernel(output.Flat.([]float32), input.Flat.([]float32))
		return output, nil
	}
}

func execLogisticFast(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	if inputs[0].RawShape.DType != dtypes.Float32 {
		return execLogistic(backend, node, inputs, inputsOwned)
	}
	input, output, err := unaryOperandAndOutput(backend, inputs, inputsOwned)
	if err != nil {
		return nil, err
	}
	fastmath.Logistic32Slice(output.Flat.([]float32), input.Flat.([]float32))
	return output, nil
}

// AddRowsFloat32 adds row (length n) to each of the len(out)/n consecutive rows of out, in
// place, with the Add kernel of the fast binary path (SIMD where available).
func AddRowsFloat32(out, row []float32) {
	n := len(row)
	if n == 0 {
		return
	}
	add := fastF32Kernels[binOpAdd][modeVV]
	for off := 0; off+n <= len(out); off += n {
		add(out[off:off+n], out[off:off+n], row)
	}
}
