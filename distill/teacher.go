package distill

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/registry"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

// Teacher provides the teacher's logits for the training rows of one step. Logits may tap
// intermediate tensors (under TeacherContext.Scope) for feature losses. The Distiller stops
// the gradient of everything a Teacher returns or taps.
type Teacher interface {
	Logits(tc *TeacherContext) *Node
}

// TeacherContext is what a Teacher sees in a training graph.
type TeacherContext struct {
	// Scope is "/distill/teacher": a frozen teacher's variable copies, an EMA teacher's
	// averages live here.
	Scope *model.Scope
	// X are the training rows [R, ...] after views; Indices their int32 [R] sample ids (nil
	// without); Labels the int32 [R] labels.
	X, Indices, Labels *Node
	// Student is the student's model function and StudentPath its scope ("/student"): EMA
	// and look-ahead teachers average its variables.
	Student     ModelFn
	StudentPath string
	// Step is the int64 global step before this update.
	Step          *Node
	StepsPerEpoch int
	// Like is the student's prediction (for dtype and shape).
	Like *Node
}

// TeacherFactory builds a registered teacher from store params; deps carries the Go values a
// teacher may need (a trained model and its store, cached logits).
type TeacherFactory func(scope *model.Scope, deps TeacherDeps) (Teacher, error)

// TeacherDeps are the non-param inputs of teacher factories.
type TeacherDeps struct {
	Model  ModelFn
	Store  *model.Store
	From   string
	Logits *tensors.Tensor
}

var teachers = registry.NewKind[TeacherFactory]("teacher")

// RegisterTeacher makes a teacher kind available by name from an init function.
func RegisterTeacher(name string, f TeacherFactory) { teachers.Register(name, f) }

// TeacherNames returns the registered teacher names, sorted.
func TeacherNames() []string { return teachers.Names() }

// NewTeacher builds the teacher registered under name.
func NewTeacher(scope *model.Scope, name string, deps TeacherDeps) (Teacher, error) {
	f, err := teachers.Get(name)
	if err != nil {
		return nil, err
	}
	return f(scope, deps)
}

func init() {
	RegisterTeacher("frozen", func(_ *model.Scope, deps TeacherDeps) (Teacher, error) {
		return NewFrozen(deps.Model, deps.Store, deps.From)
	})
	RegisterTeacher("cached", func(_ *model.Scope, deps TeacherDeps) (Teacher, error) {
		return NewCached(deps.Logits)
	})
}

// Frozen is a trained teacher built into the student's training graph with the variables it
// uses copied (once, non-trainable) from its own store to "/distill/teacher/...": the teacher runs
// on every training batch (so it sees the same views as the student) and its taps are
// available to feature losses. torchdistill's `requires_grad: False` teacher.
type Frozen struct {
	model ModelFn
	store *model.Store
	from  string
}

// NewFrozen returns a frozen teacher: fn rebuilds the teacher, store holds its trained
// variables under the scope from (default "/": a model trained directly with train.Run; use
// "/student" for a model trained by a Distiller). fn must create its variables with the same
// relative names under the scope it is given.
func NewFrozen(fn ModelFn, store *model.Store, from string) (*Frozen, error) {
	if fn == nil || store == nil {
		return nil, errors.New("distill: frozen teacher needs its model function and its trained store")
	}
	if from == "" {
		from = "/"
	}
	if !strings.HasPrefix(from, "/") {
		return nil, fmt.Errorf("distill: frozen teacher scope %q must be absolute (start with \"/\")", from)
	}
	prefix := strings.TrimSuffix(from, "/") + "/"
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), prefix) {
			return &Frozen{model: fn, store: store, from: from}, nil
		}
	}
	return nil, fmt.Errorf("distill: the teacher store has no variables under %q", from)
}

// Logits implements Teacher. The teacher model is built on the "/distill/teacher" scope;
// every variable it uses that has no value yet (first graph of a run; on resume the
// checkpoint provides it) gets a copy of the trained value at the same relative path under
// From in the teacher's store. Only the variables the teacher uses are copied (not its
// optimizer state), all non-trainable.
func (f *Frozen) Logits(tc *TeacherContext) *Node {
	g := tc.X.Graph()
	out := f.model(tc.Scope, tc.X)[0]
	prefix := tc.Scope.Scope() + "/"
	from := strings.TrimSuffix(f.from, "/")
	for v := range tc.Scope.Store().IterVariables() {
		if !strings.HasPrefix(v.Path(), prefix) || !v.InUseByGraph(g) {
			continue
		}
		v.SetTrainable(false)
		if v.HasValue() {
			continue
		}
		rel := strings.TrimPrefix(v.Path(), prefix)
		src := f.store.GetVariable(from + "/" + rel)
		if src == nil {
			panic(fmt.Errorf("distill: frozen teacher: its model uses %q but the teacher store has no %q (wrong From scope?)", rel, from+"/"+rel))
		}
		if !src.Shape().Equal(v.Shape()) {
			panic(fmt.Errorf("distill: frozen teacher: %q is %s in the teacher store but %s in the rebuilt teacher", rel, src.Shape(), v.Shape()))
		}
		val, err := src.Value()
		if err != nil {
			panic(fmt.Errorf("distill: frozen teacher variable %s: %w", src.Path(), err))
		}
		c, err := val.LocalClone()
		if err != nil {
			panic(err)
		}
		if err := v.SetValue(c); err != nil {
			panic(err)
		}
	}
	return out
}

// Cached serves precomputed teacher logits [N, C] by sample id (torchdistill's cache_output):
// the teacher never runs during distillation. The logits live in a non-trainable variable
// "/distill/teacher/logits" (saved in checkpoints, dropped by Export). It needs the sample ids
// (Config.UseIndices) and no views (the cache holds one prediction per sample).
type Cached struct {
	logits *tensors.Tensor
}

