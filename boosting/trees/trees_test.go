package trees

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// randomBatch returns n rows with numF numeric and catF categorical features and a k-output
// gradient that depends on them.
func randomBatch(seed uint64, n, numF, catF, k int) (*Data, []float32) {
	rng := rand.New(rand.NewPCG(seed, 3))
	d := &Data{N: n, NumFeatures: numF, CatFeatures: catF, Num: make([]float32, n*numF), Cat: make([]string, n*catF)}
	cats := []string{"red", "green", "blue", "wall,grey", "key,yellow"}
	g := make([]float32, n*k)
	for r := 0; r < n; r++ {
		for f := 0; f < numF; f++ {
			d.Num[r*numF+f] = float32(rng.NormFloat64())
		}
		for c := 0; c < catF; c++ {
			d.Cat[r*catF+c] = cats[rng.IntN(len(cats)-c%2)]
		}
		for j := 0; j < k; j++ {
			v := rng.NormFloat64() * 0.3
			if numF > 0 {
				v += math.Sin(float64(d.Num[r*numF+j%numF])*2) * float64(j+1)
			}
			if catF > 0 && d.Cat[r*catF+j%catF] == "red" {
				v += 1.5
			}
			g[r*k+j] = float32(v)
		}
	}
	return d, g
}

func TestQuantileThresholds(t *testing.T) {
	// 10 values, 3 bins: 4 groups of sizes 3,3,2,2 -> ends at positions 2, 5, 7.
	sorted := []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	require.Equal(t, []float32{2, 5, 7}, quantileThresholds(nil, sorted, 3))
	// Duplicates collapse.
	require.Equal(t, []float32{1, 2}, quantileThresholds(nil, []float32{1, 1, 1, 1, 2, 2, 3}, 3))
	// Fewer values than bins: the last value repeats and is dropped.
	require.Equal(t, []float32{4, 5}, quantileThresholds(nil, []float32{4, 5}, 10))
	require.Empty(t, quantileThresholds(nil, nil, 4))
	require.Equal(t, []float32{0, 2.5, 5, 7.5}, uniformThresholds(nil, 0, 10, 4))
	require.Equal(t, []float32{3}, uniformThresholds(nil, 3, 3, 4))
	thr := []float32{1, 2, 4}
	for _, tc := range []struct {
		x    float32
		want uint8
	}{{0, 0}, {1, 0}, {1.5, 1}, {2, 1}, {3, 2}, {4, 2}, {5, 3}, {float32(math.NaN()), 0}} {
		require.Equal(t, tc.want, searchBin(thr, tc.x), "x=%v", tc.x)
	}
}

func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	vals := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), -1e-30, 1e30}
	for i := 0; i < 5000; i++ {
		vals = append(vals, float32(rng.NormFloat64()*math.Pow(10, float64(rng.IntN(10)-5))))
	}
	keys := make([]uint32, len(vals))
	idx := make([]int32, len(vals))
	for i, v := range vals {
		keys[i], idx[i] = floatKey(v), int32(i)
	}
	radixSortIdx(keys, idx, make([]uint32, len(keys)), make([]int32, len(keys)))
	got := make([]float32, len(vals))
	for i, j := range idx {
		got[i] = vals[j]
	}
	want := slices.Clone(vals)
	slices.Sort(want)
	require.Equal(t, want, got)
}

