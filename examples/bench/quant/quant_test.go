package quantbench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
		Bits: []int{2, 4}, Groups: []int{16, 64}, Methods: []string{"rtn", "bcq"},
		DigitsHidden: []int{32}, DigitsSteps: 150, DigitsBatch: 64, DigitsLR: 3e-3,
		LM:        moelm.Size{Seq: 16, Batch: 8, D: 16, Layers: 1, Heads: 2, ExpertHidden: 16, Steps: 30, EvalEvery: 15, LR: 1e-2, MaxValid: 1500},
		Synthetic: 64, Batches: []int{1, 8}, Reps: 2, BlockMs: 1, Seeds: 1,
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
		require.Equal(t, "quant", r.Benchmark)
		require.Equal(t, 1, r.Seeds)
		require.Contains(t, r.Extra, "higher_is_better")
		got[key{r.Task, r.Arm, r.Metric}] = r
	}
	// digits: float32 far above chance; 4 bits within a few points of it, 2 bits no better than
	// 4 bits by more than noise; memory: 4-bit BCQ is under a quarter of float32 at g=64 (at g=16
	// the 5 float32 scales per group cost 10 bits per weight).
	f32 := got[key{"digits", "float32", "accuracy"}]
	require.Greater(t, f32.Value, 0.8)
	require.Equal(t, true, f32.Extra["anchor"])
	f32Bytes := got[key{"digits", "float32", "weight_bytes"}].Value
	require.Equal(t, float64(4*(64*32+32*10)), f32Bytes)
	for _, m := range []string{"rtn", "bcq"} {
		for _, g := range []string{"16", "64"} {
			q4 := got[key{"digits", m + "-q4-g" + g, "accuracy"}]
			q2 := got[key{"digits", m + "-q2-g" + g, "accuracy"}]
			require.InDelta(t, f32.Value, q4.Value, 0.06, "%s g%s", m, g)
			require.LessOrEqual(t, q2.Value, q4.Value+0.03, "%s g%s", m, g)
			b4 := got[key{"digits", m + "-q4-g" + g, "weight_bytes"}].Value
			b2 := got[key{"digits", m + "-q2-g" + g, "weight_bytes"}].Value
			require.Less(t, b2, b4)
			require.Less(t, b4, f32Bytes)
			if g == "64" { // one group per row: planes plus 5 float32 scales per row
				require.Less(t, b4, f32Bytes/4)
			}
		}
	}
	// Smaller groups cost more scale bytes.
	require.Greater(t, got[key{"digits", "rtn-q2-g16", "weight_bytes"}].Value, got[key{"digits", "rtn-q2-g64", "weight_bytes"}].Value)
	// LM: quantized bpc is finite and not below float32 by more than noise; 2 bits hurt more
	// than 4.
	lm := got[key{"opticks", "float32", "bpc"}]
	require.Greater(t, lm.Value, 1.0)
	require.Less(t, lm.Value, 6.0)
	for _, m := range []string{"rtn", "bcq"} {
		q4 := got[key{"opticks", m + "-q4-g16", "bpc"}]
		q2 := got[key{"opticks", m + "-q2-g16", "bpc"}]
		require.InDelta(t, lm.Value, q4.Value, 0.15, m)
		require.GreaterOrEqual(t, q2.Value, q4.Value-0.05, m)
	}
	// Latency: every arm timed at both batches on both matrices, with positive times and the
	// speed-ups relative to the f32-go anchor.
	var latTasks []string
	for k := range got {
		if strings.HasPrefix(k.task, "latency-") && k.arm == "f32-go" && k.metric == "us_batch1" {
			latTasks = append(latTasks, k.task)
		}
	}
	require.Len(t, latTasks, 2)
	require.Contains(t, latTasks, "latency-64x64")
	// The LM's largest Dense weight: the output layer d=16 -> vocabulary.
	for _, task := range latTasks {
		if task != "latency-64x64" {
			lmLat := got[key{task, "f32-go", "us_batch1"}]
			require.Equal(t, "/head/l0/dense/weights", lmLat.Extra["variable"])
			require.Equal(t, 16, lmLat.Extra["cols"])
			require.Equal(t, fmt.Sprintf("latency-lm-%dx16", lmLat.Extra["rows"]), task)
		}
	}
	for _, task := range latTasks {
		for _, arm := range []string{"f32-go", "f32-backend", "gomlx-fused-int8-g128", "lut-q2-g16", "lut-q4-g64"} {
			for _, m := range []string{"us_batch1", "us_batch8"} {
				r, ok := got[key{task, arm, m}]
				require.True(t, ok, "%s %s %s", task, arm, m)
				require.Greater(t, r.Value, 0.0)
				require.Greater(t, r.Extra["speedup_vs_f32_go"], 0.0)
			}
		}
		require.InDelta(t, 1.0, got[key{task, "f32-go", "us_batch1"}].Extra["speedup_vs_f32_go"], 1e-12)
		require.Equal(t, true, got[key{task, "f32-go", "us_batch1"}].Extra["anchor"])
	}
	require.Equal(t, 64*2*(64/8)+64*(64/16)*3*4, got[key{"latency-64x64", "lut-q2-g16", "us_batch1"}].Extra["weight_bytes"])
	_, err = os.Stat(filepath.Join(dir, "quant-sweep.png"))
	require.NoError(t, err)
	require.Contains(t, out.String(), "quant digits: accuracy (mean ± std over 1 seed(s)); float32 ")
	require.Contains(t, out.String(), fmt.Sprintf("Dense weights %.0f bytes", f32Bytes))
	require.NotContains(t, out.String(), "%!")
	require.Contains(t, out.String(), "quant latency-64x64")
	require.Regexp(t, `batch 8: fastest LUT arm lut-q\d-g\d+ \([0-9.]+ µs, \d+ bytes = [0-9.]+% of float32\) (wins|loses) [0-9.]+x against f32-go`, out.String())
}

func TestBadSetup(t *testing.T) {
	opts := suite.Options{Backend: backend.MustDefault()}
	for _, c := range []struct {
		edit func(*Setup)
		want string
	}{
		{func(s *Setup) { s.Seeds = 0 }, "seeds=0"},
		{func(s *Setup) { s.Groups = []int{12} }, "group_size=12 must be a multiple of 8"},
		{func(s *Setup) { s.Bits = []int{9} }, "bits=9"},
		{func(s *Setup) { s.Methods = []string{"gptq"} }, `unknown quantizer "gptq"`},
		{func(s *Setup) { s.Batches = []int{0} }, "batch 0 must be >= 1"},
	} {
		s := tiny()
		c.edit(&s)
		_, err := Run(context.Background(), opts, s)
		require.ErrorContains(t, err, c.want)
	}
	require.Contains(t, suite.Names(), "quant")
}
