package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// TestReduceSumF32MatchesGeneric compares reduceSumF32 bit for bit with execReduceSumGeneric on
// random shapes and axis sets (leading, trailing, middle, alternating, all), special values
// included.
func TestReduceSumF32MatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	type tc struct {
		dims, axes []int
	}
	cases := []tc{
		{[]int{2, 2048, 128}, []int{0}},
		{[]int{2048, 128}, []int{0}},
		{[]int{2048, 128}, []int{1}},
		{[]int{32, 4, 64, 64}, []int{3}},
		{[]int{32, 4, 64, 64}, []int{0, 2}},
		{[]int{5, 1, 7}, []int{1}},
		{[]int{1, 1}, []int{0, 1}},
		{[]int{3, 0, 4}, []int{1}},
	}
	for range 300 {
		rank := 1 + r.IntN(5)
		dims := make([]int, rank)
		var axes []int
		for a := range rank {
			dims[a] = 1 + r.IntN(9)
			if r.IntN(2) == 0 {
				axes = append(axes, a)
			}
		}
		if len(axes) == 0 {
			axes = []int{r.IntN(rank)}
		}
		cases = append(cases, tc{dims, axes})
	}
	for ci, c := range cases {
		inShape := shapes.Make(dtypes.Float32, c.dims...)
		var outDims []int
		for a, d := range c.dims {
			keep := true
			for _, x := range c.axes {
				keep = keep && x != a
			}
			if keep {
				outDims = append(outDims, d)
			}
		}
		outShape := shapes.Make(dtypes.Float32, outDims...)
		in := randF32(r, inShape.Size())
		want := &gobackend.Buffer{RawShape: outShape, Flat: make([]float32, outShape.Size())}
		if err := execReduceSumGeneric[float32](&gobackend.Buffer{RawShape: inShape, Flat: in}, want,
			NewReduceOutputIterator(c.dims, c.axes), dtypes.Float32); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, outShape.Size())
		for i := range got {
			got[i] = 123 // must be overwritten
		}
		reduceSumF32(in, got, c.dims, c.axes)
		sameBits(t, fmt.Sprintf("case %d dims=%v axes=%v", ci, c.dims, c.axes), want.Flat.([]float32), got)
	}
}

// TestScatterRowRunsMatchElementwise runs execScatterGeneric with and without row runs on
// row-scatters (Sum, Max, Min; float32 and int32; repeated indices) and on a window that does
// not cover the last output axis (no runs), and requires identical results.
func TestScatterRowRunsMatchElementwise(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	type tc struct {
		name          string
		operand       []int
		indices       []int
		updates       []int
		params        scatterNode
		maxIndexValue int
	}
	cases := []tc{
		{"rows", []int{10, 37}, []int{25, 1}, []int{25, 37},
			scatterNode{indexVectorAxis: 1, updateWindowAxes: []int{1}, insertedWindowAxes: []int{0}, scatterAxesToOperandAxes: []int{0}}, 10},
		{"rows-3d", []int{4, 6, 9}, []int{7, 1}, []int{7, 6, 9},
			scatterNode{indexVectorAxis: 1, updateWindowAxes: []int{1, 2}, insertedWindowAxes: []int{0}, scatterAxesToOperandAxes: []int{0}}, 4},
		{"middle-axis", []int{4, 6, 9}, []int{5, 1}, []int{5, 4, 9},
			scatterNode{indexVectorAxis: 1, updateWindowAxes: []int{1, 2}, insertedWindowAxes: []int{1}, scatterAxesToOperandAxes: []int{1}}, 6},
		{"last-axis-inserted", []int{6, 5}, []int{8, 1}, []int{8, 6},
			scatterNode{indexVectorAxis: 1, updateWindowAxes: []int{1}, insertedWindowAxes: []int{1}, scatterAxesToOperandAxes: []int{1}}, 5},
		{"two-index-axes", []int{3, 4, 16}, []int{6, 2}, []int{6, 16},
			scatterNode{indexVectorAxis: 1, updateWindowAxes: []int{1}, insertedWindowAxes: []int{0, 1}, scatterAxesToOperandAxes: []int{0, 1}}, 3},
	}
	for _, c := range cases {
		for _, op := range []compute.OpType{compute.OpTypeScatterSum, compute.OpTypeScatterMax, compute.OpTypeScatterMin} {
			for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Int32} {
				opShape, idxShape, updShape := shapes.Make(dt, c.operand...), shapes.Make(dtypes.Int32, c.indices...), shapes.Make(dt, c.updates...)
				idx := make([]int32, idxShape.Size())
				for i := range idx {
					idx[i] = int32(r.IntN(c.maxIndexValue))
				}
				mk := func(shape shapes.Shape) *gobackend.Buffer {
					if dt == dtypes.Float32 {
						return &gobackend.Buffer{RawShape: shape, Flat: randF32(r, shape.Size())}
					}
					v := make([]int32, shape.Size())
					for i := range v {
						v[i] = int32(r.IntN(200) - 100)
					}
					return &gobackend.Buffer{RawShape: shape, Flat: v}
				}
				operand, updates := mk(opShape), mk(updShape)
				indices := &gobackend.Buffer{RawShape: idxShape, Flat: idx}
				run := func(runs bool) any {
					out := &gobackend.Buffer{RawShape: opShape}
					switch f := operand.Flat.(type) {
					case []float32:
						out.Flat = append([]float32(nil), f...)
					case []int32:
						out.Flat = append([]int32(nil), f...)
					}
					scatterRowRuns = runs
					defer func() { scatterRowRuns = true }()
					fnAny, err := scatterDTypeMap.Get(dt)
					if err != nil {
						t.Fatal(err)
					}
					p := c.params
					if err := fnAny.(func(compute.OpType, *gobackend.Buffer, *gobackend.Buffer, *gobackend.Buffer, *scatterNode) error)(op, out, indices, updates, &p); err != nil {
						t.Fatal(err)
					}
					return out.Flat
				}
				want, got := run(false), run(true)
				name := fmt.Sprintf("%s %s %s", c.name, op, dt)
				if dt == dtypes.Float32 {
					sameBits(t, name, want.([]float32), got.([]float32))
				} else {
					w, g := want.([]int32), got.([]int32)
					for i := range w {
						if w[i] != g[i] {
							t.Fatalf("%s: element %d: want %d, got %d", name, i, w[i], g[i])
						}
					}
				}
			}
		}
	}
}

