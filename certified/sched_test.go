package certified_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/moeboost/moeboost/certified"
	"github.com/stretchr/testify/require"
)

// The smoothed schedule matches auto_LiRPA's SmoothedScheduler restated in Python
// (testdata/golden/certified/gen_sched.py) at every batch.
func TestSmoothedScheduleGolden(t *testing.T) {
	raw, err := os.ReadFile("../testdata/golden/certified/sched.json")
	require.NoError(t, err)
	var gold struct {
		MaxEps      float64   `json:"max_eps"`
		Start       int       `json:"start"`
		Length      int       `json:"length"`
		EpochLength int       `json:"epoch_length"`
		Eps         []float64 `json:"eps"`
	}
	require.NoError(t, json.Unmarshal(raw, &gold))
	s := certified.EpsSchedule{MaxEps: gold.MaxEps, Start: gold.Start, Length: gold.Length, EpochLength: gold.EpochLength, Smoothed: true}
	require.NoError(t, s.Validate())
	for step, want := range gold.Eps {
		require.InDelta(t, want, s.At(step), 1e-15, "step %d", step)
	}
	require.Equal(t, gold.MaxEps, s.At(s.RampEnd()))
}

func TestLinearScheduleAndValidation(t *testing.T) {
	s := certified.EpsSchedule{MaxEps: 0.4, Start: 2, Length: 4, EpochLength: 5}
	require.NoError(t, s.Validate())
	for _, tc := range []struct {
		step int
		want float64
	}{{0, 0}, {5, 0}, {10, 0.1}, {15, 0.2}, {25, 0.4}, {100, 0.4}} {
		require.InDelta(t, tc.want, s.At(tc.step), 1e-15, "step %d", tc.step)
	}
	for _, tc := range []struct {
		s   certified.EpsSchedule
		err string
	}{
		{certified.EpsSchedule{MaxEps: -1, Start: 1, Length: 1, EpochLength: 1}, "max_eps=-1"},
		{certified.EpsSchedule{MaxEps: 1, Start: 0, Length: 1, EpochLength: 1}, "start=0"},
		{certified.EpsSchedule{MaxEps: 1, Start: 1, Length: 0, EpochLength: 1}, "length=0"},
		{certified.EpsSchedule{MaxEps: 1, Start: 1, Length: 1, EpochLength: 0}, "epoch_length=0"},
		{certified.EpsSchedule{MaxEps: 1, Start: 1, Length: 1, EpochLength: 1, Smoothed: true, Beta: 1}, "beta=1"},
		{certified.EpsSchedule{MaxEps: 1, Start: 1, Length: 1, EpochLength: 1, Smoothed: true, Mid: 2}, "mid=2"},
	} {
		require.ErrorContains(t, tc.s.Validate(), tc.err)
	}
}
