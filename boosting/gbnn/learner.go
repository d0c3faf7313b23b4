package gbnn

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/boosting"
	"github.com/moeboost/moeboost/train/data"
)

// Learner, LearnerFactory, RegisterLearner, LearnerNames and NewLearner are the shared
// boosting learner registry (package boosting), re-exported for convenience.
type (
	Learner        = boosting.Learner
	LearnerFactory = boosting.LearnerFactory
)

// RegisterLearner registers a boosting learner; see boosting.RegisterLearner.
func RegisterLearner(name string, f LearnerFactory) { boosting.RegisterLearner(name, f) }

// LearnerNames returns the registered learner names; see boosting.LearnerNames.
func LearnerNames() []string { return boosting.LearnerNames() }

// NewLearner returns a registered learner; see boosting.NewLearner.
func NewLearner(scope *model.Scope, name string) (Learner, error) {
	return boosting.NewLearner(scope, name)
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
