package optbench

import (
	"testing"

	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestAddBaselines(t *testing.T) {
	for _, c := range []struct {
		name string
		want []string // arms added
	}{
		{"diabetes", []string{"constant", "linear"}},
		{"digits", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			tab, err := data.Builtin(c.name)
			require.NoError(t, err)
			rows, lines, err := addBaselines(nil, []string{"adamw ..."}, tab, 2)
			require.NoError(t, err)
			require.Len(t, rows, len(c.want))
			require.Len(t, lines, 1+len(c.want))
			for i, r := range rows {
				require.Equal(t, c.want[i], r.Arm)
				require.Equal(t, "optimizers", r.Benchmark)
				require.Equal(t, 2, r.Seeds)
				require.Contains(t, lines[1+i], "baseline: "+r.Arm)
			}
			if len(rows) == 2 {
				require.Less(t, rows[1].Value, rows[0].Value, "least squares beats the mean on diabetes")
			}
		})
	}
}
