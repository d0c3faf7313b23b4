package bilevelbench

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

func tiny() Setup {
	return Setup{Iters: 40, LowerSteps: 300, LowerLR: 0.1, Corruption: 0.4, Mu: 1e-3, Grid: false, Seeds: 1, Ball: true}
}

func TestRunTiny(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	opts := suite.Options{Out: &out, PlotDir: dir, Backend: backend.MustDefault()}
	tab, err := data.Builtin("digits")
	require.NoError(t, err)
	rows, err := Run(context.Background(), opts, tiny(), tab)
	require.NoError(t, err)
	type key struct{ task, arm, metric string }
	got := map[key]float64{}
	for _, r := range rows {
		require.Equal(t, "bilevel", r.Benchmark)
		require.Equal(t, 1, r.Seeds)
		require.Contains(t, r.Extra, "higher_is_better")
		got[key{r.Task, r.Arm, r.Metric}] = r.Value
	}
	want := map[string][]string{
		"hyper-clean":      {"noisy", "clean-only", "aid", "bo-rep", "lv-hba"},
		"hyper-clean-ball": {"noisy", "clean-only", "lv-hba"},
	}
	n := 0
	for task, arms := range want {
		for _, arm := range arms {
			metrics := []string{"test_accuracy", "val_loss", "seconds"}
			if arm != "noisy" && arm != "clean-only" {
				metrics = append(metrics, "detection_auc")
			}
			for _, m := range metrics {
				v, ok := got[key{task, arm, m}]
				require.True(t, ok, "%s %s %s", task, arm, m)
				require.False(t, v != v, "%s %s %s is NaN", task, arm, m)
				n++
			}
			acc := got[key{task, arm, "test_accuracy"}]
			require.Greater(t, acc, 0.5, "%s %s learns digits despite the noise", task, arm)
			require.LessOrEqual(t, acc, 1.0)
			if auc, ok := got[key{task, arm, "detection_auc"}]; ok {
				// Every method learns weights that rank clean examples above corrupted ones.
				require.Greater(t, auc, 0.75, "%s %s detection AUC", task, arm)
				require.LessOrEqual(t, auc, 1.0)
			}
		}
	}
	require.Len(t, rows, n)
	// The ceiling beats training on the corrupted labels, and so does every method (40
	// iterations already reweight the corrupted examples enough).
	noisy := got[key{"hyper-clean", "noisy", "test_accuracy"}]
	require.Greater(t, got[key{"hyper-clean", "clean-only", "test_accuracy"}], noisy)
	for _, arm := range []string{"aid", "bo-rep", "lv-hba"} {
		require.Greater(t, got[key{"hyper-clean", arm, "test_accuracy"}], noisy, arm)
	}
	require.Contains(t, out.String(), "40% of training labels corrupted")
	_, err = os.Stat(filepath.Join(dir, "bilevel-accuracy-vs-time.png"))
	require.NoError(t, err)
}

func TestDataFile(t *testing.T) {
	tab, err := data.Builtin("iris")
	require.NoError(t, err)
	var b strings.Builder
	b.WriteString("sepal_l,sepal_w,petal_l,petal_w,species\n")
	for i := range tab.N {
		r := tab.Row(i)
		fmt.Fprintf(&b, "%g,%g,%g,%g,%s\n", r[0], r[1], r[2], r[3], []string{"setosa", "versicolor", "virginica"}[int(tab.Y[i])])
	}
	path := filepath.Join(t.TempDir(), "iris_named.csv")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	var out bytes.Buffer
	opts := suite.Options{Out: &out, Backend: backend.MustDefault(), DataFile: path}
	got, err := table(opts)
	require.NoError(t, err)
	require.Equal(t, 3, got.NumClasses)
	s := tiny()
	s.Iters, s.LowerSteps, s.Ball = 10, 50, false
	rows, err := Run(context.Background(), opts, s, got)
	require.NoError(t, err)
	require.Len(t, rows, 2*3+3*4)
	require.Contains(t, out.String(), "iris_named")

	// A regression file is refused with one sentence.
	reg := filepath.Join(t.TempDir(), "reg.csv")
	require.NoError(t, os.WriteFile(reg, []byte("a,b,y\n1,2,0.5\n2,3,1.5\n3,1,2.25\n"), 0o644))
	_, err = table(suite.Options{DataFile: reg, Data: data.Options{Read: data.ReadOptions{Task: data.Regression}}})
	require.ErrorContains(t, err, "classification")
	_, err = Run(context.Background(), opts, Setup{}, got)
	require.ErrorContains(t, err, "bad setup")
}
