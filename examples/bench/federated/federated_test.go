package federated

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
)

func TestRunTiny(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	opts := suite.Options{Out: &out, PlotDir: dir, Backend: backend.MustDefault()}
	iris, err := data.Builtin("iris")
	require.NoError(t, err)
	s := DefaultSetup(true)
	s.Clients, s.PerRound, s.LocalSteps, s.Rounds, s.EvalEvery, s.Hidden = 4, 2, 3, 30, 10, 8
	s.Alphas, s.DriftSteps = []float64{0.5, 100}, 6
	rows, err := Run(context.Background(), opts, s, []*data.Table{iris})
	require.NoError(t, err)
	require.Len(t, rows, 3*len(s.Arms)*2)
	seen := map[string]int{}
	for _, r := range rows {
		require.Equal(t, "federated", r.Benchmark)
		require.Contains(t, []string{"iris@α=0.5", "iris@α=100", "iris@α=0.5,K=6"}, r.Task)
		if r.Task == "iris@α=0.5,K=6" {
			require.Equal(t, 6, r.Extra["local_steps"])
		} else {
			require.Equal(t, 3, r.Extra["local_steps"])
		}
		require.Contains(t, []string{"test_accuracy", "mean_accuracy_over_rounds"}, r.Metric)
		require.Equal(t, 1, r.Seeds)
		require.Equal(t, 30, r.Steps)
		require.Equal(t, r.Arm == "scaffold", r.IsAnchor(), r.Arm)
		require.Len(t, r.Extra["per_seed"], 1)
		// 30 rounds on iris must beat chance (1/3) clearly for every algorithm.
		require.Greater(t, r.Value, 0.5, "%s %s %s", r.Task, r.Arm, r.Metric)
		require.LessOrEqual(t, r.Value, 1.0)
		seen[r.Arm]++
	}
	for _, a := range s.Arms {
		require.Equal(t, 6, seen[a], a)
	}
	_, err = os.Stat(filepath.Join(dir, "federated-accuracy-vs-rounds.png"))
	require.NoError(t, err)

	reg := &data.Table{Name: "r", N: 2, D: 1, X: []float64{1, 2}, Y: []float64{0.5, 1}, Task: data.Regression}
	_, err = Run(context.Background(), opts, s, []*data.Table{reg})
	require.ErrorContains(t, err, "regression")
	bad := s
	bad.Rounds = 0
	_, err = Run(context.Background(), opts, bad, []*data.Table{iris})
	require.ErrorContains(t, err, "bad setup")
}
