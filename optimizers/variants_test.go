package optimizers_test

import (
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/stretchr/testify/require"
)

// Degenerate equivalences between optimizers built from the same pieces.
func TestEquivalences(t *testing.T) {
	pb := quadraticProblem()
	run := func(name string, params map[string]any) [][]float64 {
		store := newStore(t, dtypes.Float64, pb.vars, merge(lr(0.02), params))
		tr := newTrainer(t, store, newOptimizer(t, store, name), pb)
		for range 12 {
			tr.step(t)
		}
		return tr.values()
	}
	same := func(a, b [][]float64, msg string) {
		for i := range a {
			require.InDeltaSlice(t, a[i], b[i], 1e-14, msg)
		}
	}
	noDecay := kv(optimizers.ParamWeightDecay, 0.0)
	// AdamP whose projection never fires is AdamW.
	same(run("adamp", merge(noDecay, kv("adamp_delta", 1e-12))), run("adamw", noDecay), "adamp (no projection) = adamw")
	// SPAM without clipping, resets or warm-up is Adam with ε outside, as Fira's full-rank path.
	spamPlain := merge(kv(optimizers.ParamSPAMThreshold, 0.0), kv(optimizers.ParamSPAMDeltaT, 1000000), kv(optimizers.ParamSPAMWarmupSteps, 0))
	fullRank := kv(optimizers.ParamLowRankExclude, "*")
	same(run("spam", spamPlain), run("fira", merge(fullRank, kv(optimizers.ParamEpsilon, 1e-6))), "spam (plain) = fira (full rank)")
	// FRUGAL with every tensor state-full is AdamW.
	same(run("frugal", fullRank), run("adamw", noDecay), "frugal (full rank) = adamw")
	// ⊥Grad by parameter and by name.
	same(run("perpgrad", kv(optimizers.ParamPerpGradBase, "sgd")), run("perpgrad+sgd", nil), "perpgrad base param")
}
