package gbrl

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/moeboost/moeboost/boosting/rl"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func TestEveryArmHasAValidPreset(t *testing.T) {
	for _, env := range Envs {
		for _, arm := range Arms {
			cfg, err := armConfig(env, arm)
			require.NoError(t, err, "%s %s", env, arm)
			cfg.Backend = backend.MustDefault()
			cfg.TotalSteps = max(budget(env, arm, true), cfg.NumEnvs*cfg.NSteps)
			require.NoError(t, cfg.Validate(), "%s %s", env, arm)
		}
	}
	_, err := armConfig("CartPole-v1", "dqn")
	require.ErrorContains(t, err, `unknown arm "dqn"`)
}

func TestSummarize(t *testing.T) {
	mk := func(final float64, target int) *rl.Result {
		return &rl.Result{FinalReturn: final, StepsToTarget: target, EnvSteps: 1000, Updates: 10, Seconds: 2,
			Curve: []rl.CurvePoint{{Steps: 500, EvalReturn: final / 2}, {Steps: 1000, EvalReturn: final}}}
	}
	out := []outcome{
		{job: job{"CartPole-v1", "gbrl-ppo", 0}, res: mk(480, 1000)},
		{job: job{"CartPole-v1", "gbrl-ppo", 1}, res: mk(460, -1)},
		{job: job{"CartPole-v1", "nn-ppo", 0}, res: mk(500, 500)},
	}
	var log bytes.Buffer
	dir := t.TempDir()
	rows, err := summarize(suite.Options{Out: &log, PlotDir: dir}, out)
	require.NoError(t, err)
	require.Len(t, rows, 4) // two mean_return rows, two steps_to_target rows
	require.Equal(t, "mean_return", rows[0].Metric)
	require.InDelta(t, 470, rows[0].Value, 1e-9)
	require.Equal(t, 2, rows[0].Seeds)
	require.Equal(t, 500.0, rows[0].Extra["steps_per_sec"])
	require.Equal(t, 5.0, rows[0].Extra["trees_per_sec"])
	require.Equal(t, "steps_to_target", rows[1].Metric)
	require.Equal(t, "1/2", rows[1].Extra["reached"])
	require.Contains(t, log.String(), "gbrl-ppo")
	_, err = os.Stat(filepath.Join(dir, "gbrl-CartPole-v1.png"))
	require.NoError(t, err)
	s := curve("x", []*rl.Result{mk(100, -1), mk(300, -1)})
	require.Equal(t, []float64{100, 200}, s.Y)
	require.Equal(t, []float64{500, 1000}, s.X)
}
