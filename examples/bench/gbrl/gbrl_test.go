package gbrl

import (
	"bytes"
	"context"
	"math"
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
	mkRL := func(final float64, target int) *rl.Result {
		return &rl.Result{FinalReturn: final, StepsToTarget: target, EnvSteps: 1000, Updates: 10, Seconds: 2,
			Curve: []rl.CurvePoint{{Steps: 500, EvalReturn: final / 2}, {Steps: 1000, EvalReturn: final}}}
	}
	// The fresh-episode score is 100 below the last training evaluation: the row must report it.
	mk := func(final float64, target int) *runResult {
		return &runResult{Result: mkRL(final, target), FreshReturn: final - 100}
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
	require.InDelta(t, 370, rows[0].Value, 1e-9, "mean of the fresh-episode returns 380 and 360")
	require.Equal(t, []float64{480, 460}, rows[0].Extra["last_eval_return_per_seed"])
	require.Equal(t, FinalEpisodes, rows[0].Extra["eval_episodes"])
	require.Equal(t, 2, rows[0].Seeds)
	require.Equal(t, 500.0, rows[0].Extra["steps_per_sec"])
	require.Equal(t, 5.0, rows[0].Extra["trees_per_sec"])
	require.Equal(t, "steps_to_target", rows[1].Metric)
	require.Equal(t, "1/2", rows[1].Extra["reached"])
	require.Contains(t, log.String(), "gbrl-ppo")
	_, err = os.Stat(filepath.Join(dir, "gbrl-CartPole-v1.png"))
	require.NoError(t, err)
	s := curve("x", []*rl.Result{mkRL(100, -1), mkRL(300, -1)})
	require.Equal(t, []float64{100, 200}, s.Y)
	require.Equal(t, []float64{500, 1000}, s.X)
}

// TestFinalEvaluationIsFresh trains CartPole with stop-at-target on the quick budget and checks
// the reported return is a mean over FinalEpisodes new episodes, seeded apart from the training
// evaluations.
func TestFinalEvaluationIsFresh(t *testing.T) {
	require.NotEqual(t, freshSeed(1000), uint64(1000+1_000_003+40_000))
	j := job{"CartPole-v1", "gbrl-ppo", 0}
	r, err := runOne(context.Background(), j, true, backend.MustDefault())
	require.NoError(t, err)
	require.NotEmpty(t, r.Curve)
	t.Logf("steps %d, last training evaluation %.1f, fresh %.2f", r.EnvSteps, r.FinalReturn, r.FreshReturn)
	require.False(t, math.IsNaN(r.FreshReturn))
	// CartPole gives +1 per step and truncates at 500: a mean over 20 episodes lies in [1, 500]
	// and is a multiple of 1/20.
	require.GreaterOrEqual(t, r.FreshReturn, 1.0)
	require.LessOrEqual(t, r.FreshReturn, 500.0)
	require.InDelta(t, math.Round(r.FreshReturn*FinalEpisodes), r.FreshReturn*FinalEpisodes, 1e-6)
}
