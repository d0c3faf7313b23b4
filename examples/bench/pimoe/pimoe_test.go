package pimoebench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/stretchr/testify/require"
)

func TestRunTiny(t *testing.T) {
	s := Setup{Nx: 16, Nt: 8, Refine: 2, Basis: 6, Hidden: 8, Steps: 5, Seeds: 2,
		GlobalSamples: 60, Experts: 4, ExpertSamples: 15, LR: 1e-3, Clip: 1, Scales: []float64{0, 5}}
	var out bytes.Buffer
	dir := t.TempDir()
	rows, err := Run(context.Background(), suite.Options{Out: &out, PlotDir: dir}, s)
	require.NoError(t, err)
	require.Len(t, rows, 18)
	seen := map[string]int{}
	for _, r := range rows {
		seen[r.Arm]++
		require.Equal(t, benchName, r.Benchmark)
		require.Contains(t, []string{"diffusion-sorption", "diffusion-sorption-pdex5"}, r.Task)
		require.Equal(t, 2, r.Seeds)
		require.Equal(t, 5, r.Steps)
		require.Len(t, r.Extra["per_seed"], 2)
		require.Equal(t, false, r.Extra["higher_is_better"])
		require.Greater(t, r.Value, 0.0, "%s %s", r.Arm, r.Metric)
		require.Greater(t, r.MsPerStep, 0.0)
		require.Equal(t, r.Arm == ArmSoft, r.IsAnchor())
		if r.Arm != ArmSoft {
			require.Greater(t, r.Extra["mean_lm_iters"], 0.0)
		}
	}
	require.Equal(t, map[string]int{ArmSoft: 6, ArmGlobal: 6, ArmMoE: 6}, seen)
	for _, task := range []string{"diffusion-sorption", "diffusion-sorption-pdex5"} {
		_, err = os.Stat(filepath.Join(dir, "pi-moe-"+task+".png"))
		require.NoError(t, err)
		require.Contains(t, out.String(), "pi-moe "+task+": 16×8 (x, t) grid")
	}
	_, err = Run(context.Background(), suite.Options{Out: &out}, Setup{})
	require.ErrorContains(t, err, "no tasks")
	require.Contains(t, suite.Names(), benchName)
}
