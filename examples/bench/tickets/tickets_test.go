package tickets

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train"
	"github.com/stretchr/testify/require"
)

func TestSymmetricSplit(t *testing.T) {
	for _, tc := range []struct {
		p    int
		frac float64
	}{{5, 0.4}, {11, 0.5}, {67, 0.4}} {
		tr, te := SymmetricSplit(tc.p, tc.frac, 3)
		n := tc.p * (tc.p + 1) / 2
		require.Equal(t, int(tc.frac*float64(n)), tr.N)
		require.Equal(t, n-tr.N, te.N)
		seen := map[[2]int]bool{}
		for _, tab := range []struct {
			x []float64
			y []float64
			n int
		}{{tr.X, tr.Y, tr.N}, {te.X, te.Y, te.N}} {
			for i := range tab.n {
				row := tab.x[i*2*tc.p : (i+1)*2*tc.p]
				a, b := -1, -1
				for j, v := range row {
					if v == 1 {
						if j < tc.p {
							a = j
						} else {
							b = j - tc.p
						}
					}
				}
				require.True(t, a >= 0 && b >= a, "pairs have a <= b")
				require.Equal(t, float64((a+b)%tc.p), tab.y[i])
				require.False(t, seen[[2]int{a, b}], "train and test are disjoint")
				seen[[2]int{a, b}] = true
			}
		}
		require.Len(t, seen, n)
		tr2, _ := SymmetricSplit(tc.p, tc.frac, 3)
		require.Equal(t, tr.X, tr2.X, "the same seed gives the same split")
		tr3, _ := SymmetricSplit(tc.p, tc.frac, 4)
		require.NotEqual(t, tr.X, tr3.X)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := fullConfig()
	require.NoError(t, ok.Validate())
	require.NoError(t, quickConfig().Validate())
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.P = 2 }, "p=2 must be >= 3"},
		{func(c *Config) { c.TrainFrac = 1 }, "train fraction=1 must be in (0, 1)"},
		{func(c *Config) { c.Sparsities = []float64{0.5, 1} }, "sparsity=1 must be in (0, 1)"},
		{func(c *Config) { c.Seeds = 0 }, "seeds=0 must be >= 1"},
		{func(c *Config) { c.LR = 0 }, "lr=0 must be > 0"},
	} {
		c := fullConfig()
		tc.edit(&c)
		require.ErrorContains(t, c.Validate(), tc.want)
	}
}

// A tiny run of the whole protocol: every arm's rows, the masks' sparsity, anchors, curves and
// the plot.
func TestTinyRun(t *testing.T) {
	c := Config{P: 11, TrainFrac: 0.5, DEmb: 16, DModel: 8, LR: 1e-2, WeightDecay: 1, Beta2: 0.98,
		Steps: 40, EvalEvery: 10, StopAt: 0.99, Sparsities: []float64{0.5, 0.8}, NoWDSparsity: 0.5, NoWD: true, Seeds: 2}
	dir := t.TempDir()
	var out bytes.Buffer
	rows, err := Run(context.Background(), suite.Options{Out: &out, PlotDir: dir}, c)
	require.NoError(t, err)
	wantArms := []string{"dense", "dense_no_wd", "ticket_0.5", "random_0.5", "ticket_0.8", "random_0.8", "ticket_0.5_no_wd"}
	metrics := []string{"steps_to_90", "accuracy", "train_accuracy", "steps_run"}
	require.Len(t, rows, len(wantArms)*len(metrics))
	// Weight-matrix sizes: embed 11·16, in_proj 16·8, out_proj 8·16, unembed 16·11.
	total := 11*16 + 16*8 + 8*16 + 16*11
	for i, r := range rows {
		arm, metric := wantArms[i/len(metrics)], metrics[i%len(metrics)]
		require.Equal(t, "tickets", r.Benchmark)
		require.Equal(t, "add_mod_11", r.Task)
		require.Equal(t, arm, r.Arm)
		require.Equal(t, metric, r.Metric)
		require.Equal(t, 2, r.Seeds)
		require.Equal(t, c.Steps, r.Steps)
		require.Greater(t, r.MsPerStep, 0.0)
		require.Equal(t, arm == "dense", r.IsAnchor(), arm)
		perSeed := r.Extra["per_seed"].([]float64)
		require.Len(t, perSeed, 2)
		sp := r.Extra["sparsity"].(float64)
		switch arm {
		case "dense", "dense_no_wd":
			require.Equal(t, 0.0, sp)
		case "ticket_0.5", "random_0.5", "ticket_0.5_no_wd":
			require.Equal(t, float64(int(0.5*float64(total)))/float64(total), sp)
		default:
			require.Equal(t, float64(int(0.8*float64(total)))/float64(total), sp)
		}
		wd := r.Extra["weight_decay"].(float64)
		if arm == "dense_no_wd" || arm == "ticket_0.5_no_wd" {
			require.Equal(t, 0.0, wd)
		} else {
			require.Equal(t, 1.0, wd)
		}
		for _, v := range perSeed {
			switch metric {
			case "steps_to_90":
				if !math.IsNaN(v) {
					require.True(t, v > 0 && v <= float64(c.Steps) && math.Mod(v, float64(c.EvalEvery)) == 0, "steps_to_90 %v", v)
				}
			case "accuracy", "train_accuracy":
				require.True(t, v >= 0 && v <= 1, "%s %v", metric, v)
			case "steps_run":
				require.True(t, v > 0 && v <= float64(c.Steps), "steps_run %v", v)
			}
		}
		if metric == "accuracy" {
			curve := r.Extra["curve_seed1"].(map[string]any)
			require.NotEmpty(t, curve["step"])
		}
	}
	// The runs trained: the dense arm fits its training set better than chance.
	require.Greater(t, rows[2].Value, 1.0/11)
	require.Contains(t, out.String(), "steps to 90% test")
	plots, err := filepath.Glob(filepath.Join(dir, "tickets-*.png"))
	require.NoError(t, err)
	require.Len(t, plots, 1)
	st, err := os.Stat(plots[0])
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(1000))
}

// The stop at StopAt never fires at the final evaluation, where train.Run would report the
// stop request as an error.
func TestStopBefore(t *testing.T) {
	s := &stopBefore{StopAt: train.StopAt{Metric: "test/accuracy", Op: ">=", Threshold: 0.99}, last: 100}
	for _, tc := range []struct {
		step int
		acc  float64
		want error
	}{{50, 0.5, nil}, {50, 0.995, train.ErrStop}, {100, 0.995, nil}, {100, 0.5, nil}} {
		err := s.OnEval(train.EvalPoint{Step: tc.step, Metrics: map[string]float64{"test/accuracy": tc.acc}}, nil)
		require.Equal(t, tc.want, err, "step %d acc %g", tc.step, tc.acc)
	}
}
