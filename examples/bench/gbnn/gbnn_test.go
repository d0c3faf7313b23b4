package gbnnbench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	_ = backend.MustDefault()
	os.Exit(m.Run())
}

func tiny() Setup {
	return Setup{Datasets: []string{"iris", "diabetes"}, KFold: 3, Folds: 2, Stages: 4, UnitsPerStage: 2, MaxIter: 30, MLPSteps: 300}
}

func TestRunTiny(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	opts := suite.Options{Out: &out, PlotDir: dir, Backend: backend.MustDefault()}
	rows, err := Run(context.Background(), opts, tiny())
	require.NoError(t, err)
	require.Len(t, rows, 6)
	for i, r := range rows {
		require.Equal(t, "gbnn", r.Benchmark)
		require.Equal(t, arms[i%3], r.Arm)
		require.Equal(t, 2, r.Seeds)
		if r.Task == "diabetes" {
			require.Equal(t, "rmse", r.Metric)
			require.Greater(t, r.Value, 20.0, "RMSE in the target's original units")
			require.Less(t, r.Value, 200.0)
			require.Equal(t, false, r.Extra["higher_is_better"])
		} else {
			require.Equal(t, "iris", r.Task)
			require.Equal(t, "accuracy", r.Metric)
			require.Greater(t, r.Value, 0.5)
			require.LessOrEqual(t, r.Value, 1.0)
		}
		require.Contains(t, r.Extra, "reference_official")
		if r.Arm == "gbnn" {
			require.Equal(t, 4, r.Steps)
			require.Len(t, r.Extra["staged_mean"], 4)
			require.Less(t, r.Extra["network_max_abs_diff"], 1e-3, "the served network equals the ensemble")
		} else {
			require.Equal(t, 300, r.Steps)
		}
	}
	for _, name := range []string{"iris", "diabetes"} {
		_, err := os.Stat(filepath.Join(dir, "gbnn-"+name+".png"))
		require.NoError(t, err)
	}
	require.Contains(t, out.String(), "official GBNN")
	require.Contains(t, out.String(), "first stages kept")
}

func TestRunCSV(t *testing.T) {
	tab, err := data.Builtin("iris")
	require.NoError(t, err)
	var csv strings.Builder
	for i := range tab.N {
		for _, v := range tab.Row(i) {
			fmt.Fprintf(&csv, "%g,", v)
		}
		fmt.Fprintf(&csv, "%d\n", int(tab.Y[i]))
	}
	path := filepath.Join(t.TempDir(), "flowers.csv")
	require.NoError(t, os.WriteFile(path, []byte(csv.String()), 0o644))
	s := tiny()
	s.DataFile, s.Folds = path, 1
	rows, err := Run(context.Background(), suite.Options{}, s)
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, "flowers", rows[0].Task)
	require.NotContains(t, rows[0].Extra, "reference_official")

	s.Folds = 4
	_, err = Run(context.Background(), suite.Options{}, s)
	require.ErrorContains(t, err, "bad setup")
}

func TestRegistered(t *testing.T) {
	b, err := suite.Get("gbnn")
	require.NoError(t, err)
	require.Contains(t, b.Description(), "GBNN")
	require.Equal(t, 2, DefaultSetup(true).Folds)
	require.Equal(t, 200, DefaultSetup(false).Stages*DefaultSetup(false).UnitsPerStage)
}
