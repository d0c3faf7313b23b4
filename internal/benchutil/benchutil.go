// Package benchutil holds what the training-step benchmarks of several packages share
// (`go test -bench 'MLPStep|TransformerBlockStep' ./layers`, `-bench MoEBlockStep ./moe`).
package benchutil

import (
	"testing"
	"time"
)

// StepCost runs a training benchmark twice through run (3 steps, then 3+b.N) and reports the
// second run's median wall time per step ("ms/step", as run returns it) and the process CPU time
// per step ("cpu-ms/step": the CPU time of the long run minus that of the short one, so graph
// compilation cancels; steadier than wall time on a shared machine, and with GOMAXPROCS=1 the
// single-core cost of a step). run fails the benchmark itself on error.
func StepCost(b *testing.B, run func(steps int) (msPerStep float64)) {
	b.Helper()
	timed := func(steps int) (float64, time.Duration) {
		c0 := CPUTime()
		ms := run(steps)
		return ms, CPUTime() - c0
	}
	_, short := timed(3)
	ms, long := timed(3 + b.N)
	b.ReportMetric(ms, "ms/step")
	b.ReportMetric(float64(long-short)/1e6/float64(b.N), "cpu-ms/step")
}
