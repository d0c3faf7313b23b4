package prune

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
)

// Optimizer wraps an optimizer so that pruned weights stay exactly zero: at every step, the
// gradient of each masked variable is multiplied by its mask before the inner optimizer sees
// it, and after the inner optimizer's update the variable is multiplied by its mask again.
// The masks are read from the store (see MaskScope) when the graph is built, so a run resumed
// from a checkpoint keeps them; variables without a mask are updated as by the inner optimizer.
//
// Paper: Minegishi, Iwasawa & Matsuo, "Bridging Lottery Ticket and Grokking: Understanding
// Grokking from Inner Structure of Networks" (Grokking Tickets), arXiv:2310.19470.
// Reference code: gouki510/Grokking-Tickets model.py (every layer computes with
// weight_mask ⊙ W).
//
// Rule, per masked variable W with mask M: g ← M ⊙ ∂L/∂W (the gradient the official
// forward mask gives: W = M ⊙ W at every step, so L(W) = L(M ⊙ W)); W ← M ⊙ inner(W, g).
// With an elementwise optimizer (SGD, Adam, AdamW with decoupled weight decay) a weight that
// starts at zero with a zero gradient never moves, so the final multiplication changes
// nothing; it guards optimizers that mix elements or carry old state.
//
// Deviations: in train.Run, gradient clipping by global norm (train.Config.ClipGlobalNorm)
// happens before this wrapper, so masked gradients still count in the norm (the official code
// does not clip).
type Optimizer struct {
	optimizers.Wrapper
}

// NewOptimizer wraps inner.
func NewOptimizer(inner optimizer.Interface) *Optimizer {
	return &Optimizer{Wrapper: optimizers.NewWrapper("masked+", inner)}
}

// maskNode returns the mask of v in graph g in v's dtype, or nil when v has none.
func maskNode(store *model.Store, g *Graph, v *model.Variable) *Node {
	mv := store.GetVariable(MaskPath(v.Path()))
	if mv == nil {
		return nil
	}
	mv.SetTrainable(false) // a checkpoint restores variables as trainable: masks never are
	if !mv.Shape().Equal(v.Shape()) {
		exceptions.Panicf("prune: mask %s has shape %s but %s has %s", mv.Path(), mv.Shape(), v.Path(), v.Shape())
	}
	m := StopGradient(mv.NodeValue(g))
	if m.DType() != v.DType() {
		m = ConvertDType(m, v.DType())
	}
	return m
}

// UpdateGraph implements optimizer.Interface.
func (o *Optimizer) UpdateGraph(scope *model.Scope, g *Graph, loss *Node) {
	o.CheckLoss(loss)
	if !o.AcceptsGradients() {
		// The inner optimizer computes its own gradients: only the projection applies.
		o.Inner().UpdateGraph(scope, g, loss)
		o.project(scope, g)
		return
	}
	o.UpdateGraphWithGradients(scope, scope.BuildTrainableVariablesGradientsGraph(loss), loss.DType())
}

// UpdateGraphWithGradients implements train.OptimizeWithGradients.
func (o *Optimizer) UpdateGraphWithGradients(scope *model.Scope, grads []*Node, lossDType dtypes.DType) {
	store := scope.Store()
	o.StepWithGradients(scope, grads, lossDType, func(v *model.Variable, gr *Node) *Node {
		m := maskNode(store, gr.Graph(), v)
		if m == nil {
			return gr
		}
		if m.DType() != gr.DType() {
			m = ConvertDType(m, gr.DType())
		}
		return Mul(gr, m) // g ← M ⊙ g
	})
	if len(grads) > 0 {
		o.project(scope, grads[0].Graph())
	}
}

// project sets W ← M ⊙ W for every masked trainable variable in use.
func (o *Optimizer) project(scope *model.Scope, g *Graph) {
	store := scope.Store()
	for _, v := range optimizers.TrainableInUse(scope, g) {
		if m := maskNode(store, g, v); m != nil {
			w := v.NodeValue(g)
			v.SetNodeValue(Where(NotEqual(m, ZerosLike(m)), w, ZerosLike(w))) // W ← M ⊙ W, pruned entries +0
		}
	}
}

// ParamMaskedBase names the optimizer that "masked" wraps.
const ParamMaskedBase = "masked_base"

func newByName(scope *model.Scope, base string) (optimizer.Interface, error) {
	if base == "" || strings.HasPrefix(base, "masked") {
		return nil, fmt.Errorf("prune: masked_base=%q must name another optimizer, one of %q", base, optimizers.Names())
	}
	inner, err := optimizers.New(scope, base)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	return NewOptimizer(inner), nil
}

func init() {
	train.DeclareParam(ParamMaskedBase, "adamw", "prune: the optimizer that \"masked\" wraps (pruned weights stay zero)")
	optimizers.Register("masked", func(scope *model.Scope) (optimizer.Interface, error) {
		base := "adamw"
		if scope != nil {
			base = model.GetParamOr(scope, ParamMaskedBase, base)
		}
		return newByName(scope, base)
	})
	for _, base := range []string{"adamw", "sgd"} {
		optimizers.Register("masked+"+base, func(scope *model.Scope) (optimizer.Interface, error) {
			return newByName(scope, base)
		})
	}
}