// TestMatchesBruteForce grows trees with histograms and with GBRL's brute-force scoring and
// checks they predict the same leaf value for every sample.
func TestMatchesBruteForce(t *testing.T) {
	cases := []struct {
		name       string
		n, nf, cf  int
		k          int
		cfg        TreeConfig
		sameLeaves bool
	}{
		{"greedy-l2", 300, 4, 0, 3, TreeConfig{Grow: Greedy, Score: L2, Bins: 16}, true},
		{"greedy-cosine", 300, 4, 0, 2, TreeConfig{Grow: Greedy, Score: Cosine, Bins: 16}, true},
		{"oblivious-l2", 400, 5, 0, 2, TreeConfig{Grow: Oblivious, Score: L2, Bins: 32}, true},
		{"oblivious-cosine", 400, 5, 0, 3, TreeConfig{Grow: Oblivious, Score: Cosine, Bins: 32}, true},
		{"oblivious-uniform", 300, 3, 0, 2, TreeConfig{Grow: Oblivious, Score: L2, Split: Uniform, Bins: 20}, true},
		{"greedy-categorical", 300, 2, 3, 2, TreeConfig{Grow: Greedy, Score: L2, Bins: 8}, true},
		{"oblivious-categorical-only", 300, 0, 4, 3, TreeConfig{Grow: Oblivious, Score: Cosine, Bins: 8}, true},
		{"greedy-min-data", 200, 3, 1, 2, TreeConfig{Grow: Greedy, Score: L2, Bins: 64, MinDataInLeaf: 20, MaxDepth: 5}, true},
		{"oblivious-min-data", 200, 3, 1, 2, TreeConfig{Grow: Oblivious, Score: Cosine, Bins: 64, MinDataInLeaf: 15}, true},
		{"greedy-weights", 300, 4, 1, 2, TreeConfig{Grow: Greedy, Score: L2, Bins: 16, FeatureWeights: []float64{0, 1, 0.5, 2, 1}}, true},
		{"greedy-l2-raw", 300, 4, 0, 1, TreeConfig{Grow: Greedy, Score: L2, Bins: 64, NoStandardize: true}, true},
		{"oblivious-depth6", 500, 6, 0, 2, TreeConfig{Grow: Oblivious, Score: L2, Bins: 250, MaxDepth: 6}, true},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, g := randomBatch(uint64(ci+10), tc.n, tc.nf, tc.cf, tc.k)
			cfg := tc.cfg
			cfg.Threads = 2
			e, err := New(Config{OutDim: tc.k, NumFeatures: tc.nf, CatFeatures: tc.cf, Tree: cfg})
			require.NoError(t, err)
			require.NoError(t, e.Step(d, g))
			ref := refGrow(d, g, tc.k, cfg)
			tree := e.Tree(0)
			require.Equal(t, len(ref), tree.NumLeaves(), "number of leaves")
			pred, err := e.Predict(d, nil) // lr 1: pred = -leaf
			require.NoError(t, err)
			for r := 0; r < d.N; r++ {
				want := refPredict(ref, d, r)
				require.NotNil(t, want)
				for j := 0; j < tc.k; j++ {
					require.InDelta(t, -want[j], float64(pred[r*tc.k+j]), 1e-5, "row %d output %d", r, j)
				}
			}
			var total int32
			for _, c := range tree.LeafCount {
				total += c
			}
			require.Equal(t, int32(tc.n), total)
		})
	}
}

func TestCosinePaperForm(t *testing.T) {
	// For one greedy node the paper's cosine ranks splits like L2 on raw gradients.
	d, g := randomBatch(5, 300, 4, 0, 2)
	a, err := New(Config{OutDim: 2, NumFeatures: 4, Tree: TreeConfig{Grow: Greedy, MaxDepth: 1, Score: Cosine, CosineForm: "paper"}})
	require.NoError(t, err)
	b, err := New(Config{OutDim: 2, NumFeatures: 4, Tree: TreeConfig{Grow: Greedy, MaxDepth: 1, Score: L2, NoStandardize: true}})
	require.NoError(t, err)
	require.NoError(t, a.Step(d, g))
	require.NoError(t, b.Step(d, g))
	sa, sb := a.Tree(0).Splits[0], b.Tree(0).Splits[0]
	require.Equal(t, sb.Feature, sa.Feature)
	require.Equal(t, sb.Threshold, sa.Threshold)
}

