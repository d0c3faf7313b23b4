// Package gradcheck checks GoMLX gradients against central finite differences, in float64.
// Every custom gradient in moeboost (and every layer whose backward pass matters) is tested
// with it.
package gradcheck

import (
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Fn is a scalar function of its inputs, built in a graph; variables it creates live in a
// fresh store (scope) and are held fixed.
type Fn func(scope *model.Scope, inputs []*graph.Node) *graph.Node

// Result reports the worst mismatch.
type Result struct {
	MaxAbsErr, MaxRelErr float64
	Input, Index         int
	Analytic, Numeric    float64
}

func (r Result) String() string {
	return fmt.Sprintf("worst at input %d element %d: autodiff %.8g vs finite differences %.8g (abs err %.3g, rel err %.3g)",
		r.Input, r.Index, r.Analytic, r.Numeric, r.MaxAbsErr, r.MaxRelErr)
}

// Check compares ∂fn/∂inputs from GoMLX's autodiff with central differences of step eps for
// every element of every input (float64 values given as flat slices with their shapes). It
// returns an error when some element differs by more than atol + rtol·|numeric|.
func Check(b compute.Backend, fn Fn, inputs [][]float64, shapes [][]int, eps, atol, rtol float64) (Result, error) {
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(1); err != nil {
		return Result{}, err
	}
	n := len(inputs)
	gradExec, err := model.NewExec(b, store, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		y := fn(scope, xs)
		if !y.IsScalar() {
			y = graph.ReduceAllSum(y)
		}
		return append([]*graph.Node{y}, graph.Gradient(y, xs...)...)
	})
	if err != nil {
		return Result{}, err
	}
	defer gradExec.Finalize()
	valueExec, err := model.NewExec(b, store, func(scope *model.Scope, xs []*graph.Node) *graph.Node {
		y := fn(scope, xs)
		if !y.IsScalar() {
			y = graph.ReduceAllSum(y)
		}
		return y
	})
	if err != nil {
		return Result{}, err
	}
	defer valueExec.Finalize()
	args := func(vals [][]float64) []any {
		out := make([]any, n)
		for i := range vals {
			out[i] = tensors.FromFlatDataAndDimensions(append([]float64(nil), vals[i]...), shapes[i]...)
		}
		return out
	}
	outs, err := gradExec.Call(args(inputs)...)
	if err != nil {
		return Result{}, err
	}
	var res Result
	var bad error
	for i := range n {
		analytic := tensors.MustCopyFlatData[float64](outs[1+i])
		for j := range inputs[i] {
			vals := make([][]float64, n)
			for k := range inputs {
				vals[k] = append([]float64(nil), inputs[k]...)
			}
			vals[i][j] = inputs[i][j] + eps
			up, err := valueExec.Call(args(vals)...)
			if err != nil {
				return res, err
			}
			vals[i][j] = inputs[i][j] - eps
			down, err := valueExec.Call(args(vals)...)
			if err != nil {
				return res, err
			}
			num := (up[0].Value().(float64) - down[0].Value().(float64)) / (2 * eps)
			abs := math.Abs(num - analytic[j])
			rel := abs / math.Max(1e-12, math.Abs(num))
			if abs > res.MaxAbsErr {
				res = Result{MaxAbsErr: abs, MaxRelErr: rel, Input: i, Index: j, Analytic: analytic[j], Numeric: num}
			}
			if abs > atol+rtol*math.Abs(num) && bad == nil {
				bad = fmt.Errorf("gradient mismatch at input %d element %d: autodiff %.10g, finite differences %.10g", i, j, analytic[j], num)
			}
		}
	}
	return res, bad
}
