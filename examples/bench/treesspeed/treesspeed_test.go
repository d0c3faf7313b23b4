package treesspeed

import (
	"context"
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
	ds := synthetic()
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
