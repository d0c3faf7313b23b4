package optimizers

import (
	"fmt"
	"log"
	"strings"
	"sync"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified, as in GoMLX's own optimizers.
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Param is one trainable variable while the transforms of one update are built.
//
// A transform reads and replaces the nodes: Value is the parameter p (transforms that decay
// weights change it), Grad is the gradient g as the optimizer received it (read-only), and U is
// the running update, which starts as g and which the chain turns into the step direction that
// ApplyUpdate subtracts: p ← p − lr·U. All nodes are in the update's compute dtype.
type Param struct {
	// Var is the trainable variable.
	Var *model.Variable
	// Path is the variable's path in the store, e.g. "/mlp/l0/weights".
	Path string
	// Index is the position of the variable among the gradients.
	Index int
	// Value is the current parameter value p.
	Value *Node
	// Grad is the raw gradient g.
	Grad *Node
	// U is the update under construction.
	U *Node
	// WDScale multiplies the weight-decay rate of this step (nil means 1); AdamP and SGDP set it
	// to wd_ratio when their projection fires.
	WDScale *Node
	// Group holds the parameter-group decisions for this variable.
	Group Group
}

// Rank is the number of axes of the parameter.
func (p *Param) Rank() int { return p.Var.Shape().Rank() }

// Update is one optimizer update under construction: what every transform of a chain sees.
type Update struct {
	// Graph is the training graph.
	Graph *Graph
	// DType is the compute dtype (the loss dtype): parameters, gradients and state are
	// converted to it.
	DType dtypes.DType
	// LR is the learning rate of this step, read from GoMLX's learning-rate variable (so a
	// schedule or a new value never recompiles).
	LR *Node
	// Step is the optimizer's own step count t, 1 for the first update (int64 scalar).
	Step *Node
	// Params are the trainable variables, in gradient order.
	Params []*Param

	opt    *Optimizer
	store  *model.Store
	shared map[string]*Node
}

// Put shares a node computed by one transform with the later transforms of this update (for
// per-step scalars such as a warm-up factor or a reset flag).
func (u *Update) Put(name string, n *Node) {
	if u.shared == nil {
		u.shared = map[string]*Node{}
	}
	u.shared[name] = n
}

// Get returns a node shared with Put; it panics if no earlier transform put it.
func (u *Update) Get(name string) *Node {
	n, ok := u.shared[name]
	if !ok {
		exceptions.Panicf("optimizer %s: no shared value %q (transform order?)", u.opt.name, name)
	}
	return n
}

// StepF returns the step t as a float64 scalar (bias corrections are computed in float64, as
// Python computes them in the reference codes, then cast).
func (u *Update) StepF() *Node { return ConvertDType(u.Step, dtypes.Float64) }

// Cast converts a node to the compute dtype.
func (u *Update) Cast(x *Node) *Node {
	if x.DType() == u.DType {
		return x
	}
	return ConvertDType(x, u.DType)
}

// Const is a scalar constant in the compute dtype.
func (u *Update) Const(v float64) *Node { return Scalar(u.Graph, u.DType, v) }

// Const64 is a float64 scalar constant.
func (u *Update) Const64(v float64) *Node { return Scalar(u.Graph, dtypes.Float64, v) }

// State is one named, non-trainable store variable of the optimizer: moments, counters,
// projectors. It lives under /optimizers/<optimizer name>/<variable path>/<state name>, so
// checkpoints carry it and it can be inspected.
type State struct {
	v *model.Variable
	g *Graph
}

// Value is the state's value at the start of this update (or its last Set).
func (s *State) Value() *Node { return s.v.NodeValue(s.g) }

// Set replaces the state's value for the end of this update.
func (s *State) Set(x *Node) { s.v.SetNodeValue(x) }

// Variable returns the underlying store variable.
func (s *State) Variable() *model.Variable { return s.v }

// State returns the per-parameter state named name, shaped like p, zero-initialized.
func (u *Update) State(p *Param, name string) *State {
	return u.StateShaped(p, name, shapes.Make(u.DType, p.Var.Shape().Dimensions...))
}

// StateShaped returns the per-parameter state named name with the given shape, zero-initialized.
func (u *Update) StateShaped(p *Param, name string, shape shapes.Shape) *State {
	return u.stateAt(model.JoinPath(u.opt.StatePath(), strings.TrimPrefix(p.Path, "/"), name), shape, nil)
}

// StateWithValue returns the per-parameter state named name, initialized with value (a Go
// scalar or tensor) the first time.
func (u *Update) StateWithValue(p *Param, name string, value any) *State {
	return u.stateAt(model.JoinPath(u.opt.StatePath(), strings.TrimPrefix(p.Path, "/"), name), shapes.Shape{}, value)
}

// Global returns the optimizer-wide state named name, initialized with value (a Go scalar or
// tensor) the first time.
func (u *Update) Global(name string, value any) *State {
	return u.stateAt(model.JoinPath(u.opt.StatePath(), name), shapes.Shape{}, value)
}

func (u *Update) stateAt(path string, shape shapes.Shape, value any) *State {
	var v *model.Variable
	if value != nil {
		v = u.store.VariableWithValue(path, value)
	} else {
		v = u.store.VariableWithShape(path, shape, initializer.Zero)
	}
	v.SetTrainable(false)
	return &State{v: v, g: u.Graph}
}

// Transform is one small, named piece of an optimizer (in the manner of optax's
// GradientTransformation): it reads and replaces the nodes of the update's parameters and keeps
// its state in named store variables. An optimizer is a chain of transforms.
type Transform interface {
	// Name is a short label (for documentation and errors).
	Name() string
	// Apply builds this transform's part of the update graph. It panics on graph-building
	// errors (GoMLX's convention); hyperparameters were validated before.
	Apply(u *Update)
}

type transformFunc struct {
	name string
	fn   func(u *Update)
}

func (t transformFunc) Name() string    { return t.name }
func (t transformFunc) Apply(u *Update) { t.fn(u) }

// Func makes a transform of a function over the whole update (for global quantities such as a
// global gradient norm or a global step counter).
func Func(name string, fn func(u *Update)) Transform { return transformFunc{name, fn} }

// PerParam makes a transform of a function applied to each parameter in turn.
func PerParam(name string, fn func(u *Update, p *Param)) Transform {
	return transformFunc{name, func(u *Update) {
		for _, p := range u.Params {
			fn(u, p)
		}
	}}
}

// ApplyUpdate is the transform that takes the step: p ← p − lr·U.
func ApplyUpdate() Transform {
	return PerParam("apply_update", func(u *Update, p *Param) {
		p.Value = Sub(p.Value, Mul(u.LR, p.U))
	})
}

// Optimizer is a chain of transforms that implements GoMLX's optimizer.Interface (and
// train.OptimizeWithGradients, so gradients can be clipped or accumulated before it).
//
// Each update: the learning rate is read from GoMLX's learning-rate variable
// (optimizer.LearningRateVar at "/optimizers/learning_rate", created with the optimizer's
// default learning rate), the global step is incremented (optimizer.IncrementGlobalStep), the
// optimizer's own step counter t (/optimizers/<name>/step) is incremented, every trainable
// variable is assigned to its parameter group, and the transforms run in order; the final
// parameter values are written back to the variables.
type Optimizer struct {
	name       string
	lr         float64
	groups     GroupConfig
	lowRank    bool
	transforms []Transform

	logGroups bool
	logged    bool
	partition []Assignment

	// injected, when not nil, holds projectors (by variable path) used instead of the first
	// computed ones; only tests set it (see export_test.go), to compare with golden vectors
	// that record the reference's float32-SVD projectors.
	injected map[string][]float64
}

// NewOptimizer chains transforms into an optimizer whose state lives under
// /optimizers/<name>, with default learning rate lr and the given parameter-group rules.
// lowRank says whether the optimizer uses the group's low-rank flag (only for logging).
func NewOptimizer(name string, lr float64, groups GroupConfig, lowRank bool, transforms ...Transform) *Optimizer {
	o := &Optimizer{name: name, lr: lr, groups: groups, lowRank: lowRank, transforms: transforms, logGroups: !groups.Quiet}
	if lowRank {
		o.injected = map[string][]float64{}
	}
	return o
}

// Name is the optimizer's name (and the scope of its state under /optimizers).
func (o *Optimizer) Name() string { return o.name }

// StatePath is the store path under which the optimizer keeps its state.
func (o *Optimizer) StatePath() string { return model.JoinPath("/", optimizer.Scope, o.name) }

// DefaultLearningRate is the learning rate used when GoMLX's learning-rate variable does not
// exist yet: the configured one, else the paper's default. train.Run reads it.
func (o *Optimizer) DefaultLearningRate() float64 { return o.lr }

// Transforms returns the names of the chained transforms, in order.
func (o *Optimizer) Transforms() []string {
	names := make([]string, len(o.transforms))
	for i, t := range o.transforms {
		names[i] = t.Name()
	}
	return names
}

// Partition returns the parameter-group assignment of the last graph built.
func (o *Optimizer) Partition() []Assignment { return o.partition }

// UpdateGraph implements optimizer.Interface.
func (o *Optimizer) UpdateGraph(scope *model.Scope, g *Graph, loss *Node) {
	if !loss.Shape().IsScalar() {
		exceptions.Panicf("optimizer %s: the loss must be a scalar, got shape %s", o.name, loss.Shape())
	}
	grads := scope.BuildTrainableVariablesGradientsGraph(loss)
	o.UpdateGraphWithGradients(scope, grads, loss.DType())
}

// UpdateGraphWithGradients implements train.OptimizeWithGradients: grads are the gradients of
// the trainable variables of scope in use by the graph, in scope.IterVariables order.
func (o *Optimizer) UpdateGraphWithGradients(scope *model.Scope, grads []*Node, lossDType dtypes.DType) {
	u := o.begin(scope, grads, lossDType)
	for _, t := range o.transforms {
		t.Apply(u)
	}
	o.finish(u)
}

// TrainableInUse returns the trainable variables of scope used by graph g, in the order of the
// gradients train.OptimizeWithGradients passes.
func TrainableInUse(scope *model.Scope, g *Graph) []*model.Variable {
	var vars []*model.Variable
	for v := range scope.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) {
			vars = append(vars, v)
		}
	}
	return vars
}

