package multitask

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	mt "github.com/moeboost/moeboost/train/multitask"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

// TestDerive checks the four targets on a hand-made image.
func TestDerive(t *testing.T) {
	tab := &data.Table{Name: "toy", N: 2, D: 64, X: make([]float64, 128), Y: []float64{7, 4}, Task: data.Classification, NumClasses: 10}
	for j := 0; j < 64; j++ {
		tab.X[j] = float64(j % 17)   // image 0
		tab.X[64+j] = float64(j / 4) // image 1: rows 4..7 hold 8..15
	}
	ds, err := Derive(tab)
	require.NoError(t, err)
	require.Equal(t, 32, ds.D)
	require.Equal(t, tab.X[:32], ds.X[:32], "inputs are the upper half")
	require.Equal(t, []float64{7, 4}, ds.Y[0])
	require.Equal(t, []float64{1, 0}, ds.Y[1], "parity")
	require.Equal(t, []float64{1, 0}, ds.Y[2], "label ≥ 5")
	want0 := 0.0
	for j := 32; j < 64; j++ {
		want0 += float64(j % 17)
	}
	require.InDelta(t, want0/32/16, ds.Y[3][0], 1e-12)
	require.InDelta(t, (8.0+15.0)/2/16, ds.Y[3][1], 1e-12, "mean of 8..15 (each twice per row pair) / 16")

	bad := &data.Table{Name: "iris", N: 1, D: 4, X: make([]float64, 4), Y: []float64{0}, NumClasses: 3}
	_, err = Derive(bad)
	require.ErrorContains(t, err, "D=4")
}

func TestDeltaM(t *testing.T) {
	tasks := []mt.Task{{Name: "a", Kind: mt.Classification, Classes: 2}, {Name: "r", Kind: mt.Regression}}
	// +10% accuracy and RMSE 10% lower: both gains → Δm = +10.
	require.InDelta(t, 10, DeltaM(tasks, []float64{0.88, 0.9}, []float64{0.8, 1.0}), 1e-9)
	// RMSE 20% higher, accuracy equal: Δm = −10.
	require.InDelta(t, -10, DeltaM(tasks, []float64{0.8, 1.2}, []float64{0.8, 1.0}), 1e-9)
}

// TestRunTiny runs the benchmark in a tiny configuration and checks its rows.
func TestRunTiny(t *testing.T) {
	tab, err := data.Builtin("digits")
	require.NoError(t, err)
	s := Setup{Epochs: 2, Seeds: 2, Batch: 64, Hidden: []int{16, 8}, LR: 1e-3, Arms: []string{"equal", "pcgrad", "rep-mtl", "rep-mtl-csa", "rep-mtl@1"}}
	var out bytes.Buffer
	dir := t.TempDir()
	opts := suite.Options{Backend: backend.MustDefault(), Out: &out, PlotDir: dir}
	rows, err := Run(context.Background(), opts, s, tab)
	require.NoError(t, err)
	arms := []string{"stl", "equal", "pcgrad", "rep-mtl", "rep-mtl-csa", "rep-mtl@1"}
	require.Len(t, rows, len(arms)*(len(Tasks)+1)+2*(len(arms)-1))
	seen := map[[2]string]suite.Result{}
	for _, r := range rows {
		require.Equal(t, "multitask", r.Benchmark)
		require.Equal(t, 2, r.Seeds)
		require.Contains(t, arms, r.Arm)
		if r.Task == "saliency" {
			seen[[2]string{r.Arm, r.Metric}] = r
		} else {
			seen[[2]string{r.Arm, r.Task}] = r
		}
		switch r.Metric {
		case "test_saliency_entropy":
			require.NotEqual(t, "stl", r.Arm)
			require.Positive(t, r.Value)
			require.LessOrEqual(t, r.Value, math.Log(4)+1e-6)
		case "test_saliency_infonce":
			require.NotEqual(t, "stl", r.Arm)
			require.Positive(t, r.Value)
		case "test_accuracy":
			require.GreaterOrEqual(t, r.Value, 0.0)
			require.LessOrEqual(t, r.Value, 1.0)
			require.Equal(t, true, r.Extra["higher_is_better"])
		case "test_rmse":
			require.Positive(t, r.Value)
			require.Less(t, r.Value, 16.0, "RMSE in pixel units")
			require.Equal(t, false, r.Extra["higher_is_better"])
		case "delta_m_pct":
			require.Equal(t, "all", r.Task)
			require.False(t, math.IsNaN(r.Value))
		default:
			t.Fatalf("unexpected metric %q", r.Metric)
		}
		require.Equal(t, r.Arm == "stl", r.IsAnchor(), "only stl is the anchor: %+v", r)
		require.Positive(t, r.MsPerStep)
		require.Equal(t, 2*(int(0.7*float64(tab.N))/64), r.Steps, "2 epochs of full batches: %+v", r)
	}
	require.Len(t, seen, len(rows))
	// Δm of stl against itself is 0; the other arms' Δm is recomputed from their per-seed metrics.
	require.Zero(t, seen[[2]string{"stl", "all"}].Value)
	for _, arm := range arms[1:] {
		dm := seen[[2]string{arm, "all"}].Extra["per_seed"].([]float64)
		for i := range dm {
			m := make([]float64, len(Tasks))
			ref := make([]float64, len(Tasks))
			for k, task := range Tasks {
				m[k] = seen[[2]string{arm, task.Name}].Extra["per_seed"].([]float64)[i]
				ref[k] = seen[[2]string{"stl", task.Name}].Extra["per_seed"].([]float64)[i]
			}
			require.InDelta(t, DeltaM(Tasks, m, ref), dm[i], 1e-9)
		}
	}
	rep := seen[[2]string{"rep-mtl", "all"}]
	require.Equal(t, mt.DefaultTSRWeight, rep.Extra["tsr_weight"])
	require.Positive(t, rep.Extra["final_tsr_seed1"])
	csaOnly := seen[[2]string{"rep-mtl-csa", "all"}]
	require.Equal(t, 0.0, csaOnly.Extra["tsr_weight"])
	require.Equal(t, mt.DefaultCSAWeight, csaOnly.Extra["csa_weight"])
	one := seen[[2]string{"rep-mtl@1", "all"}]
	require.Equal(t, 1.0, one.Extra["tsr_weight"])
	require.Equal(t, 1.0, one.Extra["csa_weight"])
	require.Contains(t, out.String(), "Δm%")
	require.FileExists(t, filepath.Join(dir, "multitask-train-loss.png"))

	_, err = Run(context.Background(), opts, Setup{Epochs: 1, Seeds: 1, Batch: 64, Arms: []string{"mgda"}}, tab)
	require.ErrorContains(t, err, `unknown arm "mgda"`)
	_, err = Run(context.Background(), opts, Setup{Epochs: 1, Seeds: 1, Batch: 64, Arms: []string{"rep-mtl@-1"}}, tab)
	require.ErrorContains(t, err, `unknown arm "rep-mtl@-1"`)
}
