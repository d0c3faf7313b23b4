package moe

import (
	"context"
	"iter"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/moeboost/moeboost/internal/gradcheck"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func randFlat(r *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	return x
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, Config{}.Validate())
	for _, tc := range []struct {
		cfg Config
		err string
	}{
		{Config{NumExperts: 4, TopK: 5}, "moe: top_k=5 must be in [1, num_experts=4]"},
		{Config{NumExperts: -1}, "num_experts=-1"},
		{Config{Gate: "softmax"}, `gate="softmax" must be one of "topk_softmax", "softmax_topk"`},
		{Config{Dispatch: "einsum"}, `dispatch="einsum"`},
		{Config{Priority: "random"}, `priority="random"`},
		{Config{Selection: "sort"}, `selection="sort"`},
		{Config{Noise: "gumbel"}, `noise="gumbel"`},
		{Config{CapacityFactor: -1}, "capacity_factor=-1 must be > 0"},
		{Config{Mu: 1}, "mu=1 must be in [0, 1)"},
		{Config{Kappa: 0.7}, "kappa=0.7 must be > 1"},
		{Config{Rho: 1.5}, "rho=1.5"},
		{Config{Dropout: 1}, "dropout=1"},
		{Config{Activation: "elu"}, `activation="elu"`},
		{Config{BalanceMode: "gshard"}, `balance_mode="gshard"`},
		{Config{Name: "a b"}, `name="a b"`},
	} {
		require.ErrorContains(t, tc.cfg.Validate(), tc.err)
	}
	// AdaMoE allows k up to n+m.
	_, err := NewAdaMoE(Config{NumExperts: 4, NullExperts: 4, TopK: 6})
	require.NoError(t, err)
	_, err = NewAdaMoE(Config{NumExperts: 4, NullExperts: 4, TopK: 9})
	require.ErrorContains(t, err, "top_k=9 must be in [1, num_experts+null_experts=8]")
	// Off disables a loss; 0 is the default.
	require.Equal(t, 0.01, Config{}.Defaults().BalanceWeight)
	require.Equal(t, 0.0, weightOr(Config{BalanceWeight: Off}.Defaults().BalanceWeight))
	// Mu = Off is mu = 0: the heavy-ball state is just gamma·f.
	require.NoError(t, Config{Mu: Off}.Validate())
	require.ErrorContains(t, Config{Mu: 1}.Validate(), "mu=1 must be in [0, 1)")
	p := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3}, 1, 3)
	f := tensors.FromFlatDataAndDimensions([]float32{10, 20, 30}, 1, 3)
	for _, tc := range []struct {
		mu   float64
		want []float32
	}{{Off, []float32{20, 40, 60}}, {0, []float32{20.7, 41.4, 62.1}}, {0.5, []float32{20.5, 41, 61.5}}} {
		cfg := Config{Mu: tc.mu, Gamma: 2}.Defaults()
		outs := exec(t, nil, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
			_, pNew := heavyBall(scope, xs[0], xs[1], xs[2], cfg)
			return []*graph.Node{pNew}
		}, p, p, f)
		require.InDeltaSlice(t, tc.want, tensors.MustCopyFlatData[float32](outs[0]), 1e-4, "mu=%g", tc.mu)
	}
}