func TestLearningRatesAtPrediction(t *testing.T) {
	d, g := randomBatch(7, 200, 3, 0, 3)
	e, err := New(Config{OutDim: 3, NumFeatures: 3, Bias: []float32{1, 2, 3},
		LRs: []LR{{Start: 0, Stop: 2, Init: 0.1}, {Start: 2, Stop: 3, Init: 0.01}}})
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		require.NoError(t, e.Step(d, g))
	}
	p1, err := e.Predict(d, nil)
	require.NoError(t, err)
	// F = bias - sum_t lr * leaf_t: recompute by hand from the trees.
	x := d.Num
	for r := 0; r < d.N; r++ {
		for j := 0; j < 3; j++ {
			lr := 0.1
			if j == 2 {
				lr = 0.01
			}
			want := float64(e.Bias[j])
			for ti := 0; ti < e.NumTrees(); ti++ {
				tr := e.Tree(ti)
				want -= lr * float64(tr.Leaves[tr.leaf(x[r*3:r*3+3])*3+j])
			}
			require.InDelta(t, want, float64(p1[r*3+j]), 1e-5)
		}
	}
	// Changing the learning rates afterwards rescales the sum of the trees.
	require.NoError(t, e.SetLRs([]LR{{Start: 0, Stop: 3, Init: 0.2}}))
	p2, err := e.Predict(d, nil)
	require.NoError(t, err)
	for r := 0; r < d.N; r++ {
		require.InDelta(t, 2*(float64(p1[r*3])-1), float64(p2[r*3])-1, 1e-5)
	}
	// Adding trees incrementally matches predicting with all of them.
	part, err := e.PredictTrees(d, 0, 2, nil)
	require.NoError(t, err)
	require.NoError(t, e.AddTrees(d, 2, 5, part))
	require.InDeltaSlice(t, p2, part, 1e-5)
	// Tree ranges.
	p0, err := e.PredictTrees(d, 0, 0, nil)
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2, 3}, p0[:3])
	_, err = e.PredictTrees(d, 2, 9, nil)
	require.ErrorContains(t, err, "tree range [2, 9) not within [0, 5]")
}

