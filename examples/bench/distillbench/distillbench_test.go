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
		// ECE against an independent re-statement (PS-KD's loop over bin boundaries,
		// lo < conf <= hi), and the bound ECE >= |accuracy - mean confidence| (the
		// triangle inequality over bins), which a mis-binned or mis-weighted ECE breaks.
		testY := testLabels(t, tab, ds.TestFraction, 1)
		require.Len(t, testY, len(o.Probs))
		conf, correct := confidences(o.Probs, testY)
		require.InDelta(t, eceByBoundaries(conf, correct, 15), o.ECE, 1e-12, arm)
		var meanConf, acc float64
		for i := range conf {
			meanConf += conf[i] / float64(len(conf))
			if correct[i] {
				acc += 1 / float64(len(conf))
			}
		}
		require.InDelta(t, acc, o.Accuracy, 1e-12, arm)
		require.GreaterOrEqual(t, o.ECE, math.Abs(acc-meanConf)-1e-12, arm)
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

// testLabels re-draws the test split DistillSeed uses for seed.
func testLabels(t *testing.T, tab *data.Table, testFraction float64, seed int) []int {
	_, te, err := tab.Split(testFraction, uint64(seed))
	require.NoError(t, err)
	out := make([]int, te.N)
	for i, y := range te.Y {
		out[i] = int(y)
	}
	return out
}

// confidences returns each row's max probability and whether its argmax is the label.
func confidences(probs [][]float64, labels []int) ([]float64, []bool) {
	conf := make([]float64, len(probs))
	correct := make([]bool, len(probs))
	for i, p := range probs {
		arg := 0
		for c := range p {
			if p[c] > p[arg] {
				arg = c
			}
		}
		conf[i], correct[i] = p[arg], arg == labels[i]
	}
	return conf, correct
}

// eceByBoundaries is PS-KD's ECE loop (metric/utils.py): for each bin (lo, hi] of
// linspace(0, 1, nbins+1), |mean accuracy - mean confidence| weighted by the bin's share.
func eceByBoundaries(conf []float64, correct []bool, nbins int) float64 {
	ece := 0.0
	for b := 0; b < nbins; b++ {
		lo, hi := float64(b)/float64(nbins), float64(b+1)/float64(nbins)
		var n, sc, sa float64
		for i, c := range conf {
			if c > lo && c <= hi {
				n++
				sc += c
				if correct[i] {
					sa++
				}
			}
		}
		if n > 0 {
			ece += n / float64(len(conf)) * math.Abs(sa/n-sc/n)
		}
	}
	return ece
}

func TestECECases(t *testing.T) {
	for _, tc := range []struct {
		name   string
		probs  [][]float64
		labels []int
		want   float64
	}{
		{"calibrated bin", [][]float64{{0.75, 0.25}, {0.75, 0.25}, {0.75, 0.25}, {0.75, 0.25}}, []int{0, 0, 0, 1}, 0},
		{"confidence 1 in the last bin", [][]float64{{1, 0}, {0, 1}}, []int{0, 0}, 0.5},
		{"all wrong", [][]float64{{0.9, 0.1}, {0.2, 0.8}}, []int{1, 0}, 0.85},
		{"two bins", [][]float64{{0.55, 0.45}, {0.95, 0.05}}, []int{0, 1}, 0.5*0.45 + 0.5*0.95},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.want, ECE(tc.probs, tc.labels, 15), 1e-12)
			conf, correct := confidences(tc.probs, tc.labels)
			require.InDelta(t, tc.want, eceByBoundaries(conf, correct, 15), 1e-12)
		})
	}
}
