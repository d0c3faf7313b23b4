package gbnn

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/registry"
	"github.com/moeboost/moeboost/train/data"
)

// Learner is a supervised boosting learner, the plugin type of the "learner" registry: it is
// fitted on a data table and then predicts class ids (classification) or values
// (regression).
type Learner interface {
	// Fit trains on t (t.Task says classification or regression).
	Fit(ctx context.Context, t *data.Table) error
	// Predict returns one prediction per row of x ([n, D] row-major).
	Predict(x []float64, n int) ([]float64, error)
}

// LearnerFactory builds a learner from the scope's store params, validating them.
type LearnerFactory func(scope *model.Scope) (Learner, error)

var learners = registry.NewKind[LearnerFactory]("learner")

// RegisterLearner makes a boosting learner available by name (lower snake_case), from an init
// function; it panics on a duplicate name.
func RegisterLearner(name string, f LearnerFactory) { learners.Register(name, f) }

// LearnerNames returns the registered learner names, sorted.
func LearnerNames() []string { return learners.Names() }

// NewLearner returns the learner registered under name, configured from the scope's params;
// an unknown name is an error listing the known ones.
func NewLearner(scope *model.Scope, name string) (Learner, error) {
	f, err := learners.Get(name)
	if err != nil {
		return nil, err
	}
	return f(scope)
}

func init() {
	RegisterLearner("gbnn", func(scope *model.Scope) (Learner, error) {
		cfg, err := ConfigFromScope(scope)
		if err != nil {
			return nil, err
		}
		return New(cfg)
	})
}

// GBNN is the GBNN learner: a validated Config and, once fitted, the Model.
type GBNN struct {
	Config Config
	Model  *Model
}

// New validates cfg and returns an unfitted GBNN learner.
func New(cfg Config) (*GBNN, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &GBNN{Config: cfg}, nil
}

// Fit implements Learner.
func (g *GBNN) Fit(ctx context.Context, t *data.Table) error {
	m, err := Fit(ctx, g.Config, t)
	if err != nil {
		return err
	}
	g.Model = m
	return nil
}

// Predict implements Learner.
func (g *GBNN) Predict(x []float64, n int) ([]float64, error) {
	if g.Model == nil {
		return nil, fmt.Errorf("gbnn: Predict before Fit")
	}
	return g.Model.Predict(x, n)
}
