package lrsens

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"

	"github.com/moeboost/moeboost/examples/bench/moelm"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func TestLRSensitivity(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name   string
		losses []float64
		l0     float64
		want   float64
	}{
		{"flat", []float64{2, 2, 2}, 4, 0},
		{"one bad", []float64{2, 3, 4}, 4, (0 + 1 + 2) / 3.0},
		{"diverged counts as l0", []float64{2, nan, 2}, 4, 2 / 3.0},
		{"above l0 clipped", []float64{1, 9}, 4, 3 / 2.0},
		{"all diverged", []float64{nan, nan}, 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.want, LRSensitivity(tc.losses, tc.l0), 1e-12)
		})
	}
}

func TestSizeValidate(t *testing.T) {
	require.NoError(t, Full.Validate())
	require.NoError(t, Quick.Validate())
	require.GreaterOrEqual(t, len(Full.Widths), 3)
	require.NotEmpty(t, Full.SMoEWidths)
	require.GreaterOrEqual(t, len(Full.LRs), 7)
	require.GreaterOrEqual(t, Full.LRs[len(Full.LRs)-1]/Full.LRs[0], 1000.0) // 3 decades
	for _, tc := range []struct {
		mut  func(*Size)
		want string
	}{
		{func(s *Size) { s.Widths = []int{24} }, "width 24 must be a positive multiple of head_dim=16"},
		{func(s *Size) { s.LRs = []float64{1e-3, -1} }, "learning rate -1 must be > 0"},
		{func(s *Size) { s.WarmupFrac = 1 }, "warmup_frac=1 must be in [0, 1)"},
		{func(s *Size) { s.LRs = s.LRs[:1] }, ">= 2 learning rates"},
	} {
		s := Quick
		s.Widths, s.LRs = append([]int(nil), Quick.Widths...), append([]float64(nil), Quick.LRs...)
		tc.mut(&s)
		require.ErrorContains(t, s.Validate(), tc.want)
	}
}

func TestMuParamLRScale(t *testing.T) {
	f := MuParamLRScale(32, 128)
	require.Equal(t, 0.25, f("/stack/block0/attention/q/dense/weights", shapeOf(128, 128)))
	require.Equal(t, 0.25, f("/stack/block1/ffn/experts/w1", shapeOf(4, 128, 256)))
	require.Equal(t, 1.0, f("/stack/block0/ln1/layer_normalization/gain", shapeOf(128)))
	require.Equal(t, 1.0, f("/embed/embeddings", shapeOf(80, 128)))
	require.Equal(t, 1.0, f("/head/l0/dense/weights", shapeOf(128, 80)))
}

// TestSweepTiny runs the benchmark's sweep on a tiny configuration and checks its rows.
func TestSweepTiny(t *testing.T) {
	c, err := moelm.NewCorpus(moelm.Opticks())
	require.NoError(t, err)
	size := Size{Widths: []int{16, 32}, SMoEWidths: []int{16}, LRs: []float64{1e-3, 3e-2}, Layers: 1, HeadDim: 16,
		Seq: 16, Batch: 8, Steps: 30, WarmupFrac: 0.1, MaxValid: 2048}
	rows, err := Sweep(context.Background(), suite.Options{}, c, "opticks", size)
	require.NoError(t, err)
	// Per (ffn, width, arm): len(LRs) loss rows + best + sensitivity + 2 logit rows per LR.
	cells := len(size.Widths) + len(size.SMoEWidths)
	require.Len(t, rows, cells*len(Arms)*(3*len(size.LRs)+2))
	l0 := math.Log(float64(len(c.Vocab)))
	get := map[string]suite.Result{}
	for _, r := range rows {
		require.Equal(t, "lr-sensitivity", r.Benchmark)
		require.Equal(t, 1, r.Seeds)
		get[r.Task+"|"+r.Arm+"|"+r.Metric] = r
	}
	for _, task := range []string{"dense-d16", "dense-d32", "smoe-d16"} {
		for _, arm := range Arms {
			lo, hi := get[task+"|"+arm.Name+"|loss@lr=0.001"], get[task+"|"+arm.Name+"|loss@lr=0.03"]
			// 30 steps at 3e-2 learn the character frequencies at least: below ln V; at 1e-3
			// the loss stays near ℓ0.
			require.Less(t, hi.Value, l0-0.3, "%s %s", task, arm.Name)
			require.Less(t, hi.Value, lo.Value, "%s %s", task, arm.Name)
			best := get[task+"|"+arm.Name+"|best_loss"]
			require.InDelta(t, math.Min(lo.Value, hi.Value), best.Value, 1e-12)
			sens := get[task+"|"+arm.Name+"|lr_sensitivity"]
			require.InDelta(t, LRSensitivity([]float64{lo.Value, hi.Value}, l0), sens.Value, 1e-12)
			a := get[task+"/attn-logit|"+arm.Name+"|max_attn_logit@lr=0.03"]
			require.Greater(t, a.Value, 0.0)
			o := get[task+"/output-logit|"+arm.Name+"|max_output_logit@lr=0.03"]
			require.Greater(t, o.Value, 0.0)
			require.Len(t, o.Extra["log_z"], 1)
		}
	}
}

func shapeOf(dims ...int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }
