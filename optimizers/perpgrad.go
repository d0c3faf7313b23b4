package optimizers

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/support/exceptions"
)

// PerpGrad is ⊥Grad (OrthoGrad), a wrapper that makes any optimizer step orthogonally to the
// weights: before the inner optimizer sees them, each gradient loses its component along its
// weight tensor (flattened) and is rescaled to its original norm (see OrthogonalizeGradient).
//
// Paper: Prieto, Barsbey, Mediano & Birdal, "Grokking at the Edge of Numerical Stability",
// ICLR 2025, arXiv:2501.04697.
// Reference code: LucasPrietoAl/grokking-at-the-edge-of-numerical-stability orthograd.py
// (commit 0cc9e8dc).
//
// Rule, per tensor: ĝ = g − (⟨w,g⟩/(⟨w,w⟩+1e-30))·w; g ← ĝ·‖g‖/(‖ĝ‖+1e-30); then the inner
// optimizer's step with g. No state of its own.
//
// Registered as "perpgrad" (inner optimizer from the "perpgrad_base" param, default "adamw"),
// "perpgrad+adamw", "perpgrad+sgd"; New also accepts "perpgrad+NAME" for any optimizer NAME
// that accepts gradients (train.OptimizeWithGradients).
//
// Deviations: the paper's training script builds the base optimizer with only lr and
// weight_decay and then loads another optimizer's state dict into the wrapper, so its base
// AdamW silently runs with torch's default betas/eps; here the inner optimizer runs with the
// hyperparameters it is given.
type PerpGrad struct {
	inner     Interface
	withGrads gtrain.OptimizeWithGradients
	name      string
}

// NewPerpGrad wraps inner, which must accept gradients (train.OptimizeWithGradients; every
// moeboost optimizer and GoMLX's sgd/adam do).
func NewPerpGrad(inner Interface) (*PerpGrad, error) {
	wg, ok := inner.(gtrain.OptimizeWithGradients)
	if !ok {
		return nil, fmt.Errorf("perpgrad: the inner optimizer %T does not accept gradients (train.OptimizeWithGradients)", inner)
	}
	name := "?"
	if n, ok := inner.(interface{ Name() string }); ok {
		name = n.Name()
	}
	return &PerpGrad{inner: inner, withGrads: wg, name: "perpgrad+" + name}, nil
}

// Name is "perpgrad+<inner name>".
func (o *PerpGrad) Name() string { return o.name }

// Inner returns the wrapped optimizer.
func (o *PerpGrad) Inner() Interface { return o.inner }

// UpdateGraph implements optimizer.Interface.
func (o *PerpGrad) UpdateGraph(scope *model.Scope, g *Graph, loss *Node) {
	if !loss.Shape().IsScalar() {
		exceptions.Panicf("optimizer %s: the loss must be a scalar, got shape %s", o.name, loss.Shape())
	}
	o.UpdateGraphWithGradients(scope, scope.BuildTrainableVariablesGradientsGraph(loss), loss.DType())
}

// UpdateGraphWithGradients implements train.OptimizeWithGradients.
func (o *PerpGrad) UpdateGraphWithGradients(scope *model.Scope, grads []*Node, lossDType dtypes.DType) {
	if len(grads) == 0 {
		exceptions.Panicf("optimizer %s: no gradients", o.name)
	}
	g := grads[0].Graph()
	vars := trainableInUse(scope, g)
	if len(vars) != len(grads) {
		exceptions.Panicf("optimizer %s: %d gradients for %d trainable variables in use", o.name, len(grads), len(vars))
	}
	u := &Update{Graph: g}
	out := make([]*Node, len(grads))
	for i, v := range vars {
		gr := grads[i]
		w := v.NodeValue(g)
		if w.DType() != gr.DType() {
			w = ConvertDType(w, gr.DType())
		}
		u.DType = gr.DType()
		out[i] = orthogonalize(u, w, gr) // ĝ·‖g‖/‖ĝ‖
	}
	o.withGrads.UpdateGraphWithGradients(scope, out, lossDType)
}

// Clear implements optimizer.Interface (the inner optimizer's state).
func (o *PerpGrad) Clear(scope *model.Scope) error { return o.inner.Clear(scope) }

// DefaultLearningRate is the inner optimizer's.
func (o *PerpGrad) DefaultLearningRate() float64 {
	if d, ok := o.inner.(interface{ DefaultLearningRate() float64 }); ok {
		return d.DefaultLearningRate()
	}
	return 0
}

// StatePaths are the inner optimizer's (⊥Grad itself has no state).
func (o *PerpGrad) StatePaths() []string {
	if s, ok := o.inner.(interface{ StatePaths() []string }); ok {
		return s.StatePaths()
	}
	return nil
}

// ParamPerpGradBase names the optimizer "perpgrad" wraps.
const ParamPerpGradBase = "perpgrad_base"

// perpGradPrefix is the name prefix New resolves as a ⊥Grad wrapper around the rest.
const perpGradPrefix = "perpgrad+"

func newPerpGradByName(scope *model.Scope, base string) (Interface, error) {
	if base == "" || strings.HasPrefix(base, "perpgrad") {
		return nil, fmt.Errorf("perpgrad: base optimizer %q must name another optimizer", base)
	}
	inner, err := New(scope, base)
	if err != nil {
		return nil, fmt.Errorf("perpgrad: %w", err)
	}
	return NewPerpGrad(inner)
}

func init() {
	declare(ParamPerpGradBase, "adamw", "perpgrad: the optimizer ⊥Grad wraps")
	Register("perpgrad", func(scope *model.Scope) (Interface, error) {
		r := newParamReader(scope, "perpgrad")
		base := r.str(ParamPerpGradBase, "adamw")
		if err := r.err(); err != nil {
			return nil, err
		}
		return newPerpGradByName(scope, base)
	})
	for _, base := range []string{"adamw", "sgd"} {
		Register(perpGradPrefix+base, func(scope *model.Scope) (Interface, error) { return newPerpGradByName(scope, base) })
	}
}
