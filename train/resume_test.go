package train_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train"
	"github.com/stretchr/testify/require"
)

// snapshot copies every variable of the store (weights, optimizer state, RNG, global step).
func snapshot(t *testing.T, store *model.Store) map[string][]byte {
	out := map[string][]byte{}
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), "/metrics/") {
			continue // GoMLX's per-trainer display metrics, not training state.
		}
		val := v.MustValue()
		var b []byte
		require.NoError(t, val.ConstBytes(func(data []byte) { b = append([]byte(nil), data...) }))
		out[v.Path()] = b
	}
	return out
}

func resumeConfig(t *testing.T, dir string, steps int) train.Config {
	trainDS, testDS := digits(t)
	return train.Config{
		Name: "resume", Model: mlpDropout, Loss: "cross_entropy", Optimizer: "adam", LearningRate: 3e-3,
		Steps: steps, Train: trainDS, Eval: []train.EvalSet{{Name: "test", Data: testDS}}, EvalEvery: 50,
		Schedule: train.ScheduleConfig{Kind: "cosine", WarmupSteps: 20, TotalSteps: 200}, ClipGlobalNorm: 1.0,
		CheckpointDir: dir, CheckpointEvery: 50, Seed: 42,
	}
}

// mlpDropout uses the store's RNG (dropout) so resumption must restore the RNG state too.
func mlpDropout(scope *model.Scope, inputs []*graph.Node) []*graph.Node {
	x := layers.DenseWithBias(scope.In("h"), inputs[0], 32)
	x = activation.Relu(x)
	x = layers.DropoutStatic(scope, x, 0.2)
	return []*graph.Node{layers.DenseWithBias(scope.In("out"), x, 10)}
}

func TestResumeBitIdentical(t *testing.T) {
	ctx := context.Background()
	full, err := train.Run(ctx, resumeConfig(t, t.TempDir(), 200))
	require.NoError(t, err)
	want := snapshot(t, full.Store)

	dir := t.TempDir()
	first, err := train.Run(ctx, resumeConfig(t, dir, 120)) // "Interrupted" at step 120.
	require.NoError(t, err)
	require.Equal(t, 120, first.Steps)
	second, err := train.Run(ctx, resumeConfig(t, dir, 200)) // A new process would do exactly this.
	require.NoError(t, err)
	require.Equal(t, 120, second.StartStep)
	require.Equal(t, 200, second.Steps)
	got := snapshot(t, second.Store)
	require.Equal(t, len(want), len(got))
	for k, w := range want {
		require.Equal(t, w, got[k], "variable %s differs after resume", k)
	}
	require.Equal(t, full.Final["test/loss"], second.Final["test/loss"])
}

func TestCheckpointAtomicity(t *testing.T) {
	dir := t.TempDir()
	res, err := train.Run(context.Background(), resumeConfig(t, dir, 100))
	require.NoError(t, err)
	// Simulate a crash in the middle of a later save: staging holds half-written files.
	staging := filepath.Join(dir, ".staging")
	require.NoError(t, os.WriteFile(filepath.Join(staging, "checkpoint-n9999999-x-step-00000150.json"), []byte("{trunc"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(staging, "checkpoint-n9999999-x-step-00000150.bin"), []byte("gomlx"), 0o644))
	// And an orphan data file in the main directory (json never moved in).
	require.NoError(t, os.WriteFile(filepath.Join(dir, "checkpoint-n9999999-x-step-00000150.bin"), []byte("gomlx"), 0o644))
	ck, err := train.OpenCheckpoint(model.NewStore(), dir, 2)
	require.NoError(t, err, "the last good checkpoint still loads")
	require.Contains(t, ck.Loaded(), "step-00000100")
	names, err := ck.List()
	require.NoError(t, err)
	require.Len(t, names, 2, "keep=2")
	_ = res
}

func TestNaNPolicies(t *testing.T) {
	// A model whose loss becomes NaN when a (fixed) input feature is large: feature 0 of the
	// standardized digits is constant, so we poison through a data-independent switch on step.
	poison := func(scope *model.Scope, inputs []*graph.Node) []*graph.Node {
		out := mlp(scope, inputs)[0]
		g := out.Graph()
		step := graph.ConvertDType(scope.Store().VariableWithValue("global_step", int64(0)).NodeValue(g), out.DType())
		// NaN exactly at steps 5 and 6 (0-based steps done).
		bad := graph.LogicalAnd(graph.GreaterOrEqual(step, graph.Scalar(g, out.DType(), 5)), graph.LessThan(step, graph.Scalar(g, out.DType(), 7)))
		nan := graph.Scalar(g, out.DType(), 0)
		nan = graph.Div(nan, nan)
		return []*graph.Node{graph.Where(bad, graph.Add(out, nan), out)}
	}
	trainDS, testDS := digits(t)
	cfg := train.Config{Name: "nan", Model: poison, Loss: "cross_entropy", Optimizer: "adam", LearningRate: 1e-3,
		Steps: 20, Train: trainDS, Eval: []train.EvalSet{{Name: "test", Data: testDS}}}
	_, err := train.Run(context.Background(), cfg)
	require.ErrorContains(t, err, "step 6: the loss is not finite")

	trainDS, testDS = digits(t)
	cfg.Train, cfg.Eval, cfg.NaNPolicy = trainDS, []train.EvalSet{{Name: "test", Data: testDS}}, train.NaNSkip
	res, err := train.Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, 2, res.SkippedSteps)
	require.Equal(t, 20, res.Steps)
	for v := range res.Store.IterVariables() {
		val := v.MustValue()
		if val.DType().IsFloat() {
			flat := tensors.MustCopyFlatData[float32](val)
			for _, x := range flat {
				require.False(t, x != x, "variable %s has NaN after skipped steps", v.Path())
			}
		}
	}
}
