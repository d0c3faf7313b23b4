package mlpbench

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

// TestTrialEarlyStopping checks that a trial evaluates a validation split next to the test split
// and that it stops exactly by the patience rule on valid/loss: it stops at the first
// evaluation that is the Patience-th in a row without a new best, and never before.
func TestTrialEarlyStopping(t *testing.T) {
	dia, err := data.Builtin("diabetes")
	require.NoError(t, err)
	// A large learning rate and no dropout overfit the 300 training rows quickly.
	spec := Spec{Table: dia, Hidden: []int{64}, Steps: 600, Batch: 32, LR: 1e-2}
	const steps = 600
	v, res, metric, err := Trial(context.Background(), suite.Options{}, spec, steps, 1)
	require.NoError(t, err)
	require.Equal(t, "rmse", metric)
	require.False(t, math.IsNaN(v))
	// Diabetes' target has std about 77: a fitted MLP is far below 2 stds and above 0.
	require.Greater(t, v, 20.0)
	require.Less(t, v, 150.0)
	best, bad, stopAt := math.Inf(1), 0, -1
	for i, p := range res.History {
		require.Contains(t, p.Metrics, "valid/loss")
		require.Contains(t, p.Metrics, "test/loss")
		if l := p.Metrics["valid/loss"]; l < best {
			best, bad = l, 0
		} else if bad++; bad >= Patience && stopAt < 0 {
			stopAt = i
		}
	}
	if stopAt >= 0 {
		require.True(t, res.StoppedEarly, "the rule says stop at evaluation %d (step %d)", stopAt, res.History[stopAt].Step)
		require.Less(t, res.Steps, steps)
	} else {
		require.False(t, res.StoppedEarly)
		require.Equal(t, steps, res.Steps)
	}
	t.Logf("rmse %.2f, stopped early %v at step %d of %d, %d evaluations", v, res.StoppedEarly, res.Steps, steps, len(res.History))
}
