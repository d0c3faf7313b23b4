// Package losses is the shared registry of training losses: one place where a loss is found
// by name ("-set loss=stablemax_ce"), used by train.Run, the benchmarks, the optimizers'
// grokking study and distill alike.
//
// A loss has GoMLX's train.LossFn signature: labels and predictions (usually logits) in, a
// scalar (or per-example, reduced by the trainer with a mean) loss out. The built-in entries
// wrap GoMLX's own losses; packages add theirs with Register from init.
package losses

import (
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/moeboost/moeboost/internal/registry"
)

// Fn is a loss function, GoMLX's loss.LossFn.
type Fn = loss.LossFn

// Factory builds a loss from the scope's store params (e.g. "huber_delta"), validating them.
type Factory func(scope *model.Scope) (Fn, error)

var lossRegistry = registry.NewKind[Factory]("loss")

// Register makes a loss available by name (lower snake_case), from an init function; it
// panics on a duplicate name.
func Register(name string, factory Factory) { lossRegistry.Register(name, factory) }

// Names returns the registered loss names, sorted.
func Names() []string { return lossRegistry.Names() }

// New returns the loss registered under name, configured from the scope's params; an unknown
// name is an error listing the known ones.
func New(scope *model.Scope, name string) (Fn, error) {
	f, err := lossRegistry.Get(name)
	if err != nil {
		return nil, err
	}
	return f(scope)
}

func fixed(fn Fn) Factory { return func(*model.Scope) (Fn, error) { return fn, nil } }

func init() {
	// Labels: int class ids [batch] or [batch,1]; predictions: logits [batch, classes].
	Register("cross_entropy", fixed(loss.SparseCategoricalCrossEntropyLogits))
	// Labels: {0,1} floats; predictions: logits, same shape.
	Register("binary_cross_entropy", fixed(loss.BinaryCrossentropyLogits))
	// Labels and predictions of the same shape.
	Register("mse", fixed(loss.MeanSquaredError))
	Register("mae", fixed(loss.MeanAbsoluteError))
	Register("huber", func(scope *model.Scope) (Fn, error) { return loss.MakeHuberLossFromScope(scope), nil })
}
