package augment

import (
	"fmt"
	"iter"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	gtrain "github.com/gomlx/gomlx/ml/train"
)

// Dataset is the batch-pipeline hook: a GoMLX train.Dataset that yields the batches of an
// inner training dataset with its first input (float32 [B, H·W·C] or [B, H, W(, C)] images in
// the augmenter's Format) augmented. Labels and any further inputs pass through untouched.
// Use it for training sets only; evaluation sets stay clean.
//
// The batch at global step s is augmented with seed splitmix64(seed ⊕ splitmix64(s)), so the
// augmentation is deterministic per (seed, step). SetStep positions the wrapper (and the inner
// dataset, when it is resumable like data.Batches) for resuming, which makes Dataset a
// train.Resumable: train.Run's checkpoints keep working.
type Dataset struct {
	inner gtrain.Dataset
	aug   Augmenter
	seed  uint64
	step  int64
}

// NewDataset wraps inner (usually data.NewTrainBatches) with aug.
func NewDataset(inner gtrain.Dataset, aug Augmenter, seed uint64) *Dataset {
	return &Dataset{inner: inner, aug: aug, seed: seed}
}

// Name implements train.Dataset.
func (d *Dataset) Name() string { return d.inner.Name() + "+" + d.aug.String() }

// SetStep positions the dataset at global step s (forwarded to the inner dataset if it has
// SetStep).
func (d *Dataset) SetStep(s int64) {
	d.step = s
	if r, ok := d.inner.(interface{ SetStep(int64) }); ok {
		r.SetStep(s)
	}
}

// Iter implements train.Dataset.
func (d *Dataset) Iter() iter.Seq2[gtrain.Batch, error] {
	return func(yield func(gtrain.Batch, error) bool) {
		for b, err := range d.inner.Iter() {
			if err == nil {
				err = d.augment(&b)
			}
			if !yield(b, err) || err != nil {
				return
			}
		}
	}
}

func (d *Dataset) augment(b *gtrain.Batch) error {
	if len(b.Inputs) == 0 {
		return fmt.Errorf("augment: batch at step %d has no inputs to augment", d.step)
	}
	x := b.Inputs[0]
	if x.DType() != dtypes.Float32 {
		return fmt.Errorf("augment: images must be float32, got %s", x.DType())
	}
	dims := x.Shape().Dimensions
	if len(dims) < 2 {
		return fmt.Errorf("augment: images must be [batch, ...], got shape %v", dims)
	}
	if per := x.Size() / dims[0]; per != d.aug.Format().ImageSize() {
		f := d.aug.Format()
		return fmt.Errorf("augment: each example has %d features, the %dx%dx%d image format needs %d", per, f.Height, f.Width, f.channels(), f.ImageSize())
	}
	xs, err := tensors.CopyFlatData[float32](x)
	if err != nil {
		return err
	}
	if err := d.aug.Augment(xs, splitmix64(d.seed^splitmix64(uint64(d.step)))); err != nil {
		return err
	}
	d.step++
	_ = x.FinalizeAll()
	b.Inputs[0] = tensors.FromFlatDataAndDimensions(xs, dims...)
	return nil
}
