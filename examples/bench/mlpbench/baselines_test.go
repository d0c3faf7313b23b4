package mlpbench

import (
	"bytes"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestBaselineRows(t *testing.T) {
	for _, c := range []struct {
		name string
		rows int
	}{{"diabetes", 2}, {"iris", 0}} {
		t.Run(c.name, func(t *testing.T) {
			tab, err := data.Builtin(c.name)
			require.NoError(t, err)
			var out bytes.Buffer
			rows, err := baselineRows(suite.Options{Out: &out}, tab, 2)
			require.NoError(t, err)
			require.Len(t, rows, c.rows)
			for _, r := range rows {
				require.Equal(t, "mlp", r.Benchmark)
				require.Equal(t, "rmse", r.Metric)
				require.Contains(t, out.String(), "baseline "+r.Arm)
			}
		})
	}
}
