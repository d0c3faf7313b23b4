package kanbench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/moelm"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func tiny() Setup {
	return Setup{
		Tokens: 64, D: 16, Hidden: 32, Reps: 6, Warmup: 1,
		DigitsD: 16, DigitsHidden: 32, DigitsBlocks: 1, DigitsSteps: 60, DigitsBatch: 64, DigitsLR: 3e-3,
		LM:     moelm.Size{Seq: 16, Batch: 8, D: 16, Layers: 1, Heads: 2, ExpertHidden: 16, Steps: 30, EvalEvery: 15, LR: 1e-2, MaxValid: 1500},
		Groups: 8, Seeds: 1,
		LMArms: []string{ArmMLP, ArmKAN}, DigitsArms: []string{ArmMLP, ArmKAN, ArmKANAutodiff},
	}
}

func TestRunTiny(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	opts := suite.Options{Out: &out, PlotDir: dir, Backend: backend.MustDefault()}
	rows, err := Run(context.Background(), opts, tiny())
	require.NoError(t, err)
	type key struct{ task, arm, metric string }
	got := map[key]suite.Result{}
	for _, r := range rows {
		require.Equal(t, "kan", r.Benchmark)
		require.Equal(t, 1, r.Seeds)
		require.Contains(t, r.Extra, "higher_is_better")
		got[key{r.Task, r.Arm, r.Metric}] = r
	}
	// ffn-step: 5 units × (forward, backward) + 2 speed-ups.
	for _, arm := range []string{ArmMLP, ArmKAN, ArmKANAutodiff, "rational-flashkat", "rational-autodiff"} {
		for _, m := range []string{"ms_forward", "ms_backward"} {
			r, ok := got[key{"ffn-step", arm, m}]
			require.True(t, ok, "%s %s", arm, m)
			require.Greater(t, r.Value, 0.0, "%s %s", arm, m)
		}
	}
	for _, pair := range []string{"ffn", "rational"} {
		r := got[key{"ffn-step", "flashkat-vs-autodiff-" + pair, "backward_speedup"}]
		require.Greater(t, r.Value, 0.0)
		require.Equal(t, true, r.Extra["higher_is_better"])
	}
	require.Equal(t, true, got[key{"ffn-step", ArmMLP, "ms_forward"}].Extra["anchor"])
	// Equal width: the GR-KAN has the MLP's parameters plus 2·(6 + 8·4) coefficients.
	require.Equal(t, got[key{"ffn-step", ArmMLP, "ms_forward"}].Extra["params"].(int)+76, got[key{"ffn-step", ArmKAN, "ms_forward"}].Extra["params"])
	// digits: every arm learns far above chance (10%); the two gradient forms train the same
	// model, so their accuracies agree closely.
	for _, arm := range []string{ArmMLP, ArmKAN, ArmKANAutodiff} {
		r := got[key{"digits", arm, "accuracy"}]
		require.Greater(t, r.Value, 0.6, arm)
		require.LessOrEqual(t, r.Value, 1.0, arm)
		require.Greater(t, r.MsPerStep, 0.0)
		require.Equal(t, 60, r.Steps)
	}
	require.InDelta(t, got[key{"digits", ArmKAN, "accuracy"}].Value, got[key{"digits", ArmKANAutodiff, "accuracy"}].Value, 0.03)
	// LM: bpc below the uniform code over the vocabulary (log2 of ~80 characters) after 30 steps.
	for _, arm := range []string{ArmMLP, ArmKAN} {
		r := got[key{"opticks", arm, "bpc"}]
		require.Greater(t, r.Value, 0.5, arm)
		require.Less(t, r.Value, 5.5, arm)
		require.Equal(t, false, r.Extra["higher_is_better"])
	}
	require.Len(t, rows, 12+3+2)
	_, err = os.Stat(filepath.Join(dir, "kan-curves.png"))
	require.NoError(t, err)
	require.Contains(t, out.String(), "backward = (forward+backward) − forward")
}

func TestBadSetup(t *testing.T) {
	opts := suite.Options{Backend: backend.MustDefault()}
	s := tiny()
	s.Seeds = 0
	_, err := Run(context.Background(), opts, s)
	require.ErrorContains(t, err, "seeds=0")
	_, err = ffnFor("kan", 8, 8)
	require.ErrorContains(t, err, `arm "kan" unknown`)
	require.Contains(t, suite.Names(), "kan")
}
