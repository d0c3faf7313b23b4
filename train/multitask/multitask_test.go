package multitask

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// pcgradHost is a float64 re-statement of LibMTL's PCGrad loop (LibMTL/weighting/PCGrad.py):
// for each task i, visit order[i]; project the running g_i^PC off the original g_j when their
// inner product is negative; return Σ_i g_i^PC.
func pcgradHost(g [][]float64, order [][]int) []float64 {
	out := make([]float64, len(g[0]))
	for i := range g {
		pc := append([]float64(nil), g[i]...)
		for _, j := range order[i] {
			dot, nj := 0.0, 0.0
			for p := range pc {
				dot += pc[p] * g[j][p]
				nj += g[j][p] * g[j][p]
			}
			if dot < 0 {
				for p := range pc {
					pc[p] -= dot / (nj + 1e-8) * g[j][p]
				}
			}
		}
		for p := range out {
			out[p] += pc[p]
		}
	}
	return out
}

func TestPCGradMatchesHost(t *testing.T) {
	for _, tc := range []struct {
		name  string
		g     [][]float64
		order [][]int
		want  []float64 // hand-computed, nil to check against the host re-statement only
	}{
		// g1·g2 = −1: g1' = g1 − (−1/2)·g2 = (0.5, 0.5); g2' = g2 − (−1/1)·g1 = (0, 1).
		{"2_conflicting", [][]float64{{1, 0}, {-1, 1}}, [][]int{{0, 1}, {1, 0}}, []float64{0.5, 1.5}},
		{"2_non_conflicting", [][]float64{{1, 2}, {2, 1}}, [][]int{{1, 0}, {0, 1}}, []float64{3, 3}},
		{"2_opposite", [][]float64{{1, 1, 0}, {-2, -2, 0}}, [][]int{{0, 1}, {0, 1}}, []float64{0, 0, 0}},
		{"3_fixed_order_a", [][]float64{{1, 0, 0.5}, {-1, 1, 0}, {0.2, -1, -1}}, [][]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}}, nil},
		{"3_fixed_order_b", [][]float64{{1, 0, 0.5}, {-1, 1, 0}, {0.2, -1, -1}}, [][]int{{2, 1, 0}, {0, 2, 1}, {1, 0, 2}}, nil},
		{"3_non_conflicting", [][]float64{{1, 0, 0}, {0.5, 1, 0}, {0.1, 0.1, 1}}, [][]int{{2, 0, 1}, {1, 2, 0}, {0, 1, 2}}, []float64{1.6, 1.1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			T, P := len(tc.g), len(tc.g[0])
			exec, err := model.NewExec(backend.MustDefault(), model.NewStore(), func(_ *model.Scope, g, order *Node) *Node {
				return PCGrad(g, order)
			})
			require.NoError(t, err)
			defer exec.Finalize()
			flat := make([]float64, 0, T*P)
			for _, r := range tc.g {
				flat = append(flat, r...)
			}
			ord := make([][]int32, T)
			for i, r := range tc.order {
				for _, j := range r {
					ord[i] = append(ord[i], int32(j))
				}
			}
			res, err := exec.Exec(tensors.FromFlatDataAndDimensions(flat, T, P), ord)
			require.NoError(t, err)
			got := tensors.MustCopyFlatData[float64](res[0])
			host := pcgradHost(tc.g, tc.order)
			require.InDeltaSlice(t, host, got, 1e-12)
			if tc.want != nil {
				require.InDeltaSlice(t, tc.want, got, 1e-7)
			}
		})
	}
	// The two 3-task orders above give different results: the order matters, as in the paper.
	a := pcgradHost([][]float64{{1, 0, 0.5}, {-1, 1, 0}, {0.2, -1, -1}}, [][]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}})
	b := pcgradHost([][]float64{{1, 0, 0.5}, {-1, 1, 0}, {0.2, -1, -1}}, [][]int{{2, 1, 0}, {0, 2, 1}, {1, 0, 2}})
	require.Greater(t, math.Abs(a[0]-b[0])+math.Abs(a[1]-b[1])+math.Abs(a[2]-b[2]), 1e-3)
}

func TestRandomOrders(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[[3]int32]bool{}
	for k := 0; k < 50; k++ {
		for _, row := range RandomOrders(r, 3) {
			require.ElementsMatch(t, []int32{0, 1, 2}, row)
			seen[[3]int32{row[0], row[1], row[2]}] = true
		}
	}
	require.Len(t, seen, 6, "all 3! orders should appear")
}

