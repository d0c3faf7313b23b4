package optbench

import (
	"fmt"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/data"
)

// addBaselines appends the regression baselines (training mean, least squares) on the same
// splits as tabularRun's seeds (t.Split(0.2, seed)) to the rows and the printed table lines;
// classification tables are left as they are.
func addBaselines(rows []suite.Result, lines []string, t *data.Table, seeds int) ([]suite.Result, []string, error) {
	base, err := suite.SplitBaselineRows("optimizers", t, 0.2, seeds)
	if err != nil {
		return rows, lines, err
	}
	for _, r := range base {
		lines = append(lines, fmt.Sprintf("%-22s %9s %8.4f ± %-8.4f %8s %8s", "baseline: "+r.Arm, "-", r.Value, r.Std, "-", "-"))
	}
	return append(rows, base...), lines, nil
}
