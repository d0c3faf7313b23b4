package suite

import (
	"fmt"

	"github.com/moeboost/moeboost/train/data"
)

// Baseline arms every regression table reports beside its models, fitted on each training
// fold and scored on the same test fold: ArmConstant predicts the training mean (what any model
// must beat), ArmLinear is least squares with an intercept (what a model must beat to have
// learned more than a line); see data.MeanPredict and data.LinearPredict.
const (
	ArmConstant = "constant"
	ArmLinear   = "linear"
)

// BaselineArms lists the regression baselines in table order.
var BaselineArms = []string{ArmConstant, ArmLinear}

// BaselinePredict fits the baseline arm on tr and returns its predictions for te's rows.
func BaselinePredict(arm string, tr, te *data.Table) ([]float64, error) {
	switch arm {
	case ArmConstant:
		return data.MeanPredict(tr, te)
	case ArmLinear:
		return data.LinearPredict(tr, te)
	}
	return nil, fmt.Errorf("baseline arm %q unknown: use %q or %q", arm, ArmConstant, ArmLinear)
}

// BaselineRMSE fits the baseline arm on tr and returns its RMSE on te, multiplied by unscale
// (the target's std when tr and te hold a standardized target, else 1).
func BaselineRMSE(arm string, tr, te *data.Table, unscale float64) (float64, error) {
	pred, err := BaselinePredict(arm, tr, te)
	if err != nil {
		return 0, err
	}
	return data.RMSE(pred, te.Y) * unscale, nil
}
