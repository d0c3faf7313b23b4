package stepspeed

import (
	"context"
	"testing"

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
