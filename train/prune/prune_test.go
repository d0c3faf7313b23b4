package prune_test

import (
	"context"
	"io"
	"log"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	"github.com/moeboost/moeboost/train/prune"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// storeWith returns a store holding the given float32 variables (trainable), by path.
func storeWith(t *testing.T, vars map[string]*tensors.Tensor) *model.Store {
	s := model.NewStore()
	for p, v := range vars {
		_, err := s.CreateVariable(p, v)
		require.NoError(t, err)
	}
	return s
}

// testStore holds three weight matrices of different sizes and a bias (rank 1, never pruned),
// with distinct magnitudes so the ranking is unambiguous.
func testStore(t *testing.T) *model.Store {
	mk := func(seed float64, dims ...int) *tensors.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		f := make([]float32, n)
		for i := range f {
			f[i] = float32(math.Sin(seed+float64(i)*1.7) * (1 + seed))
		}
		return tensors.FromFlatDataAndDimensions(f, dims...)
	}
	return storeWith(t, map[string]*tensors.Tensor{
		"/net/a/weights": mk(0.3, 7, 5),
		"/net/b/weights": mk(1.1, 5, 11),
		"/net/c/weights": mk(2.5, 11, 3),
		"/net/c/biases":  mk(0.7, 3),
	})
}

func values(t *testing.T, s *model.Store, path string) []float32 {
	v := s.GetVariable(path)
	require.NotNil(t, v, path)
	return tensors.MustCopyFlatData[float32](v.MustValue())
}

func TestMagnitude(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sparsity float64
		scope    string
	}{
		{"global 0.4", 0.4, prune.Global},
		{"global 0.6", 0.6, ""},
		{"global 0.8", 0.8, prune.Global},
		{"layer 0.4", 0.4, prune.LayerWise},
		{"layer 0.6", 0.6, prune.LayerWise},
		{"layer 0.8", 0.8, prune.LayerWise},
		{"none", 0, prune.LayerWise},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testStore(t)
			m, err := prune.Magnitude(s, prune.Config{Sparsity: tc.sparsity, Scope: tc.scope})
			require.NoError(t, err)
			paths := make([]string, len(m.Layers))
			for i, l := range m.Layers {
				paths[i] = l.Path
			}
			require.Equal(t, []string{"/net/a/weights", "/net/b/weights", "/net/c/weights"}, paths, "biases are not pruned")
			total, pruned := 0, 0
			maxPruned, minKept := 0.0, math.Inf(1)
			for _, l := range m.Layers {
				w := values(t, s, l.Path)
				require.Len(t, l.Keep, len(w))
				if tc.scope == prune.LayerWise {
					// Exact per layer: floor(sparsity·n).
					require.Equal(t, int(tc.sparsity*float64(len(w))), l.Pruned(), l.Path)
				}
				total += len(w)
				pruned += l.Pruned()
				lmaxP, lminK := 0.0, math.Inf(1)
				for i, k := range l.Keep {
					a := math.Abs(float64(w[i]))
					if k {
						lminK = min(lminK, a)
					} else {
						lmaxP = max(lmaxP, a)
					}
				}
				if tc.scope == prune.LayerWise {
					require.LessOrEqual(t, lmaxP, lminK, "%s: a pruned weight is larger than a kept one", l.Path)
				}
				maxPruned, minKept = max(maxPruned, lmaxP), min(minKept, lminK)
			}
			if tc.scope != prune.LayerWise {
				require.Equal(t, int(tc.sparsity*float64(total)), pruned)
				require.LessOrEqual(t, maxPruned, minKept, "global: a pruned weight is larger than a kept one")
			}
			require.InDelta(t, float64(pruned)/float64(total), m.Sparsity(), 1e-12)
		})
	}
}

