package diffusion

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/moeboost/moeboost/train/backend"
)

// twoBlobs is a 2-class toy set of 4-pixel images: class 0 near +0.7, class 1 near -0.7.
func twoBlobs(n int) ([]float64, []int) {
	x := make([]float64, 0, n*4)
	y := make([]int, n)
	for i := range n {
		y[i] = i % 2
		s := 0.7
		if y[i] == 1 {
			s = -0.7
		}
		for j := range 4 {
			x = append(x, s+0.05*float64((i+j)%3-1))
		}
	}
	return x, y
}

func TestTrainValidation(t *testing.T) {
	be := backend.MustDefault()
	d := Denoiser{Pixels: 4, Classes: 2, Hidden: 16, Layers: 1, TimeDim: 8, T: 100}
	x, y := twoBlobs(8)
	for _, tc := range []struct {
		name string
		cfg  TrainConfig
		x    []float64
		y    []int
		want string
	}{
		{"odd time dim", TrainConfig{Denoiser: Denoiser{Pixels: 4, Classes: 2, Hidden: 8, TimeDim: 3, T: 10}, Batch: 4, Steps: 1, LR: 1e-3}, x, y, "time embedding size 3"},
		{"zero steps", TrainConfig{Denoiser: d, Batch: 4, LR: 1e-3}, x, y, "steps 0"},
		{"label drop 1", TrainConfig{Denoiser: d, Batch: 4, Steps: 1, LR: 1e-3, LabelDrop: 1}, x, y, "label dropout 1"},
		{"bad class", TrainConfig{Denoiser: d, Batch: 4, Steps: 1, LR: 1e-3}, x, append(append([]int(nil), y[:7]...), 2), "class 2 of image 7"},
		{"pixel count", TrainConfig{Denoiser: d, Batch: 4, Steps: 1, LR: 1e-3}, x[:5], y, "5 pixel values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Train(context.Background(), be, tc.x, tc.y, tc.cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestTrainAndSample trains on two well-separated classes and checks that conditional DDIM
// samples land on their class's side, that sampling is deterministic by seed, that APG's
// momentum buffer is reset per run, and that bad sampling arguments are rejected.
func TestTrainAndSample(t *testing.T) {
	be := backend.MustDefault()
	d := Denoiser{Pixels: 4, Classes: 2, Hidden: 32, Layers: 1, TimeDim: 8, T: 100}
	x, y := twoBlobs(64)
	store, err := Train(context.Background(), be, x, y, TrainConfig{Denoiser: d, Batch: 64, Steps: 600, LR: 3e-3, LabelDrop: 0.15, Seed: 1})
	require.NoError(t, err)
	s, err := NewSampler(be, store, d)
	require.NoError(t, err)
	defer s.Close()

	ts, err := s.Timesteps(20)
	require.NoError(t, err)
	require.Len(t, ts, 20)
	require.Equal(t, 1, ts[19])
	require.Less(t, ts[0], d.T)

	classes := []int{0, 1, 0, 1, 0, 1, 0, 1}
	for _, name := range []string{"cfg", "apg"} {
		t.Run(name, func(t *testing.T) {
			g, err := New(name, Config{NormThreshold: 2.5, Momentum: -0.75})
			require.NoError(t, err)
			a, err := s.Sample(classes, g, 3, 20, 7)
			require.NoError(t, err)
			b, err := s.Sample(classes, g, 3, 20, 7)
			require.NoError(t, err)
			require.Equal(t, a, b, "same seed, guider reset per run: identical samples")
			c, err := s.Sample(classes, g, 3, 20, 8)
			require.NoError(t, err)
			require.NotEqual(t, a, c)
			for i, cl := range classes {
				m := 0.0
				for j := range 4 {
					m += a[i*4+j] / 4
				}
				require.False(t, math.IsNaN(m))
				if cl == 0 {
					require.Greater(t, m, 0.3, "sample %d of class 0", i)
				} else {
					require.Less(t, m, -0.3, "sample %d of class 1", i)
				}
			}
		})
	}
	g, _ := New("cfg", Config{})
	_, err = s.Sample([]int{2}, g, 1, 10, 1)
	require.ErrorContains(t, err, "class 2 at 0")
	_, err = s.Sample([]int{0}, g, 1, 101, 1)
	require.ErrorContains(t, err, "sampling steps 101")
	_, err = s.Sample(nil, g, 1, 10, 1)
	require.ErrorContains(t, err, "no classes")
}
