package distill

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/losses"
)

// ModelFn builds a model on features x [B, ...] in scope and returns its outputs (logits
// [B, C] first; several for multi-expert models such as MDCS). It may call Tap to expose
// intermediate tensors.
type ModelFn func(scope *model.Scope, x *Node) []*Node

// ViewsFn turns a training batch x [B, ...] into V views of the same examples (for example
// MDCS's weak and strong augmentations, or HARD's clean and learned-augmented inputs). The
// views are concatenated along the batch axis, in order, before the student (and the teacher)
// see them. It is called only in training graphs, with a scope under "/distill/views".
type ViewsFn func(scope *model.Scope, x *Node) []*Node

// WeightedTerm is one named term of the objective: Weight·Schedule(t)·Term.
type WeightedTerm struct {
	// Name labels the term in reports ("distill/<name>") and scopes its variables
	// ("/distill/<name>"); lower snake_case.
	Name string
	Term Term
	// Weight multiplies the term (the zero value means 1; drop a term to disable it).
	Weight float64
	// Schedule makes the weight a function of the step or epoch.
	Schedule Schedule
}

// Config configures a Distiller.
type Config struct {
	// Student builds the student (required). Its variables live under "/student".
	Student ModelFn
	// Teacher provides teacher logits and taps (nil: self-distillation or plain training).
	Teacher Teacher
	// Terms are summed (each reported as "distill/<name>") into the training objective.
	Terms []WeightedTerm
	// Views, when set, makes several views of each training batch (see ViewsFn).
	Views ViewsFn
	// Combine turns the student's outputs into its prediction (default: the first output;
	// MDCS averages its experts with MeanOutputs).
	Combine func(outputs []*Node) *Node
	// NumClasses, NumTrain (rows of the training set) and StepsPerEpoch inform the terms and
	// teachers that need them (PS-KD's memory, cached logits, epoch schedules).
	NumClasses, NumTrain, StepsPerEpoch int
	// UseIndices says the training dataset yields int32 sample ids as a second input
	// (data.NewTrainBatches(...).WithIndices()). GoMLX's trainer wants evaluation datasets
	// to yield as many inputs: use data.NewEvalBatches(...).WithIndices() too (the ids are
	// ignored in evaluation).
	UseIndices bool
	// EvalLoss is the registered train/losses name used for evaluation ("test/loss"); default
	// "cross_entropy".
	EvalLoss string
}

// StudentScope is the scope under which the student's variables live; Export keeps exactly
// those.
const StudentScope = "student"

// DistillScope holds everything that exists only for training: teacher copies, adapters,
// critics, memories, augmentors. Export drops it.
const DistillScope = "distill"

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate checks the configuration; every error names the bad value.
func (c *Config) Validate() error {
	if c.Student == nil {
		return errors.New("distill: Config.Student is nil")
	}
	if c.NumClasses < 0 || c.NumTrain < 0 || c.StepsPerEpoch < 0 {
		return fmt.Errorf("distill: num_classes=%d, num_train=%d, steps_per_epoch=%d must be >= 0", c.NumClasses, c.NumTrain, c.StepsPerEpoch)
	}
	if len(c.Terms) == 0 {
		return errors.New("distill: no terms: add at least one WeightedTerm (e.g. {Name: \"ce\", Term: distill.CE{}})")
	}
	seen := map[string]bool{}
	for i, t := range c.Terms {
		if !nameRE.MatchString(t.Name) || t.Name == "teacher" || t.Name == "views" {
			return fmt.Errorf("distill: term %d name %q must be lower snake_case and not \"teacher\" or \"views\"", i, t.Name)
		}
		if seen[t.Name] {
			return fmt.Errorf("distill: term name %q used twice", t.Name)
		}
		seen[t.Name] = true
		if t.Term == nil {
			return fmt.Errorf("distill: term %q is nil", t.Name)
		}
		if err := t.Schedule.Validate(); err != nil {
			return fmt.Errorf("term %q: %w", t.Name, err)
		}
		if t.Schedule.Epochs && c.StepsPerEpoch == 0 {
			return fmt.Errorf("distill: term %q has an epoch schedule but steps_per_epoch is 0", t.Name)
		}
	}
	if c.EvalLoss == "" {
		c.EvalLoss = "cross_entropy"
	}
	info := c.info()
	if ch, ok := c.Teacher.(Checker); ok && c.Teacher != nil {
		if err := ch.Check(info); err != nil {
			return err
		}
	}
	for _, t := range c.Terms {
		if ch, ok := t.Term.(Checker); ok {
			if err := ch.Check(info); err != nil {
				return fmt.Errorf("term %q: %w", t.Name, err)
			}
		}
	}
	return nil
}