func TestMagnitudeRejectsBadConfig(t *testing.T) {
	s := testStore(t)
	for _, tc := range []struct {
		cfg  prune.Config
		want string
	}{
		{prune.Config{Sparsity: 1}, "sparsity=1 must be in [0, 1)"},
		{prune.Config{Sparsity: -0.1}, "sparsity=-0.1 must be in [0, 1)"},
		{prune.Config{Sparsity: math.NaN()}, "sparsity=NaN"},
		{prune.Config{Sparsity: 0.5, Scope: "local"}, `scope="local" must be "global" or "layer"`},
		{prune.Config{Sparsity: 0.5, Include: func(*model.Variable) bool { return false }}, "no variable of the store is selected"},
	} {
		_, err := prune.Magnitude(s, tc.cfg)
		require.ErrorContains(t, err, tc.want)
	}
}

func TestRandomMasks(t *testing.T) {
	s := testStore(t)
	ref, err := prune.Magnitude(s, prune.Config{Sparsity: 0.6})
	require.NoError(t, err)
	a, b, c := prune.Random(ref, 7), prune.Random(ref, 7), prune.Random(ref, 8)
	require.Equal(t, a, b, "the same seed gives the same masks")
	require.NotEqual(t, a, c, "another seed gives other masks")
	require.NotEqual(t, ref, a)
	for i, l := range a.Layers {
		require.Equal(t, ref.Layers[i].Path, l.Path)
		require.Equal(t, ref.Layers[i].Dims, l.Dims)
		require.Equal(t, ref.Layers[i].Pruned(), l.Pruned(), "equal per-layer sparsity in %s", l.Path)
		require.Equal(t, ref.Layers[i].Pruned(), c.Layers[i].Pruned())
	}
}

func TestSaveLoadApply(t *testing.T) {
	s := testStore(t)
	m, err := prune.Magnitude(s, prune.Config{Sparsity: 0.5, Scope: prune.LayerWise})
	require.NoError(t, err)
	empty, err := prune.Load(s)
	require.NoError(t, err)
	require.Empty(t, empty.Layers)
	before := values(t, s, "/net/b/weights")
	require.NoError(t, m.Apply(s))
	got, err := prune.Load(s)
	require.NoError(t, err)
	require.Equal(t, m, got)
	after := values(t, s, "/net/b/weights")
	l, ok := m.Layer("/net/b/weights")
	require.True(t, ok)
	for i, k := range l.Keep {
		if k {
			require.Equal(t, before[i], after[i])
		} else {
			require.Equal(t, float32(0), after[i])
		}
	}
	mv := s.GetVariable(prune.MaskPath("/net/b/weights"))
	require.NotNil(t, mv)
	require.False(t, mv.Trainable, "masks are not trained")

	// The masks survive a store clone (what a checkpoint saves: every variable).
	clone, err := s.Clone()
	require.NoError(t, err)
	got, err = prune.Load(clone)
	require.NoError(t, err)
	require.Equal(t, m, got)

	// A mask holding something other than 0/1 is rejected, naming the value.
	bad := storeWith(t, map[string]*tensors.Tensor{prune.MaskPath("/x"): tensors.FromFlatDataAndDimensions([]float32{1, 0.5}, 2)})
	_, err = prune.Load(bad)
	require.ErrorContains(t, err, "holds 0.5 at element 1")
}

