package distill

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train/losses"
)

// mirrored pairs a source variable with its copy.
type mirrored struct {
	rel      string
	src, dst *model.Variable
}

func zerosInit(g *Graph, shape shapes.Shape) *Node { return Zeros(g, shape) }

// mirrorVars returns, for every variable under srcPath that g uses, a copy at dstPath with the
// same relative path (created zero-initialized when missing, or loaded from a checkpoint),
// marked trainable as asked. The copies start from the source values at the first step
// through copyOnFirstUse.
func mirrorVars(g *Graph, store *model.Store, srcPath, dstPath string, trainable bool) []mirrored {
	prefix := strings.TrimSuffix(srcPath, "/") + "/"
	var out []mirrored
	var srcs []*model.Variable
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), prefix) && v.InUseByGraph(g) {
			srcs = append(srcs, v)
		}
	}
	for _, v := range srcs {
		rel := strings.TrimPrefix(v.Path(), prefix)
		path := model.JoinPath(dstPath, rel)
		dst := store.GetVariable(path)
		if dst == nil {
			dst = store.VariableWithShape(path, v.Shape(), zerosInit)
		}
		dst.SetTrainable(trainable)
		out = append(out, mirrored{rel: rel, src: v, dst: dst})
	}
	return out
}

// initFlag returns the boolean node "the copies at path were initialized" and marks them
// initialized for the next steps. The flag is a non-trainable variable, so checkpoints carry it.
func initFlag(g *Graph, store *model.Store, path string) *Node {
	v := store.VariableWithValue(path, float32(0)).SetTrainable(false)
	flag := GreaterThan(v.NodeValue(g), Scalar(g, dtypes.Float32, 0.5))
	v.SetNodeValue(Scalar(g, dtypes.Float32, 1))
	return flag
}

// copyOnFirstUse sets every copy's graph value to the source's value until initialized (the
// copies start equal to the sources, like copy.deepcopy at construction) and returns the
// copies' current values.
func copyOnFirstUse(g *Graph, pairs []mirrored, initialized *Node) []*Node {
	vals := make([]*Node, len(pairs))
	for i, p := range pairs {
		vals[i] = Where(initialized, p.dst.NodeValue(g), StopGradient(p.src.NodeValue(g)))
		p.dst.SetNodeValue(vals[i])
	}
	return vals
}

// emaUpdate is θ_ema ← a·θ_ema + (1−a)·θ for float variables (others are copied).
func emaUpdate(ema, cur, a *Node) *Node {
	if !ema.DType().IsFloat() {
		return cur
	}
	a = ConvertDType(a, ema.DType())
	return Add(Mul(a, ema), Mul(OneMinus(a), cur))
}

// EMAConfig configures an EMA (mean) teacher and FST's look-ahead teacher.
type EMAConfig struct {
	// Momentum α (default 0.999, DAFormer/FST's alpha); Float(0) makes the teacher the
	// student itself.
	Momentum *float64
	// NoRampUp uses a = α from the first update; by default a = min(1 − 1/(t+1), α) as in the
	// mean-teacher code of DACS/DAFormer/FST (t = global step).
	NoRampUp bool
	// LookAhead K > 0 makes it FST-D's look-ahead teacher (usr922/FST ahead_step, 3 in the
	// configs): K virtual student steps per step, each preceded by a teacher update.
	LookAhead int
	// VirtualLR is the learning rate of the virtual SGD steps (default 0.05).
	VirtualLR float64
	// VirtualLoss is the registered train/losses name the virtual steps minimise on the
	// batch's labels (default "cross_entropy").
	VirtualLoss string
}

// EMA is the exponential-moving-average teacher ("mean teacher", Tarvainen & Valpola 2017)
// and, with LookAhead, FST-D's look-ahead teacher.
//
// Paper: Du et al., "Learning from Future: A Novel Self-Training Framework for Semantic
// Segmentation" (FST), NeurIPS 2022, arXiv:2209.06993; mean teacher: Tarvainen & Valpola,
// NeurIPS 2017.
// Reference code: usr922/FST mmseg/models/uda/fst_d.py (NESTEROV.train_step, _update_ema).
//
// Rule: the teacher holds a copy θ̄ of every student variable (under "/distill/teacher").
// At the first step θ̄ = θ (a copy, as _init_ema_weights); at each later step t, before the
// student's update, θ̄ ← a·θ̄ + (1−a)·θ with a = min(1 − 1/(t+1), α). With LookAhead K
// (FST-D), at step t > 0: record θ_t; K times { θ̄ ← EMA(θ̄, θ'); θ' ← θ' − η·∇L(θ') on the
// same batch }; θ̄ ← EMA(θ̄, θ'); restore θ_t; the teacher (now informed by the "future"
// student θ') produces the logits for the real step. The copies are non-trainable variables:
// checkpoints carry them and resume is exact.
//
// Deviations: the virtual steps are plain SGD (VirtualLR) on VirtualLoss over the labelled
// batch, computed inside the training graph; the official code takes K full steps of the real
// optimizer (AdamW, advancing its moments, which it does not restore) on the full UDA
// objective. The paper describes the gradient steps without optimizer state, which is what
// this does. FST-W (K different future batches averaged) is not implemented: a training
// graph sees one batch. The teacher is built in evaluation mode (no dropout), as the official
// code switches dropout off for the EMA model; the virtual students are built in evaluation
// mode too.
type EMA struct {
	cfg   EMAConfig
	alpha float64
	vloss losses.Fn
}

