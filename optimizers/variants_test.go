package optimizers_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/stretchr/testify/require"
)

// Switches without a golden file. The other switches (AMSGrad, Adam-L2, Nesterov, dampening,
// AdaBelief's rectify/decouple/fixed decay/SGD fallback, Adan's clipping and no-prox, SPAM's
// bias correction and accumulation, Stable-SPAM's AMSGrad and γ1 = -1, Fira's projection types,
// ⊥Grad on Lion) are golden cases from the official code (testdata/golden/optimizers,
// gen_switches.py). SGD's dampening, SGD-SaI at momentum 0, FRUGAL's state-free "sgd" rule and Fira's right
// projector refreshed every 2 steps without bias correction, and MKOR's base switches (Adam +
// AMSGrad; SGD Nesterov) are
// checked against float64 re-statements in variants_ref_test.go. The ones left here build, run
// and move the parameters to finite values.
func TestVariants(t *testing.T) {
	variants := []struct {
		name   string
		params map[string]any
	}{
		{"frugal", merge(kv(optimizers.ParamFRUGALProjection, "svd"), kv(optimizers.ParamFRUGALKeepState, true), kv(optimizers.ParamFRUGALUpdateGap, 2))},
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
