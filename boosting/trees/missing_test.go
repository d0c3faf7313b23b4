package trees

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// missingBatch returns n rows of numF features where features 0 and 1 are missing (NaN) with
// probability 0.3, and k gradient columns that grow with feature 0 and, where it is missing,
// are shifted by shift (positive: missing rows look like large values, negative: small).
func missingBatch(n, numF, k int, seed uint64, shift float64) (*Data, []float32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, n*numF)
	g := make([]float32, n*k)
	for r := 0; r < n; r++ {
		for f := 0; f < numF; f++ {
			v := float32(rng.NormFloat64())
			if f < 2 && rng.Float64() < 0.3 {
				v = float32(math.NaN())
			}
			x[r*numF+f] = v
		}
		for j := 0; j < k; j++ {
			v := 0.3 * rng.NormFloat64()
			if x0 := x[r*numF]; x0 != x0 {
				v += shift - 0.5*float64(j)
			} else {
				v += 0.8 * float64(x0)
			}
			g[r*k+j] = float32(v)
		}
	}
	return NumericData(x, n, numF), g
}

// bruteSplit is the reference: every candidate threshold t of every feature (quantile
// thresholds of the non-missing values, plus -Inf, "missing against the rest", when the
// feature has missing values) with the missing rows on the left and on the right, scored by
// sum over children of ||S_c||^2/(n_c + lambda) over one pass of the rows.
func bruteSplit(d *Data, g []float32, k int, cfg TreeConfig) (bestF int, bestT float32, bestMR bool, best float64) {
	best = math.Inf(-1)
	numF := d.NumFeatures
	for f := 0; f < numF; f++ {
		var vals []float32
		hasNaN := false
		for r := 0; r < d.N; r++ {
			if v := d.Num[r*numF+f]; v == v {
				vals = append(vals, v)
			} else {
				hasNaN = true
			}
		}
		slices.Sort(vals)
		thr := quantileThresholds(nil, vals, cfg.Bins)
		if hasNaN {
			thr = append([]float32{float32(math.Inf(-1))}, thr...)
		}
		for _, t := range thr {
			for _, mr := range []bool{false, true} {
				if mr && (!hasNaN || math.IsInf(float64(t), -1)) {
					continue
				}
				sl, sr := make([]float64, k), make([]float64, k)
				nl, nr := 0, 0
				for r := 0; r < d.N; r++ {
					v := d.Num[r*numF+f]
					right := v > t || (mr && v != v)
					for j := 0; j < k; j++ {
						if right {
							sr[j] += float64(g[r*k+j])
						} else {
							sl[j] += float64(g[r*k+j])
						}
					}
					if right {
						nr++
					} else {
						nl++
					}
				}
				if nl < max(cfg.MinDataInLeaf, 1) || nr < max(cfg.MinDataInLeaf, 1) {
					continue
				}
				score := 0.0
				for j := 0; j < k; j++ {
					score += sl[j]*sl[j]/(float64(nl)+cfg.Lambda) + sr[j]*sr[j]/(float64(nr)+cfg.Lambda)
				}
				if score > best {
					best, bestF, bestT, bestMR = score, f, t, mr
				}
			}
		}
	}
	return
}

func TestMissingDefaultDirection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n, k   int
		seed   uint64
		shift  float64
		stumpR bool // the stump learns "missing goes right"
	}{
		{"one output (packed fast path)", 300, 1, 1, 1.5, true},
		{"two outputs (generic path)", 300, 2, 2, 1.5, true},
		{"one output, missing looks small", 257, 1, 3, -1.5, false},
		{"two outputs, missing looks small", 300, 2, 4, -1.5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, g := missingBatch(tc.n, 3, tc.k, tc.seed, tc.shift)
			cfg := TreeConfig{Grow: Greedy, Score: L2, NoStandardize: true, Bins: 255, MaxDepth: 1, Lambda: 1, MinDataInLeaf: 1}
			e, err := New(Config{OutDim: tc.k, NumFeatures: 3, Tree: cfg})
			require.NoError(t, err)
			stump, err := e.FitTree(d, g)
			require.NoError(t, err)
			require.Len(t, stump.Splits, 1)
			f, thr, mr, best := bruteSplit(d, g, tc.k, cfg.WithDefaults())
			sp := stump.Splits[0]
			require.Equal(t, int32(f), sp.Feature)
			require.Equal(t, thr, sp.Threshold)
			require.Equal(t, mr, sp.MissingRight)
			require.Equal(t, tc.stumpR, sp.MissingRight, "feature %d > %v", f, thr)
			own := 0.0
			for j := 0; j < tc.k; j++ {
				s := 0.0
				for r := 0; r < tc.n; r++ {
					s += float64(g[r*tc.k+j])
				}
				own += s * s / (float64(tc.n) + cfg.Lambda)
			}
			require.InDelta(t, best-own, sp.Gain, 1e-4*math.Abs(best))

			// Deeper trees: prediction routes every training row to the leaf it was grown
			// in (missing values follow each split's learned direction), through the tree,
			// the flat predictor, a save/load round trip and SHAP.
			cfg.MaxDepth = 4
			e, err = New(Config{OutDim: tc.k, NumFeatures: 3, Tree: cfg})
			require.NoError(t, err)
			for range 3 {
				require.NoError(t, e.Step(d, g))
				tr := e.Tree(e.NumTrees() - 1)
				counts := make([]int32, tr.NumLeaves())
				for r := 0; r < tc.n; r++ {
					counts[tr.leaf(d.Num[r*3:(r+1)*3])]++
				}
				require.Equal(t, tr.LeafCount, counts)
			}
			p, err := e.Predict(d, nil)
			require.NoError(t, err)
			var buf bytes.Buffer
			require.NoError(t, e.Save(&buf))
			e2, err := Load(bytes.NewReader(buf.Bytes()))
			require.NoError(t, err)
			p2, err := e2.Predict(d, nil)
			require.NoError(t, err)
			require.Equal(t, p, p2)
			for r := 0; r < tc.n; r++ {
				want := make([]float64, tc.k)
				for ti := 0; ti < e.NumTrees(); ti++ {
					tr := e.Tree(ti)
					l := tr.leaf(d.Num[r*3 : (r+1)*3])
					for j := 0; j < tc.k; j++ {
						want[j] -= float64(tr.Leaves[l*tc.k+j])
					}
				}
				for j := 0; j < tc.k; j++ {
					require.InDelta(t, want[j], float64(p[r*tc.k+j]), 1e-5)
				}
			}
			phi, err := e.SHAP(d)
			require.NoError(t, err)
			nf := 3 + 1 // features plus the expected value, per output
			for r := 0; r < tc.n; r++ {
				for j := 0; j < tc.k; j++ {
					sum := 0.0
					for f := 0; f < nf; f++ {
						sum += phi[r*nf*tc.k+f*tc.k+j] // row-major [features+1, outputs]
					}
					require.InDelta(t, float64(p[r*tc.k+j]), sum, 1e-4, "SHAP adds up for row %d", r)
				}
			}
		})
	}
}

func TestMissingRightRejected(t *testing.T) {
	tr := &Tree{Oblivious: true, Depth: 1, Splits: []Split{{Feature: 0, MissingRight: true}}, Leaves: []float32{0, 0}, LeafCount: []int32{1, 1}}
	require.ErrorContains(t, tr.validate(1, 1), "split 0 sends missing values right, allowed only in numeric splits of greedy trees")
}
