package backend

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

func TestResolveAndNormalize(t *testing.T) {
	t.Setenv(compute.ConfigEnvVar, "")
	os.Unsetenv(compute.ConfigEnvVar)
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir()) // No plugins installed there.
	cfg, src := Resolve("go:ops_sequential")
	require.Equal(t, "go:ops_sequential", cfg)
	require.Equal(t, FromFlag, src)
	t.Setenv(compute.ConfigEnvVar, "go:parallelism=1")
	cfg, src = Resolve("")
	require.Equal(t, "go:parallelism=1", cfg)
	require.Equal(t, FromEnv, src)

	for in, want := range map[string]string{
		"go":                  GoDefault,
		"go:":                 GoDefault,
		"go:ops_sequential":   "go:ops_sequential,parallelism=-1",
		"go:parallelism=1":    "go:parallelism=1",
		"xla:cpu":             "xla:cpu",
		"go:parallelism=-1,x": "go:parallelism=-1,x",
	} {
		require.Equal(t, want, Normalize(in), in)
	}
	for cfg, risky := range map[string]bool{
		"go:parallelism=2": true, "go:parallelism=8": true, "go:parallelism=2,ops_sequential": false,
		"go:parallelism=-1": false, "go:parallelism=0": false, "go:parallelism=1": false, "go": false, "xla:cpu": false,
	} {
		require.Equal(t, risky, HangRisk(cfg) != "", cfg)
	}
}

func TestNewErrors(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	_, err := New("go:parallelism=2")
	require.ErrorContains(t, err, "can deadlock")
	_, err = New("tpu")
	require.ErrorContains(t, err, `unknown backend "tpu": known backends are`)
	for _, cfg := range []string{"xla:cpu", "xla:cuda"} {
		_, err = New(cfg)
		require.Error(t, err, cfg)
		msg := err.Error()
		require.NotContains(t, msg, "\n", "one sentence")
		if xlaCompiledIn {
			require.Contains(t, msg, "no PJRT plugin")
			require.Contains(t, msg, "or use -backend go")
		} else {
			require.Contains(t, msg, "built without")
		}
	}
	b, err := New("go")
	require.NoError(t, err)
	require.Contains(t, Describe(b, GoDefault), "parallelism=-1")
}

// TestNeverHangs runs a multi-op training step (independent matmuls in the backward pass, the
// pattern that deadlocks a finite worker pool) in a child process under GOMAXPROCS 1, 2 and 4
// with moeboost's default backend, and fails if it does not finish in time.
func TestNeverHangs(t *testing.T) {
	if os.Getenv("MOEBOOST_HANG_CHILD") == "1" {
		hangChild(t)
		return
	}
	for _, procs := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestNeverHangs$", "-test.count=1")
			cmd.Env = append(os.Environ(), "MOEBOOST_HANG_CHILD=1", fmt.Sprintf("GOMAXPROCS=%d", procs), compute.ConfigEnvVar+"=")
			out, err := cmd.CombinedOutput()
			require.NoError(t, ctx.Err(), "training step did not finish in 90 s: hang\n%s", out)
			require.NoError(t, err, "%s", out)
			require.Contains(t, string(out), "steps done: 30")
		})
	}
}

func hangChild(t *testing.T) {
	cfg := GoDefault
	if c := os.Getenv("MOEBOOST_HANG_CONFIG"); c != "" {
		cfg = c // Lets one check by hand that this child does hang with go:parallelism=2.
	}
	b, err := New(cfg)
	require.NoError(t, err)
	// Two-layer network trained by hand: forward, gradients of both weights (independent
	// DotGenerals) and an SGD update, all in one graph, repeated.
	exec, err := graph.NewExec(b, func(x, w1, w2 *graph.Node) []*graph.Node {
		h := graph.Max(graph.Dot(x, w1).Product(), graph.ZerosLike(graph.Dot(x, w1).Product()))
		y := graph.Dot(h, w2).Product()
		loss := graph.ReduceAllMean(graph.Square(y))
		gr := graph.Gradient(loss, w1, w2)
		return []*graph.Node{graph.Sub(w1, graph.MulScalar(gr[0], 0.01)), graph.Sub(w2, graph.MulScalar(gr[1], 0.01))}
	})
	require.NoError(t, err)
	mk := func(r, c int) *tensors.Tensor {
		v := make([]float32, r*c)
		for i := range v {
			v[i] = float32(i%7) / 7
		}
		return tensors.FromFlatDataAndDimensions(v, r, c)
	}
	x, w1, w2 := mk(256, 64), mk(64, 256), mk(256, 256)
	for i := range 30 {
		outs, err := exec.Call(x, w1, w2)
		require.NoError(t, err, "step %d", i)
		w1, w2 = outs[0], outs[1]
	}
	fmt.Println("steps done: 30", strings.Repeat("", 0))
}