// stepProbe builds a small two-head network on a fixed batch and returns, from one graph: the
// combiner's gradients and objective, each task's loss, and each task's gradient of every variable.
func stepProbe(t *testing.T, comb Combiner, order [][]int32, dataSeed uint64) (combGrads [][]float64, objective float64, losses []float64, perTask [][][]float64, shared []bool) {
	tasks := []Task{{Name: "c", Kind: Classification, Classes: 3}, {Name: "r", Kind: Regression}, {Name: "b", Kind: Classification, Classes: 2}}
	const B, D = 16, 5
	r := rand.New(rand.NewPCG(dataSeed, 8))
	x := make([]float64, B*D)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	yc, yb := make([]int32, B), make([]int32, B)
	yr := make([]float64, B)
	for i := 0; i < B; i++ {
		yc[i], yb[i], yr[i] = int32(r.IntN(3)), int32(r.IntN(2)), r.NormFloat64()
	}
	store := model.NewStore()
	require.NoError(t, store.SetRNGStateFromSeed(3))
	T := len(tasks)
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, in []*Node) []*Node {
		g := in[0].Graph()
		z, outs := Forward(scope, tasks, []int{6, 4}, in[0])
		ls := make([]*Node, T)
		for k, task := range tasks {
			ls[k] = TaskLoss(task, outs[k], in[1+k])
		}
		sg := &StepGraph{Rep: z, Losses: ls, Order: in[1+T]}
		for v := range scope.IterVariables() {
			if v.Trainable && v.InUseByGraph(g) {
				sg.Vars = append(sg.Vars, v)
			}
		}
		for _, v := range sg.Vars {
			sg.Shared = append(sg.Shared, v.Path()[:len("/trunk/")] == "/trunk/")
		}
		c := comb.Combine(sg)
		res := append(append([]*Node{}, c.Grads...), c.Objective)
		res = append(res, ls...)
		for _, l := range ls {
			res = append(res, Gradient(l, varNodes(sg)...)...)
		}
		shared = sg.Shared
		return res
	})
	require.NoError(t, err)
	defer exec.Finalize()
	res, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, B, D), yc, yr, yb, order)
	require.NoError(t, err)
	nv := len(shared)
	for i := 0; i < nv; i++ {
		combGrads = append(combGrads, tensors.MustCopyFlatData[float64](res[i]))
	}
	objective = tensors.ToScalar[float64](res[nv])
	for k := 0; k < T; k++ {
		losses = append(losses, tensors.ToScalar[float64](res[nv+1+k]))
	}
	for k := 0; k < T; k++ {
		var gs [][]float64
		for i := 0; i < nv; i++ {
			gs = append(gs, tensors.MustCopyFlatData[float64](res[nv+1+T+k*nv+i]))
		}
		perTask = append(perTask, gs)
	}
	return
}

// TestEqualIsSumOfLosses: equal weighting's objective is Σ_t L_t and its gradient Σ_t ∇L_t.
func TestEqualIsSumOfLosses(t *testing.T) {
	comb, err := New("equal", Params{})
	require.NoError(t, err)
	grads, obj, losses, perTask, _ := stepProbe(t, comb, [][]int32{{0, 1, 2}, {0, 1, 2}, {0, 1, 2}}, 7)
	require.InDelta(t, losses[0]+losses[1]+losses[2], obj, 1e-12)
	for i, g := range grads {
		for p := range g {
			require.InDelta(t, perTask[0][i][p]+perTask[1][i][p]+perTask[2][i][p], g[p], 1e-12)
		}
	}
}