func TestRegistryAndParams(t *testing.T) {
	require.Equal(t, []string{"adam", "adamoe", "expert_choice", "momentum", "robust", "smoe"}, Names())
	_, err := New("switch", Config{})
	require.ErrorContains(t, err, `unknown moe_layer "switch"`)
	require.ErrorContains(t, err, `"momentum"`)
	_, err = New("momentum", Config{NumExperts: 2, TopK: 3})
	require.ErrorContains(t, err, "top_k=3 must be in [1, num_experts=2]")

	store := model.NewStore()
	require.NoError(t, train.ApplySettings(store, "moe=momentum;moe_num_experts=6;moe_top_k=3;moe_mu=0.5;moe_balance_weight=0;moe_dispatch=dropless;moe_null_group_mean=false"))
	name, cfg, err := ConfigFromParams(store.RootScope())
	require.NoError(t, err)
	require.Equal(t, "momentum", name)
	require.Equal(t, 6, cfg.NumExperts)
	require.Equal(t, 3, cfg.TopK)
	require.Equal(t, 0.5, cfg.Mu)
	require.Equal(t, Off, cfg.BalanceWeight)
	require.Equal(t, DispatchDropless, cfg.Dispatch)
	require.True(t, cfg.NoNullGroupMean)

	noMomentum := model.NewStore()
	require.NoError(t, train.ApplySettings(noMomentum, "moe=momentum;moe_mu=0"))
	_, cfg, err = ConfigFromParams(noMomentum.RootScope())
	require.NoError(t, err)
	require.Equal(t, 0.0, weightOr(cfg.Defaults().Mu), "moe_mu=0 means no momentum, not the default")

	bad := model.NewStore()
	require.NoError(t, train.ApplySettings(bad, "moe_num_experts=4;moe_top_k=5"))
	_, _, err = ConfigFromParams(bad.RootScope())
	require.ErrorContains(t, err, "moe: top_k=5 must be in [1, num_experts=4]")
	bad2 := model.NewStore()
	require.NoError(t, train.ApplySettings(bad2, "moe=mystery"))
	_, _, err = ConfigFromParams(bad2.RootScope())
	require.ErrorContains(t, err, `unknown moe_layer "mystery"`)
}

func TestBlockedCumSum(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 64, 65, 200, 4097} {
		x := make([]float64, n*3)
		for i := range x {
			x[i] = float64(r.IntN(3))
		}
		outs := exec(t, nil, func(_ *model.Scope, xs []*graph.Node) []*graph.Node {
			return []*graph.Node{BlockedCumSum(xs[0]), graph.CumSum(xs[0], 0)}
		}, tensors.FromFlatDataAndDimensions(x, n, 3))
		require.Equal(t, flat(outs[1]), flat(outs[0]), "n=%d", n)
	}
	_, err := gradcheck.Check(backend.MustDefault(), func(_ *model.Scope, xs []*graph.Node) *graph.Node {
		return graph.ReduceAllSum(graph.Mul(BlockedCumSum(xs[0]), xs[0]))
	}, [][]float64{randFlat(r, 70*2)}, [][]int{{70, 2}}, 1e-6, 1e-6, 1e-5)
	require.NoError(t, err)
}

// forwardAll runs the sparse layer with each config on x, sharing one store (same weights).
func forwardAll(t *testing.T, x *tensors.Tensor, null int, cfgs ...Config) ([][]float64, []float64) {
	store := model.NewStore()
	require.NoError(t, store.SetRNGStateFromSeed(5))
	var ys [][]float64
	var dropped []float64
	for _, cfg := range cfgs {
		e, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
			out := (&sparse{cfg: cfg.Defaults(), null: null}).forward(scope, xs[0], 0, nil)
			r := out.Routing
			return []*graph.Node{out.Y, graph.Sub(graph.ReduceAllSum(r.Valid), graph.ReduceAllSum(r.Keep))}
		})
		require.NoError(t, err)
		outs, err := e.Call(x)
		require.NoError(t, err)
		ys = append(ys, flat(outs[0]))
		dropped = append(dropped, flat(outs[1])[0])
		e.Finalize()
	}
	return ys, dropped
}

func requireClose(t *testing.T, want, got []float64, tol float64, msg string) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.InDelta(t, want[i], got[i], tol, "%s [%d]", msg, i)
	}
}

