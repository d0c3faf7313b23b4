package moelm

import (
	"iter"
	"math/rand/v2"

	"github.com/gomlx/gomlx/core/tensors"
	gtrain "github.com/gomlx/gomlx/ml/train"
)

// Windows yields training batches of random windows: inputs ids[i:i+S], labels ids[i+1:i+S+1]
// ([B, S] int32 each), forever, from a seeded generator; SetStep positions it (resumable).
type Windows struct {
	ids        []int32
	batch, seq int
	seed       uint64
	step       int64
}

// NewWindows returns the training dataset over ids.
func NewWindows(ids []int32, batch, seq int, seed uint64) *Windows {
	return &Windows{ids: ids, batch: batch, seq: seq, seed: seed}
}

// Name implements train.Dataset.
func (w *Windows) Name() string { return "windows" }

// SetStep makes the next batch the one an uninterrupted run would see at step s.
func (w *Windows) SetStep(s int64) { w.step = s }

// Iter implements train.Dataset.
func (w *Windows) Iter() iter.Seq2[gtrain.Batch, error] {
	return func(yield func(gtrain.Batch, error) bool) {
		for {
			r := rand.New(rand.NewPCG(w.seed, uint64(w.step)))
			w.step++
			x := make([]int32, w.batch*w.seq)
			y := make([]int32, w.batch*w.seq)
			for b := range w.batch {
				start := r.IntN(len(w.ids) - w.seq - 1)
				copy(x[b*w.seq:], w.ids[start:start+w.seq])
				copy(y[b*w.seq:], w.ids[start+1:start+w.seq+1])
			}
			if !yield(gtrain.Batch{Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, w.batch, w.seq)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(y, w.batch, w.seq)}}, nil) {
				return
			}
		}
	}
}

// EvalWindows yields the consecutive non-overlapping windows of ids once, in full batches
// only (the tail that does not fill a batch is left out, so every batch mean has equal weight).
type EvalWindows struct {
	ids        []int32
	batch, seq int
}

// NewEvalWindows returns the evaluation dataset over ids.
func NewEvalWindows(ids []int32, batch, seq int) *EvalWindows {
	return &EvalWindows{ids: ids, batch: batch, seq: seq}
}

// Name implements train.Dataset.
func (w *EvalWindows) Name() string { return "eval-windows" }

// Iter implements train.Dataset.
func (w *EvalWindows) Iter() iter.Seq2[gtrain.Batch, error] {
	return func(yield func(gtrain.Batch, error) bool) {
		n := (len(w.ids) - 1) / w.seq // windows
		for b0 := 0; b0+w.batch <= n; b0 += w.batch {
			x := make([]int32, w.batch*w.seq)
			y := make([]int32, w.batch*w.seq)
			for b := range w.batch {
				start := (b0 + b) * w.seq
				copy(x[b*w.seq:], w.ids[start:start+w.seq])
				copy(y[b*w.seq:], w.ids[start+1:start+w.seq+1])
			}
			if !yield(gtrain.Batch{Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, w.batch, w.seq)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(y, w.batch, w.seq)}}, nil) {
				return
			}
		}
	}
}