// computeDType is the dtype updates are computed in: the loss dtype when it is a float.
func computeDType(lossDType dtypes.DType) dtypes.DType {
	if lossDType.IsFloat() {
		return lossDType
	}
	return dtypes.Float32
}

func (o *Optimizer) begin(scope *model.Scope, grads []*Node, lossDType dtypes.DType) *Update {
	if len(grads) == 0 {
		exceptions.Panicf("optimizer %s: no gradients: are there trainable variables in use?", o.name)
	}
	g := grads[0].Graph()
	dt := computeDType(lossDType)
	vars := TrainableInUse(scope, g)
	if len(vars) != len(grads) {
		exceptions.Panicf("optimizer %s: %d gradients for %d trainable variables in use", o.name, len(grads), len(vars))
	}
	store := scope.Store()
	lr := optimizer.LearningRateVar(store.RootScope(), dt, o.lr).NodeValue(g)
	if lr.DType() != dt {
		lr = ConvertDType(lr, dt)
	}
	_ = optimizer.IncrementGlobalStep(g, dtypes.Int64)
	u := &Update{Graph: g, DType: dt, LR: lr, opt: o, store: store}
	step := u.Global("step", int64(0))
	u.Step = Add(step.Value(), ScalarOne(g, dtypes.Int64))
	step.Set(u.Step)
	for i, v := range vars {
		p := &Param{Var: v, Path: v.Path(), Index: i, Value: v.NodeValue(g), Grad: grads[i]}
		if p.Value.DType() != dt {
			p.Value = ConvertDType(p.Value, dt)
		}
		if p.Grad.DType() != dt {
			p.Grad = ConvertDType(p.Grad, dt)
		}
		p.U = p.Grad
		p.Group = o.groups.assign(v)
		u.Params = append(u.Params, p)
	}
	o.recordPartition(u.Params)
	return u
}

