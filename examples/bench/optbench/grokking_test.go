package optbench

import (
	"bytes"
	"context"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestZeroLossFraction(t *testing.T) {
	for _, tc := range []struct {
		name   string
		logits []float32
		labels []int
		stable bool
		want   float64
	}{
		// float32: exp(-20) ≈ 2e-9 is below half an ulp of 1 (6e-8), so log Σ exp rounds to 0
		// and the example's loss is exactly 0 (Softmax Collapse); a margin of 10 (4.5e-5) is not.
		{"softmax collapsed", []float32{20, 0, 0}, []int{0}, false, 1},
		{"softmax margin 10", []float32{10, 0, 0}, []int{0}, false, 0},
		{"softmax wrong class", []float32{20, 0, 0}, []int{1}, false, 0},
		{"softmax half", []float32{30, 0, 1, 2}, []int{0, 0}, false, 0.5},
		// StableMax in float64: s(1e3) = 1001 against s(-1e20) = 1e-20 rounds to ratio 1; s(5) = 6
		// against s(-1) = 0.5 does not.
		{"stablemax collapsed", []float32{1e3, -1e20, -1e20}, []int{0}, true, 1},
		{"stablemax not", []float32{5, -1, -1}, []int{0}, true, 0},
		{"stablemax where softmax collapses", []float32{30, 0, 0}, []int{0}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, zeroLossFractionOf(tc.logits, tc.labels, tc.stable))
		})
	}
}

// A tiny grokking task runs both halves' machinery: rows per arm and metric, collapse
// checkpoints, and the training set learned.
func TestGrokTaskRows(t *testing.T) {
	var out bytes.Buffer
	opts := suite.Options{Backend: backend.MustDefault(), Out: &out, Seeds: 1, PlotDir: t.TempDir()}
	task := grokTask{P: 11, TrainFrac: 0.7, Hidden: 32, Steps: 300, QuickSteps: 300, EvalEvery: 50, QuickEvalEvery: 50,
		Arms: grokArms()[:2], Checkpoints: 3, Purpose: "test"}
	rows, err := runGrokTask(context.Background(), opts, task)
	require.NoError(t, err)
	require.Len(t, rows, 2*4)
	for _, r := range rows {
		require.Equal(t, "add_mod_11", r.Task)
		switch r.Metric {
		case "train_accuracy":
			require.Greater(t, r.Value, 0.9, r.Arm)
		case "zero_loss_fraction":
			require.GreaterOrEqual(t, r.Value, 0.0)
			require.LessOrEqual(t, r.Value, 1.0)
			cp := r.Extra["checkpoints_seed1"].(map[string]any)
			require.Equal(t, []float64{100, 200, 300}, cp["step"], r.Arm)
			require.Len(t, cp["zero_loss_fraction"], 3)
		}
	}
	require.Contains(t, out.String(), "Grokking (test half): (a + b) mod 11, 70% train")
}

// The StableMax half's setting is the one documented (changing it needs a new run).
func TestGrokTasks(t *testing.T) {
	tasks := grokTasks()
	require.Len(t, tasks, 2)
	sm := tasks[1]
	require.Equal(t, 59, sm.P)
	require.Equal(t, 0.7, sm.TrainFrac)
	require.Equal(t, []string{"softmax+adamw", "stablemax+adamw"}, []string{sm.Arms[0].name, sm.Arms[1].name})
	require.Equal(t, 0.0, sm.Arms[1].params[optimizers.ParamWeightDecay])
}
