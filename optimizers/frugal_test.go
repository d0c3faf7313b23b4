package optimizers_test

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/stretchr/testify/require"
)

func frugalGrad(step, n int) []float64 {
	g := make([]float64, n)
	for i := range g {
		g[i] = math.Sin(float64(3*i+7*step)) + 0.1
	}
	return g
}

func stateOf(t *testing.T, st *stepper, path string) []float64 {
	v := st.store.GetVariable(path)
	require.NotNil(t, v, "state %s", path)
	return flat64(v.MustValue())
}

// Blocks: the state-full block is rows [0, 2) for steps 1-2, then rows [2, 4); the moments
// restart from zero at the change; outside the block the update is −lr·sign(g).
func TestFRUGALBlocks(t *testing.T) {
	const rows, cols, lr = 8, 3, 0.01
	w := tensorSpec{Name: "w", Shape: []int{rows, cols}, Values: make([]float64, rows*cols)}
	store := newStore(t, dtypes.Float64, []tensorSpec{w}, map[string]any{
		optimizers.ParamLearningRate: lr, optimizers.ParamFRUGALUpdateGap: 2})
	st := newStepper(t, store, newOptimizer(t, store, "frugal"), dtypes.Float64)
	g1 := frugalGrad(1, rows*cols)
	st.step(t, [][]float64{g1})
	m := stateOf(t, st, "/optimizers/frugal/w/exp_avg")
	require.Len(t, m, 2*cols, "moments of the 2-row block only")
	for i := range m {
		require.InDelta(t, 0.1*g1[i], m[i], 1e-15) // (1−β1)·g of rows 0-1
	}
	p := st.values()[0]
	for i := 2 * cols; i < rows*cols; i++ {
		require.InDelta(t, -lr*math.Copysign(1, g1[i]), p[i], 1e-15, "signSGD outside the block")
	}
	st.step(t, [][]float64{frugalGrad(2, rows*cols)})
	g3 := frugalGrad(3, rows*cols)
	st.step(t, [][]float64{g3})
	m = stateOf(t, st, "/optimizers/frugal/w/exp_avg")
	for i := range m {
		require.InDelta(t, 0.1*g3[2*cols+i], m[i], 1e-15, "reset moments of rows 2-3 at the change")
	}
}

// Random rows: distinct, in range, kept between changes; SVD: an orthonormal projector; and the
// update of a full-density FRUGAL is AdamW's.
func TestFRUGALRandomAndSVD(t *testing.T) {
	const rows, cols = 12, 5
	w := tensorSpec{Name: "w", Shape: []int{rows, cols}, Values: make([]float64, rows*cols)}
	store := newStore(t, dtypes.Float64, []tensorSpec{w}, map[string]any{
		optimizers.ParamFRUGALProjection: "random", optimizers.ParamFRUGALUpdateGap: 3, optimizers.ParamFRUGALSeed: 7})
	st := newStepper(t, store, newOptimizer(t, store, "frugal"), dtypes.Float64)
	var picks [][]int32
	for step := 1; step <= 4; step++ {
		st.step(t, [][]float64{frugalGrad(step, rows*cols)})
		idx := tensors.MustCopyFlatData[int32](store.GetVariable("/optimizers/frugal/w/rows").MustValue())
		require.Len(t, idx, 3) // ⌈0.25·12⌉
		seen := map[int32]bool{}
		for _, i := range idx {
			require.True(t, i >= 0 && i < rows && !seen[i], "rows %v", idx)
			seen[i] = true
		}
		picks = append(picks, idx)
	}
	require.Equal(t, picks[0], picks[1])
	require.Equal(t, picks[0], picks[2])

	store = newStore(t, dtypes.Float64, []tensorSpec{w}, map[string]any{optimizers.ParamFRUGALProjection: "svd"})
	st = newStepper(t, store, newOptimizer(t, store, "frugal"), dtypes.Float64)
	st.step(t, [][]float64{frugalGrad(1, rows*cols)})
	p := stateOf(t, st, "/optimizers/frugal/w/projector") // right: [⌈0.25·5⌉ = 2, 5]
	require.Len(t, p, 2*cols)
	for a := range 2 {
		for b := range 2 {
			d := 0.0
			for j := range cols {
				d += p[a*cols+j] * p[b*cols+j]
			}
			require.InDelta(t, map[bool]float64{true: 1, false: 0}[a == b], d, 1e-12)
		}
	}

	// Density 1 with blocks: every row is state-full, so FRUGAL is AdamW (decay off).
	run := func(name string, params map[string]any) []float64 {
		store := newStore(t, dtypes.Float64, []tensorSpec{w}, params)
		st := newStepper(t, store, newOptimizer(t, store, name), dtypes.Float64)
		for step := 1; step <= 5; step++ {
			st.step(t, [][]float64{frugalGrad(step, rows*cols)})
		}
		return st.values()[0]
	}
	full := run("frugal", map[string]any{optimizers.ParamFRUGALDensity: 1.0, optimizers.ParamFRUGALUpdateGap: 1000})
	adamw := run("adamw", map[string]any{optimizers.ParamWeightDecay: 0.0})
	require.InDeltaSlice(t, adamw, full, 1e-15)
}
