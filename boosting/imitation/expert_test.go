package imitation

import (
	"bytes"
	"context"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/moeboost/moeboost/boosting/rl"
	"github.com/moeboost/moeboost/train/backend"
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

// TestExpertPolicyActs checks the expert wrapper on an untrained network agent: deterministic
// actions are the argmax (discrete) or the clipped mean (continuous) of the policy head on the
// frozen-normalized observations; stochastic discrete actions follow the softmax.
func TestExpertPolicyActs(t *testing.T) {
	for _, env := range []string{"acrobot-v1", "pendulum-v1"} {
		t.Run(env, func(t *testing.T) {
			cfg, err := ExpertConfig(env)
			require.NoError(t, err)
			cfg.Backend = backend.MustDefault()
			ac, err := rl.NewActorCritic(cfg)
			require.NoError(t, err)
			spec := ac.Spec
			norm := rl.NewNormalizer(1, spec.NumObs, true, false, 0.99)
			// Statistics from a few observations, then frozen.
			d, err := Collect(env, RandomPolicy{Spec: spec}, 2, 4)
			require.NoError(t, err)
			norm.Obs(append([]float32(nil), d.Obs...), d.N())
			norm.Training = false
			p := &ExpertPolicy{AC: ac, Norm: norm}
			n := 64
			obs := d.Obs[:n*spec.NumObs]
			x := append([]float32(nil), obs...)
			norm.ObsFrozen(x)
			z, err := ac.PolicyOutputs(rl.Obs{N: n, NumDim: spec.NumObs, Num: x})
			require.NoError(t, err)
			disc, cont, err := p.Act(obs, n, nil, true)
			require.NoError(t, err)
			pd := ac.PolicyDim
			for i := 0; i < n; i++ {
				if spec.Discrete() {
					require.Equal(t, argmax32(z[i*pd:(i+1)*pd]), disc[i])
				} else {
					want := min(max(z[i], spec.ActionLow[0]), spec.ActionHigh[0])
					require.Equal(t, want, cont[i])
				}
			}
			_, _, err = p.Act(obs, n, nil, false)
			require.ErrorContains(t, err, "stochastic actions need an rng")
			_, _, err = p.Act(obs[:5], n, nil, true)
			require.ErrorContains(t, err, "5 observation values for 64 rows")
			if !spec.Discrete() {
				return
			}
			// Sampling one row many times follows softmax(z_0).
			const draws = 6000
			row := make([]float32, 0, draws*spec.NumObs)
			for i := 0; i < draws; i++ {
				row = append(row, obs[:spec.NumObs]...)
			}
			a, _, err := p.Act(row, draws, rand.New(rand.NewPCG(1, 2)), false)
			require.NoError(t, err)
			count := make([]float64, spec.Actions)
			for _, v := range a {
				count[v]++
			}
			var s float64
			for _, v := range z[:pd] {
				s += math.Exp(float64(v))
			}
			for k := range count {
				pk := math.Exp(float64(z[k])) / s
				require.InDelta(t, pk*draws, count[k], 4*math.Sqrt(draws*pk*(1-pk))+1, "action %d", k)
			}
		})
	}
}