// TestPCGradCombiner: the trunk gets PCGrad of the per-task trunk gradients (checked against the
// host re-statement), each head the gradient of its own loss.
func TestPCGradCombiner(t *testing.T) {
	comb, err := New("pcgrad", Params{})
	require.NoError(t, err)
	// Probe data seed 4 has one conflicting pair (⟨g_0, g_2⟩ < 0), seed 9 none (PCGrad = EW).
	for _, tc := range []struct {
		probeSeed uint64
		order     [][]int32
		conflict  bool
	}{
		{4, [][]int32{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}}, true},
		{4, [][]int32{{2, 1, 0}, {0, 2, 1}, {1, 0, 2}}, true},
		{9, [][]int32{{2, 1, 0}, {0, 2, 1}, {1, 0, 2}}, false},
	} {
		order, probeSeed := tc.order, tc.probeSeed
		grads, obj, losses, perTask, shared := stepProbe(t, comb, order, probeSeed)
		require.InDelta(t, losses[0]+losses[1]+losses[2], obj, 1e-12)
		T := len(perTask)
		flat := make([][]float64, T)
		ord := make([][]int, T)
		for k := 0; k < T; k++ {
			for i, sh := range shared {
				if sh {
					flat[k] = append(flat[k], perTask[k][i]...)
				}
			}
			for _, j := range order[k] {
				ord[k] = append(ord[k], int(j))
			}
		}
		want := pcgradHost(flat, ord)
		off, nShared, nHead := 0, 0, 0
		for i, sh := range shared {
			if sh {
				require.InDeltaSlice(t, want[off:off+len(grads[i])], grads[i], 1e-10)
				off += len(grads[i])
				nShared++
				continue
			}
			nHead++
			for p := range grads[i] {
				require.InDelta(t, perTask[0][i][p]+perTask[1][i][p]+perTask[2][i][p], grads[i][p], 1e-12)
			}
		}
		require.Equal(t, 4, nShared, "2 trunk layers × (weights, biases)")
		require.Equal(t, 6, nHead, "3 heads × (weights, biases)")
		// A conflicting pair makes PCGrad differ from EW; without one it equals EW.
		conflicts := 0
		for a := 0; a < T; a++ {
			for b := a + 1; b < T; b++ {
				dot := 0.0
				for p := range flat[a] {
					dot += flat[a][p] * flat[b][p]
				}
				t.Logf("⟨g_%d, g_%d⟩ = %.4g", a, b, dot)
				if dot < 0 {
					conflicts++
				}
			}
		}
		sum := make([]float64, len(want))
		for k := 0; k < T; k++ {
			for p := range sum {
				sum[p] += flat[k][p]
			}
		}
		diff := 0.0
		for p := range sum {
			diff += math.Abs(sum[p] - want[p])
		}
		if tc.conflict {
			require.Positive(t, conflicts)
			require.Greater(t, diff, 1e-6)
		} else {
			require.Zero(t, conflicts)
			require.Less(t, diff, 1e-12)
		}
	}
}

func TestRegistry(t *testing.T) {
	require.Equal(t, []string{"equal", "pcgrad", "rep-mtl"}, Names())
	_, err := New("gradnorm", Params{})
	require.ErrorContains(t, err, `"gradnorm"`)
	require.ErrorContains(t, err, "rep-mtl")
	_, err = New("rep-mtl", Params{RepMTL: RepMTLConfig{Tau: -1}})
	require.ErrorContains(t, err, "tau=-1")
}

// synthetic is a small two-task problem: class = [x0 + x1 > 0], value = x2 − x3.
func synthetic(n int, seed uint64) *Dataset {
	r := rand.New(rand.NewPCG(seed, 1))
	ds := &Dataset{N: n, D: 4, X: make([]float64, n*4), Y: [][]float64{make([]float64, n), make([]float64, n)}}
	for i := 0; i < n; i++ {
		for j := 0; j < 4; j++ {
			ds.X[i*4+j] = r.NormFloat64()
		}
		if ds.X[i*4]+ds.X[i*4+1] > 0 {
			ds.Y[0][i] = 1
		}
		ds.Y[1][i] = ds.X[i*4+2] - ds.X[i*4+3]
	}
	return ds
}

// TestFitLearns trains every combiner briefly and checks the losses fall and the predictions fit.
func TestFitLearns(t *testing.T) {
	tasks := []Task{{Name: "cls", Kind: Classification, Classes: 2}, {Name: "reg", Kind: Regression}}
	ds := synthetic(256, 5)
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			cfg := Config{Tasks: tasks, Hidden: []int{16, 8}, Combiner: name, Epochs: 25, Batch: 32, LR: 1e-2, Seed: 1}
			net, err := Fit(context.Background(), backend.MustDefault(), cfg, ds)
			require.NoError(t, err)
			require.Len(t, net.History, 25)
			require.Equal(t, 25*8, net.Steps)
			first, last := net.History[0], net.History[24]
			require.Less(t, last.Losses[0], 0.5*first.Losses[0], "classification loss")
			require.Less(t, last.Losses[1], 0.5*first.Losses[1], "regression loss")
			if name == "rep-mtl" {
				require.Contains(t, last.Terms, "tsr")
				require.Contains(t, last.Terms, "csa")
				require.Greater(t, last.Terms["tsr"], 0.0)
				require.Less(t, last.Terms["tsr"], math.Log(2)+1e-9)
				require.Greater(t, last.Terms["csa"], 0.0)
			}
			pred, err := net.Predict(ds)
			require.NoError(t, err)
			ok, se := 0, 0.0
			for i := 0; i < ds.N; i++ {
				if pred[0][i] == ds.Y[0][i] {
					ok++
				}
				se += (pred[1][i] - ds.Y[1][i]) * (pred[1][i] - ds.Y[1][i])
			}
			require.Greater(t, float64(ok)/float64(ds.N), 0.9)
			require.Less(t, math.Sqrt(se/float64(ds.N)), 0.5)
		})
	}
}

