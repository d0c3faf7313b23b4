// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// Fast float32 paths for Add, Sub, Mul, Div, Max and Min.
//
// The generated generic executors (gen_exec_binary.go) loop one element at a time, and with
// broadcasting they step a ZipIterator per element. Here a binary op is planned as runs: the
// axes are merged where both operands keep the same broadcast pattern, the last merged axis
// becomes one contiguous run (vector-vector, or vector-scalar where one operand is broadcast
// on it), and the remaining axes are walked once per run. Each run goes to a kernel that is
// SIMD (AVX-512 or AVX2, gen_binary_fast_simd.go) when the build and the CPU allow, and a plain
// loop otherwise (gen_binary_fast_scalar.go). Results are bit-identical to the generic
// executors: IEEE float32 arithmetic, and Max/Min reproduce Go's max/min builtins (NaN
// propagation, signed zeros). Other dtypes go to the generic executors.

type binOpKind int

const (
	binOpAdd binOpKind = iota
	binOpSub
	binOpMul
	binOpDiv
	binOpMax
	binOpMin
	numBinOps
)

type binMode int

const (
	modeVV binMode = iota // both operands are vectors of the run's length
	modeVS                // rhs is one value for the whole run
	modeSV                // lhs is one value for the whole run
	numBinModes
)

// f32Kernel computes out[i] = op(lhs[i], rhs[i]) for i < len(out); in modeVS rhs[0] stands for
// every rhs[i], in modeSV lhs[0] for every lhs[i].
type f32Kernel func(out, lhs, rhs []float32)

func init() {
	for _, e := range []struct {
		opType  compute.OpType
		kind    binOpKind
		generic gobackend.NodeExecutor
	}{
		{compute.OpTypeAdd, binOpAdd, execAdd},
		{compute.OpTypeSub, binOpSub, execSub},
		{compute.OpTypeMul, binOpMul, execMul},
		{compute.OpTypeDiv, binOpDiv, execDiv},
		{compute.OpTypeMax, binOpMax, execMax},
		{compute.OpTypeMin, binOpMin, execMin},
	} {
		gobackend.SetNodeExecutor(e.opType, gobackend.PriorityTyped, fastBinaryExecutor(e.kind, e.generic))
	}
}

// fastBinaryExecutor runs float32 operands through execBinaryF32 and anything else through the
// generic executor.
func fastBinaryExecutor(kind binOpKind, generic gobackend.NodeExecutor) gobackend.NodeExecutor {
	return func(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
		if inputs[0].RawShape.DType != dtypes.Float32 || inputs[1].RawShape.DType != dtypes.Float32 {
			return generic(backend, node, inputs, inputsOwned)
		}
		lhs, rhs, output, _, _ := binaryOperandsAndOutputForExecution(backend, node, inputs, inputsOwned, node.Shape)
		execBinaryF32(kind, output.Flat.([]float32), lhs.Flat.([]float32), rhs.Flat.([]float32),
			lhs.RawShape, rhs.RawShape, output.RawShape)
		return output, nil
	}
}

// execBinaryF32 computes out = op(lhs, rhs) with broadcasting (operands of the output's rank,
// each axis of the output's dimension or 1, or a single value). out may alias an operand of
// the output's shape.
func execBinaryF32(kind binOpKind, out, lhs, rhs []float32, lhsShape, rhsShape, outShape shapes.Shape) {
	k := &fastF32Kernels[kind]
	switch {
	case len(lhs) == len(out) && len(rhs) == len(out):
		k[modeVV](out, lhs, rhs)
		return
	case len(rhs) == 1:
		k[modeVS](out, lhs, rhs)
		return
	case len(lhs) == 1:
		k[modeSV](out, lhs, rhs)
		return
	}
	p := planBroadcastRuns(lhsShape.Dimensions, rhsShape.Dimensions, outShape.Dimensions)
	kernel := k[p.mode]
	run := p.runLen
	if len(p.dims) == 0 {
		kernel(out, lhs, rhs)
		return
	}
	idx := make([]int, len(p.dims))
	lhsOff, rhsOff := 0, 0
	for outOff := 0; outOff < len(out); outOff += run {
		var l, r []float32
		if p.mode == modeSV {
			l = lhs[lhsOff : lhsOff+1]
		} else {
			l = lhs[lhsOff : lhsOff+run]
		}
		if p.mode == modeVS {
			r = rhs[rhsOff : rhsOff+1]
		} else {
			r = rhs[rhsOff : rhsOff+run]
		}
		kernel(out[outOff:outOff+run], l, r)
		// Odometer over the outer merged axes, last one fastest.
		for a := len(idx) - 1; a >= 0; a-- {
			idx[a]++
			lhsOff += p.lhsStrides[a]
			rhsOff += p.rhsStrides[a]
			if idx[a] < p.dims[a] {
				break
			}
			lhsOff -= p.lhsStrides[a] * p.dims[a]
			rhsOff -= p.rhsStrides[a] * p.dims[a]
			idx[a] = 0
		}
	}
}

// broadcastRuns is a binary op's broadcast as contiguous runs: the innermost merged axis (of
// length runLen, in the given mode) and the outer merged axes walked around it, with each
// operand's flat-index stride per outer axis (0 where it is broadcast).
type broadcastRuns struct {
	runLen                 int
	mode                   binMode
	dims                   []int
	lhsStrides, rhsStrides []int
}

// planBroadcastRuns merges adjacent axes with the same broadcast pattern (axes of output
// dimension 1 are dropped), so the last merged axis is as long as the layout allows.
func planBroadcastRuns(lhsDims, rhsDims, outDims []int) broadcastRuns {
	type axis struct {
		dim                int
		lhsBcast, rhsBcast bool
	}
	var merged []axis
	for i, d := range outDims {
		if d == 1 {
			continue
		}
		a := axis{dim: d, lhsBcast: lhsDims[i] == 1, rhsBcast: rhsDims[i] == 1}
		if n := len(merged); n > 0 && merged[n-1].lhsBcast == a.lhsBcast && merged[n-1].rhsBcast == a.rhsBcast {
			merged[n-1].dim *= d
			continue
		}
		merged = append(merged, a)
	}
	var p broadcastRuns
	if len(merged) == 0 { // every output dimension is 1
		p.runLen, p.mode = 1, modeVV
		return p
	}
	last := merged[len(merged)-1]
	p.runLen = last.dim
	switch {
	case last.lhsBcast:
		p.mode = modeSV
	case last.rhsBcast:
		p.mode = modeVS
	default:
		p.mode = modeVV
	}
	outer := merged[:len(merged)-1]
	p.dims = make([]int, len(outer))
	p.lhsStrides = make([]int, len(outer))
	p.rhsStrides = make([]int, len(outer))
	lhsStride, rhsStride := 1, 1
	if !last.lhsBcast {
		lhsStride = last.dim
	}
	if !last.rhsBcast {
		rhsStride = last.dim
	}
	for i := len(outer) - 1; i >= 0; i-- {
		p.dims[i] = outer[i].dim
		if !outer[i].lhsBcast {
			p.lhsStrides[i] = lhsStride
			lhsStride *= outer[i].dim
		}
		if !outer[i].rhsBcast {
			p.rhsStrides[i] = rhsStride
			rhsStride *= outer[i].dim
		}
	}
	return p
}
