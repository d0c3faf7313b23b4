package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func TestRunAndResume(t *testing.T) {
	dir := t.TempDir()
	o := Options{Data: "iris", Hidden: "16", Optimizer: "adam", Schedule: "cosine", Steps: 60, Batch: 16, Seed: 3,
		LR: 1e-2, TestFraction: 0.2, Checkpoint: filepath.Join(dir, "ckpt"), JSON: filepath.Join(dir, "r.json")}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), o, &out))
	require.Contains(t, out.String(), "done: 60 steps")
	o.Steps = 90 // Continue the same run.
	out.Reset()
	require.NoError(t, run(context.Background(), o, &out))
	require.Contains(t, out.String(), "resumed from step 60")
	require.Contains(t, out.String(), "done: 90 steps")

	require.ErrorContains(t, run(context.Background(), Options{Data: "nope.csv", Hidden: "4", Steps: 1, Batch: 1, TestFraction: 0.2}, &out), "neither a builtin")
	require.ErrorContains(t, run(context.Background(), Options{Data: "iris", Hidden: "x", Steps: 1, Batch: 1, TestFraction: 0.2}, &out), "-hidden")
}
