// Package boosting holds what moeboost's boosting packages share: the "learner" plugin
// registry of supervised boosting learners, fitted on a data table and predicting from it.
//
// Registered learners: "gbnn" (boosting/gbnn: gradient-boosted one-hidden-layer networks) and
// "gbt" (boosting/trees: gradient-boosted regression trees, squared loss). Import the
// implementing package for its registration.
package boosting

import (
	"context"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/registry"
	"github.com/moeboost/moeboost/train/data"
)

// Learner is a supervised boosting learner: fitted on a data table, then predicting class ids
// (classification) or values (regression).
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
