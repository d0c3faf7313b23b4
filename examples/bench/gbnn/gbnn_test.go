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
	wantArms := append(append([]string{}, arms...), arms[0], arms[1], arms[2], "constant", "linear")
	require.Len(t, rows, len(wantArms), "iris: 3 arms; diabetes: 3 arms and 2 baselines")
	byArm := map[string]float64{}
	for i, r := range rows {
		require.Equal(t, "gbnn", r.Benchmark)
		require.Equal(t, wantArms[i], r.Arm)
		require.Equal(t, 2, r.Seeds)
		require.NotContains(t, r.Extra, "reference_earlier_run", "no earlier-run numbers beside other settings")
		if r.Task == "diabetes" {
			require.Equal(t, "rmse", r.Metric)
			require.Greater(t, r.Value, 20.0, "RMSE in the target's original units")
			require.Less(t, r.Value, 200.0)
			require.Equal(t, false, r.Extra["higher_is_better"])
			byArm[r.Arm] = r.Value
		} else {
			require.Equal(t, "iris", r.Task)
			require.Equal(t, "accuracy", r.Metric)
			require.Greater(t, r.Value, 0.5)
			require.LessOrEqual(t, r.Value, 1.0)
		}
		switch r.Arm {
		case "gbnn":
			require.LessOrEqual(t, r.Steps, 4)
			require.NotEmpty(t, r.Extra["staged_mean"])
			require.Less(t, r.Extra["network_max_abs_diff"], 1e-3, "the served network equals the ensemble")
			require.Len(t, r.Extra["stages_kept"], 2)
		case "constant", "linear":
			require.Equal(t, true, r.Extra["baseline"])
		default:
			require.LessOrEqual(t, r.Steps, 300)
			if r.Task == "diabetes" {
				require.Len(t, r.Extra["best_step"], 2, "regression MLPs restore their best evaluation")
			} else {
				require.NotContains(t, r.Extra, "best_step")
			}
		}
	}
	// Diabetes: every model beats the training mean, least squares beats it too.
	for _, arm := range []string{"gbnn", "mlp-adam", "mlp-sgd", "linear"} {
		require.Less(t, byArm[arm], byArm["constant"], arm)
	}
	for _, name := range []string{"iris", "diabetes"} {
		_, err := os.Stat(filepath.Join(dir, "gbnn-"+name+".png"))
		require.NoError(t, err)
	}
	require.Contains(t, out.String(), "constant: the training fold's mean")
	require.NotContains(t, out.String(), "official GBNN†")
	require.Contains(t, out.String(), "no official-code or sklearn reference")
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
	require.NotContains(t, rows[0].Extra, "reference_earlier_run")

	s.Folds = 4
	_, err = Run(context.Background(), suite.Options{}, s)
	require.ErrorContains(t, err, "bad setup")
}

// TestEarlierRunReferences checks that the earlier run's numbers are attached only where
// their settings are this run's: bundled datasets, full setup.
func TestEarlierRunReferences(t *testing.T) {
	withFile := DefaultSetup(false)
	withFile.DataFile = "diabetes.csv"
	fewerStages := DefaultSetup(false)
	fewerStages.Stages = 20
	for _, c := range []struct {
		name string
		s    Setup
		want bool
	}{
		{"full", DefaultSetup(false), true},
		{"quick", DefaultSetup(true), false},
		{"data file", withFile, false},
		{"other stages", fewerStages, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, c.s.attachEarlierRun())
		})
	}
}

func TestRegistered(t *testing.T) {
	b, err := suite.Get("gbnn")
	require.NoError(t, err)
	require.Contains(t, b.Description(), "GBNN")
	require.Equal(t, 2, DefaultSetup(true).Folds)
	require.Equal(t, 200, DefaultSetup(false).Stages*DefaultSetup(false).UnitsPerStage)
}
