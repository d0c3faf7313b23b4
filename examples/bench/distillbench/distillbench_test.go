package distillbench

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func TestECEAndAccuracy(t *testing.T) {
	// Two rows in bin (0.8, 0.8667] with confidence 0.85, one right and one wrong: |0.5 −
	// 0.85| = 0.35, weight 2/3; one row at confidence 0.6, right: |1 − 0.6| = 0.4, weight 1/3.
	probs := [][]float64{{0.85, 0.15}, {0.15, 0.85}, {0.6, 0.4}}
	labels := []int{0, 0, 0}
	require.InDelta(t, 2.0/3*0.35+1.0/3*0.4, ECE(probs, labels, 15), 1e-12)
	all, few := Accuracy(probs, labels, map[int]bool{0: true})
	require.InDelta(t, 2.0/3, all, 1e-12)
	require.InDelta(t, 2.0/3, few, 1e-12)
	_, none := Accuracy(probs, labels, nil)
	require.True(t, math.IsNaN(none))
	conf, acc := reliability(probs, labels, 15)
	require.Len(t, conf, 2)
	require.InDeltaSlice(t, []float64{0.6, 0.85}, conf, 1e-12)
	require.InDeltaSlice(t, []float64{1, 0.5}, acc, 1e-12)
}

func TestLongTailProfile(t *testing.T) {
	tab, err := data.Builtin("digits")
	require.NoError(t, err)
	lt, counts := LongTail(tab, 50, 3)
	got := map[int]int{}
	for _, y := range lt.Y {
		got[int(y)]++
	}
	maxC, minC := 0.0, math.Inf(1)
	total := 0.0
	for c, n := range counts {
		require.Equal(t, int(n), got[c], "class %d", c)
		maxC, minC = math.Max(maxC, n), math.Min(minC, n)
		total += n
	}
	require.Equal(t, float64(lt.N), total)
	// Head = the smallest class size of digits (174), tail = ⌊174/50⌋ = 3.
	require.Equal(t, 174.0, maxC)
	require.Equal(t, 3.0, minC)
}

// Every benchmark runs end to end on a tiny budget and writes its table and plot.
func TestBenchmarksSmoke(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	opts := suite.Options{Backend: backend.MustDefault(), Out: &out, PlotDir: dir, Seeds: 1}
	tab, err := data.Builtin("digits")
	require.NoError(t, err)

	ds := DefaultDistillSpec(true)
	ds.TeacherSteps, ds.StudentSteps = 60, 60
	outs, err := DistillSeed(context.Background(), opts, ds, tab, 1, func(string) {})
	require.NoError(t, err)
	for _, arm := range DistillArms {
		o, ok := outs[arm]
		require.True(t, ok, arm)
		require.Greater(t, o.Accuracy, 0.3, arm)
		require.GreaterOrEqual(t, o.ECE, 0.0, arm)
	}
	ls := DefaultLongTailSpec(true)
	ls.Steps = 40
	lt, few, _, err := LongTailSeed(context.Background(), opts, ls, tab, 1, func(string) {})
	require.NoError(t, err)
	require.NotEmpty(t, few)
	require.Len(t, lt, len(LongTailArms))

	ms := DefaultMISpec(true)
	ms.Steps, ms.TrueMI, ms.Batch, ms.Hidden, ms.Out = 30, []float64{2, 8}, 32, 16, 8
	r, err := RunMI(context.Background(), opts, ms, 1)
	require.NoError(t, err)
	for _, e := range ms.Estimators {
		require.Len(t, r.Estimate[e], 2)
		if e == "infonce" {
			for _, v := range r.Estimate[e] {
				require.LessOrEqual(t, v, math.Log(32)+1e-6, "InfoNCE never exceeds log B")
			}
		}
	}
	// The registered benchmark functions print their tables and plots.
	rows, err := runMIBoundsSpec(context.Background(), opts, ms)
	require.NoError(t, err)
	require.Len(t, rows, len(ms.Estimators)*len(ms.TrueMI))
	require.Contains(t, out.String(), "InfoNCE ≤ log B")
	files, _ := filepath.Glob(filepath.Join(dir, "mi-bounds-*.png"))
	require.Len(t, files, 1)
	require.True(t, strings.Contains(out.String(), "estimator"))
}