func TestResetToInit(t *testing.T) {
	init := testStore(t)
	trained := testStore(t)
	// "Training" moved the weights: scale them so the masks come from different values.
	for _, p := range []string{"/net/a/weights", "/net/b/weights", "/net/c/weights"} {
		w := values(t, trained, p)
		for i := range w {
			w[i] *= float32(1 + 0.1*float64(i%5))
		}
		require.NoError(t, trained.GetVariable(p).SetValue(tensors.FromFlatDataAndDimensions(w, trained.GetVariable(p).Shape().Dimensions...)))
	}
	m, err := prune.Magnitude(trained, prune.Config{Sparsity: 0.6})
	require.NoError(t, err)
	dst := model.NewStore()
	require.NoError(t, prune.ResetToInit(dst, init, m))
	for _, p := range []string{"/net/a/weights", "/net/b/weights", "/net/c/weights", "/net/c/biases"} {
		w0, w := values(t, init, p), values(t, dst, p)
		l, masked := m.Layer(p)
		for i := range w0 {
			if !masked || l.Keep[i] {
				require.Equal(t, math.Float32bits(w0[i]), math.Float32bits(w[i]), "%s[%d] kept weight is bit-identical to θ0", p, i)
			} else {
				require.Equal(t, float32(0), w[i], "%s[%d] pruned", p, i)
			}
		}
	}
	got, err := prune.Load(dst)
	require.NoError(t, err)
	require.Equal(t, m, got)
	// The init store is untouched.
	require.Equal(t, values(t, testStore(t), "/net/a/weights"), values(t, init, "/net/a/weights"))

	// A mask for a variable the init store lacks is an error naming it.
	wrong := &prune.Masks{Layers: []prune.Layer{{Path: "/nope", Dims: []int{2}, Keep: []bool{true, false}}}}
	require.ErrorContains(t, prune.ResetToInit(model.NewStore(), init, wrong), "/nope is not in the init store")
}

// tinyRun trains a 2-layer MLP (biases included) on a small classification table, optionally
// from a store prepared by the caller.
func tinyRun(t *testing.T, store *model.Store, opt string, steps int, ckptDir ...string) *train.Result {
	tab := &data.Table{Name: "tiny", N: 64, D: 6, Task: data.Classification, NumClasses: 3}
	tab.X = make([]float64, tab.N*tab.D)
	tab.Y = make([]float64, tab.N)
	for i := range tab.N {
		for j := range tab.D {
			tab.X[i*tab.D+j] = math.Sin(float64(i*7+j*3) * 0.37)
		}
		tab.Y[i] = float64(i % 3)
	}
	ds, err := data.NewTrainBatches(tab, 16, 1)
	require.NoError(t, err)
	store.SetParams(map[string]any{optimizers.ParamLearningRate: 0.05, optimizers.ParamWeightDecay: 1.0, optimizers.ParamLogGroups: false,
		"optimizer": opt})
	res, err := train.Run(context.Background(), train.Config{
		Store: store, Seed: 3, Steps: steps, Train: ds, Loss: "cross_entropy", CheckpointDir: strings.Join(ckptDir, ""),
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			h := activation.Relu(layers.Dense(scope.In("l1"), in[0], true, 16))
			return []*graph.Node{layers.Dense(scope.In("l2"), h, true, 3)}
		},
	})
	require.NoError(t, err)
	return res
}

// Masked weights stay exactly zero through AdamW steps with weight decay 1.0 (decoupled),
// while the kept weights train.
func TestMaskedOptimizerKeepsZeros(t *testing.T) {
	for _, opt := range []string{"masked+adamw", "masked", "masked+sgd"} {
		t.Run(opt, func(t *testing.T) {
			// θ0 from a 1-step dense run's store is not needed: initialize by a short run,
			// prune, then keep training with the masks.
			store := model.NewStore()
			store.SetParam("optimizer", "adamw")
			res := tinyRun(t, store, "adamw", 3)
			m, err := prune.Magnitude(res.Store, prune.Config{Sparsity: 0.7})
			require.NoError(t, err)
			require.Len(t, m.Layers, 2, "the two weight matrices")
			require.NoError(t, m.Apply(res.Store))
			before := map[string][]float32{}
			for _, l := range m.Layers {
				before[l.Path] = values(t, res.Store, l.Path)
			}
			res = tinyRun(t, res.Store, opt, 40)
			for _, l := range m.Layers {
				w := values(t, res.Store, l.Path)
				moved := 0
				for i, k := range l.Keep {
					if !k {
						require.Equal(t, uint32(0), math.Float32bits(w[i]), "%s[%d] pruned weight is exactly +0", l.Path, i)
					} else if w[i] != before[l.Path][i] {
						moved++
					}
				}
				require.Greater(t, moved, 0, "%s: kept weights train", l.Path)
			}
		})
	}
}

