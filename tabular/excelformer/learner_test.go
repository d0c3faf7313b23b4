package excelformer

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/moeboost/moeboost/boosting"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func synthRegression(n int, seed uint64) *data.Table {
	r := rand.New(rand.NewPCG(seed, 7))
	const d = 4
	t := &data.Table{Name: "synth", Task: data.Regression, N: n, D: d, X: make([]float64, n*d), Y: make([]float64, n)}
	for i := range n {
		for j := range d {
			t.X[i*d+j] = r.NormFloat64()
		}
		// Feature 2 carries most of the signal, feature 0 some, the others none.
		t.Y[i] = 3*t.X[i*d+2] + 1.5*t.X[i*d] + 0.5*math.Sin(2*t.X[i*d]) + 0.1*r.NormFloat64()
	}
	return t
}

func TestLearnerBeatsConstantAndOrdersByMI(t *testing.T) {
	tr, te := synthRegression(400, 1), synthRegression(200, 2)
	l, err := NewLearner(LearnerConfig{DToken: 16, Layers: 2, Heads: 2, Steps: 300, LearningRate: 3e-3, Seed: 1})
	require.NoError(t, err)
	require.NoError(t, l.Fit(context.Background(), tr))
	require.Equal(t, 2, l.Order()[0], "the most informative feature must come first")
	require.Equal(t, 0, l.Order()[1])
	pred, err := l.Predict(te.X, te.N)
	require.NoError(t, err)
	cons, err := data.MeanPredict(tr, te)
	require.NoError(t, err)
	rm, rc := data.RMSE(pred, te.Y), data.RMSE(cons, te.Y)
	t.Logf("excelformer rmse %.3f, constant %.3f", rm, rc)
	require.Less(t, rm, 0.5*rc)
}

func TestLearnerClassification(t *testing.T) {
	tab, err := data.Builtin("iris")
	require.NoError(t, err)
	trs, tes, err := tab.KFold(5, 1)
	require.NoError(t, err)
	l, err := NewLearner(LearnerConfig{DToken: 16, Layers: 1, Heads: 2, Steps: 200, LearningRate: 3e-3, Seed: 1})
	require.NoError(t, err)
	require.NoError(t, l.Fit(context.Background(), trs[0]))
	pred, err := l.Predict(tes[0].X, tes[0].N)
	require.NoError(t, err)
	correct := 0
	for i, p := range pred {
		if p == tes[0].Y[i] {
			correct++
		}
	}
	acc := float64(correct) / float64(len(pred))
	t.Logf("iris fold 0 accuracy %.3f", acc)
	require.Greater(t, acc, 0.8) // majority class is 1/3
}

func TestLearnerBadConfig(t *testing.T) {
	good := DefaultLearnerConfig()
	for _, tc := range []struct {
		name string
		mod  func(*LearnerConfig)
		want string
	}{
		{"heads", func(c *LearnerConfig) { c.Heads = 3 }, "heads=3 must be >= 1 and divide d_token=32"},
		{"d_token", func(c *LearnerConfig) { c.DToken = 0 }, "d_token=0"},
		{"layers", func(c *LearnerConfig) { c.Layers = -1 }, "layers=-1"},
		{"steps", func(c *LearnerConfig) { c.Steps = 0 }, "steps=0"},
		{"lr", func(c *LearnerConfig) { c.LearningRate = math.NaN() }, "learning_rate=NaN"},
		{"batch", func(c *LearnerConfig) { c.Batch = -2 }, "batch=-2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mod(&c)
			_, err := NewLearner(c)
			require.ErrorContains(t, err, tc.want)
		})
	}
	l, err := NewLearner(good)
	require.NoError(t, err)
	_, err = l.Predict([]float64{1}, 1)
	require.ErrorContains(t, err, "Predict before Fit")
	require.Contains(t, boosting.LearnerNames(), "excelformer")
}

func TestReferenceBatch(t *testing.T) {
	for _, tc := range []struct{ f, want int }{{1, 512}, {32, 512}, {33, 128}, {100, 128}, {101, 32}, {1000, 32}, {1001, 16}} {
		require.Equal(t, tc.want, ReferenceBatch(tc.f), "f=%d", tc.f)
	}
}