// NewCached wraps logits [N, C] (float32 or float64).
func NewCached(logits *tensors.Tensor) (*Cached, error) {
	if logits == nil {
		return nil, errors.New("distill: cached teacher needs logits (see CacheLogits)")
	}
	if logits.Rank() != 2 || !logits.DType().IsFloat() {
		return nil, fmt.Errorf("distill: cached teacher logits must be a float [N, C] tensor, got %s", logits.Shape())
	}
	return &Cached{logits: logits}, nil
}

// Check implements Checker.
func (c *Cached) Check(info Info) error {
	if !info.UsesIndices {
		return errors.New("distill: a cached teacher needs sample ids: set Config.UseIndices and use data.NewTrainBatches(...).WithIndices()")
	}
	if info.Views != 1 {
		return errors.New("distill: a cached teacher cannot serve augmented views (one cached prediction per sample): use a Frozen teacher")
	}
	n := c.logits.Shape().Dimensions[0]
	if info.NumTrain != 0 && info.NumTrain != n {
		return fmt.Errorf("distill: cached teacher logits have %d rows but num_train=%d", n, info.NumTrain)
	}
	if cc := c.logits.Shape().Dimensions[1]; info.NumClasses != 0 && info.NumClasses != cc {
		return fmt.Errorf("distill: cached teacher logits have %d classes but num_classes=%d", cc, info.NumClasses)
	}
	return nil
}

// Logits implements Teacher.
func (c *Cached) Logits(tc *TeacherContext) *Node {
	v := tc.Scope.VariableWithValue("logits", c.logits).SetTrainable(false)
	return Gather(v.NodeValue(tc.X.Graph()), ExpandAxes(tc.Indices, -1)) // [R, C]
}

// CacheLogits runs a trained model over every row of t (in table order, batches of 256) and
// returns its logits [N, C] as float32, for NewCached.
func CacheLogits(b compute.Backend, store *model.Store, fn ModelFn, t *data.Table) (*tensors.Tensor, error) {
	if t == nil || t.N == 0 {
		return nil, errors.New("distill: CacheLogits: empty table")
	}
	var out []float32
	c := 0
	for start := 0; start < t.N; start += 256 {
		end := min(start+256, t.N)
		xs := make([]float32, 0, (end-start)*t.D)
		for i := start; i < end; i++ {
			for _, v := range t.Row(i) {
				xs = append(xs, float32(v))
			}
		}
		outs, err := train.Predict(b, store, func(scope *model.Scope, in []*Node) []*Node {
			return fn(scope, in[0])[:1]
		}, tensors.FromFlatDataAndDimensions(xs, end-start, t.D))
		if err != nil {
			return nil, fmt.Errorf("distill: CacheLogits: %w", err)
		}
		c = outs[0].Shape().Dimensions[1]
		switch outs[0].DType() {
		case dtypes.Float64:
			for _, v := range tensors.MustCopyFlatData[float64](outs[0]) {
				out = append(out, float32(v))
			}
		default:
			out = append(out, tensors.MustCopyFlatData[float32](outs[0])...)
		}
	}
	return tensors.FromFlatDataAndDimensions(out, t.N, c), nil
}

const logitsMagic = "MBLOGIT1"

// SaveLogits writes cached logits [N, C] to path (a small binary file: magic, N, C, float32
// little-endian values), so a teacher runs once across experiments.
func SaveLogits(path string, logits *tensors.Tensor) error {
	if logits.Rank() != 2 {
		return fmt.Errorf("distill: SaveLogits: logits must be [N, C], got %s", logits.Shape())
	}
	var vals []float32
	if logits.DType() == dtypes.Float64 {
		for _, v := range tensors.MustCopyFlatData[float64](logits) {
			vals = append(vals, float32(v))
		}
	} else {
		vals = tensors.MustCopyFlatData[float32](logits)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	dims := logits.Shape().Dimensions
	buf := make([]byte, 0, len(logitsMagic)+16+4*len(vals))
	buf = append(buf, logitsMagic...)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(dims[0]))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(dims[1]))
	for _, v := range vals {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// LoadLogits reads a file written by SaveLogits.
func LoadLogits(path string) (*tensors.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	if len(b) < len(logitsMagic)+16 || string(b[:len(logitsMagic)]) != logitsMagic {
		return nil, fmt.Errorf("distill: %s is not a logits cache (bad header)", path)
	}
	b = b[len(logitsMagic):]
	n, c := int(binary.LittleEndian.Uint64(b)), int(binary.LittleEndian.Uint64(b[8:]))
	b = b[16:]
	if n <= 0 || c <= 0 || len(b) != 4*n*c {
		return nil, fmt.Errorf("distill: %s: header says %d×%d logits but holds %d bytes", path, n, c, len(b))
	}
	vals := make([]float32, n*c)
	for i := range vals {
		vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return tensors.FromFlatDataAndDimensions(vals, n, c), nil
}

// TrainTeacher is a convenience for benchmarks and examples: it trains fn alone with
// cross-entropy through train.Run and returns the result (whose Store feeds NewFrozen or
// CacheLogits).
func TrainTeacher(ctx context.Context, cfg train.Config, fn ModelFn) (*train.Result, error) {
	cfg.Model = func(scope *model.Scope, in []*Node) []*Node { return fn(scope, in[0])[:1] }
	if cfg.Loss == "" && cfg.LossFn == nil {
		cfg.Loss = "cross_entropy"
	}
	return train.Run(ctx, cfg)
}
