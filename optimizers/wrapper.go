package optimizers

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Wrapper is the plumbing shared by optimizers that rewrite each gradient before an inner
// optimizer steps (⊥Grad here, the pruning masks of train/prune). Embedded, it supplies Name,
// Inner, Clear, DefaultLearningRate and StatePaths from the inner optimizer, and
// StepWithGradients pairs every gradient with its variable, maps it and steps the inner one.
type Wrapper struct {
	inner     Interface
	withGrads gtrain.OptimizeWithGradients
	name      string
}

// NewWrapper wraps inner under the name prefix + inner's name ("?" when it has none).
func NewWrapper(prefix string, inner Interface) Wrapper {
	w := Wrapper{inner: inner, name: prefix + "?"}
	w.withGrads, _ = inner.(gtrain.OptimizeWithGradients)
	if n, ok := inner.(interface{ Name() string }); ok {
		w.name = prefix + n.Name()
	}
	return w
}

// Name is the prefix followed by the inner optimizer's name.
func (w *Wrapper) Name() string { return w.name }

// Inner returns the wrapped optimizer.
func (w *Wrapper) Inner() Interface { return w.inner }

// AcceptsGradients reports whether the inner optimizer takes precomputed gradients
// (train.OptimizeWithGradients; every moeboost optimizer and GoMLX's sgd/adam do).
func (w *Wrapper) AcceptsGradients() bool { return w.withGrads != nil }

// Clear implements optimizer.Interface (the inner optimizer's state).
func (w *Wrapper) Clear(scope *model.Scope) error { return w.inner.Clear(scope) }

// DefaultLearningRate is the inner optimizer's (0 when it does not say).
func (w *Wrapper) DefaultLearningRate() float64 {
	if d, ok := w.inner.(interface{ DefaultLearningRate() float64 }); ok {
		return d.DefaultLearningRate()
	}
	return 0
}

// StatePaths are the inner optimizer's (the wrapper keeps no state of its own).
func (w *Wrapper) StatePaths() []string {
	if s, ok := w.inner.(interface{ StatePaths() []string }); ok {
		return s.StatePaths()
	}
	return nil
}

// CheckLoss panics unless loss is a scalar.
func (w *Wrapper) CheckLoss(loss *Node) {
	if !loss.Shape().IsScalar() {
		exceptions.Panicf("optimizer %s: the loss must be a scalar, got shape %s", w.name, loss.Shape())
	}
}

// StepWithGradients replaces each gradient (in the order of scope's trainable variables in use
// by the graph, as train.OptimizeWithGradients passes them) by f(variable, gradient) and hands
// the result to the inner optimizer.
func (w *Wrapper) StepWithGradients(scope *model.Scope, grads []*Node, lossDType dtypes.DType, f func(v *model.Variable, grad *Node) *Node) {
	if w.withGrads == nil {
		exceptions.Panicf("optimizer %s: the inner optimizer %T does not accept gradients", w.name, w.inner)
	}
	if len(grads) == 0 {
		exceptions.Panicf("optimizer %s: no gradients", w.name)
	}
	vars := TrainableInUse(scope, grads[0].Graph())
	if len(vars) != len(grads) {
		exceptions.Panicf("optimizer %s: %d gradients for %d trainable variables in use", w.name, len(grads), len(vars))
	}
	out := make([]*Node, len(grads))
	for i, v := range vars {
		out[i] = f(v, grads[i])
	}
	w.withGrads.UpdateGraphWithGradients(scope, out, lossDType)
}
