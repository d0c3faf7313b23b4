package augment

import (
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func digitsTable(n int) *data.Table {
	x := digitsBatch(n, 11)
	t := &data.Table{Name: "toy", N: n, D: 64, Task: data.Classification, NumClasses: 3,
		X: make([]float64, len(x)), Y: make([]float64, n)}
	for i, v := range x {
		t.X[i] = float64(v)
	}
	for i := range n {
		t.Y[i] = float64(i % 3)
	}
	return t
}

// take returns the first k batches' images and labels.
func take(t *testing.T, ds gtrain.Dataset, k int) (xs [][]float32, ys [][]int32) {
	for b, err := range ds.Iter() {
		require.NoError(t, err)
		xs = append(xs, tensors.MustCopyFlatData[float32](b.Inputs[0]))
		ys = append(ys, tensors.MustCopyFlatData[int32](b.Labels[0]))
		if len(xs) == k {
			break
		}
	}
	return xs, ys
}

func TestDataset(t *testing.T) {
	tab := digitsTable(40)
	ra, err := New("randaugment", Digits, Config{N: 2, M: 9})
	require.NoError(t, err)
	mk := func(seed uint64) *Dataset {
		inner, err := data.NewTrainBatches(tab, 8, 1)
		require.NoError(t, err)
		return NewDataset(inner, ra, seed)
	}
	var _ train.Resumable = mk(1) // train.Run can checkpoint and resume it
	clean, err := data.NewTrainBatches(tab, 8, 1)
	require.NoError(t, err)
	cx, cy := take(t, clean, 6)
	ax, ay := take(t, mk(7), 6)
	bx, _ := take(t, mk(7), 6)
	ox, _ := take(t, mk(8), 6)
	require.Equal(t, cy, ay, "labels pass through")
	require.Equal(t, ax, bx, "deterministic per seed")
	require.NotEqual(t, ax, ox)
	for s := range 6 {
		require.NotEqual(t, cx[s], ax[s], "step %d is augmented", s)
		want := append([]float32(nil), cx[s]...)
		require.NoError(t, ra.Augment(want, splitmix64(7^splitmix64(uint64(s)))))
		require.Equal(t, want, ax[s], "step %d uses seed (7, %d)", s, s)
	}
	// Resuming at step 4 yields the uninterrupted run's batches 4 and 5 (and different
	// augmentations of the same rows at another step: epoch 1 revisits rows 0..39).
	r := mk(7)
	r.SetStep(4)
	rx, _ := take(t, r, 2)
	require.Equal(t, ax[4:6], rx)
	require.Contains(t, r.Name(), "randaugment(N=2, M=9)")
}

func TestDatasetErrors(t *testing.T) {
	tab := digitsTable(16)
	inner, err := data.NewTrainBatches(tab, 8, 1)
	require.NoError(t, err)
	small, err := New("identity", Format{Height: 4, Width: 4, Lo: 0, Hi: 16}, Config{})
	require.NoError(t, err)
	require.ErrorContains(t, firstErr(NewDataset(inner, small, 1)), "each example has 64 features, the 4x4x1 image format needs 16")
	inner64, err := data.NewTrainBatches(tab, 8, 1)
	require.NoError(t, err)
	ra, err := New("randaugment", Digits, Config{})
	require.NoError(t, err)
	require.ErrorContains(t, firstErr(NewDataset(inner64.WithDType(dtypes.Float64), ra, 1)), "images must be float32, got Float64")
}

func firstErr(ds gtrain.Dataset) error {
	for _, err := range ds.Iter() {
		return err
	}
	return nil
}
