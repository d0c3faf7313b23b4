package certified_test

import (
	"testing"

	"github.com/moeboost/moeboost/certified"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func digits(t *testing.T) (x []float32, y []int32) {
	tab, err := data.Builtin("digits")
	require.NoError(t, err)
	x = make([]float32, len(tab.X))
	for i, v := range tab.X {
		x[i] = float32(v / 16) // pixel values 0..16 → [0, 1]
	}
	y = make([]int32, tab.N)
	for i, v := range tab.Y {
		y[i] = int32(v)
	}
	return x, y
}

// A short IBP run on digits learns (clean accuracy well above chance), verified accuracy never
// exceeds clean accuracy, and at ε = 0 every correct example is verified.
func TestTrainerLearnsDigits(t *testing.T) {
	x, y := digits(t)
	const n, batch = 1024, 64
	for _, tc := range []struct {
		name string
		cfg  certified.MLPConfig
	}{
		{"bn-ibpinit", certified.MLPConfig{In: 64, Hidden: []int{32}, Classes: 10, BN: true, IBPInit: true}},
		{"plain", certified.MLPConfig{In: 64, Hidden: []int{32}, Classes: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := certified.NewTrainer(backend.MustDefault(), tc.cfg, 1, 3e-3)
			require.NoError(t, err)
			defer tr.Close()
			var first, last float64
			for epoch := range 4 {
				for b := 0; b+batch <= n; b += batch {
					eps := 0.0
					if epoch > 0 {
						eps = 0.02 * float64(epoch)
					}
					loss, err := tr.Step(x[b*64:(b+batch)*64], y[b:b+batch], eps, 0.25)
					require.NoError(t, err)
					if epoch == 0 && b == 0 {
						first = loss
					}
					last = loss
				}
			}
			require.Less(t, last, first)
			clean, ver0, err := tr.Evaluate(x[n*64:], y[n:], 0)
			require.NoError(t, err)
			require.Greater(t, clean, 0.7)
			require.InDelta(t, clean, ver0, 1e-9)
			_, ver, err := tr.Evaluate(x[n*64:], y[n:], 0.06)
			require.NoError(t, err)
			require.LessOrEqual(t, ver, clean)
			require.Greater(t, ver, 0.1)
			t.Logf("%s: first loss %.3f last %.3f clean %.3f verified@0.06 %.3f", tc.name, first, last, clean, ver)
		})
	}
	_, err := certified.NewTrainer(backend.MustDefault(), certified.MLPConfig{In: 64, Classes: 10}, 1, 1e-3)
	require.ErrorContains(t, err, "no hidden layer")
	_, err = certified.NewTrainer(backend.MustDefault(), certified.MLPConfig{In: 64, Hidden: []int{0}, Classes: 10}, 1, 1e-3)
	require.ErrorContains(t, err, "hidden[0]=0")
	_, err = certified.NewTrainer(backend.MustDefault(), certified.MLPConfig{In: 64, Hidden: []int{4}, Classes: 10}, 1, 0)
	require.ErrorContains(t, err, "learning rate 0")
}
