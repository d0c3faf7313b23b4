package imitation

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	im "github.com/moeboost/moeboost/boosting/imitation"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

// TestTinyRun runs the benchmark on CartPole with 1 demonstration, 1 seed, a tiny budget and
// every registered method, and checks its rows: every arm present with both metrics, the
// expert's normalized return exactly 1 and the random policy's near 0 (by construction),
// finite values, per-seed lengths, env steps, and the plot and table.
func TestTinyRun(t *testing.T) {
	dir := t.TempDir()
	c := config{envs: []string{"cartpole-v1"}, demos: []int{1}, methods: append([]string{"bc"}, Adversarial...),
		steps: map[string]int{"cartpole-v1": 1200}, seeds: 1, cacheDir: filepath.Join(dir, "experts"),
		bcParams: map[string]float64{"steps": 200}, evalEps: 2, curvePts: 2,
		advParams: map[string]float64{"seed_steps": 200, "n_samples": 500, "disc_iter": 10},
		backend:   backend.MustDefault()}
	var log bytes.Buffer
	rows, err := runWith(context.Background(), suite.Options{Out: &log, PlotDir: dir}, c)
	require.NoError(t, err)
	t.Log(log.String())
	learners := []string{"bc"}
	for _, m := range Adversarial {
		if _, err := im.Get(m); err == nil {
			learners = append(learners, m)
		} else {
			require.Contains(t, log.String(), `method "`+m+`" is not registered; skipped`)
		}
	}
	if _, err := im.Get("ailboost"); err == nil {
		learners = append(learners, "ailboost"+LastSuffix) // the mixture's newest learner alone
	}
	arms := append([]string{"expert", "random"}, learners...)
	require.Len(t, rows, 2*len(arms))
	byArm := map[string]map[string]suite.Result{}
	for _, r := range rows {
		require.Equal(t, "imitation", r.Benchmark)
		require.Equal(t, "CartPole-v1/demos=1", r.Task)
		require.False(t, math.IsNaN(r.Value) || math.IsInf(r.Value, 0), "%s %s = %v", r.Arm, r.Metric, r.Value)
		require.Equal(t, true, r.Extra[suite.ExtraHigherIsBetter])
		if byArm[r.Arm] == nil {
			byArm[r.Arm] = map[string]suite.Result{}
		}
		byArm[r.Arm][r.Metric] = r
	}
	for _, a := range arms {
		require.Contains(t, byArm, a)
		for _, m := range []string{"normalized_return", "return"} {
			r, ok := byArm[a][m]
			require.True(t, ok, "%s %s", a, m)
			require.Len(t, r.Extra["per_seed"], r.Seeds)
		}
	}
	ex := byArm["expert"]["normalized_return"]
	require.True(t, ex.IsAnchor())
	require.Equal(t, 1.0, ex.Value, "the expert is the 1 of the scale")
	require.Len(t, ex.Extra["per_episode"], im.ExpertEvalEpisodes)
	require.Greater(t, byArm["expert"]["return"].Value, 450.0)
	rnd := byArm["random"]["normalized_return"]
	require.Equal(t, true, rnd.Extra[suite.ExtraBaseline])
	require.InDelta(t, 0, rnd.Value, 0.05, "the random policy is the 0 of the scale (other episodes)")
	// Normalization is consistent: normalized = (return - random) / (expert - random).
	for _, a := range learners {
		n, r := byArm[a]["normalized_return"], byArm[a]["return"]
		require.Equal(t, 1, n.Seeds)
		want := (r.Value - n.Extra["random_return"].(float64)) / (n.Extra["expert_return"].(float64) - n.Extra["random_return"].(float64))
		require.InDelta(t, want, n.Value, 1e-9, a)
		// CartPole returns are whole steps: a mean of 20 episodes is a multiple of 1/20.
		require.InDelta(t, math.Round(r.Value*FinalEpisodes), r.Value*FinalEpisodes, 1e-6, a)
		if a == "ailboost"+LastSuffix {
			require.Contains(t, n.Extra["eval"], "newest learner")
		}
		if a == "bc" {
			require.Equal(t, 0, n.Steps)
			require.Equal(t, 0.0, n.MsPerStep)
		} else {
			require.Greater(t, n.Steps, 0)
			require.Greater(t, n.MsPerStep, 0.0)
		}
	}
	_, err = os.Stat(filepath.Join(dir, "imitation-CartPole-v1.png"))
	require.NoError(t, err)
	require.Contains(t, log.String(), "expert-normalized return")
	require.Contains(t, log.String(), "CartPole-v1/demos=1")
}

func TestConfigFromEnv(t *testing.T) {
	c, err := configFromEnv(suite.Options{Quick: true})
	require.NoError(t, err)
	require.Equal(t, []string{"cartpole-v1"}, c.envs)
	require.Equal(t, []int{1, 4}, c.demos)
	require.Equal(t, 1, c.seeds)
	c, err = configFromEnv(suite.Options{})
	require.NoError(t, err)
	require.Equal(t, Envs, c.envs)
	require.Equal(t, DemoCounts, c.demos)
	require.Equal(t, 2, c.seeds)
	require.Equal(t, im.DefaultExpertCache(), c.cacheDir)

	t.Setenv("MOEBOOST_IMITATION_ENVS", "Pendulum-v1")
	t.Setenv("MOEBOOST_IMITATION_DEMOS", "16,1")
	t.Setenv("MOEBOOST_IMITATION_METHODS", "bc")
	t.Setenv("MOEBOOST_IMITATION_STEPS", "777")
	t.Setenv("MOEBOOST_IMITATION_CACHE", "/tmp/x")
	c, err = configFromEnv(suite.Options{})
	require.NoError(t, err)
	require.Equal(t, []string{"pendulum-v1"}, c.envs)
	require.Equal(t, []int{16, 1}, c.demos)
	require.Equal(t, []string{"bc"}, c.methods)
	require.Equal(t, 777, c.steps["pendulum-v1"])
	require.Equal(t, "/tmp/x", c.cacheDir)

	for _, tc := range []struct{ key, val, want string }{
		{"MOEBOOST_IMITATION_ENVS", "mountaincar-v0", `names "mountaincar-v0"; known: cartpole-v1, acrobot-v1, pendulum-v1`},
		{"MOEBOOST_IMITATION_DEMOS", "0", `has "0"; need integers in [1, 16]`},
		{"MOEBOOST_IMITATION_METHODS", "bcx", "bcx"},
		{"MOEBOOST_IMITATION_STEPS", "-3", `MOEBOOST_IMITATION_STEPS="-3" must be an integer >= 1`},
	} {
		t.Run(tc.key, func(t *testing.T) {
			t.Setenv(tc.key, tc.val)
			_, err := configFromEnv(suite.Options{})
			require.ErrorContains(t, err, tc.want)
		})
	}
}
