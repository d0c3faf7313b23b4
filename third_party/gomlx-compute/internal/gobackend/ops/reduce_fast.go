// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
)

// Fast float32 ReduceSum. The generic executor walks the operand in flat order and steps a
// ReduceOutputIterator per element to find the output element it adds to. Here the operand's
// axes are merged into alternating kept/reduced groups and walked as runs of the innermost
// group: a kept innermost group adds a whole operand row to a whole output row (the fast Add
// kernel, SIMD where available), a reduced one sums a row into one output element. Every output
// element still starts at 0 and accumulates its operand values in flat order, so results are
// bit-identical to execReduceSumGeneric.

func init() {
	gobackend.SetNodeExecutor(compute.OpTypeReduceSum, gobackend.PriorityTyped, execReduceSumFast)
}

func execReduceSumFast(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	operand := inputs[0]
	reduceAxes, _ := node.Data.([]int)
	if operand.RawShape.DType != dtypes.Float32 || len(reduceAxes) == 0 || node.Shape.IsDynamic() || operand.RawShape.IsDynamic() {
		return execReduce(backend, node, inputs, inputsOwned)
	}
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	reduceSumF32(operand.Flat.([]float32), output.Flat.([]float32), operand.RawShape.Dimensions, reduceAxes)
	return output, nil
}

// reduceSumF32 sums in over reduceAxes into out (the kept axes in order).
func reduceSumF32(in, out []float32, dims, reduceAxes []int) {
	clear(out)
	if len(in) == 0 {
		return
	}
	reduced := make([]bool, len(dims))
	for _, a := range reduceAxes {
		reduced[a] = true
	}
	// Merge axes (dropping those of dimension 1) into groups of equal kind.
	type group struct {
		dim    int
		reduce bool
	}
	var groups []group
	for a, d := range dims {
		if d == 1 {
			continue
		}
		if n := len(groups); n > 0 && groups[n-1].reduce == reduced[a] {
			groups[n-1].dim *= d
			continue
		}
		groups = append(groups, group{d, reduced[a]})
	}
	if len(groups) == 0 { // a single element
		out[0] += in[0]
		return
	}
	last := groups[len(groups)-1]
	outer := groups[:len(groups)-1]
	// Output strides of the outer groups (0 for reduced ones).
	outStrides := make([]int, len(outer))
	stride := 1
	if !last.reduce {
		stride = last.dim
	}
	for i := len(outer) - 1; i >= 0; i-- {
		if !outer[i].reduce {
			outStrides[i] = stride
			stride *= outer[i].dim
		}
	}
	add := fastF32Kernels[binOpAdd][modeVV]
	run := last.dim
	idx := make([]int, len(outer))
	outOff := 0
	for inOff := 0; inOff < len(in); inOff += run {
		row := in[inOff : inOff+run]
		if last.reduce {
			s := out[outOff]
			for _, v := range row {
				s += v
			}
			out[outOff] = s
		} else {
			o := out[outOff : outOff+run]
			add(o, o, row)
		}
		for a := len(idx) - 1; a >= 0; a-- {
			idx[a]++
			outOff += outStrides[a]
			if idx[a] < outer[a].dim {
				break
			}
			outOff -= outStrides[a] * outer[a].dim
			idx[a] = 0
		}
	}
}
