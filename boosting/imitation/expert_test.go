package imitation

import (
	"bytes"
	"context"
	"log"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExpertConfigs(t *testing.T) {
	for _, tc := range []struct {
		env    string
		target float64
	}{
		{"cartpole-v1", 500}, {"acrobot-v1", -80}, {"pendulum-v1", -170},
	} {
		cfg, err := ExpertConfig(tc.env)
		require.NoError(t, err)
		require.Equal(t, tc.target, cfg.Target)
		require.True(t, cfg.StopAtTarget)
		require.Equal(t, "nn", cfg.Model)
	}
	_, err := ExpertConfig("nope-v1")
	require.ErrorContains(t, err, "nope-v1")
	_, err = LoadOrTrainExpert(context.Background(), "cartpole-v1", 0, 1, "")
	require.ErrorContains(t, err, "0 expert trajectories requested; need >= 1")
}

// TestExpertDemosCache trains the CartPole expert once (about 10 s), checks the demos and the
// cached copy, then corrupts the cache file and checks it is replaced with a warning.
func TestExpertDemosCache(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d, ret, err := ExpertDemos(ctx, "cartpole-v1", 4, 3, dir)
	require.NoError(t, err)
	require.Equal(t, 4, d.Trajectories)
	require.NoError(t, d.Validate())
	t.Logf("CartPole expert: mean return %.1f on %d fresh episodes; demo returns %v", ret, ExpertEvalEpisodes, d.Returns)
	require.Greater(t, ret, 450.0, "the expert nearly always reaches the 500-step limit")
	files, err := filepath.Glob(filepath.Join(dir, "cartpole-v1-seed3-v1-*.gob"))
	require.NoError(t, err)
	require.Len(t, files, 1, "one cache file, no temporary left behind")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)

	// Loaded from the cache: the same demos, 16 stored, any subset is a prefix.
	e, err := LoadOrTrainExpert(ctx, "cartpole-v1", 1, 3, dir)
	require.NoError(t, err)
	require.Equal(t, ExpertCacheTrajectories, e.Demos.Trajectories)
	require.Len(t, e.Returns, ExpertEvalEpisodes)
	require.Equal(t, ret, e.Return)
	d1, ret1, err := ExpertDemos(ctx, "cartpole-v1", 1, 3, dir)
	require.NoError(t, err)
	require.Equal(t, ret, ret1)
	require.Equal(t, d.Lengths[:1], d1.Lengths)
	require.Equal(t, d.Obs[:len(d1.Obs)], d1.Obs)

	// A corrupt cache file is ignored with a one-line warning and regenerated.
	require.NoError(t, os.WriteFile(files[0], []byte("not a gob"), 0o644))
	var logs bytes.Buffer
	log.SetOutput(&logs)
	defer log.SetOutput(os.Stderr)
	_, _, err = ExpertDemos(ctx, "cartpole-v1", 2, 3, dir)
	require.NoError(t, err)
	require.Contains(t, logs.String(), "ignoring unreadable expert cache")
	require.Equal(t, 1, bytes.Count(logs.Bytes(), []byte("\n")))
	_, err = readExpert(files[0])
	require.NoError(t, err, "the regenerated cache decodes")
}