func (c *Config) info() Info {
	views := 1
	if c.Views != nil {
		views = 0 // unknown until the graph is built; > 1
	}
	name := ""
	if c.Teacher != nil {
		name = fmt.Sprintf("%T", c.Teacher)
	}
	return Info{HasTeacher: c.Teacher != nil, TeacherName: name, UsesIndices: c.UseIndices, NumTrain: c.NumTrain,
		NumClasses: c.NumClasses, StepsPerEpoch: c.StepsPerEpoch, Views: views}
}

// Distiller assembles a student, an optional teacher and weighted terms into the model and
// loss functions of one train.Run: Model builds the student (and in training the views and
// the teacher), Loss adds every term with train.AddExtraLoss (scheduled weights reported as
// "distill/<name>_weight") and, in evaluation, returns the EvalLoss of the student's
// prediction. Use it as
//
//	train.Config{Model: d.Model, LossFn: d.Loss, ...}
type Distiller struct {
	cfg      Config
	evalLoss losses.Fn
}

// NewDistiller validates cfg and returns the Distiller.
func NewDistiller(cfg Config) (*Distiller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fn, err := losses.New(model.NewStore().RootScope(), cfg.EvalLoss)
	if err != nil {
		return nil, fmt.Errorf("distill: eval loss: %w", err)
	}
	return &Distiller{cfg: cfg, evalLoss: fn}, nil
}

// Config returns the (validated) configuration.
func (d *Distiller) Config() Config { return d.cfg }

type stashKey struct{ d *Distiller }

// stash carries what Model built to Loss (which alone sees the labels).
type stash struct {
	scope       *model.Scope
	dscope      *model.Scope
	studentPath string
	x           *Node // training rows after views
	indices     *Node
	outputs     []*Node
	pred        *Node
	views       int
	batch       int
}

// MeanOutputs averages the outputs (MDCS's test-time prediction: the mean expert logits).
func MeanOutputs(outputs []*Node) *Node {
	if len(outputs) == 1 {
		return outputs[0]
	}
	return DivScalar(Add(outputs[0], sumNodes(outputs[1:])), float64(len(outputs)))
}

func sumNodes(xs []*Node) *Node {
	s := xs[0]
	for _, x := range xs[1:] {
		s = Add(s, x)
	}
	return s
}

func (d *Distiller) combine(outs []*Node) *Node {
	if d.cfg.Combine != nil {
		return d.cfg.Combine(outs)
	}
	return outs[0]
}

// Model is the train.ModelFn: inputs are the features (and, with UseIndices, the sample ids).
// In evaluation it builds only the student and returns its prediction.
func (d *Distiller) Model(scope *model.Scope, inputs []*Node) []*Node {
	g := inputs[0].Graph()
	x := inputs[0]
	sscope := scope.In(StudentScope)
	if !scope.IsTraining(g) {
		return []*Node{d.combine(d.cfg.Student(sscope, x))}
	}
	st := &stash{scope: scope, studentPath: sscope.Scope(), batch: x.Shape().Dimensions[0], views: 1}
	st.dscope = scope.In(DistillScope)
	if d.cfg.UseIndices {
		if len(inputs) < 2 {
			panic(errors.New("distill: UseIndices is set but the dataset yields no sample ids: use data.NewTrainBatches(...).WithIndices()"))
		}
		st.indices = FlatLabels(inputs[1])
	}
	if d.cfg.Views != nil {
		vs := d.cfg.Views(st.dscope.In("views"), x)
		st.views = len(vs)
		x = Concatenate(vs, 0) // [V·B, ...], view v in rows [v·B, (v+1)·B)
	}
	st.x = x
	st.outputs = d.cfg.Student(sscope, x)
	st.pred = d.combine(st.outputs)
	g.AttachState(stashKey{d}, st)
	return []*Node{st.pred}
}

