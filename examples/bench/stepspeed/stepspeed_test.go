package stepspeed

import (
	"bytes"
	"context"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestBLASSummary(t *testing.T) {
	for _, tc := range []struct {
		name string
		blas []map[string]any
		want string
	}{
		{"none", nil, "no BLAS library loaded"},
		{"openblas", []map[string]any{{"internal_api": "openblas", "version": "0.3.21", "architecture": "Cooperlake",
			"threading_layer": "pthreads"}}, "openblas 0.3.21, kernel Cooperlake, pthreads"},
		{"two, one unreadable", []map[string]any{{"error": "threadpoolctl not importable"},
			{"internal_api": "mkl", "version": "2023.1", "architecture": "SkylakeX", "threading_layer": "intel"}},
			"threadpoolctl not importable; mkl 2023.1, kernel SkylakeX, intel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, torchRun{BLAS: tc.blas}.blasSummary())
		})
	}
}

// TestTorchRefEnvironment runs torch_ref.py for two MLP steps with OPENBLAS_CORETYPE and
// OPENBLAS_L2_SIZE set here: the script must not see them, and must report its BLAS kernel.
func TestTorchRefEnvironment(t *testing.T) {
	python, note := FindTorchPython()
	if python == "" {
		require.Contains(t, note, "python3-torch", "without torch, the note names the package to install")
		return
	}
	t.Setenv("OPENBLAS_CORETYPE", "Haswell")
	t.Setenv("OPENBLAS_L2_SIZE", "512")
	run, err := runTorch(context.Background(), python, []string{"mlp"}, "2")
	require.NoError(t, err)
	require.Equal(t, map[string]*string{"OPENBLAS_CORETYPE": nil, "OPENBLAS_L2_SIZE": nil}, run.OpenBLASEnv)
	require.Equal(t, 2, run.Steps["mlp"])
	require.Greater(t, run.Results["mlp"]["1"], 0.0)
	require.Greater(t, run.Results["mlp"]["2"], 0.0)
	require.NotEmpty(t, run.Torch)
	require.NotEmpty(t, run.CPUCapability)
	require.NotEmpty(t, run.BLAS, "threadpoolctl's BLAS entries, or why there are none")
	for _, b := range run.BLAS {
		if _, failed := b["error"]; !failed {
			require.NotEmpty(t, b["internal_api"])
			require.NotEmpty(t, b["architecture"], "the kernel OpenBLAS picked")
		}
	}
}

// TestRunTinyRounds runs the benchmark on a tiny "mlp" task for two rounds and checks its
// rows: per-round times, medians, and (when torch is installed) the per-round ratios and the
// PyTorch anchor.
func TestRunTinyRounds(t *testing.T) {
	saved := Tasks
	defer func() { Tasks = saved }()
	Tasks = []Task{{Name: "mlp", Input: []int{16, 4}, Target: []int{16, 1}, Steps: 4, Quick: 4,
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			return []*graph.Node{layers.MLP(scope.In("mlp"), in[0], layers.MLPConfig{Hidden: []int{8}, Out: 1})}
		}}}
	var out bytes.Buffer
	rows, err := run(context.Background(), suite.Options{Quick: true, Seeds: 2, Backend: backend.MustDefault(), Out: &out,
		DataFile: "ignored.csv"})
	require.NoError(t, err)
	require.Contains(t, out.String(), "-data and -text do not apply")
	require.NotEmpty(t, rows)
	g := rows[0]
	require.Equal(t, "moeboost", g.Arm)
	require.Equal(t, "mlp", g.Task)
	require.Equal(t, 2, g.Seeds)
	perRound := g.Extra["per_round_ms"].([]float64)
	require.Len(t, perRound, 2)
	require.InDelta(t, (perRound[0]+perRound[1])/2, g.Value, 1e-12, "median of two rounds")
	require.Greater(t, g.Value, 0.0)
	if python, _ := FindTorchPython(); python == "" {
		require.Len(t, rows, 1)
		return
	}
	require.Len(t, rows, 2)
	p := rows[1]
	require.Equal(t, "pytorch", p.Arm)
	require.True(t, p.IsAnchor())
	torchRounds := p.Extra["per_round_ms"].([]float64)
	require.Len(t, torchRounds, 2)
	r := g.Extra["ratio_vs_pytorch_per_round"].([]float64)
	for i := range r {
		require.InDelta(t, perRound[i]/torchRounds[i], r[i], 1e-12)
	}
	require.InDelta(t, (r[0]+r[1])/2, g.Extra["ratio_vs_pytorch"].(float64), 1e-12)
	require.LessOrEqual(t, g.Extra["ratio_vs_pytorch_min"].(float64), g.Extra["ratio_vs_pytorch_max"].(float64))
}

func TestRowsOfDenseRatio(t *testing.T) {
	tasks := []Task{{Name: "moe-block", Steps: 3}, {Name: "dense-block-512", Steps: 3}}
	goMs := map[string][]float64{"moe-block": {12, 9, 15}, "dense-block-512": {10, 10, 10}}
	torchMs := map[string][]float64{"moe-block": {6, 6, 5}, "dense-block-512": {5, 4, 5}}
	var out bytes.Buffer
	rows := rowsOf(suite.Options{Out: &out}, tasks, goMs, torchMs, torchRun{Torch: "test"}, "python3", true)
	require.Len(t, rows, 4)
	moeRow := rows[0]
	require.Equal(t, 12.0, moeRow.Value, "median over rounds")
	require.Equal(t, []float64{1.2, 0.9, 1.5}, moeRow.Extra["ratio_vs_dense_equal_active_per_round"])
	require.InDelta(t, 1.2, moeRow.Extra["ratio_vs_dense_equal_active"].(float64), 1e-12)
	require.InDelta(t, 2.0, moeRow.Extra["ratio_vs_pytorch"].(float64), 1e-12) // 12/6, 9/6, 15/5 -> 2, 1.5, 3
	require.Equal(t, 1.5, moeRow.Extra["ratio_vs_pytorch_min"])
	require.Equal(t, 3.0, moeRow.Extra["ratio_vs_pytorch_max"])
	require.True(t, rows[1].IsAnchor())
	require.Equal(t, 6.0, rows[1].Value)
	require.Contains(t, out.String(), "moe-block / dense-block-512 (equal active FLOPs) 1.20x")
}
