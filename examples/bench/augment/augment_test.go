package augment

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func tiny() Setup {
	return Setup{Hidden: []int{16}, Steps: 30, Batch: 32, LR: 3e-3, Seeds: 2,
		Arms:       []Arm{{}, {N: 1, M: 5}, {N: 2, M: 9, Interpolation: "bilinear"}},
		Tasks:      []Task{{"digits", 1}, {"digits-25pct", 0.25}},
		CostImages: 64}
}

func TestRunTiny(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	rows, err := Run(context.Background(), suite.Options{Out: &out, PlotDir: dir, Backend: backend.MustDefault()}, tiny())
	require.NoError(t, err)
	type key struct{ task, arm, metric string }
	got := map[key]suite.Result{}
	for _, r := range rows {
		require.Equal(t, "augment", r.Benchmark)
		require.Contains(t, r.Extra, "higher_is_better")
		got[key{r.Task, r.Arm, r.Metric}] = r
	}
	// 2 tasks × (1 anchor + 2 arms × (accuracy, gain)) + host cost.
	require.Len(t, rows, 2*5+1)
	for _, task := range []string{"digits", "digits-25pct"} {
		none, ok := got[key{task, "none", "accuracy"}]
		require.True(t, ok, task)
		require.True(t, none.IsAnchor())
		require.Equal(t, 2, none.Seeds)
		require.Equal(t, 30, none.Steps)
		for _, arm := range []string{"ra-n1-m5", "ra-n2-m9-bilinear"} {
			acc := got[key{task, arm, "accuracy"}]
			require.Equal(t, 2, acc.Seeds, "%s %s", task, arm)
			require.False(t, acc.IsAnchor())
			require.Greater(t, acc.Value, 0.1, "%s %s learns something in 30 steps", task, arm)
			require.LessOrEqual(t, acc.Value, 1.0)
			// The gain row is the per-seed paired difference to the none arm.
			gain := got[key{task, arm, "gain_vs_none"}]
			ga, aa, na := gain.Extra["per_seed"].([]float64), acc.Extra["per_seed"].([]float64), none.Extra["per_seed"].([]float64)
			for i := range ga {
				require.InDelta(t, aa[i]-na[i], ga[i], 1e-12)
			}
		}
		require.Equal(t, "bilinear", got[key{task, "ra-n2-m9-bilinear", "accuracy"}].Extra["interpolation"])
		_, err := os.Stat(filepath.Join(dir, "augment-"+task+".png"))
		require.NoError(t, err)
	}
	// The same seed and split: the augmented arm differs from none only through its batches.
	require.NotEqual(t, got[key{"digits", "none", "accuracy"}].Extra["per_seed"], got[key{"digits", "ra-n1-m5", "accuracy"}].Extra["per_seed"])
	cost := got[key{"host-cost", "ra-n2-m9", "us_per_image"}]
	require.Greater(t, cost.Value, 0.0)
	require.Equal(t, "8x8x1", cost.Extra["image"])
	require.Contains(t, out.String(), "N=2 bilinear")
	require.Contains(t, out.String(), "M=9")
}

func TestDataFlag(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("a,b,c,y\n1,2,3,0\n4,5,6,1\n"), 0o644))
	_, err := Run(context.Background(), suite.Options{DataFile: bad, Backend: backend.MustDefault()}, tiny())
	require.ErrorContains(t, err, "has 3 features; RandAugment needs a square grayscale image")

	// A 3×3 "image" CSV: 60 rows, two classes (a bright left or right column).
	good := filepath.Join(dir, "img.csv")
	var b bytes.Buffer
	b.WriteString("p0,p1,p2,p3,p4,p5,p6,p7,p8,y\n")
	for i := range 60 {
		c := i % 2
		for p := range 9 {
			v := 0
			if p%3 == 2*c {
				v = 200
			}
			b.WriteString(strconv.Itoa(v) + ",")
		}
		b.WriteString(strconv.Itoa(c) + "\n")
	}
	require.NoError(t, os.WriteFile(good, b.Bytes(), 0o644))
	s := tiny()
	s.Tasks, s.Seeds, s.Arms = s.Tasks[:1], 1, s.Arms[:2]
	rows, err := Run(context.Background(), suite.Options{DataFile: good, Backend: backend.MustDefault()}, s)
	require.NoError(t, err)
	require.Len(t, rows, 1+2+1)
	require.Equal(t, "3x3x1", rows[3].Extra["image"])
	require.Equal(t, "img", rows[0].Task, "tasks are named after the -data table")
}
