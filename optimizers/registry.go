package optimizers

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/moeboost/moeboost/internal/registry"
)

// Interface is GoMLX's optimizer interface, which every registered optimizer implements.
type Interface = optimizer.Interface

// Factory builds an optimizer from the hyperparameters in the scope's store (params such as
// "learning_rate" or "beta1"), validating them: a bad value is an error naming the value
// and what is allowed, returned before any graph is built.
type Factory func(scope *model.Scope) (optimizer.Interface, error)

var optimizersRegistry = registry.NewKind[Factory]("optimizer")

// Register makes an optimizer available by name (lower snake_case), from an init function.
// It panics if the name is already registered. The optimizer is also added to GoMLX's
// optimizer.KnownOptimizers (replacing GoMLX's entry of the same name, e.g. "adamw" and "sgd"),
// so GoMLX's own "optimizer" store parameter finds it (there a bad hyperparameter panics,
// GoMLX's convention; moeboost's New returns the error instead).
func Register(name string, factory Factory) {
	optimizersRegistry.Register(name, factory)
	optimizer.KnownOptimizers[name] = func(scope *model.Scope) optimizer.Interface {
		opt, err := factory(scope)
		if err != nil {
			panic(err)
		}
		return opt
	}
}

// Names returns the names of moeboost's registered optimizers, sorted.
func Names() []string { return optimizersRegistry.Names() }

// New returns the optimizer registered under name, configured from the scope's store params.
// "perpgrad+NAME" wraps any optimizer NAME in ⊥Grad. Names registered only in GoMLX's
// optimizer.KnownOptimizers (e.g. "adam", "rmsprop") are accepted too. An unknown name is an
// error listing every known name.
func New(scope *model.Scope, name string) (opt optimizer.Interface, err error) {
	if factory, ferr := optimizersRegistry.Get(name); ferr == nil {
		return factory(scope)
	}
	if base, ok := strings.CutPrefix(name, perpGradPrefix); ok {
		return newPerpGradByName(scope, base)
	}
	gomlxFactory, ok := optimizer.KnownOptimizers[name]
	if !ok {
		known := Names()
		for k := range optimizer.KnownOptimizers {
			if !slices.Contains(known, k) {
				known = append(known, k)
			}
		}
		slices.Sort(known)
		return nil, fmt.Errorf("unknown optimizer %q: known optimizers are %q", name, known)
	}
	defer func() {
		if r := recover(); r != nil {
			opt, err = nil, fmt.Errorf("optimizer %q: %v", name, r)
		}
	}()
	return gomlxFactory(scope), nil
}

// FromStore returns the optimizer named by the store's "optimizer" param (default "adamw").
func FromStore(store *model.Store) (optimizer.Interface, error) {
	scope := store.RootScope()
	return New(scope, model.GetParamOr(scope, optimizer.ParamOptimizer, "adamw"))
}