func TestLinearSchedule(t *testing.T) {
	// GBRL's LinearScheduler: init + ((t+1)/T)*(stop - init), floored at stop.
	l := LR{Schedule: Linear, Init: 0.1, Final: 0.01, T: 10}
	require.InDelta(t, 0.1+0.1*(0.01-0.1), l.At(0), 1e-12)
	require.InDelta(t, 0.1+0.5*(0.01-0.1), l.At(4), 1e-12)
	require.InDelta(t, 0.01, l.At(9), 1e-12)
	require.InDelta(t, 0.01, l.At(100), 1e-12)
	require.Equal(t, 0.3, LR{Init: 0.3}.At(1000))
	e, err := New(Config{OutDim: 1, NumFeatures: 1, LRs: []LR{{Start: 0, Stop: 1, Schedule: Linear, Init: 1, Final: 0, T: 2}}})
	require.NoError(t, err)
	d := NumericData([]float32{0, 1, 2, 3}, 4, 1)
	g := []float32{-1, -1, 1, 1}
	require.NoError(t, e.Step(d, g))
	require.NoError(t, e.Step(d, g))
	require.NoError(t, e.Step(d, g))
	p, err := e.Predict(d, nil)
	require.NoError(t, err)
	// lr(0) = 0.5, lr(1) = 0, lr(2) = 0: only the first tree counts; leaf of row 0 is -1.
	require.InDelta(t, 0.5, float64(p[0]), 1e-6)
	require.InDelta(t, -0.5, float64(p[3]), 1e-6)
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{OutDim: 0, NumFeatures: 1}, "out_dim=0 must be >= 1"},
		{Config{OutDim: 1}, "need at least one feature"},
		{Config{OutDim: 1, NumFeatures: 1, Tree: TreeConfig{MaxDepth: 17}}, "max_depth=17 must be in [1, 16]"},
		{Config{OutDim: 1, NumFeatures: 1, Tree: TreeConfig{Grow: "leafwise"}}, `grow="leafwise" must be "greedy" or "oblivious"`},
		{Config{OutDim: 1, NumFeatures: 1, Tree: TreeConfig{Bins: 300}}, "bins=300 must be in [1, 255]"},
		{Config{OutDim: 1, NumFeatures: 1, Tree: TreeConfig{Score: "gini"}}, `score="gini" must be "l2" or "cosine"`},
		{Config{OutDim: 1, NumFeatures: 1, Tree: TreeConfig{Split: "exact"}}, `split="exact"`},
		{Config{OutDim: 1, NumFeatures: 2, Tree: TreeConfig{FeatureWeights: []float64{1}}}, "1 feature weights for 2 features"},
		{Config{OutDim: 1, NumFeatures: 1, Tree: TreeConfig{FeatureWeights: []float64{-1}}}, "feature weight [0]=-1 must be >= 0"},
		{Config{OutDim: 2, NumFeatures: 1, LRs: []LR{{Start: 1, Stop: 3, Init: 1}}}, "slice [1, 3) must be a non-empty part of [0, 2)"},
		{Config{OutDim: 1, NumFeatures: 1, LRs: []LR{{Start: 0, Stop: 1, Schedule: Linear, Init: 1}}}, "T=0 must be >= 1"},
		{Config{OutDim: 2, NumFeatures: 1, Bias: []float32{1}}, "1 bias values for out_dim=2"},
	} {
		_, err := New(tc.cfg)
		require.ErrorContains(t, err, tc.want)
	}
	e, err := New(Config{OutDim: 2, NumFeatures: 2})
	require.NoError(t, err)
	require.ErrorContains(t, e.Step(NumericData(make([]float32, 6), 3, 2), make([]float32, 5)), "len(grads)=5, want N*OutDim=3*2")
	require.ErrorContains(t, e.Step(NumericData(make([]float32, 6), 2, 3), make([]float32, 4)), "data has 3 numeric and 0 categorical features, the ensemble 2 and 0")
	require.ErrorContains(t, e.Step(NumericData([]float32{1, 2}, 1, 2), []float32{float32(math.NaN()), 0}), "not finite")
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, grow := range []string{Greedy, Oblivious} {
		d, g := randomBatch(11, 300, 3, 2, 2)
		e, err := New(Config{OutDim: 2, NumFeatures: 3, CatFeatures: 2, Bias: []float32{0.5, -1},
			Tree: TreeConfig{Grow: grow, Score: L2, FeatureWeights: []float64{1, 1, 0.5, 1, 2}},
			LRs:  []LR{{Start: 0, Stop: 1, Init: 0.3}, {Start: 1, Stop: 2, Schedule: Linear, Init: 0.2, Final: 0.05, T: 4}}})
		require.NoError(t, err)
		for i := 0; i < 6; i++ {
			require.NoError(t, e.Step(d, g))
		}
		var buf bytes.Buffer
		require.NoError(t, e.Save(&buf))
		e2, err := Load(bytes.NewReader(buf.Bytes()))
		require.NoError(t, err)
		p1, _ := e.Predict(d, nil)
		p2, err := e2.Predict(d, nil)
		require.NoError(t, err)
		require.Equal(t, p1, p2)
		require.Equal(t, e.LRs(), e2.LRs())
		require.Equal(t, e.TreeConfig().FeatureWeights, e2.TreeConfig().FeatureWeights)
		require.Equal(t, e.Importance(), e2.Importance())
		var buf2 bytes.Buffer
		require.NoError(t, e2.Save(&buf2))
		require.Equal(t, buf.Bytes(), buf2.Bytes())
		// Growing continues after loading.
		require.NoError(t, e2.Step(d, g))
	}
}