// Loss is the train.LossFn. In training it adds every term to the objective (and returns 0
// as the main loss); in evaluation it returns EvalLoss on the prediction.
func (d *Distiller) Loss(labels, predictions []*Node) *Node {
	g := predictions[0].Graph()
	st, _ := g.State(stashKey{d}).(*stash)
	if st == nil {
		l := d.evalLoss(labels, predictions)
		if !l.IsScalar() {
			l = ReduceAllMean(l)
		}
		return l
	}
	ctx := d.context(st, labels[0])
	dt := st.pred.DType()
	for _, wt := range d.cfg.Terms {
		ctx.Scope = st.dscope.In("%s", wt.Name)
		l := wt.Term.Loss(ctx)
		if !l.IsScalar() {
			l = ReduceAllMean(l)
		}
		l = ConvertDType(l, dt)
		name := "distill/" + wt.Name
		w := wt.Weight
		if w == 0 {
			w = 1
		}
		if wt.Schedule.IsConstant() {
			train.AddExtraLoss(name, w, l)
			continue
		}
		f := MulScalar(wt.Schedule.Factor(ctx.Step, d.cfg.StepsPerEpoch, dt), w)
		train.Report(name, l)
		train.Report(name+"_weight", f)
		train.AddExtraLoss(name+"_weighted", 1, Mul(f, l))
	}
	return ScalarZero(g, dt)
}

// context builds the terms' Context (and the teacher) for a training graph.
func (d *Distiller) context(st *stash, labels *Node) *Context {
	g := st.pred.Graph()
	y := FlatLabels(labels)
	idx := st.indices
	if st.views > 1 {
		ys, is := make([]*Node, st.views), make([]*Node, st.views)
		for v := range st.views {
			ys[v], is[v] = y, idx
		}
		y = Concatenate(ys, 0)
		if idx != nil {
			idx = Concatenate(is, 0)
		}
	}
	store := st.scope.Store()
	step := optimizer.GetGlobalStepVar(store).NodeValue(g)
	ctx := &Context{Student: st.pred, Outputs: st.outputs, Labels: y, Indices: idx, Step: step,
		StepsPerEpoch: d.cfg.StepsPerEpoch, NumTrain: d.cfg.NumTrain, NumClasses: d.cfg.NumClasses,
		Views: st.views, BatchSize: st.batch}
	ctx.StudentTaps = TapsUnder(g, st.studentPath)
	if d.cfg.Teacher != nil {
		tc := &TeacherContext{Scope: st.dscope.In("teacher"), X: st.x, Indices: idx, Labels: y, Student: d.cfg.Student,
			StudentPath: st.studentPath, Step: step, StepsPerEpoch: d.cfg.StepsPerEpoch, Like: st.pred}
		// The teacher is built in evaluation mode (no dropout, frozen statistics), as the
		// reference codes run it (teacher.eval(), torch.no_grad()).
		store.SetTraining(g, false)
		tl := d.cfg.Teacher.Logits(tc)
		store.SetTraining(g, true)
		ctx.TeacherLive = ConvertDType(tl, st.pred.DType())
		ctx.Teacher = StopGradient(ctx.TeacherLive)
		ctx.TeacherTaps = map[string]*Node{}
		for k, v := range TapsUnder(g, tc.Scope.Scope()) {
			ctx.TeacherTaps[k] = StopGradient(v)
		}
	}
	return ctx
}

// Export returns a new store with only the student's variables (and the params), ready for
// train.Predict with Model: teacher copies, adapters, critics, augmentors, memories and
// optimizer state are left out.
func Export(store *model.Store) (*model.Store, error) {
	out := model.NewStore()
	prefix := "/" + StudentScope + "/"
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), prefix) {
			continue
		}
		val, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("distill: export %s: %w", v.Path(), err)
		}
		c, err := val.LocalClone()
		if err != nil {
			return nil, fmt.Errorf("distill: export %s: %w", v.Path(), err)
		}
		if _, err := out.CreateVariable(v.Path(), c); err != nil {
			return nil, err
		}
	}
	for k, v := range store.IterParams() {
		out.SetParam(k, v)
	}
	return out, nil
}
