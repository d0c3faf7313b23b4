package optimizers_test

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/stretchr/testify/require"
)

// The optimizer state in bytes per parameter byte, after one update of a [256, 128] weight and
// a [128] bias in float32, matches the memory each paper (and the research notes) states: Lion
// ×1, AdamW ×2, SGD-SaI ×1, Adan ×4, Fira 2r/n + r/m on the weight, FRUGAL ×2ρ on the weight.
func TestStateBytesMatchTheNotes(t *testing.T) {
	w := tensorSpec{Name: "w", Shape: []int{256, 128}, Values: make([]float64, 256*128)}
	b := tensorSpec{Name: "b", Shape: []int{128}, Values: make([]float64, 128)}
	for i := range w.Values {
		w.Values[i] = math.Sin(float64(i))
	}
	nw, nb := 256.0*128, 128.0
	total := nw + nb
	fira := (nw*(2*32.0/128+32.0/256) + 2*nb) / total // rank ⌈128/4⌉ = 32, right projector
	frugal := (nw*2*0.25 + 2*nb) / total              // blocks of ⌈0.25·256⌉ = 64 rows
	want := map[string]float64{
		"adabelief": 2, "adamp": 2, "adamw": 2, "adan": 4, "fira": fira, "frugal": frugal, "lion": 1,
		"mkor":     0, // no marked layers: torch SGD without momentum keeps no state
		"perpgrad": 2, "perpgrad+adamw": 2, "perpgrad+sgd": 1, "sgd": 1, "sgd_sai": 1, "sgdp": 1,
		"spam": 2, "stable_spam": 2,
	}
	for _, name := range optimizers.Names() {
		ratio, ok := want[name]
		require.True(t, ok, "no expected state size for %q", name)
		t.Run(name, func(t *testing.T) {
			store := newStore(t, dtypes.Float32, []tensorSpec{w, b}, nil)
			opt := newOptimizer(t, store, name)
			st := newStepper(t, store, opt, dtypes.Float32)
			g := [][]float64{w.Values, b.Values}
			st.step(t, g)
			got := float64(optimizers.StateBytes(store, opt)) / (total * 4)
			// Counters and per-tensor scalars add a few bytes.
			require.InDelta(t, ratio, got, 0.002, "state/params of %s", name)
		})
	}
}