func TestLoadRejectsDamage(t *testing.T) {
	d, g := randomBatch(12, 100, 2, 1, 1)
	e, err := New(Config{OutDim: 1, NumFeatures: 2, CatFeatures: 1, Tree: TreeConfig{Grow: Greedy}})
	require.NoError(t, err)
	require.NoError(t, e.Step(d, g))
	var buf bytes.Buffer
	require.NoError(t, e.Save(&buf))
	good := buf.Bytes()
	for _, cut := range []int{0, 3, 8, 12, 30, len(good) / 2, len(good) - 5, len(good) - 1} {
		_, err := Load(bytes.NewReader(good[:cut]))
		require.Error(t, err, "cut at %d", cut)
		require.True(t, errors.Is(err, ErrTruncated), "cut at %d: %v", cut, err)
	}
	for _, pos := range []int{20, 40, len(good) / 2, len(good) - 10} {
		bad := slices.Clone(good)
		bad[pos] ^= 0x10
		_, err := Load(bytes.NewReader(bad))
		require.Error(t, err, "flip at %d", pos)
		require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTruncated), "flip at %d: %v", pos, err)
	}
	bad := slices.Clone(good)
	bad[len(bad)-1] ^= 1
	_, err = Load(bytes.NewReader(bad))
	require.ErrorContains(t, err, "checksum")
	_, err = Load(bytes.NewReader(append(slices.Clone(good[:len(good)-4]), 0, 0, 0, 0, 0)))
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = Load(bytes.NewReader([]byte("not a tree file at all")))
	require.ErrorContains(t, err, "bad magic")
	v2 := slices.Clone(good)
	v2[8] = 2
	_, err = Load(bytes.NewReader(v2))
	require.ErrorContains(t, err, "version 2 is not supported")
}

