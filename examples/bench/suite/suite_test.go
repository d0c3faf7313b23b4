package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	Register("test-ok", Func{Desc: "always works", Fn: func(ctx context.Context, o Options) ([]Result, error) {
		if p := o.PlotPath("test-ok", "curve"); p != "" {
			if err := SavePlot(p, Chart{Title: "t", Series: []Series{{Name: "a", X: []float64{1, 2, 3}, Y: []float64{1, math.NaN(), 2}}}}); err != nil {
				return nil, err
			}
		}
		return []Result{Row("", "task", "arm", "metric", []float64{1, 3}, 2.5, 10),
			{Task: "t2", Arm: "a", Metric: "m", Value: math.NaN(), Seeds: 1}}, nil
	}})
	Register("test-fail", Func{Desc: "always fails", Fn: func(context.Context, Options) ([]Result, error) {
		return nil, errors.New("boom")
	}})
	Register("test-panic", Func{Desc: "panics", Fn: func(context.Context, Options) ([]Result, error) {
		panic("kaboom")
	}})
	os.Exit(m.Run())
}

func TestRunWritesContract(t *testing.T) {
	dir := t.TempDir()
	jsonPath, plotDir := filepath.Join(dir, "r.json"), filepath.Join(dir, "plots")
	var out bytes.Buffer
	err := Run(context.Background(), []string{"-only", "test-ok", "-json", jsonPath, "-plot", plotDir, "-quick"}, &out)
	require.NoError(t, err)
	require.Contains(t, out.String(), "moeboost bench: backend")
	raw, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	for _, k := range []string{"backend", "go", "started", "results"} {
		require.Contains(t, doc, k)
	}
	rows := doc["results"].([]any)
	require.Len(t, rows, 2)
	row := rows[0].(map[string]any)
	for _, k := range []string{"benchmark", "task", "arm", "metric", "value", "std", "seeds", "ms_per_step", "steps"} {
		require.Contains(t, row, k)
	}
	require.Equal(t, "test-ok", row["benchmark"])
	require.InDelta(t, 2.0, row["value"], 1e-12)
	require.InDelta(t, math.Sqrt(2), row["std"], 1e-12)
	require.Nil(t, rows[1].(map[string]any)["value"], "NaN is written as null")
	var back File
	require.NoError(t, json.Unmarshal(raw, &back))
	require.True(t, math.IsNaN(back.Results[1].Value))
	_, err = os.Stat(filepath.Join(plotDir, "test-ok-curve.png"))
	require.NoError(t, err)
}

func TestRunErrors(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), []string{"-only", "nope"}, &out)
	require.ErrorContains(t, err, `unknown benchmark "nope": known benchmarks are`)
	err = Run(context.Background(), []string{"-seeds", "-1"}, &out)
	require.ErrorContains(t, err, "-seeds=-1")
	err = Run(context.Background(), []string{"-data", "/no/such.csv"}, &out)
	require.ErrorContains(t, err, "/no/such.csv")
	err = Run(context.Background(), []string{"-backend", "go:parallelism=2", "-only", "test-ok"}, &out)
	require.ErrorContains(t, err, "can deadlock")

	jsonPath := filepath.Join(t.TempDir(), "r.json")
	err = Run(context.Background(), []string{"-only", "test-fail,test-panic,test-ok", "-json", jsonPath}, &out)
	require.ErrorContains(t, err, "2 benchmark(s) failed")
	require.Contains(t, err.Error(), "boom")
	require.Contains(t, err.Error(), "kaboom")
	var doc File
	raw, _ := os.ReadFile(jsonPath)
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Len(t, doc.Results, 2, "the working benchmark's rows are kept")
	require.Len(t, doc.Errors, 2)
}

func TestList(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, Run(context.Background(), []string{"-list"}, &out))
	require.Contains(t, out.String(), "benchmarks:")
	require.Contains(t, out.String(), "test-ok")
	require.Contains(t, out.String(), "schedules: ")
}
