package optimizers

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
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
	Wrapper
}

// NewPerpGrad wraps inner, which must accept gradients (train.OptimizeWithGradients; every
// moeboost optimizer and GoMLX's sgd/adam do).
func NewPerpGrad(inner Interface) (*PerpGrad, error) {
	w := NewWrapper("perpgrad+", inner)
	if !w.AcceptsGradients() {
		return nil, fmt.Errorf("perpgrad: the inner optimizer %T does not accept gradients (train.OptimizeWithGradients)", inner)
	}
	return &PerpGrad{Wrapper: w}, nil
}

// UpdateGraph implements optimizer.Interface.
func (o *PerpGrad) UpdateGraph(scope *model.Scope, g *Graph, loss *Node) {
	o.CheckLoss(loss)
	o.UpdateGraphWithGradients(scope, scope.BuildTrainableVariablesGradientsGraph(loss), loss.DType())
}

// UpdateGraphWithGradients implements train.OptimizeWithGradients.
func (o *PerpGrad) UpdateGraphWithGradients(scope *model.Scope, grads []*Node, lossDType dtypes.DType) {
	o.StepWithGradients(scope, grads, lossDType, func(v *model.Variable, gr *Node) *Node {
		w := v.NodeValue(gr.Graph())
		if w.DType() != gr.DType() {
			w = ConvertDType(w, gr.DType())
		}
		return orthogonalize(&Update{Graph: gr.Graph(), DType: gr.DType()}, w, gr) // ĝ·‖g‖/‖ĝ‖
	})
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