func FuzzLoad(f *testing.F) {
	for i, grow := range []string{Greedy, Oblivious} {
		d, g := randomBatch(uint64(20+i), 60, 2, 1, 2)
		e, err := New(Config{OutDim: 2, NumFeatures: 2, CatFeatures: 1, Tree: TreeConfig{Grow: grow, MaxDepth: 3}})
		if err != nil {
			f.Fatal(err)
		}
		for j := 0; j < 2; j++ {
			if err := e.Step(d, g); err != nil {
				f.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if err := e.Save(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
		f.Add(buf.Bytes()[:buf.Len()/2])
	}
	f.Add([]byte("MOEBTREE"))
	probe, _ := randomBatch(99, 8, 2, 1, 2)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzLoadOne(t, data, probe)
		// Repair the checksum so that mutations reach the parser.
		if len(data) > 12 {
			fixed := slices.Clone(data)
			binary.LittleEndian.PutUint32(fixed[len(fixed)-4:], crc32.ChecksumIEEE(fixed[:len(fixed)-4]))
			fuzzLoadOne(t, fixed, probe)
		}
	})
}

func fuzzLoadOne(t *testing.T, data []byte, probe *Data) {
	{
		e, err := Load(bytes.NewReader(data))
		if err != nil {
			if e != nil {
				t.Fatal("non-nil ensemble with an error")
			}
			return
		}
		// Whatever loads must predict (if its shape fits) and round-trip exactly.
		nf, cf := e.Features()
		if nf == 2 && cf == 1 {
			if _, err := e.Predict(probe, nil); err != nil && e.OutDim() == 2 {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if err := e.Save(&buf); err != nil {
			t.Fatal(err)
		}
		e2, err := Load(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("re-load of a saved ensemble: %v", err)
		}
		var buf2 bytes.Buffer
		if err := e2.Save(&buf2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
			t.Fatal("save/load/save is not stable")
		}
	}
}

func TestRegressorSynthetic(t *testing.T) {
	d, y := synth(t, 12000, 10, 3)
	tr := NumericData(d.Num[:10000*10], 10000, 10)
	te := NumericData(d.Num[10000*10:], 2000, 10)
	r, err := FitRegressor(tr, y[:10000], RegressorConfig{Trees: 60, MaxDepth: 4, LearningRate: 0.1, Threads: 2})
	require.NoError(t, err)
	p, err := r.PredictY(te)
	require.NoError(t, err)
	rmse := RMSE(p, y[10000:])
	var m, v float64
	for _, yy := range y[10000:] {
		m += float64(yy)
	}
	m /= 2000
	for _, yy := range y[10000:] {
		v += (float64(yy) - m) * (float64(yy) - m)
	}
	std := math.Sqrt(v / 2000)
	t.Logf("test RMSE %.4f, target std %.4f", rmse, std)
	require.Less(t, rmse, 0.6*std)
	// The largest coefficient (2 x3) makes x3 the most important feature; x8, x9 are noise.
	imp := r.Importance()
	require.Equal(t, 3, slices.Index(imp, slices.Max(imp)))
	require.Less(t, imp[8], imp[3]/20)
	// Predicting the training data with the ensemble reproduces the fitted predictions'
	// quality (the in-fit updates and Predict agree).
	ptr, err := r.PredictY(tr)
	require.NoError(t, err)
	require.Less(t, RMSE(ptr, y[:10000]), rmse)
	_, err = FitRegressor(tr, y[:5], RegressorConfig{})
	require.ErrorContains(t, err, "5 targets for 10000 samples")
	_, err = FitRegressor(tr, y[:10000], RegressorConfig{LearningRate: -1})
	require.ErrorContains(t, err, "learning_rate=-1 must be > 0")
}

// TestRegressorMatchesBruteForce checks the packed-histogram regressor's first tree against a
// brute-force XGBoost-style depth-wise tree: gain S_L^2/(n_L+lambda) + S_R^2/(n_R+lambda) minus
// the parent's, leaf S/(n+lambda).
func TestRegressorMatchesBruteForce(t *testing.T) {
	d, y := synth(t, 600, 8, 9)
	r, err := FitRegressor(d, y, RegressorConfig{Trees: 1, MaxDepth: 3, LearningRate: 1, Bins: 255})
	require.NoError(t, err)
	bias := r.Bias[0]
	grads := make([]float32, len(y))
	for i := range y {
		grads[i] = bias - y[i]
	}
	ref := refGrow(d, grads, 1, TreeConfig{Grow: Greedy, Score: L2, NoStandardize: true, Bins: 255, MaxDepth: 3,
		MinDataInLeaf: 1, MinSplitGain: 1e-6, Lambda: 1})
	require.Equal(t, len(ref), r.Tree(0).NumLeaves())
	p, err := r.PredictY(d)
	require.NoError(t, err)
	for i := 0; i < d.N; i++ {
		lv := refPredict(ref, d, i)[0]
		require.InDelta(t, float64(bias)-lv, float64(p[i]), 1e-4, "row %d", i)
	}
}

func TestSHAPLocalAccuracy(t *testing.T) {
	for _, grow := range []string{Greedy, Oblivious} {
		d, g := randomBatch(31, 300, 3, 2, 2)
		e, err := New(Config{OutDim: 2, NumFeatures: 3, CatFeatures: 2, Bias: []float32{0.3, -0.2},
			Tree: TreeConfig{Grow: grow, Score: L2, MaxDepth: 4}, LRs: []LR{{Start: 0, Stop: 2, Init: 0.4}}})
		require.NoError(t, err)
		for i := 0; i < 4; i++ {
			require.NoError(t, e.Step(d, g))
		}
		q, _ := randomBatch(32, 40, 3, 2, 2)
		phi, err := e.SHAP(q)
		require.NoError(t, err)
		pred, err := e.Predict(q, nil)
		require.NoError(t, err)
		nf := 5
		for i := 0; i < q.N; i++ {
			for k := 0; k < 2; k++ {
				var s float64
				for f := 0; f <= nf; f++ {
					s += phi[(i*(nf+1)+f)*2+k]
				}
				require.InDelta(t, float64(pred[i*2+k]), s, 1e-4, "%s row %d output %d", grow, i, k)
			}
		}
	}
	// One split on feature 1: phi_1 = f(x) - E f, the other features get nothing.
	e, err := New(Config{OutDim: 1, NumFeatures: 2, Tree: TreeConfig{Grow: Greedy, MaxDepth: 1, Score: L2}})
	require.NoError(t, err)
	d := NumericData([]float32{0, -1, 0, -2, 0, 1, 0, 2}, 4, 2)
	require.NoError(t, e.Step(d, []float32{1, 1, -1, -1}))
	phi, err := e.SHAP(d)
	require.NoError(t, err)
	require.InDelta(t, 0, phi[0], 1e-12)
	require.InDelta(t, -1, phi[1], 1e-9) // f = -leaf = -1 on the left, E f = 0
	require.InDelta(t, 0, phi[2], 1e-9)
}
