package treesspeed

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScriptFound(t *testing.T) {
	src, err := script()
	require.NoError(t, err)
	require.Contains(t, string(src), "MBXY")
}

func TestSmallMoeboostAndFile(t *testing.T) {
	ds, err := synthetic()
	require.NoError(t, err)
	// A small slice keeps the test fast.
	ds.ntr, ds.nte = 3000, 500
	ds.xtr, ds.ytr = ds.xtr[:3000*nFeatures], ds.ytr[:3000]
	ds.xte, ds.yte = ds.xte[:500*nFeatures], ds.yte[:500]
	m, err := MeasureMoeboost(context.Background(), ds, 1)
	require.NoError(t, err)
	require.Len(t, m.FitSeconds, 1)
	require.Less(t, m.RMSE, 2.0)
	path := filepath.Join(t.TempDir(), "d.bin")
	require.NoError(t, writeData(path, ds))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, int64(20+4*(3000*nFeatures+3000+500*nFeatures+500)), st.Size())
	if python, _ := FindXGBoostPython(); python != "" && !testing.Short() {
		x, err := MeasureXGBoost(context.Background(), python, ds, 1, "PASSIVE")
		require.NoError(t, err)
		// Same data, same model class: the test errors agree closely.
		require.InDelta(t, m.RMSE, x.RMSE, 0.05*x.RMSE)
	}
}

// A reference run whose JSON has no timings (or a non-positive one) is an error naming the
// field, never a 0 s row; median of nothing is NaN.
func TestXGBoostTimingsMustExist(t *testing.T) {
	ds, err := synthetic()
	require.NoError(t, err)
	ds.ntr, ds.nte = 10, 5
	ds.xtr, ds.ytr = ds.xtr[:10*nFeatures], ds.ytr[:10]
	ds.xte, ds.yte = ds.xte[:5*nFeatures], ds.yte[:5]
	for _, tc := range []struct{ name, json, want string }{
		{"empty", `{"xgboost":"3.0","fit_seconds_runs":[],"rmse":1}`, "fit_seconds_runs is empty"},
		{"missing", `{"xgboost":"3.0","rmse":1}`, "fit_seconds_runs is empty"},
		{"zero", `{"xgboost":"3.0","fit_seconds_runs":[1.5,0],"rmse":1}`, "fit_seconds_runs[1]=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := filepath.Join(t.TempDir(), "python")
			require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\necho '"+tc.json+"'\n"), 0o755))
			_, err := MeasureXGBoost(context.Background(), fake, ds, 1, "PASSIVE")
			require.ErrorContains(t, err, tc.want)
		})
	}
	fake := filepath.Join(t.TempDir(), "python")
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\necho '{\"xgboost\":\"3.0\",\"fit_seconds_runs\":[2,1,3],\"rmse\":0.6}'\n"), 0o755))
	m, err := MeasureXGBoost(context.Background(), fake, ds, 3, "PASSIVE")
	require.NoError(t, err)
	require.Equal(t, 2.0, median(m.FitSeconds))
	require.True(t, math.IsNaN(median(nil)))
}
