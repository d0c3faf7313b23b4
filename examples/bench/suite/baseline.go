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

// SplitBaselineRows returns one result row per baseline arm for a benchmark whose seed s
// (1..seeds) trains on t.Split(testFraction, s) and reports test RMSE in the target's units:
// the baselines are fitted on each of those training sides and scored on the same test sides
// (Extra: baseline, higher_is_better, per_seed). Classification tables get none.
func SplitBaselineRows(benchmark string, t *data.Table, testFraction float64, seeds int) ([]Result, error) {
	if t.Task != data.Regression {
		return nil, nil
	}
	vals := make(map[string][]float64)
	for s := 1; s <= seeds; s++ {
		tr, te, err := t.Split(testFraction, uint64(s))
		if err != nil {
			return nil, err
		}
		for _, arm := range BaselineArms {
			v, err := BaselineRMSE(arm, tr, te, 1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.Name, err)
			}
			vals[arm] = append(vals[arm], v)
		}
	}
	var rows []Result
	for _, arm := range BaselineArms {
		r := Row(benchmark, t.Name, arm, "rmse", vals[arm], 0, 0)
		r.Extra["baseline"] = true
		r.Extra["higher_is_better"] = false
		rows = append(rows, r)
	}
	return rows, nil
}
