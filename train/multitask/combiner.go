package multitask

import (
	"fmt"
	"strings"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX graph-building style
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/moeboost/moeboost/internal/registry"
)

// StepGraph is what a Combiner sees of one training step's graph.
type StepGraph struct {
	// Rep is the shared representation Z = trunk(x), [B, D].
	Rep *Node
	// Losses holds the scalar loss L_t of each task (a function of Rep and its head).
	Losses []*Node
	// Vars are the trainable variables in the optimizer's order; Shared[i] tells whether Vars[i]
	// belongs to the shared trunk (the others belong to one head each).
	Vars   []*model.Variable
	Shared []bool
	// Order is the [T, T] int32 graph input of per-task random orders (see RandomOrders).
	Order *Node
}

// Combined is a Combiner's output: one gradient per StepGraph.Vars entry, the scalar objective
// the gradients descend (for logging), and named scalar terms (e.g. "tsr", "csa").
type Combined struct {
	Grads     []*Node
	Objective *Node
	Terms     map[string]*Node
}

// Combiner turns the task losses of one step into parameter gradients: a loss weighting or a
// gradient-manipulation method.
type Combiner interface {
	// Name is the registered name.
	Name() string
	// Combine builds the gradients (graph building: panics on error).
	Combine(s *StepGraph) Combined
	// TermNames lists the keys of Combined.Terms, in a fixed order.
	TermNames() []string
}

// Params are the settings handed to a Combiner factory.
type Params struct {
	// RepMTL configures "rep-mtl" (ignored by the others).
	RepMTL RepMTLConfig
}

// Factory builds a Combiner.
type Factory func(p Params) (Combiner, error)

var combiners = registry.NewKind[Factory]("mtl_combiner")

// Register adds a combiner factory under name (from an init function); it panics on a duplicate.
func Register(name string, f Factory) { combiners.Register(name, f) }

// Names returns the registered combiner names, sorted.
func Names() []string { return combiners.Names() }

// New returns the combiner registered under name, or an error listing the known names.
func New(name string, p Params) (Combiner, error) {
	f, err := combiners.Get(name)
	if err != nil {
		return nil, fmt.Errorf("multitask: %w", err)
	}
	return f(p)
}

func init() {
	Register("equal", func(Params) (Combiner, error) { return equal{}, nil })
	Register("pcgrad", func(Params) (Combiner, error) { return pcgrad{}, nil })
	Register("rep-mtl", func(p Params) (Combiner, error) {
		if err := p.RepMTL.Validate(); err != nil {
			return nil, err
		}
		return repMTL{cfg: p.RepMTL.WithDefaults()}, nil
	})
}

func sumLosses(losses []*Node) *Node {
	total := losses[0]
	for _, l := range losses[1:] {
		total = Add(total, l)
	}
	return total
}

func varNodes(s *StepGraph) []*Node {
	g := s.Rep.Graph()
	out := make([]*Node, len(s.Vars))
	for i, v := range s.Vars {
		out[i] = v.NodeValue(g)
	}
	return out
}

// equal is equal weighting (EW): the objective Σ_t L_t (LibMTL/weighting/EW.py sums the losses
// with weight 1 each).
type equal struct{}

func (equal) Name() string        { return "equal" }
func (equal) TermNames() []string { return nil }
func (equal) Combine(s *StepGraph) Combined {
	total := sumLosses(s.Losses)
	return Combined{Grads: Gradient(total, varNodes(s)...), Objective: total}
}

// pcgrad applies PCGrad to the shared parameters; each head gets the gradient of its own loss
// (= the gradient of Σ_t L_t, since a head enters only its own loss).
type pcgrad struct{}

func (pcgrad) Name() string        { return "pcgrad" }
func (pcgrad) TermNames() []string { return nil }
func (pcgrad) Combine(s *StepGraph) Combined {
	if s.Order == nil {
		exceptions.Panicf("multitask: pcgrad needs the task-order input")
	}
	vars := varNodes(s)
	total := sumLosses(s.Losses)
	grads := Gradient(total, vars...) // heads' gradients (shared ones replaced below)
	var shared []*Node
	var sharedIdx []int
	for i, sh := range s.Shared {
		if sh {
			shared = append(shared, vars[i])
			sharedIdx = append(sharedIdx, i)
		}
	}
	if len(shared) == 0 {
		exceptions.Panicf("multitask: pcgrad found no shared (trunk) variables")
	}
	rows := make([]*Node, len(s.Losses))
	for t, l := range s.Losses {
		gs := Gradient(l, shared...)
		flat := make([]*Node, len(gs))
		for i, gr := range gs {
			flat[i] = Reshape(gr, -1)
		}
		rows[t] = Concatenate(flat, 0) // flattened g_t over the shared parameters, [P]
	}
	merged := PCGrad(Stack(rows, 0), s.Order) // [P]
	off := 0
	for k, i := range sharedIdx {
		n := shared[k].Shape().Size()
		grads[i] = Reshape(Slice(merged, AxisRange(off, off+n)), shared[k].Shape().Dimensions...)
		off += n
	}
	return Combined{Grads: grads, Objective: total}
}

// repMTL is equal weighting plus the Rep-MTL saliency regularizers:
//
//	L = Σ_t L_t + λ_tsr·TSR(S) + λ_csa·CSA(S),   S_t = ∂L_t/∂Z        (paper, Sec. 3; see RepMTLTerms)
//
// differentiated through the saliencies (second order), with the optimizer unchanged.
type repMTL struct{ cfg RepMTLConfig }

func (r repMTL) Name() string        { return "rep-mtl" }
func (r repMTL) TermNames() []string { return []string{"tsr", "csa"} }
func (r repMTL) Combine(s *StepGraph) Combined {
	total := sumLosses(s.Losses)
	tsr, csa := RepMTLTerms(Saliency(s.Losses, s.Rep), r.cfg.Tau)
	obj := Add(total, Add(MulScalar(tsr, r.cfg.TSRWeight), MulScalar(csa, r.cfg.CSAWeight)))
	return Combined{Grads: Gradient(obj, varNodes(s)...), Objective: obj,
		Terms: map[string]*Node{"tsr": tsr, "csa": csa}}
}

// describe is a one-line summary of a combiner's settings, for logs and tables.
func describe(c Combiner) string {
	if r, ok := c.(repMTL); ok {
		var parts []string
		parts = append(parts, fmt.Sprintf("λ_tsr=%g", r.cfg.TSRWeight), fmt.Sprintf("λ_csa=%g", r.cfg.CSAWeight),
			fmt.Sprintf("τ=%g", r.cfg.Tau))
		return "rep-mtl(" + strings.Join(parts, ", ") + ")"
	}
	return c.Name()
}
