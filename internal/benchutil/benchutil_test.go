package benchutil

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCPUTimeAdvances: busy work raises the process CPU time on unix systems.
func TestCPUTimeAdvances(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		require.Zero(t, CPUTime())
		return
	}
	c0 := CPUTime()
	x := 0.0
	for i := range 50_000_000 {
		x += float64(i % 7)
	}
	require.Greater(t, x, 0.0)
	require.Greater(t, CPUTime(), c0)
}

// TestStepCostRuns: StepCost calls run with 3 and 3+b.N steps and reports both metrics.
func TestStepCostRuns(t *testing.T) {
	var got []int
	res := testing.Benchmark(func(b *testing.B) {
		got = got[:0]
		StepCost(b, func(steps int) float64 { got = append(got, steps); return 1.5 })
	})
	require.Len(t, got, 2)
	require.Equal(t, 3, got[0])
	require.Equal(t, 3+res.N, got[1])
	require.Equal(t, 1.5, res.Extra["ms/step"])
	require.Contains(t, res.Extra, "cpu-ms/step")
}