// TestBroadcastInDimRunsMatchIterator compares the contiguous-run path of
// execBroadcastInDimGeneric with the broadcast iterator on random broadcasts (float32, int8).
func TestBroadcastInDimRunsMatchIterator(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for ci := range 300 {
		rank := 1 + r.IntN(5)
		out := make([]int, rank)
		dims := make([]int, rank)
		for a := range rank {
			out[a] = 1 + r.IntN(7)
			dims[a] = out[a]
			if r.IntN(2) == 0 {
				dims[a] = 1
			}
		}
		opShape := shapes.Make(dtypes.Float32, dims...)
		if opShape.Size() == 1 {
			continue // the fill special case
		}
		outShape := shapes.Make(dtypes.Float32, out...)
		operand := &gobackend.Buffer{RawShape: opShape, Flat: randF32(r, opShape.Size())}
		it := gobackend.NewBroadcastIterator(opShape, outShape)
		want := &gobackend.Buffer{RawShape: outShape, Flat: make([]float32, outShape.Size())}
		got := &gobackend.Buffer{RawShape: outShape, Flat: make([]float32, outShape.Size())}
		broadcastInDimRuns = false
		execBroadcastInDimGeneric[float32](operand, want, it, dims)
		broadcastInDimRuns = true
		execBroadcastInDimGeneric[float32](operand, got, it, dims)
		sameBits(t, fmt.Sprintf("case %d dims=%v out=%v", ci, dims, out), want.Flat.([]float32), got.Flat.([]float32))

		i8 := make([]int8, opShape.Size())
		for i := range i8 {
			i8[i] = int8(r.IntN(256) - 128)
		}
		op8 := &gobackend.Buffer{RawShape: shapes.Make(dtypes.Int8, dims...), Flat: i8}
		w8 := &gobackend.Buffer{RawShape: shapes.Make(dtypes.Int8, out...), Flat: make([]int8, outShape.Size())}
		g8 := &gobackend.Buffer{RawShape: shapes.Make(dtypes.Int8, out...), Flat: make([]int8, outShape.Size())}
		broadcastInDimRuns = false
		execBroadcastInDimGeneric[int8](op8, w8, it, dims)
		broadcastInDimRuns = true
		execBroadcastInDimGeneric[int8](op8, g8, it, dims)
		for i, w := range w8.Flat.([]int8) {
			if g := g8.Flat.([]int8)[i]; g != w {
				t.Fatalf("int8 case %d dims=%v out=%v: element %d: want %d, got %d", ci, dims, out, i, w, g)
			}
		}
	}
}
