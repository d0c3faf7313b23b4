package certifiedbench

import (
	"context"
	"os"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

// A tiny run yields, per eps and arm, a verified and a clean accuracy row with per-seed values;
// verified accuracy never exceeds clean accuracy, the standard arm is the anchor, and both
// arms learn (clean accuracy far above the 10% of chance).
func TestRunTiny(t *testing.T) {
	tab, err := data.Builtin("digits")
	require.NoError(t, err)
	cfg := Config{Hidden: []int{32}, Epochs: 4, Batch: 64, LR: 3e-3, Eps: []float64{0.05}, Seeds: 2}
	rows, err := Run(context.Background(), suite.Options{}, tab, cfg)
	require.NoError(t, err)
	require.Len(t, rows, 4)
	byArm := map[string]map[string]suite.Result{}
	for _, r := range rows {
		require.Equal(t, "certified", r.Benchmark)
		require.Equal(t, "digits eps=0.05", r.Task)
		require.Equal(t, 2, r.Seeds)
		require.Len(t, r.Extra["per_seed"], 2)
		require.Equal(t, true, r.Extra["higher_is_better"])
		require.Equal(t, r.Arm == Arms[0].Name, r.IsAnchor(), r.Arm)
		require.Equal(t, 22*4, r.Steps) // 1437 training rows / 64 per batch, 4 epochs
		if byArm[r.Arm] == nil {
			byArm[r.Arm] = map[string]suite.Result{}
		}
		byArm[r.Arm][r.Metric] = r
	}
	require.Len(t, byArm, 2)
	for arm, m := range byArm {
		cl, ve := m["clean_acc"].Extra["per_seed"].([]float64), m["verified_acc"].Extra["per_seed"].([]float64)
		for s := range cl {
			require.LessOrEqual(t, ve[s], cl[s], "%s seed %d", arm, s+1)
			require.Greater(t, cl[s], 0.5, "%s seed %d", arm, s+1)
			require.GreaterOrEqual(t, ve[s], 0.0)
		}
		t.Logf("%s: clean %.3f verified %.3f", arm, m["clean_acc"].Value, m["verified_acc"].Value)
	}
	_, err = Run(context.Background(), suite.Options{}, &data.Table{Name: "r", Task: data.Regression}, cfg)
	require.ErrorContains(t, err, "want classification")
}
