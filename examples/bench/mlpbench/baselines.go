package mlpbench

import (
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/data"
)

// baselineRows returns the regression baselines (training mean, least squares) on the same
// splits as Trial's seeds 1..seeds (t.Split(0.2, seed)), logging one line each; none for
// classification.
func baselineRows(opts suite.Options, t *data.Table, seeds int) ([]suite.Result, error) {
	rows, err := suite.SplitBaselineRows("mlp", t, 0.2, seeds)
	for _, r := range rows {
		opts.Logf("mlp %-12s baseline %-8s rmse = %.4f ± %.4f over the same %d splits", t.Name, r.Arm, r.Value, r.Std, seeds)
	}
	return rows, err
}