func TestDispatchEquivalences(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := tensors.FromFlatDataAndDimensions(randFlat(r, 2*20*6), 2, 20, 6)
	for _, gate := range []string{GateTopKSoftmax, GateSoftmaxTopK} {
		base := Config{NumExperts: 4, TopK: 2, Hidden: 5, Gate: gate, Renormalize: true}
		capCfg := base
		capCfg.Dispatch, capCfg.EvalCapacityFactor = DispatchCapacity, 2 // C = T: nothing dropped
		drop := base
		drop.Dispatch = DispatchDropless
		dense := base
		dense.Dispatch = DispatchDense
		tight := base
		tight.EvalCapacityFactor, tight.MinCapacity = 0.5, 1 // C = ceil(0.5·2·40/4) = 10 < T: drops
		ys, dropped := forwardAll(t, x, 0, capCfg, drop, dense, tight)
		requireClose(t, ys[1], ys[0], 1e-12, gate+": dropless vs capacity with ample capacity")
		requireClose(t, ys[2], ys[1], 1e-12, gate+": dense vs gather/scatter")
		require.Equal(t, []float64{0, 0, 0}, dropped[:3])
		require.Greater(t, dropped[3], 0.0, "tight capacity must drop")
	}
	// Selection methods agree (no ties in continuous data); token and score priorities run.
	a := Config{NumExperts: 4, TopK: 3, Selection: SelectionArgMax}
	b := a
	b.Selection = SelectionTopK
	ys, _ := forwardAll(t, x, 0, a, b)
	requireClose(t, ys[0], ys[1], 1e-12, "argmax vs topk selection")
	// With drops (every priority), the dense masked path combines exactly what the
	// gather/scatter path keeps.
	lin := func(_ *model.Scope, z *graph.Node) *graph.Node {
		w := graph.Add(graph.Iota(z.Graph(), shapes.Make(z.DType(), z.Shape().Dim(0), 1, z.Shape().Dim(2)), 0), graph.OnesLike(z))
		return graph.Sin(graph.Mul(z, w)) // a different non-linear map per expert
	}
	logits := tensors.FromFlatDataAndDimensions(randFlat(r, 40*4), 40, 4)
	for _, p := range []string{PrioritySlot, PriorityToken, PriorityScore} {
		cfg := Config{NumExperts: 4, TopK: 2, Priority: p, RenormalizeKept: p == PriorityToken}.Defaults()
		outs := exec(t, nil, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
			rt := Route(xs[1], cfg, 4)
			rt.Assign(10, cfg)
			x2 := graph.Reshape(xs[0], 40, 6)
			return []*graph.Node{Dispatch(scope, x2, rt, lin, false), Dispatch(scope, x2, rt, lin, true),
				graph.ReduceAllSum(graph.Sub(rt.Valid, rt.Keep))}
		}, x, logits)
		requireClose(t, flat(outs[1]), flat(outs[0]), 1e-12, p+": dense vs gather/scatter with drops")
		require.Greater(t, flat(outs[2])[0], 0.0, p+": drops")
	}
}

func TestOneExpertEqualsDenseFFN(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := tensors.FromFlatDataAndDimensions(randFlat(r, 3*5*4), 3, 5, 4)
	for _, dispatch := range []string{DispatchCapacity, DispatchDropless, DispatchDense} {
		cfg := Config{NumExperts: 1, TopK: 1, Hidden: 7, Activation: "gelu", Dispatch: dispatch, MinCapacity: 100}.Defaults()
		outs := exec(t, nil, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
			y := (&sparse{cfg: cfg}).forward(scope, xs[0], 0, nil).Y
			st := scope.Store()
			g := xs[0].Graph()
			v := func(name string) *graph.Node {
				v := st.GetVariable("/experts/" + name).NodeValue(g)
				if name[0] == 'b' {
					return graph.Reshape(v, 1, 1, v.Shape().Dim(-1))
				}
				return graph.Squeeze(v, 0)
			}
			h := layers.Gelu(graph.Add(graph.Einsum("bsd,dh->bsh", xs[0], v("w1")), v("b1")))
			dense := graph.Add(graph.Einsum("bsh,hd->bsd", h, v("w2")), v("b2"))
			return []*graph.Node{y, dense}
		}, x)
		requireClose(t, flat(outs[1]), flat(outs[0]), 1e-12, dispatch)
	}
}

func TestGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	shape := []int{2, 6, 4}
	x := randFlat(r, 2*6*4)
	p := randFlat(r, 2*6*4)
	for _, tc := range []struct {
		name string
		ffn  func() (layers.FFN, error)
	}{
		{"smoe capacity with drops", func() (layers.FFN, error) {
			return NewSMoE(Config{NumExperts: 4, TopK: 2, Hidden: 3, EvalCapacityFactor: 0.6, MinCapacity: 1, Activation: "tanh"})
		}},
		{"smoe softmax_topk shared expert", func() (layers.FFN, error) {
			return NewSMoE(Config{NumExperts: 3, TopK: 2, Hidden: 3, Gate: GateSoftmaxTopK, Renormalize: true, SharedHidden: 2, Activation: "tanh"})
		}},
		{"momentum reference", func() (layers.FFN, error) {
			return NewMomentumSMoE(Config{NumExperts: 4, TopK: 2, Hidden: 3, Reference: true, Activation: "tanh"})
		}},
		{"adam", func() (layers.FFN, error) {
			return NewAdamSMoE(Config{NumExperts: 4, TopK: 2, Hidden: 3, Activation: "tanh"})
		}},
		{"robust", func() (layers.FFN, error) {
			return NewRobustSMoE(Config{NumExperts: 4, TopK: 2, Hidden: 3, Activation: "tanh"})
		}},
		{"adamoe", func() (layers.FFN, error) {
			return NewAdaMoE(Config{NumExperts: 3, NullExperts: 2, TopK: 3, Hidden: 3, Activation: "tanh"})
		}},
		{"expert choice", func() (layers.FFN, error) {
			return NewExpertChoice(Config{NumExperts: 3, Hidden: 3, Activation: "tanh"})
		}},
	} {
		ffn, err := tc.ffn()
		require.NoError(t, err, tc.name)
		res, err := gradcheck.Check(backend.MustDefault(), func(scope *model.Scope, xs []*graph.Node) *graph.Node {
			// Two layers threading the carry, with a non-zero incoming momentum.
			carry := layers.Carry{CarryMomentum: xs[1], CarryRobust: xs[1]}
			y, carry := ffn(scope.In("l0"), xs[0], 0, carry)
			y2, _ := ffn(scope.In("l1"), graph.Add(xs[0], y), 1, carry)
			return graph.ReduceAllSum(graph.Mul(y2, graph.Sin(xs[0])))
		}, [][]float64{x, p}, [][]int{shape, shape}, 1e-6, 1e-6, 1e-4)
		require.NoError(t, err, "%s: %s", tc.name, res)
	}
}

func TestLossGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, noisy := range []bool{false, true} {
		_, err := gradcheck.Check(backend.MustDefault(), func(_ *model.Scope, xs []*graph.Node) *graph.Node {
			cfg := Config{NumExperts: 5, TopK: 2}.Defaults()
			rt := Route(xs[0], cfg, 5)
			if noisy { // Fixed noisy logits and std: the load estimate is smooth.
				rt = Route(graph.Add(xs[0], xs[1]), cfg, 5)
				rt.Clean, rt.NoiseStd = xs[0], graph.AddScalar(graph.Softplus(xs[1]), 0.5)
			}
			rt.Assign(0, cfg)
			sum := graph.Add(BalanceLoss(rt, BalanceSwitch, false), ZLoss(rt.Clean))
			sum = graph.Add(sum, CV2(Importance(rt)))
			return graph.Add(sum, CV2(Load(rt)))
		}, [][]float64{randFlat(r, 12*5), randFlat(r, 12*5)}, [][]int{{12, 5}, {12, 5}}, 1e-6, 1e-6, 1e-4)
		require.NoError(t, err, "noisy=%v", noisy)
	}
}

