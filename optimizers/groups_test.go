package optimizers_test

import (
	"bytes"
	"io"
	"log"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/stretchr/testify/require"
)

func TestParameterGroups(t *testing.T) {
	vars := []tensorSpec{
		{Name: "w", Shape: []int{3, 2}, Values: []float64{1, 2, 3, 4, 5, 6}},
		{Name: "bias", Shape: []int{2}, Values: []float64{1, 1}},
		{Name: "embeddings", Shape: []int{4, 2}, Values: []float64{1, 2, 3, 4, 5, 6, 7, 8}},
	}
	cases := []struct {
		name           string
		params         map[string]any
		decay, lowRank []bool
	}{
		{"default: no decay below rank 2", nil, []bool{true, false, true}, []bool{true, false, true}},
		{"decay all", map[string]any{optimizers.ParamDecayAll: true}, []bool{true, true, true}, []bool{true, false, true}},
		{"patterns", map[string]any{optimizers.ParamNoDecay: "*embed*", optimizers.ParamLowRankExclude: "/embeddings"},
			[]bool{true, false, false}, []bool{true, false, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := newStore(t, dtypes.Float64, vars, c.params)
			opt := newOptimizer(t, store, "fira").(*optimizers.Optimizer)
			st := newStepper(t, store, opt, dtypes.Float64)
			st.step(t, [][]float64{vars[0].Values, vars[1].Values, vars[2].Values})
			part := opt.Partition()
			require.Len(t, part, 3)
			for i, a := range part {
				require.Equal(t, "/"+vars[i].Name, a.Path)
				require.Equal(t, c.decay[i], a.Group.Decay, "decay of %s", a.Path)
				require.Equal(t, c.lowRank[i], a.Group.LowRank, "low rank of %s", a.Path)
			}
		})
	}
	// Weight decay really skips the bias by default (Lion: p·(1 − lr·wd) then −lr·sign(g)).
	store := newStore(t, dtypes.Float64, vars[:2], map[string]any{optimizers.ParamWeightDecay: 0.5, optimizers.ParamLearningRate: 0.1})
	st := newStepper(t, store, newOptimizer(t, store, "lion"), dtypes.Float64)
	st.step(t, [][]float64{{1, 1, 1, 1, 1, 1}, {1, 1}})
	got := st.values()
	require.InDelta(t, 1*0.95-0.1, got[0][0], 1e-15)
	require.InDelta(t, 1-0.1, got[1][0], 1e-15)
}

func TestPartitionLoggedOnce(t *testing.T) {
	var buf bytes.Buffer
	log.SetOutput(&buf)
	defer log.SetOutput(io.Discard)
	vars := []tensorSpec{{Name: "w", Shape: []int{2, 2}, Values: []float64{1, 2, 3, 4}}, {Name: "b", Shape: []int{2}, Values: []float64{0, 0}}}
	store := newStore(t, dtypes.Float64, vars, map[string]any{optimizers.ParamLogGroups: true})
	opt := newOptimizer(t, store, "adamw")
	st := newStepper(t, store, opt, dtypes.Float64)
	st.step(t, [][]float64{{1, 1, 1, 1}, {1, 1}})
	st2 := newStepper(t, store, opt, dtypes.Float64) // a second graph of the same optimizer
	st2.step(t, [][]float64{{1, 1, 1, 1}, {1, 1}})
	out := buf.String()
	require.Equal(t, 1, strings.Count(out, "optimizer adamw:"), out)
	require.Contains(t, out, "weight decay on 1 tensors (4 values) [/w]; no decay on 1 tensors (2 values) [/b]")
}

func TestParamsDocumented(t *testing.T) {
	names := map[string]bool{}
	for _, p := range optimizers.Params() {
		require.NotEmpty(t, p.Doc, p.Name)
		names[p.Name] = true
	}
	for _, n := range []string{"learning_rate", "beta1", "weight_decay", "spam_delta_t", "fira_rank", "frugal_density",
		"mkor_inv_freq", "perpgrad_base", "optimizer_no_decay", "stable_spam_gamma1", "adamp_delta", "adan_no_prox"} {
		require.True(t, names[n], "param %q not documented", n)
	}
	// A param of the wrong type is an error naming it.
	store := newStore(t, dtypes.Float64, nil, map[string]any{optimizers.ParamBeta1: "high"})
	_, err := optimizers.New(store.RootScope(), "lion")
	require.ErrorContains(t, err, "lion: param beta1=high (string) is not a number")
}
