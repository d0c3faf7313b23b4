package datadistill

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

// digits returns the bundled digits scaled to [0, 1], split 70/30.
func digits(t *testing.T) (train, test *Dataset) {
	t.Helper()
	tab, err := data.Builtin("digits")
	require.NoError(t, err)
	tr, te, err := tab.Split(0.3, 1)
	require.NoError(t, err)
	conv := func(tb *data.Table) *Dataset {
		d := &Dataset{N: tb.N, D: tb.D, Classes: tb.NumClasses}
		for _, v := range tb.X {
			d.X = append(d.X, float32(v/16))
		}
		for _, y := range tb.Y {
			d.Y = append(d.Y, int(y))
		}
		return d
	}
	return conv(tr), conv(te)
}

// TestDistillBeatsRandomSubset distills one example per class on digits from 4 short expert
// trajectories and checks the paper's effect: the matching loss falls, and a fresh network
// trained on the 10 distilled examples beats one trained on 10 random real ones.
func TestDistillBeatsRandomSubset(t *testing.T) {
	train, test := digits(t)
	be := backend.MustDefault()
	m := MLP{Sizes: []int{64, 64, 10}, Act: "relu"}
	ctx := context.Background()
	experts, err := TrainExperts(ctx, be, m, train, ExpertConfig{Epochs: 8, Batch: 64, LR: 0.01}, 4, 1, nil)
	require.NoError(t, err)
	require.Len(t, experts, 4)
	require.Len(t, experts[0], 9, "init + 8 epochs")
	require.Greater(t, experts[0][0].SqDist(experts[0][8]), 0.0)

	c := MTTConfig()
	c.SynSteps, c.ExpertEpochs, c.MaxStartEpoch, c.Iterations, c.LRImg = 10, 2, 5, 60, 100
	res, err := Distill(ctx, be, m, train, experts, c, nil)
	require.NoError(t, err)
	require.Len(t, res.Losses, 60)
	require.Equal(t, 10, res.Data.N)
	first, last := mean(res.Losses[:10]), mean(res.Losses[50:])
	require.Less(t, last, 0.6*first, "matching loss falls: %.3f -> %.3f", first, last)
	require.Greater(t, res.LR, 0.0)

	ev := EvalConfig{Epochs: 150, Batch: 256, Nets: 2, LR: res.LR, Seed: 3}
	distilled, err := Evaluate(ctx, be, m, res.Data, test, ev)
	require.NoError(t, err)
	sub, err := RandomSubset(train, 1, 3)
	require.NoError(t, err)
	ev.LR = c.LRInit
	random, err := Evaluate(ctx, be, m, sub, test, ev)
	require.NoError(t, err)
	require.Greater(t, mean(distilled), mean(random)+0.03, "distilled %v vs random real %v", distilled, random)
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func TestKMeansAndRepresentatives(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var pts [][]float64
	for _, c := range [][2]float64{{0, 0}, {10, 0}, {0, 10}} {
		for range 20 {
			pts = append(pts, []float64{c[0] + r.NormFloat64()*0.3, c[1] + r.NormFloat64()*0.3})
		}
	}
	centres := kmeans(pts, 3, r)
	require.Len(t, centres, 3)
	found := map[[2]int]bool{}
	for _, c := range centres {
		found[[2]int{int(math.Round(c[0] / 10)), int(math.Round(c[1] / 10))}] = true
	}
	require.Len(t, found, 3, "one centre per cluster: %v", centres)

	// Representatives are distinct real rows of the class.
	train, _ := digits(t)
	m := MLP{Sizes: []int{64, 16, 10}, Act: "tanh"}
	rows := byClass(train)[3]
	reps := representatives(train, m, m.Init(1), rows, 5, r)
	require.Len(t, reps, 5)
	seen := map[int]bool{}
	for _, j := range reps {
		require.Equal(t, 3, train.Y[j])
		require.False(t, seen[j])
		seen[j] = true
	}
}

func TestHostLogitsMatchGraph(t *testing.T) {
	// Accuracy (host) and the trainer (graph) agree on a trained net: training lowers the loss
	// and raises the host accuracy well above chance.
	train, test := digits(t)
	m := MLP{Sizes: []int{64, 32, 10}, Act: "tanh"}
	experts, err := TrainExperts(context.Background(), backend.MustDefault(), m, train, ExpertConfig{Epochs: 10, Batch: 32, LR: 0.1}, 1, 5, nil)
	require.NoError(t, err)
	require.Less(t, Accuracy(m, experts[0][0], test), 0.3)
	require.Greater(t, Accuracy(m, experts[0][10], test), 0.85)
}

func TestBadInput(t *testing.T) {
	train, _ := digits(t)
	be := backend.MustDefault()
	m := MLP{Sizes: []int{64, 8, 10}, Act: "relu"}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"activation", MLP{Sizes: []int{4, 3}, Act: "gelu"}.Validate(), `activation "gelu" unknown`},
		{"sizes", MLP{Sizes: []int{4}, Act: "relu"}.Validate(), "at least input and output"},
		{"expert lr", ExpertConfig{Epochs: 1, Batch: 1, LR: 0}.Validate(), "LR = 0"},
		{"expert momentum", ExpertConfig{Epochs: 1, Batch: 1, LR: 1, Momentum: 1}.Validate(), "momentum = 1"},
		{"ipc", Config{IPC: 0}.Validate(10), "IPC = 0"},
		{"epochs", func() error { c := MTTConfig(); return c.Validate(10) }(), "needs trajectories of ≥ 27 epochs; the experts have 10"},
		{"init", func() error { c := MTTConfig(); c.Init = "gan"; return c.Validate(50) }(), `init "gan" unknown`},
		{"dataset", (&Dataset{X: []float32{1, float32(math.NaN())}, Y: []int{0}, N: 1, D: 2, Classes: 2}).Validate(), "feature 1 of row 0 is NaN"},
		{"label", (&Dataset{X: []float32{1, 2}, Y: []int{5}, N: 1, D: 2, Classes: 2}).Validate(), "label 5 of row 0"},
	} {
		t.Run(tc.name, func(t *testing.T) { require.ErrorContains(t, tc.err, tc.want) })
	}
	_, err := TrainExperts(ctx, be, MLP{Sizes: []int{10, 8, 10}, Act: "relu"}, train, DefaultExpertConfig(), 1, 1, nil)
	require.ErrorContains(t, err, "does not fit 64 features")
	_, err = Distill(ctx, be, m, train, nil, MTTConfig(), nil)
	require.ErrorContains(t, err, "no expert trajectories")
	_, err = Preset("dc")
	require.ErrorContains(t, err, `unknown dataset_distiller "dc"`)
	require.Equal(t, []string{"ast", "mtt"}, Presets())
	_, err = RandomSubset(train, 0, 1)
	require.ErrorContains(t, err, "IPC = 0")
	_, err = Evaluate(ctx, be, m, train, train, EvalConfig{Epochs: 1, Batch: 1, Nets: 1})
	require.ErrorContains(t, err, "LR 0")
}

func TestBalanceAndMiddleSteps(t *testing.T) {
	c := ASTConfig()
	c.MaxStartEpoch, c.SynSteps, c.ExpertEpochs = 20, 30, 3
	// s ≥ h = 10: × log₅(s − 2); s < h: ÷ log₅(18 − s).
	require.InDelta(t, math.Log(8)/math.Log(5), c.balance(10), 1e-12)
	require.InDelta(t, math.Log(5)/math.Log(17), c.balance(1), 1e-12)
	require.Equal(t, []int{10, 20}, c.middleSteps())
	c.MiddleMatching = false
	require.Empty(t, c.middleSteps())
	require.Equal(t, 1.0, MTTConfig().balance(3))
}
