package trees

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/boosting"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

func init() {
	train.DeclareParam("gbt_trees", 100, "gbt learner: boosting rounds")
	train.DeclareParam("gbt_learning_rate", 0.3, "gbt learner: shrinkage eta")
	train.DeclareParam("gbt_max_depth", 6, "gbt learner: maximum tree depth")
	boosting.RegisterLearner("gbt", func(scope *model.Scope) (boosting.Learner, error) {
		cfg := RegressorConfig{
			Trees:        model.GetParamOr(scope, "gbt_trees", 100),
			LearningRate: model.GetParamOr(scope, "gbt_learning_rate", 0.3),
			MaxDepth:     model.GetParamOr(scope, "gbt_max_depth", 6),
		}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		return &GBTLearner{Config: cfg}, nil
	})
}

// GBTLearner is the "gbt" boosting learner: the squared-loss gradient-boosted tree regressor
// (FitRegressor) behind the shared learner interface. It fits regression tables only.
type GBTLearner struct {
	Config    RegressorConfig
	Regressor *Regressor
	d         int
}

// Fit implements boosting.Learner.
func (l *GBTLearner) Fit(_ context.Context, t *data.Table) error {
	if t.Task != data.Regression {
		return fmt.Errorf("trees: learner \"gbt\" fits regression (squared loss); table %q is %s", t.Name, t.Task)
	}
	x := make([]float32, len(t.X))
	for i, v := range t.X {
		x[i] = float32(v)
	}
	y := make([]float32, len(t.Y))
	for i, v := range t.Y {
		y[i] = float32(v)
	}
	r, err := FitRegressor(NumericData(x, t.N, t.D), y, l.Config)
	if err != nil {
		return err
	}
	l.Regressor, l.d = r, t.D
	return nil
}

// Predict implements boosting.Learner.
func (l *GBTLearner) Predict(x []float64, n int) ([]float64, error) {
	if l.Regressor == nil {
		return nil, fmt.Errorf("trees: learner \"gbt\": Predict before Fit")
	}
	if n <= 0 || len(x) != n*l.d {
		return nil, fmt.Errorf("trees: learner \"gbt\": %d values for %d rows of %d features", len(x), n, l.d)
	}
	xf := make([]float32, len(x))
	for i, v := range x {
		xf[i] = float32(v)
	}
	p, err := l.Regressor.PredictY(NumericData(xf, n, l.d))
	if err != nil {
		return nil, err
	}
	out := make([]float64, n)
	for i, v := range p {
		out[i] = float64(v)
	}
	return out, nil
}