// Without the wrapper, AdamW moves pruned weights (their gradients are not zero): the test
// above is not passing trivially.
func TestUnmaskedOptimizerMovesPrunedWeights(t *testing.T) {
	store := model.NewStore()
	res := tinyRun(t, store, "adamw", 3)
	m, err := prune.Magnitude(res.Store, prune.Config{Sparsity: 0.7})
	require.NoError(t, err)
	require.NoError(t, m.Apply(res.Store))
	res = tinyRun(t, res.Store, "adamw", 10)
	nonzero := 0
	for _, l := range m.Layers {
		w := values(t, res.Store, l.Path)
		for i, k := range l.Keep {
			if !k && w[i] != 0 {
				nonzero++
			}
		}
	}
	require.Greater(t, nonzero, 0)
}

func TestMaskedRegistered(t *testing.T) {
	names := optimizers.Names()
	for _, n := range []string{"masked", "masked+adamw", "masked+sgd"} {
		require.True(t, slices.Contains(names, n), n)
	}
	s := model.NewStore()
	s.SetParam(prune.ParamMaskedBase, "masked+sgd")
	_, err := optimizers.New(s.RootScope(), "masked")
	require.ErrorContains(t, err, `masked_base="masked+sgd" must name another optimizer`)
	for _, n := range []string{"masked", "masked+adamw"} {
		o, err := optimizers.New(nil, n) // as the optimizers benchmark asks for default learning rates
		require.NoError(t, err, n)
		require.Equal(t, "masked+adamw", o.(*prune.Optimizer).Name())
	}
	o, err := optimizers.New(model.NewStore().RootScope(), "masked+adamw")
	require.NoError(t, err)
	require.Equal(t, "masked+adamw", o.(*prune.Optimizer).Name())
}

// The wrapper against the official formulation (model.py: every layer computes with
// weight_mask ⊙ W, the optimizer is plain AdamW, and the unmasked θ0 is loaded): after the
// same AdamW steps with weight decay, the effective weights M ⊙ W agree.
func TestMaskedOptimizerMatchesForwardMask(t *testing.T) {
	tab := &data.Table{Name: "tiny", N: 48, D: 6, Task: data.Classification, NumClasses: 3}
	tab.X = make([]float64, tab.N*tab.D)
	tab.Y = make([]float64, tab.N)
	for i := range tab.N {
		for j := range tab.D {
			tab.X[i*tab.D+j] = math.Cos(float64(i*5+j*11) * 0.29)
		}
		tab.Y[i] = float64((i * 7) % 3)
	}
	paths := []string{"/l1/w", "/l2/w"}
	dims := [][]int{{6, 16}, {16, 3}}
	// mlp builds x·W1 → ReLU → ·W2; with masks set, each weight is multiplied by its mask
	// (constants) in the forward pass.
	mlp := func(masks *prune.Masks) train.ModelFn {
		return func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			h := in[0]
			for i, p := range paths {
				s := scope.In("%s", p[1:3])
				w := s.VariableWithShape("w", shapes.Make(h.DType(), dims[i]...)).NodeValue(h.Graph())
				if masks != nil {
					l, _ := masks.Layer(p)
					m := make([]float32, len(l.Keep))
					for j, k := range l.Keep {
						if k {
							m[j] = 1
						}
					}
					w = graph.Mul(w, graph.Const(h.Graph(), tensors.FromFlatDataAndDimensions(m, dims[i]...)))
				}
				h = graph.Dot(h, w).Product()
				if i == 0 {
					h = activation.Relu(h)
				}
			}
			return []*graph.Node{h}
		}
	}
	init := model.NewStore()
	require.NoError(t, init.SetRNGStateFromSeed(5))
	_, err := train.Predict(backend.MustDefault(), init, mlp(nil), tensors.FromFlatDataAndDimensions(make([]float32, 6), 1, 6))
	require.NoError(t, err)
	m0, err := prune.Magnitude(init, prune.Config{Sparsity: 0.5})
	require.NoError(t, err)
	masks := prune.Random(m0, 9)

	run := func(store *model.Store, fn train.ModelFn, opt string) {
		ds, err := data.NewTrainBatches(tab, tab.N, 1)
		require.NoError(t, err)
		store.SetParams(map[string]any{optimizers.ParamLearningRate: 0.01, optimizers.ParamWeightDecay: 1.0,
			optimizers.ParamBeta2: 0.98, optimizers.ParamDecayAll: true, optimizers.ParamLogGroups: false, "optimizer": opt})
		_, err = train.Run(context.Background(), train.Config{Store: store, Seed: 1, Steps: 30, Train: ds, Loss: "cross_entropy", Model: fn})
		require.NoError(t, err)
	}
	official := model.NewStore()
	require.NoError(t, prune.ResetToInit(official, init, nil)) // unmasked θ0, masks in the forward pass
	run(official, mlp(masks), "adamw")
	wrapped := model.NewStore()
	require.NoError(t, prune.ResetToInit(wrapped, init, masks)) // M ⊙ θ0, masks in the optimizer
	run(wrapped, mlp(nil), "masked+adamw")
	for _, l := range masks.Layers {
		wo, ww := values(t, official, l.Path), values(t, wrapped, l.Path)
		moved := 0
		for i, k := range l.Keep {
			if !k {
				require.Equal(t, float32(0), ww[i])
				continue
			}
			require.InDelta(t, wo[i], ww[i], 1e-6, "%s[%d]", l.Path, i)
			if ww[i] != values(t, init, l.Path)[i] {
				moved++
			}
		}
		require.Greater(t, moved, 0)
	}
}

