package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

func TestRunOrdinaryCSV(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pets.csv")
	var b strings.Builder
	b.WriteString("weight,color,kind\n")
	for i := range 40 {
		w, color, kind := fmt.Sprintf("%d.5", i%7), []string{"red", "blue"}[i%2], []string{"cat", "dog"}[i%2]
		if i == 5 {
			w = "NA"
		}
		fmt.Fprintf(&b, "%s,%s,%s\n", w, color, kind)
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	for _, tc := range []struct {
		name, impute, err string
	}{
		{"missing without impute", "none", `pets line 7 column 1: feature "weight" has 1 missing cell(s) of 40; networks need every value: pass -impute mean or -impute median, or use trees, which route missing values natively`},
		{"median", "median", ""},
		{"bad impute", "zero", `-impute: impute "zero": allowed are none, mean, median`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ckpt := filepath.Join(t.TempDir(), "ckpt")
			o := Options{Data: path, Hidden: "8", Optimizer: "adam", Schedule: "constant", Steps: 5, Batch: 8, Seed: 1,
				LR: 1e-2, TestFraction: 0.25, Checkpoint: ckpt, Impute: tc.impute}
			var out bytes.Buffer
			err := run(context.Background(), o, &out)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Contains(t, out.String(), `data pets: 40 rows, 2 features, classification of kind (0="cat", 1="dog"); categorical: color(2); missing: weight(1)`)
			raw, err := os.ReadFile(filepath.Join(ckpt, "data.json"))
			require.NoError(t, err)
			var meta struct {
				ClassNames   []string `json:"class_names"`
				FeatureNames []string `json:"feature_names"`
				Label        string   `json:"label"`
			}
			require.NoError(t, json.Unmarshal(raw, &meta))
			require.Equal(t, []string{"cat", "dog"}, meta.ClassNames)
			require.Equal(t, []string{"weight", "color=blue", "color=red"}, meta.FeatureNames)
			require.Equal(t, "kind", meta.Label)
		})
	}
}