// NewEMA validates cfg and returns the teacher.
func NewEMA(cfg EMAConfig) (*EMA, error) {
	a := floatOr(cfg.Momentum, 0.999)
	if a < 0 || a > 1 {
		return nil, fmt.Errorf("distill: ema momentum=%g must be in [0, 1]", a)
	}
	if cfg.LookAhead < 0 {
		return nil, fmt.Errorf("distill: ema look_ahead=%d must be >= 0", cfg.LookAhead)
	}
	if cfg.VirtualLR < 0 {
		return nil, fmt.Errorf("distill: ema virtual_lr=%g must be > 0", cfg.VirtualLR)
	}
	if cfg.VirtualLR == 0 {
		cfg.VirtualLR = 0.05
	}
	if cfg.VirtualLoss == "" {
		cfg.VirtualLoss = "cross_entropy"
	}
	fn, err := losses.New(model.NewStore().RootScope(), cfg.VirtualLoss)
	if err != nil {
		return nil, fmt.Errorf("distill: ema virtual loss: %w", err)
	}
	return &EMA{cfg: cfg, alpha: a, vloss: fn}, nil
}

func init() {
	RegisterTeacher("ema", func(scope *model.Scope, _ TeacherDeps) (Teacher, error) {
		return NewEMA(EMAConfig{Momentum: paramFloat(scope, "ema_momentum")})
	})
	RegisterTeacher("fst", func(scope *model.Scope, _ TeacherDeps) (Teacher, error) {
		return NewEMA(EMAConfig{Momentum: paramFloat(scope, "ema_momentum"),
			LookAhead: model.GetParamOr(scope, "fst_look_ahead", 3), VirtualLR: model.GetParamOr(scope, "fst_virtual_lr", 0.05)})
	})
}

// momentum returns a(t) as a float32 scalar.
func (e *EMA) momentum(step *Node) *Node {
	g := step.Graph()
	alpha := Scalar(g, dtypes.Float32, e.alpha)
	if e.cfg.NoRampUp {
		return alpha
	}
	t := ConvertDType(step, dtypes.Float32)
	return Min(OneMinus(Reciprocal(AddScalar(t, 1))), alpha) // a = min(1 − 1/(t+1), α)
}

// Logits implements Teacher.
func (e *EMA) Logits(tc *TeacherContext) *Node {
	g := tc.X.Graph()
	store := tc.Scope.Store()
	pairs := mirrorVars(g, store, tc.StudentPath, tc.Scope.Scope(), false)
	if len(pairs) == 0 {
		panic(errors.New("distill: EMA teacher: the student has no variables in this graph"))
	}
	initialized := initFlag(g, store, model.JoinPath(tc.Scope.Scope(), "ema_initialized"))
	teacher := copyOnFirstUse(g, pairs, initialized)
	a := e.momentum(tc.Step)
	update := func(cur []*Node) {
		for i := range teacher {
			// Only once initialized: the first step's teacher is the copy itself.
			teacher[i] = Where(initialized, emaUpdate(teacher[i], cur[i], a), teacher[i])
		}
	}
	theta := make([]*Node, len(pairs))
	for i, p := range pairs {
		theta[i] = p.src.NodeValue(g)
	}
	if e.cfg.LookAhead == 0 {
		update(theta)
	} else {
		virtual := append([]*Node(nil), theta...)
		for range e.cfg.LookAhead {
			update(virtual)
			virtual = e.virtualStep(tc, pairs, virtual)
		}
		update(virtual)
		for i, p := range pairs { // Restore θ_t for the real step.
			p.src.SetNodeValue(theta[i])
		}
	}
	for i, p := range pairs {
		p.dst.SetNodeValue(teacher[i])
	}
	return tc.Student(store.Scope(tc.Scope.Scope()), tc.X)[0]
}

// virtualStep takes one SGD step of the student from the values vals on the batch.
func (e *EMA) virtualStep(tc *TeacherContext, pairs []mirrored, vals []*Node) []*Node {
	g := tc.X.Graph()
	store := tc.Scope.Store()
	var train []int
	for i, p := range pairs {
		p.src.SetNodeValue(vals[i])
		if p.src.Trainable && p.src.DType().IsFloat() {
			train = append(train, i)
		}
	}
	out := tc.Student(store.Scope(tc.StudentPath), tc.X)[0]
	l := e.vloss([]*Node{ExpandAxes(tc.Labels, -1)}, []*Node{out})
	if !l.IsScalar() {
		l = ReduceAllMean(l)
	}
	xs := make([]*Node, len(train))
	for k, i := range train {
		xs[k] = vals[i]
	}
	grads := Gradient(l, xs...)
	next := append([]*Node(nil), vals...)
	for k, i := range train {
		next[i] = StopGradient(Sub(vals[i], MulScalar(grads[k], e.cfg.VirtualLR)))
	}
	_ = g
	return next
}
