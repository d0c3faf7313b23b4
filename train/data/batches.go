package data

import (
	"fmt"
	"iter"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/train"
)

// Batches is a GoMLX train.Dataset over a Table. Each batch yields inputs [x] (features
// [B, D] in DType) — or [x, index] with WithIndices, where index is the int32 [B] row number
// in the table (for per-sample state such as PS-KD's prediction memory) — and labels [y]:
// int32 [B, 1] class ids for classification, DType [B, 1] targets for regression.
//
// For training (Loop mode) it runs forever: epoch e visits the rows in a permutation drawn
// from (seed, e), in full batches only (static shapes, no recompilation). The batch served
// at global step s depends on (seed, s) alone, so a resumed run that calls SetStep(s) sees
// exactly the batches an uninterrupted run would.
//
// For evaluation (Once mode) it yields every row once, in table order, the last batch possibly
// smaller.
type Batches struct {
	t           *Table
	batchSize   int
	seed        uint64
	dtype       dtypes.DType
	loop        bool
	withIndices bool
	step        int64

	permEpoch int64
	perm      []int
}

// NewTrainBatches returns an endless shuffled Batches (see type doc). batchSize larger than
// the table is clamped to the table size.
func NewTrainBatches(t *Table, batchSize int, seed uint64) (*Batches, error) {
	if err := checkBatch(t, batchSize); err != nil {
		return nil, err
	}
	return &Batches{t: t, batchSize: min(batchSize, t.N), seed: seed, dtype: dtypes.Float32, loop: true, permEpoch: -1}, nil
}

// NewEvalBatches returns a Batches that yields every row once, in order.
func NewEvalBatches(t *Table, batchSize int) (*Batches, error) {
	if err := checkBatch(t, batchSize); err != nil {
		return nil, err
	}
	return &Batches{t: t, batchSize: min(batchSize, t.N), dtype: dtypes.Float32, permEpoch: -1}, nil
}

func checkBatch(t *Table, batchSize int) error {
	if t == nil || t.N == 0 {
		return fmt.Errorf("dataset is empty")
	}
	if batchSize < 1 {
		return fmt.Errorf("batch size %d must be >= 1", batchSize)
	}
	return nil
}

// WithDType sets the dtype of the features (and regression targets); default float32.
func (b *Batches) WithDType(dtype dtypes.DType) *Batches { b.dtype = dtype; return b }

// WithIndices adds the int32 [B] row indices as a second input.
func (b *Batches) WithIndices() *Batches { b.withIndices = true; return b }

// SetStep positions a training Batches at global step s (for resuming).
func (b *Batches) SetStep(s int64) { b.step = s }

// Step returns the global step of the next training batch.
func (b *Batches) Step() int64 { return b.step }

// Table returns the underlying table.
func (b *Batches) Table() *Table { return b.t }

// BatchSize returns the (clamped) batch size.
func (b *Batches) BatchSize() int { return b.batchSize }

// StepsPerEpoch is the number of full batches in one pass over the table.
func (b *Batches) StepsPerEpoch() int { return b.t.N / b.batchSize }

// Name implements train.Dataset.
func (b *Batches) Name() string { return b.t.Name }

// Iter implements train.Dataset.
func (b *Batches) Iter() iter.Seq2[train.Batch, error] {
	return func(yield func(train.Batch, error) bool) {
		if b.loop {
			for {
				idx := b.trainIndices(b.step)
				b.step++
				if !yield(b.make(idx), nil) {
					return
				}
			}
		}
		for start := 0; start < b.t.N; start += b.batchSize {
			end := min(start+b.batchSize, b.t.N)
			idx := make([]int, end-start)
			for i := range idx {
				idx[i] = start + i
			}
			if !yield(b.make(idx), nil) {
				return
			}
		}
	}
}

// trainIndices returns the rows of the batch at global step s.
func (b *Batches) trainIndices(s int64) []int {
	spe := int64(b.StepsPerEpoch())
	epoch, k := s/spe, int(s%spe)
	if epoch != b.permEpoch {
		b.perm = Rand(b.seed ^ uint64(epoch)*0x9e3779b97f4a7c15).Perm(b.t.N)
		b.permEpoch = epoch
	}
	return b.perm[k*b.batchSize : (k+1)*b.batchSize]
}

func (b *Batches) make(idx []int) train.Batch {
	n, d := len(idx), b.t.D
	var x, y *tensors.Tensor
	switch b.dtype {
	case dtypes.Float64:
		xs := make([]float64, 0, n*d)
		for _, i := range idx {
			xs = append(xs, b.t.Row(i)...)
		}
		x = tensors.FromFlatDataAndDimensions(xs, n, d)
	default:
		xs := make([]float32, 0, n*d)
		for _, i := range idx {
			for _, v := range b.t.Row(i) {
				xs = append(xs, float32(v))
			}
		}
		x = tensors.FromFlatDataAndDimensions(xs, n, d)
	}
	if b.t.Task == Classification {
		ys := make([]int32, n)
		for k, i := range idx {
			ys[k] = int32(b.t.Y[i])
		}
		y = tensors.FromFlatDataAndDimensions(ys, n, 1)
	} else if b.dtype == dtypes.Float64 {
		ys := make([]float64, n)
		for k, i := range idx {
			ys[k] = b.t.Y[i]
		}
		y = tensors.FromFlatDataAndDimensions(ys, n, 1)
	} else {
		ys := make([]float32, n)
		for k, i := range idx {
			ys[k] = float32(b.t.Y[i])
		}
		y = tensors.FromFlatDataAndDimensions(ys, n, 1)
	}
	inputs := []*tensors.Tensor{x}
	if b.withIndices {
		is := make([]int32, n)
		for k, i := range idx {
			is[k] = int32(i)
		}
		inputs = append(inputs, tensors.FromFlatDataAndDimensions(is, n))
	}
	return train.Batch{Inputs: inputs, Labels: []*tensors.Tensor{y}}
}