func TestMomentumAndAdaMoEReductions(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x := tensors.FromFlatDataAndDimensions(randFlat(r, 2*5*4), 2, 5, 4)
	run := func(ffns ...layers.FFN) [][]float64 {
		store := model.NewStore()
		require.NoError(t, store.SetRNGStateFromSeed(9))
		var out [][]float64
		for _, ffn := range ffns {
			e, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, xs []*graph.Node) *graph.Node {
				y, _ := ffn(scope, xs[0], 0, nil)
				return y
			})
			require.NoError(t, err)
			o, err := e.Call(x)
			require.NoError(t, err)
			out = append(out, flat(o[0]))
		}
		return out
	}
	// Sign convention: with mu = 0 and gamma = 1 the momentum layer's update is -f(x).
	smoe, _ := NewSMoE(Config{NumExperts: 4, Hidden: 3})
	mom, _ := NewMomentumSMoE(Config{NumExperts: 4, Hidden: 3, Mu: 1e-300})
	ys := run(smoe, mom)
	neg := make([]float64, len(ys[0]))
	for i, v := range ys[0] {
		neg[i] = -v
	}
	requireClose(t, neg, ys[1], 1e-12, "momentum(mu=0) = -SMoE")
	// AdaMoE without null experts is the renormalized softmax-then-top-k SMoE.
	adaCfg, err := adaMoEConfig(Config{NumExperts: 4, TopK: 2, Hidden: 3, Dispatch: DispatchDropless})
	require.NoError(t, err)
	ada := func(scope *model.Scope, h *graph.Node, layer int, carry layers.Carry) (*graph.Node, layers.Carry) {
		return (&sparse{cfg: adaCfg, null: 0}).forward(scope, h, layer, nil).Y, carry // m = 0
	}
	ren, _ := NewSMoE(Config{NumExperts: 4, TopK: 2, Gate: GateSoftmaxTopK, Renormalize: true, Hidden: 3, Dispatch: DispatchDropless})
	ys = run(ada, ren)
	requireClose(t, ys[1], ys[0], 1e-12, "AdaMoE m=0 = renormalized softmax-top-k SMoE")
}

func TestAdaMoEAllNullIsZero(t *testing.T) {
	cfg, err := adaMoEConfig(Config{NumExperts: 3, NullExperts: 3, TopK: 2, Hidden: 2})
	require.NoError(t, err)
	d := 4
	x := make([]float64, 6*d)
	for i := range x {
		x[i] = 1 + float64(i%3)
	}
	null := make([]float64, d*3)
	for i := range null {
		null[i] = 1
	}
	vars := map[string]*tensors.Tensor{
		"/router/w":      tensors.FromFlatDataAndDimensions(make([]float64, d*3), d, 3),
		"/null_router/w": tensors.FromFlatDataAndDimensions(null, d, 3),
	}
	for _, dispatch := range []string{DispatchCapacity, DispatchDense} {
		c := cfg
		c.Dispatch = dispatch
		outs := exec(t, vars, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
			out := (&sparse{cfg: c, null: 3}).forward(scope, xs[0], 0, nil)
			return []*graph.Node{out.Y, graph.ReduceAllSum(out.Routing.Valid)}
		}, tensors.FromFlatDataAndDimensions(x, 6, d))
		for _, v := range flat(outs[0]) {
			require.Equal(t, 0.0, v)
		}
		require.Equal(t, 0.0, flat(outs[1])[0], "no true expert selected")
	}
}

func TestExpertChoiceMatchesDense(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	x := tensors.FromFlatDataAndDimensions(randFlat(r, 10*4), 10, 4)
	cfg := Config{NumExperts: 3, ExpertChoiceFactor: 1.5}.Defaults()
	outs := exec(t, nil, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		linear := func(_ *model.Scope, z *graph.Node) *graph.Node { return graph.MulScalar(z, 2) }
		y := expertChoice(scope, xs[0], 0, cfg, linear)
		// Reference: S = softmax(x·W); expert e takes its top-C tokens; y = Σ_e S·chosen·2x.
		w := scope.Store().GetVariable("/router/w").NodeValue(xs[0].Graph())
		s := graph.Softmax(graph.Einsum("td,de->te", xs[0], w), -1)
		c := 5 // ceil(1.5·10/3)
		_, idx := graph.TopK(graph.Transpose(s, 0, 1), c, -1)
		chosen := graph.ReduceSum(graph.OneHot(idx, 10, dtypes.Float64), 1) // [E, T]
		wTE := graph.Mul(s, graph.Transpose(chosen, 0, 1))
		ref := graph.Mul(graph.ReduceAndKeep(wTE, graph.ReduceSum, -1), graph.MulScalar(xs[0], 2))
		return []*graph.Node{y, ref}
	}, x)
	requireClose(t, flat(outs[1]), flat(outs[0]), 1e-12, "expert choice")
}

