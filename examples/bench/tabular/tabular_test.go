package tabularbench

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func tiny() Setup {
	s := DefaultSetup(true)
	s.Datasets = []string{"iris", "diabetes"}
	s.KFold, s.Folds = 3, 1
	s.Excel.DToken, s.Excel.Heads, s.Excel.Layers, s.Excel.Steps = 8, 2, 1, 30
	s.GBNNUnits, s.MLPSteps = 4, 30
	return s
}

func TestTinyRunRows(t *testing.T) {
	rows, err := Run(context.Background(), suite.Options{Out: io.Discard}, tiny())
	require.NoError(t, err)
	want := []struct{ task, arm, metric string }{
		{"iris", "excelformer", "accuracy"}, {"iris", "gbnn", "accuracy"}, {"iris", "mlp", "accuracy"},
		{"iris", "constant", "accuracy"}, {"iris", "linear", "accuracy"},
		{"diabetes", "excelformer", "rmse"}, {"diabetes", "gbnn", "rmse"}, {"diabetes", "gbt", "rmse"},
		{"diabetes", "mlp", "rmse"}, {"diabetes", "constant", "rmse"}, {"diabetes", "linear", "rmse"},
	}
	require.Len(t, rows, len(want))
	for i, w := range want {
		r := rows[i]
		require.Equal(t, "tabular", r.Benchmark)
		require.Equal(t, w.task, r.Task, "row %d", i)
		require.Equal(t, w.arm, r.Arm, "row %d", i)
		require.Equal(t, w.metric, r.Metric, "row %d", i)
		require.Equal(t, w.metric == "accuracy", r.Extra["higher_is_better"])
		require.Len(t, r.Extra["fit_seconds"], 1)
		if w.metric == "accuracy" {
			require.GreaterOrEqual(t, r.Value, 0.0)
			require.LessOrEqual(t, r.Value, 1.0)
		} else {
			require.Greater(t, r.Value, 0.0)
		}
	}
	// iris is balanced over 3 classes: the majority class scores about 1/3, linear beats it.
	require.InDelta(t, 1.0/3, rows[3].Value, 0.1)
	require.Greater(t, rows[4].Value, rows[3].Value)
	// diabetes: least squares beats the training mean.
	require.Less(t, rows[10].Value, rows[9].Value)
}

func TestBadSetup(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Setup)
		want string
	}{
		{"kfold", func(s *Setup) { s.KFold = 1 }, "kfold=1"},
		{"folds", func(s *Setup) { s.Folds = 9 }, "folds=9 must be in [1, kfold=3]"},
		{"gbnn", func(s *Setup) { s.GBNNUnits = 0 }, "gbnn units=0"},
		{"mlp", func(s *Setup) { s.MLPSteps = 0 }, "mlp steps=0"},
		{"excel", func(s *Setup) { s.Excel.Heads = 3 }, "heads=3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tiny()
			tc.mod(&s)
			_, err := Run(context.Background(), suite.Options{Out: io.Discard}, s)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
