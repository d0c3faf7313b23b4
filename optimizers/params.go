package optimizers

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
)

// Store params read by the optimizers (set them with -set "name=value;..."). The shared names
// apply to every optimizer that has that hyperparameter; a param that is absent (or, for
// learning_rate, 0) means the paper's default.
const (
	ParamLearningRate = "learning_rate" // GoMLX's optimizer.ParamLearningRate
	ParamBeta1        = "beta1"
	ParamBeta2        = "beta2"
	ParamBeta3        = "beta3"
	ParamEpsilon      = "epsilon"
	ParamWeightDecay  = "weight_decay"
	ParamMomentum     = "momentum"
	ParamDampening    = "dampening"
	ParamNesterov     = "nesterov"
	ParamAMSGrad      = "amsgrad"

	ParamDecayAll       = "optimizer_decay_all"
	ParamNoDecay        = "optimizer_no_decay"
	ParamLowRankExclude = "optimizer_lowrank_exclude"
	ParamLogGroups      = "optimizer_log_groups"
)

// ParamDoc documents one store param: its name, a default that fixes its type, and one line.
type ParamDoc struct {
	Name    string
	Default any
	Doc     string
}

var paramDocs = map[string]ParamDoc{}

// declare records a param for Params (called from the optimizers' init functions). The same
// name declared twice must keep its type.
func declare(name string, def any, doc string) {
	if old, ok := paramDocs[name]; ok {
		if fmt.Sprintf("%T", old.Default) != fmt.Sprintf("%T", def) {
			panic(fmt.Sprintf("optimizers: param %q declared with types %T and %T", name, old.Default, def))
		}
		return
	}
	paramDocs[name] = ParamDoc{Name: name, Default: def, Doc: doc}
}

// Params lists every store param the registered optimizers read, sorted by name, so that a
// command line can accept them (train.DeclareParam) and document them.
func Params() []ParamDoc {
	out := make([]ParamDoc, 0, len(paramDocs))
	for _, p := range paramDocs {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b ParamDoc) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func init() {
	declare(ParamLearningRate, 0.0, "learning rate (0: the optimizer's paper default)")
	declare(ParamBeta1, 0.0, "first-moment (momentum) coefficient β1")
	declare(ParamBeta2, 0.0, "second-moment coefficient β2 (Lion: the EMA coefficient)")
	declare(ParamBeta3, 0.0, "Adan's third coefficient β3 (code convention: 1 - paper β)")
	declare(ParamEpsilon, 0.0, "the optimizer's epsilon (see its doc for where it enters)")
	declare(ParamWeightDecay, 0.0, "weight decay rate (decoupled unless the optimizer says otherwise)")
	declare(ParamMomentum, 0.0, "SGD-style momentum")
	declare(ParamDampening, 0.0, "SGD dampening")
	declare(ParamNesterov, false, "Nesterov momentum")
	declare(ParamAMSGrad, false, "AMSGrad variant (AdamW, AdaBelief, Stable-SPAM)")
	declare(ParamDecayAll, false, "decay every tensor (default: no weight decay on rank < 2 tensors: biases, norms)")
	declare(ParamNoDecay, "", "comma-separated variable-path patterns ('*' wildcard) without weight decay")
	declare(ParamLowRankExclude, "", "comma-separated patterns of 2-D weights that low-rank optimizers keep full rank")
	declare(ParamLogGroups, true, "log the parameter-group partition once per optimizer")
}

// paramReader reads typed params from a scope, collecting conversion errors.
type paramReader struct {
	scope *model.Scope
	name  string // optimizer, for messages
	errs  []error
}

func newParamReader(scope *model.Scope, name string) *paramReader {
	return &paramReader{scope: scope, name: name}
}

func (r *paramReader) get(key string) (any, bool) {
	if r.scope == nil {
		return nil, false
	}
	return r.scope.GetParam(key)
}

func (r *paramReader) fail(key string, v any, want string) {
	r.errs = append(r.errs, fmt.Errorf("%s: param %s=%v (%T) is not %s", r.name, key, v, v, want))
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// floatOpt returns the param and whether it was set.
func (r *paramReader) floatOpt(key string) (float64, bool) {
	v, ok := r.get(key)
	if !ok {
		return 0, false
	}
	f, ok := toFloat(v)
	if !ok {
		r.fail(key, v, "a number")
		return 0, false
	}
	return f, true
}

func (r *paramReader) float(key string, def float64) float64 {
	if f, ok := r.floatOpt(key); ok {
		return f
	}
	return def
}

// floatPtr returns nil when the param is absent (the config's default applies).
func (r *paramReader) floatPtr(key string) *float64 {
	if f, ok := r.floatOpt(key); ok {
		return &f
	}
	return nil
}

func (r *paramReader) int(key string, def int) int {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	f, ok := toFloat(v)
	if !ok || f != math.Trunc(f) {
		r.fail(key, v, "an integer")
		return def
	}
	return int(f)
}

func (r *paramReader) intPtr(key string) *int {
	if _, ok := r.get(key); !ok {
		return nil
	}
	i := r.int(key, 0)
	return &i
}

func (r *paramReader) bool(key string, def bool) bool {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	switch x := v.(type) {
	case bool:
		return x
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err == nil {
			return b
		}
	}
	r.fail(key, v, "a bool")
	return def
}

func (r *paramReader) str(key string, def string) string {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// lr reads "learning_rate": absent or 0 means the default (0 is what train.Run stores when no
// learning rate was configured); a negative value is kept so that Validate rejects it.
func (r *paramReader) lr() float64 { return r.float(ParamLearningRate, 0) }

func (r *paramReader) err() error { return errors.Join(r.errs...) }

// Ptr returns a pointer to v, for the Config fields where nil means "the paper's default"
// (those whose zero is a meaningful value different from the default).
func Ptr[T any](v T) *T { return &v }

// or returns *p, or def when p is nil.
func or[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// orDefault returns v, or def when v is zero.
func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// checker accumulates hyperparameter errors with the optimizer's name, the bad value and what
// is allowed: "lion: beta1=1.5 must be in [0, 1)".
type checker struct {
	name string
	errs []error
}

func (c *checker) check(ok bool, param string, v any, allowed string) {
	if !ok {
		c.errs = append(c.errs, fmt.Errorf("%s: %s=%v %s", c.name, param, v, allowed))
	}
}

func (c *checker) lr(v float64) {
	c.check(isFinite64(v) && v > 0, ParamLearningRate, v, "must be > 0")
}

func (c *checker) beta(param string, v float64) {
	c.check(isFinite64(v) && v >= 0 && v < 1, param, v, "must be in [0, 1)")
}

func (c *checker) nonNeg(param string, v float64) {
	c.check(isFinite64(v) && v >= 0, param, v, "must be >= 0")
}

func (c *checker) positive(param string, v float64) {
	c.check(isFinite64(v) && v > 0, param, v, "must be > 0")
}

func (c *checker) err() error { return errors.Join(c.errs...) }

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}