func (o *Optimizer) finish(u *Update) {
	for _, p := range u.Params {
		v := p.Value
		if v.DType() != p.Var.DType() {
			v = ConvertDType(v, p.Var.DType())
		}
		p.Var.SetNodeValue(v)
	}
}

func (o *Optimizer) recordPartition(params []*Param) {
	o.partition = o.partition[:0]
	for _, p := range params {
		o.partition = append(o.partition, Assignment{Path: p.Path, Shape: p.Var.Shape(), Group: p.Group})
	}
	if o.logGroups && !o.logged {
		o.logged = true
		// Once per distinct partition per process: a benchmark trains many identical models.
		msg := partitionLine(o.name, o.partition, o.lowRank)
		if _, seen := loggedPartitions.LoadOrStore(msg, true); !seen {
			log.Print(msg)
		}
	}
}

var loggedPartitions sync.Map

// Clear deletes the optimizer's state (moments, counters, projectors); it implements
// optimizer.Interface. The learning-rate variable and the global step are left alone.
func (o *Optimizer) Clear(scope *model.Scope) error {
	if err := scope.Store().DeleteVariablesInScope(o.StatePath()); err != nil {
		return fmt.Errorf("optimizer %s: clear: %w", o.name, err)
	}
	return nil
}

// StateBytes returns the bytes of every state variable of an optimizer in store: the variables
// under /optimizers/<name> for a moeboost optimizer (wrappers report their inner optimizer's),
// 0 for others. The shared learning-rate variable is not counted.
func StateBytes(store *model.Store, opt optimizer.Interface) int64 {
	type stater interface{ StatePaths() []string }
	var paths []string
	switch o := opt.(type) {
	case stater:
		paths = o.StatePaths()
	case *Optimizer:
		paths = []string{o.StatePath()}
	default:
		return 0
	}
	var n int64
	for v := range store.IterVariables() {
		for _, p := range paths {
			if strings.HasPrefix(v.Path(), p+"/") {
				n += int64(v.Shape().Memory())
				break
			}
		}
	}
	return n
}

// StatePaths implements the state listing used by StateBytes.
func (o *Optimizer) StatePaths() []string { return []string{o.StatePath()} }
