package optimizers_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/stretchr/testify/require"
)

// Every documented switch builds, runs and moves the parameters to finite values (the golden
// files cover the defaults; these cover the other code paths).
func TestVariants(t *testing.T) {
	variants := []struct {
		name   string
		params map[string]any
	}{
		{"adamw", kv(optimizers.ParamAMSGrad, true)},
		{"adamw", kv(optimizers.ParamAdamL2, true)},
		{"sgd", merge(kv(optimizers.ParamNesterov, true), kv(optimizers.ParamWeightDecay, 0.1))},
		{"sgd", merge(kv(optimizers.ParamMomentum, 0.0), kv(optimizers.ParamDampening, 0.5))},
		{"adamp", kv(optimizers.ParamNesterov, true)},
		{"sgdp", merge(kv(optimizers.ParamNesterov, true), kv(optimizers.ParamMomentum, 0.9), kv(optimizers.ParamWeightDecay, 0.01))},
		{"adan", merge(kv(optimizers.ParamAdanMaxGradNorm, 0.5), kv(optimizers.ParamAdanNoProx, true), kv(optimizers.ParamWeightDecay, 0.02))},
		{"adabelief", merge(kv(optimizers.ParamAMSGrad, true), kv(optimizers.ParamWeightDecay, 0.1))},
		{"adabelief", merge(kv(optimizers.ParamAdaBeliefRectify, false), kv(optimizers.ParamAdaBeliefWeightDecouple, false), kv(optimizers.ParamWeightDecay, 0.1))},
		{"adabelief", merge(kv(optimizers.ParamAdaBeliefFixedDecay, true), kv(optimizers.ParamAdaBeliefDegeneratedToSGD, false), kv(optimizers.ParamWeightDecay, 0.1))},
		{"spam", merge(kv(optimizers.ParamSPAMCorrectBias, false), kv(optimizers.ParamSPAMDeltaT, 3), kv(optimizers.ParamSPAMGradAccuSteps, 2))},
		{"stable_spam", merge(kv(optimizers.ParamAMSGrad, true), kv(optimizers.ParamStableSPAMGamma1, -1.0), kv(optimizers.ParamStableSPAMTotalT, 3))},
		{"fira", kv(optimizers.ParamFiraProjType, "reverse_std")},
		{"fira", merge(kv(optimizers.ParamFiraProjType, "right"), kv(optimizers.ParamFiraCorrectBias, false), kv(optimizers.ParamFiraUpdateProjGap, 2))},
		{"fira", merge(kv(optimizers.ParamFiraProjType, "left"), kv(optimizers.ParamFiraRank, 1))},
		{"frugal", merge(kv(optimizers.ParamFRUGALProjection, "svd"), kv(optimizers.ParamFRUGALKeepState, true), kv(optimizers.ParamFRUGALUpdateGap, 2))},
		{"frugal", merge(kv(optimizers.ParamFRUGALStateFree, "sgd"), kv(optimizers.ParamFRUGALFreeLRScale, 0.5), kv(optimizers.ParamWeightDecay, 0.1))},
		{"mkor", merge(kv(optimizers.ParamMKORBase, "adam"), kv(optimizers.ParamAMSGrad, true))},
		{"mkor", merge(kv(optimizers.ParamMKORHalfPrecision, true), kv(optimizers.ParamMKORWarmupSteps, 3), kv(optimizers.ParamNesterov, true), kv(optimizers.ParamMomentum, 0.9))},
		{"perpgrad", kv(optimizers.ParamPerpGradBase, "lion")},
		{"sgd_sai", kv(optimizers.ParamMomentum, 0.0)},
	}
	pb := quadraticProblem()
	for i, v := range variants {
		t.Run(fmt.Sprintf("%s_%d", v.name, i), func(t *testing.T) {
			store := newStore(t, dtypes.Float64, pb.vars, merge(lr(0.01), v.params))
			tr := newTrainer(t, store, newOptimizer(t, store, v.name), pb)
			before := tr.values()
			for range 6 {
				tr.step(t)
			}
			after := tr.values()
			require.NotEqual(t, before, after)
			for _, vs := range after {
				for _, x := range vs {
					require.False(t, math.IsNaN(x) || math.IsInf(x, 0))
				}
			}
		})
	}
}

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
