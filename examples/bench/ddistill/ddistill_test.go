package ddistill

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestRunQuick(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	opts := suite.Options{Out: &out, PlotDir: dir, Backend: backend.MustDefault()}
	tab, err := data.Builtin("digits")
	require.NoError(t, err)
	rows, err := Run(context.Background(), opts, DefaultSetup(true), tab)
	require.NoError(t, err)
	got := map[key]float64{}
	for _, r := range rows {
		require.Equal(t, "dataset-distill", r.Benchmark)
		require.Equal(t, 1, r.Seeds)
		require.Contains(t, r.Extra, "higher_is_better")
		got[key{r.Task, r.Arm, r.Metric}] = r.Value
	}
	require.Len(t, rows, 1+2+2*4)
	for _, arm := range []string{"random-real", "kmeans-real", "mtt", "ast"} {
		acc := got[key{"ipc-1", arm, "test_accuracy"}]
		require.Greater(t, acc, 0.3, arm)
		require.LessOrEqual(t, acc, 1.0, arm)
	}
	for _, arm := range []string{"mtt", "ast"} {
		require.Less(t, got[key{"ipc-1", arm, "matching_loss"}], 1.0, "%s ends closer to the expert than its start point", arm)
		require.Greater(t, got[key{"ipc-1", arm, "learned_lr"}], 1e-6, arm)
	}
	// The paper's effect: ten distilled examples beat ten random real ones.
	require.Greater(t, got[key{"ipc-1", "mtt", "test_accuracy"}], got[key{"ipc-1", "random-real", "test_accuracy"}]+0.1)
	require.Greater(t, got[key{"all-real", "all-real", "test_accuracy"}], 0.85)
	for _, f := range []string{"dataset-distill-matching-loss.png", "dataset-distill-mtt-ipc-1.png", "dataset-distill-ast-ipc-1.png"} {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
	}
	require.Contains(t, out.String(), "dataset-distill on digits")

	_, err = Run(context.Background(), opts, Setup{}, tab)
	require.ErrorContains(t, err, "bad setup")
	reg, err := data.Builtin("diabetes")
	require.NoError(t, err)
	_, err = Run(context.Background(), opts, DefaultSetup(true), reg)
	require.ErrorContains(t, err, "needs classification")
}
