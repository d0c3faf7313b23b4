package optimizers_test

import (
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/stretchr/testify/require"
)

// TestIndependentWeightDecay: with zero gradients AdamW's step is zero, so only the decay acts:
// independent decay shrinks by s_t·wd (s_t = lr_t / base lr), AdamW's by lr_t·wd; biases
// (rank 1) are not decayed.
func TestIndependentWeightDecay(t *testing.T) {
	const lr, wd = 0.01, 0.1
	for _, tc := range []struct {
		name        string
		independent bool
		lrNow       float64 // the learning-rate variable at the step (schedule applied)
		factor      float64 // expected p_new / p
	}{
		{"independent, peak", true, lr, 1 - wd},
		{"independent, schedule 0.5", true, lr / 2, 1 - 0.5*wd},
		{"independent, schedule 0", true, 0, 1},
		{"adamw, peak", false, lr, 1 - lr*wd},
		{"adamw, schedule 0.5", false, lr / 2, 1 - lr/2*wd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w0, b0 := []float64{1, -2, 3, 0.5}, []float64{4, -4}
			store := newStore(t, dtypes.Float64, []tensorSpec{{"w", []int{2, 2}, w0}, {"b", []int{2}, b0}}, nil)
			opt, err := optimizers.NewAdamW(optimizers.AdamWConfig{LearningRate: lr, WeightDecay: optimizers.Ptr(wd),
				IndependentDecay: tc.independent, Groups: optimizers.GroupConfig{Quiet: true}})
			require.NoError(t, err)
			lrVar := optimizer.LearningRateVar(store.RootScope(), dtypes.Float64, lr)
			st := newStepper(t, store, opt, dtypes.Float64)
			require.NoError(t, lrVar.SetValue(makeTensor(dtypes.Float64, []float64{tc.lrNow}, nil)))
			st.step(t, [][]float64{make([]float64, 4), make([]float64, 2)})
			got := st.values()
			for i := range w0 {
				require.InDelta(t, w0[i]*tc.factor, got[0][i], 1e-12)
			}
			require.Equal(t, b0, got[1])
		})
	}
	_, err := optimizers.NewAdamW(optimizers.AdamWConfig{L2: true, IndependentDecay: true})
	require.ErrorContains(t, err, "adam_l2=true and independent_weight_decay=true exclude each other")
}

// TestScaleLearningRate: Adam's first step is lr·sign(g) (up to ε); a per-parameter scale
// multiplies it (μParam's per-layer learning rates).
func TestScaleLearningRate(t *testing.T) {
	const lr = 0.1
	w0, b0 := []float64{1, 1, 1, 1}, []float64{0, 0}
	store := newStore(t, dtypes.Float64, []tensorSpec{{"w", []int{2, 2}, w0}, {"b", []int{2}, b0}}, nil)
	opt, err := optimizers.NewAdamW(optimizers.AdamWConfig{LearningRate: lr, WeightDecay: optimizers.Ptr(0.0),
		LRScale: func(path string, shape shapes.Shape) float64 {
			if strings.HasSuffix(path, "/w") && shape.Rank() == 2 {
				return 0.25
			}
			return 1
		}})
	require.NoError(t, err)
	st := newStepper(t, store, opt, dtypes.Float64)
	st.step(t, [][]float64{{1, -2, 3, -4}, {5, -6}})
	got := st.values()
	for i, s := range []float64{1, -1, 1, -1} {
		require.InDelta(t, w0[i]-0.25*lr*s, got[0][i], 1e-7)
	}
	require.InDelta(t, -lr, got[1][0], 1e-7)
	require.InDelta(t, lr, got[1][1], 1e-7)
}