// lmBatches yields random token batches for a tiny next-token model.
type lmBatches struct {
	r    *rand.Rand
	b, s int
}

func (d *lmBatches) Name() string { return "tokens" }
func (d *lmBatches) Iter() iter.Seq2[gtrain.Batch, error] {
	return func(yield func(gtrain.Batch, error) bool) {
		for {
			x := make([]int32, d.b*d.s)
			y := make([]int32, d.b*d.s)
			for i := range x {
				x[i] = int32(d.r.IntN(8))
				y[i] = (x[i] + 1) % 8 // learnable: next = token + 1
			}
			b := gtrain.Batch{Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, d.b, d.s)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(y, d.b, d.s)}}
			if !yield(b, nil) {
				return
			}
		}
	}
}

// tokenCE is the mean next-token cross-entropy of logits [B, S, V] and labels [B, S].
func tokenCE(labels, preds []*graph.Node) *graph.Node {
	logits := preds[0]
	v := logits.Shape().Dim(-1)
	oh := graph.OneHot(labels[0], v, logits.DType())
	return graph.ReduceAllMean(graph.Sub(logSumExp(logits), graph.ReduceSum(graph.Mul(oh, logits), -1)))
}

func TestTrainsInStackAndReports(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings string
		postLN   bool
		metric   string
	}{
		{"momentum_preln", "moe=momentum;moe_num_experts=4", false, "moe/l1/dropped"},
		{"momentum_reference", "moe=momentum;moe_num_experts=4;moe_reference=true;moe_dispatch=dropless", true, "moe/l1/entropy"},
		{"adam", "moe=adam;moe_num_experts=4", false, "moe/l0/balance_loss"},
		{"adamoe", "moe=adamoe;moe_num_experts=4;moe_null_experts=4", false, "moe/l1/true_per_token"},
		{"robust", "moe=robust;moe_num_experts=4;moe_noise=noisy_topk;moe_load_weight=0.1", false, "moe/l0/load_loss"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := layers.BlockConfig{DModel: 16, NumHeads: 2, FFN: FromParams(), Causal: true, PostLN: tc.postLN}
			res, err := train.Run(context.Background(), train.Config{
				Name: tc.name, Settings: tc.settings, Seed: 1, Steps: 60, EvalEvery: 30,
				Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
					h := layers.Embedding(scope.In("embed"), in[0], dtypes.Float32, 8, 16)
					h = layers.Stack(scope.In("stack"), h, 2, cfg)
					return []*graph.Node{layers.TiedOutput(scope.Shared("embed"), h, 8)}
				},
				LossFn: tokenCE, Optimizer: "adam", LearningRate: 1e-2,
				Train: &lmBatches{r: rand.New(rand.NewPCG(1, 1)), b: 4, s: 8},
			})
			require.NoError(t, err)
			first, last := res.History[0].Metrics, res.Final
			require.Less(t, last["train/loss"], math.Log(8)*0.8, "the model learns next = token+1")
			require.Contains(t, first, tc.metric)
			require.Contains(t, last, "moe/l0/z_loss")
			require.Contains(t, last, "moe/l0/tokens_max")
			require.False(t, math.IsNaN(last[tc.metric]))
		})
	}
	// A bad setting fails the run with the validation error, not a deep panic.
	_, err := train.Run(context.Background(), train.Config{Settings: "moe_num_experts=4;moe_top_k=5", Steps: 1,
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			h := layers.Embedding(scope.In("embed"), in[0], dtypes.Float32, 8, 16)
			y, _ := FromParams()(scope, h, 0, nil)
			return []*graph.Node{y}
		}, LossFn: tokenCE, Optimizer: "adam", LearningRate: 1e-2, Train: &lmBatches{r: rand.New(rand.NewPCG(1, 1)), b: 2, s: 4}})
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "top_k=5 must be in [1, num_experts=4]"), err.Error())
}