// Masks are saved with the model: a checkpoint of the store restores them (and the pruned
// weights) into a fresh store.
func TestMasksInCheckpoint(t *testing.T) {
	s := testStore(t)
	m, err := prune.Magnitude(s, prune.Config{Sparsity: 0.6})
	require.NoError(t, err)
	require.NoError(t, m.Apply(s))
	dir := t.TempDir()
	ck, err := train.OpenCheckpoint(s, dir, 2)
	require.NoError(t, err)
	require.NoError(t, ck.Save())
	fresh := model.NewStore()
	_, err = train.OpenCheckpoint(fresh, dir, 2)
	require.NoError(t, err)
	got, err := prune.Load(fresh)
	require.NoError(t, err)
	require.Equal(t, m, got)
	require.Equal(t, values(t, s, "/net/b/weights"), values(t, fresh, "/net/b/weights"))
	require.False(t, fresh.GetVariable(prune.MaskPath("/net/b/weights")).Trainable, "restored masks are not trainable")
}

// A masked run resumed from its checkpoint keeps its masks (not trained) and its zeros.
func TestMaskedResume(t *testing.T) {
	store := model.NewStore()
	res := tinyRun(t, store, "adamw", 3)
	m, err := prune.Magnitude(res.Store, prune.Config{Sparsity: 0.6})
	require.NoError(t, err)
	require.NoError(t, m.Apply(res.Store))
	dir := t.TempDir()
	tinyRun(t, res.Store, "masked+adamw", 10, dir)
	fresh := model.NewStore()
	res = tinyRun(t, fresh, "masked+adamw", 25, dir) // resumes at step 10
	require.Equal(t, 10, res.StartStep)
	got, err := prune.Load(res.Store)
	require.NoError(t, err)
	require.Equal(t, m, got, "the masks are restored, unchanged by training")
	for _, l := range m.Layers {
		w := values(t, res.Store, l.Path)
		for i, k := range l.Keep {
			if !k {
				require.Equal(t, float32(0), w[i], "%s[%d]", l.Path, i)
			}
		}
	}
}
