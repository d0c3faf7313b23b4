package suite

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunParallel(t *testing.T) {
	out := make([]int, 50)
	require.NoError(t, RunParallel(context.Background(), len(out), "test", func(i int) string {
		out[i] = i * i
		return "done"
	}))
	for i, v := range out {
		require.Equal(t, i*i, v)
	}
	// A cancelled context hands out no more jobs and is reported.
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Int32
	err := RunParallel(ctx, 1000, "test", func(i int) string {
		if ran.Add(1) == 3 {
			cancel()
		}
		return ""
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, int(ran.Load()), 1000)
}
