package guidance

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
)

func TestFrechet(t *testing.T) {
	a := []float64{0, 1, 2, 0, 1, 3, 4, 1, 2, 2, 0, 5}
	for _, tc := range []struct {
		name  string
		shift []float64
		want  float64
	}{
		{"identical", []float64{0, 0}, 0},
		{"shifted", []float64{3, -4}, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]float64(nil), a...)
			for i := range b {
				b[i] += tc.shift[i%2]
			}
			require.InDelta(t, tc.want, Frechet(a, b, 2), 1e-9)
		})
	}
	// Different spreads: 1-d Gaussians give (μa-μb)² + (σa-σb)².
	x := []float64{-1, 1, -1, 1}
	y := []float64{-3, 3, -3, 3}
	require.InDelta(t, math.Pow(math.Sqrt(4.0/3)-math.Sqrt(36.0/3), 2), Frechet(x, y, 1), 1e-9)
}

func TestRunTiny(t *testing.T) {
	dir := t.TempDir()
	s := Setup{Seeds: 1, DenoiserSteps: 30, ClassifierSteps: 30, PerClass: 3, DDIMSteps: 5, Hidden: 32, Layers: 1,
		Ws: []float64{1, 12}, Rs: []float64{2.5}}
	rows, err := Run(context.Background(), suite.Options{Backend: backend.MustDefault(), PlotDir: dir}, s)
	require.NoError(t, err)
	require.Len(t, rows, len(Metrics)*(1+len(s.Ws)*2))
	byKey := map[[3]string]suite.Result{}
	for _, r := range rows {
		require.Equal(t, "guidance", r.Benchmark)
		require.Equal(t, 1, r.Seeds)
		require.False(t, math.IsNaN(r.Value), "%s %s %s", r.Task, r.Arm, r.Metric)
		byKey[[3]string{r.Task, r.Arm, r.Metric}] = r
		switch r.Metric {
		case "accuracy", "saturation":
			require.GreaterOrEqual(t, r.Value, 0.0)
			require.LessOrEqual(t, r.Value, 1.0)
		case "mean_abs":
			require.Greater(t, r.Value, 0.0)
			require.LessOrEqual(t, r.Value, 1.0)
		case "diversity", "frechet":
			require.Greater(t, r.Value, 0.0)
		}
	}
	for _, m := range Metrics {
		require.True(t, byKey[[3]string{"digits real test", "real-test", m.Name}].IsAnchor())
		// At w = 1 both rules return the conditional prediction: identical samples.
		require.Equal(t, byKey[[3]string{"digits w=1", "cfg", m.Name}].Value, byKey[[3]string{"digits w=1", "apg r=2.5", m.Name}].Value, m.Name)
	}
	require.Greater(t, byKey[[3]string{"digits real test", "real-test", "accuracy"}].Value, 0.5)
	for _, f := range []string{"metrics", "samples-cfg-w12", "samples-apg-r2.5-w12"} {
		st, err := os.Stat(filepath.Join(dir, "guidance-"+f+".png"))
		require.NoError(t, err, f)
		require.Greater(t, st.Size(), int64(100))
	}
}
