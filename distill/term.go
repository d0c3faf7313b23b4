package distill

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/registry"
)

// Term is one named part of a distillation objective (Hinton's KD, DKD, a FitNet hint, PS-KD's
// soft-target cross-entropy, ...): given the training batch's student outputs, teacher outputs,
// labels, sample ids and tapped tensors, it returns a scalar loss. A Distiller sums its terms
// with per-term weights and schedules.
type Term interface {
	Loss(ctx *Context) *Node
}

// Checker is implemented by terms (and teachers) that need something from the setup: teacher
// logits, sample ids, the training-set size, taps. Distiller.New calls Check so a missing
// piece is a clear error before any graph is built.
type Checker interface {
	Check(info Info) error
}

// Info describes a Distiller's setup to Checkers.
type Info struct {
	HasTeacher    bool
	TeacherName   string
	UsesIndices   bool
	NumTrain      int
	NumClasses    int
	StepsPerEpoch int
	// Views is the number of views of each training example (1 without Config.Views).
	Views int
}

// Context is what a Term sees while the training graph is built. Rows: with V views of a batch
// of B examples the student saw R = V·B rows, view v in rows [v·B, (v+1)·B).
type Context struct {
	// Scope is the term's own scope ("/distill/<term name>") for its variables: adapters,
	// critics, memories. Its variables are excluded by Export.
	Scope *model.Scope
	// Student is the student's prediction [R, C]; Outputs are all student outputs (e.g. the
	// experts of MDCS), Student == Outputs[0] unless the Distiller combines them.
	Student *Node
	Outputs []*Node
	// Teacher holds the teacher's logits [R, C] (constants: stop-gradient), nil without teacher.
	Teacher *Node
	// TeacherLive is the same logits with gradients w.r.t. the teacher's inputs (its variables
	// stay frozen): for terms that differentiate through the teacher, like HARD's augmentor.
	TeacherLive *Node
	// Labels are int32 [R] (the batch labels repeated per view); Indices the int32 [R] sample
	// ids (nil unless the dataset yields them).
	Labels, Indices *Node
	// StudentTaps and TeacherTaps are the tensors recorded with Tap, by name relative to the
	// model's scope (e.g. "hidden" or "block1/out").
	StudentTaps, TeacherTaps map[string]*Node
	// Step is the int64 global step before this update.
	Step *Node
	// StepsPerEpoch converts steps to epochs (0: unknown).
	StepsPerEpoch int
	NumTrain      int
	NumClasses    int
	Views         int
	BatchSize     int
}

// StepAs returns the global step as a scalar of dtype.
func (c *Context) StepAs(dtype dtypes.DType) *Node { return ConvertDType(c.Step, dtype) }

// Epoch returns the current 0-based epoch ⌊step / steps_per_epoch⌋ as a scalar in the
// student's dtype (the step itself when StepsPerEpoch is 0).
func (c *Context) Epoch() *Node {
	return EpochOf(c.Step, c.StepsPerEpoch, c.Student.DType())
}

// EpochOf is ⌊step / stepsPerEpoch⌋ in dtype (step itself when stepsPerEpoch < 1).
func EpochOf(step *Node, stepsPerEpoch int, dtype dtypes.DType) *Node {
	if stepsPerEpoch <= 1 {
		return ConvertDType(step, dtype)
	}
	e := Div(ConvertDType(step, dtypes.Int64), Scalar(step.Graph(), dtypes.Int64, stepsPerEpoch))
	return ConvertDType(e, dtype)
}

// StudentTap returns the student's tapped tensor name, panicking with the known names when it
// is missing (a programmer error caught at graph building; Check catches configuration errors).
func (c *Context) StudentTap(name string) *Node { return mustTap(c.StudentTaps, name, "student") }

// TeacherTap is StudentTap for the teacher.
func (c *Context) TeacherTap(name string) *Node { return mustTap(c.TeacherTaps, name, "teacher") }

func mustTap(taps map[string]*Node, name, who string) *Node {
	if t, ok := taps[name]; ok {
		return t
	}
	panic(fmt.Errorf("distill: the %s has no tap %q (it tapped %q): call distill.Tap(scope, %q, x) in its model", who, name, sortedKeys(taps), name))
}

// Factory builds a registered term from the store params of scope (for example
// "kd_temperature"), validating them.
type Factory func(scope *model.Scope) (Term, error)

var distillers = registry.NewKind[Factory]("distiller")

// Register makes a term available by name (lower snake_case) from an init function; it panics
// on a duplicate name.
func Register(name string, f Factory) { distillers.Register(name, f) }

// Names returns the registered term names, sorted.
func Names() []string { return distillers.Names() }

// New builds the term registered under name from scope's params; an unknown name is an error
// listing the known ones.
func New(scope *model.Scope, name string) (Term, error) {
	f, err := distillers.Get(name)
	if err != nil {
		return nil, err
	}
	return f(scope)
}

// Float returns a pointer to v, for the optional *float64 fields of the configs (where 0 is
// a meaningful value distinct from "use the default").
func Float(v float64) *float64 { return &v }

func floatOr(p *float64, def float64) float64 {
	if p == nil {
		return def
	}
	return *p
}

// paramFloat reads an optional float param: nil when unset.
func paramFloat(scope *model.Scope, key string) *float64 {
	v, ok := scope.GetParam(key)
	if !ok {
		return nil
	}
	switch x := v.(type) {
	case float64:
		return &x
	case float32:
		f := float64(x)
		return &f
	case int:
		f := float64(x)
		return &f
	case int64:
		f := float64(x)
		return &f
	}
	return nil
}