func TestFitRejectsBadInput(t *testing.T) {
	good := []Task{{Name: "cls", Kind: Classification, Classes: 2}, {Name: "reg", Kind: Regression}}
	ds := synthetic(64, 2)
	bad := synthetic(64, 2)
	bad.Y[0][3] = 2
	for _, tc := range []struct {
		name string
		cfg  Config
		ds   *Dataset
		want string
	}{
		{"no_tasks", Config{}, ds, "no tasks"},
		{"dup_names", Config{Tasks: []Task{good[0], good[0]}}, ds, `name "cls"`},
		{"classes", Config{Tasks: []Task{{Name: "a", Kind: Classification, Classes: 1}, good[1]}}, ds, "classes=1"},
		{"kind", Config{Tasks: []Task{{Name: "a"}, good[1]}}, ds, "kind=Kind(0)"},
		{"hidden", Config{Tasks: good, Hidden: []int{4, 0}}, ds, "hidden[1]=0"},
		{"lr", Config{Tasks: good, LR: -1}, ds, "lr=-1"},
		{"batch", Config{Tasks: good, Batch: 1}, ds, "batch=1"},
		{"combiner", Config{Tasks: good, Combiner: "mgda"}, ds, `"mgda"`},
		{"one_task_pcgrad", Config{Tasks: good[:1], Combiner: "pcgrad"}, ds, "needs ≥ 2 tasks"},
		{"class_id", Config{Tasks: good}, bad, "target 3 is 2"},
		{"batch_too_big", Config{Tasks: good, Batch: 128}, ds, "batch=128 is larger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fit(context.Background(), backend.MustDefault(), tc.cfg, tc.ds)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestRegularizersMoveSaliency: each Rep-MTL term, trained with weight 1, ends lower on held-out
// data than under equal weighting (same data, seed and schedule) — the terms move what they claim.
func TestRegularizersMoveSaliency(t *testing.T) {
	tasks := []Task{{Name: "cls", Kind: Classification, Classes: 2}, {Name: "reg", Kind: Regression}}
	train, test := synthetic(256, 5), synthetic(128, 6)
	terms := map[string][2]float64{}
	for _, tc := range []struct {
		name     string
		combiner string
		rep      RepMTLConfig
	}{
		{"equal", "equal", RepMTLConfig{}},
		{"tsr", "rep-mtl", RepMTLConfig{TSRWeight: 1, NoCSA: true}},
		{"csa", "rep-mtl", RepMTLConfig{CSAWeight: 1, NoTSR: true}},
	} {
		cfg := Config{Tasks: tasks, Hidden: []int{16, 8}, Combiner: tc.combiner, Params: Params{RepMTL: tc.rep}, Epochs: 25, Batch: 32, LR: 1e-2, Seed: 1}
		net, err := Fit(context.Background(), backend.MustDefault(), cfg, train)
		require.NoError(t, err)
		tsr, csa, err := net.SaliencyTerms(test)
		require.NoError(t, err)
		require.Greater(t, tsr, 0.0)
		require.LessOrEqual(t, tsr, math.Log(2)+1e-6)
		require.Greater(t, csa, 0.0)
		t.Logf("%s: held-out TSR %.4f, CSA %.4f", tc.name, tsr, csa)
		terms[tc.name] = [2]float64{tsr, csa}
	}
	require.Less(t, terms["tsr"][0], terms["equal"][0])
	require.Less(t, terms["csa"][1], terms["equal"][1])

	one, err := Fit(context.Background(), backend.MustDefault(), Config{Tasks: tasks[:1], Hidden: []int{4}, Epochs: 1, Batch: 32}, &Dataset{N: 64, D: 4, X: train.X[:256], Y: [][]float64{train.Y[0][:64]}})
	require.NoError(t, err)
	_, _, err = one.SaliencyTerms(test)
	require.ErrorContains(t, err, "need ≥ 2 tasks")
}
