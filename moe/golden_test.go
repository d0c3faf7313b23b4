package moe

import (
	"encoding/json"
	"fmt"
	"github.com/moeboost/moeboost/internal/golden"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/norm"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// goldenTensor is one {shape, values, dtype} entry of a golden file.
type goldenTensor struct {
	Shape  []int  `json:"shape"`
	Values []any  `json:"values"`
	DType  string `json:"dtype"`
}

func (g goldenTensor) floats() []float64 {
	out := make([]float64, len(g.Values))
	for i, v := range g.Values {
		switch x := v.(type) {
		case float64:
			out[i] = x
		case bool:
			if x {
				out[i] = 1
			}
		default: // null or a non-number: NaN, which golden.RequireClose rejects
			out[i] = math.NaN()
		}
	}
	return out
}

func (g goldenTensor) tensor() *tensors.Tensor {
	dims := g.Shape
	if len(dims) == 0 {
		return tensors.FromValue(g.floats()[0])
	}
	return tensors.FromFlatDataAndDimensions(g.floats(), dims...)
}

// goldenCase is a golden file of ../shared/golden/moe (format in its README).
type goldenCase struct {
	Function  string `json:"function"`
	Reference struct {
		Repo, File, Commit, Symbol string
	} `json:"reference"`
	Hyperparams map[string]any `json:"hyperparams"`
	DType       string         `json:"dtype"`
	Tolerance   struct {
		RTol float64 `json:"rtol"`
		ATol float64 `json:"atol"`
	} `json:"tolerance"`
	Inputs  map[string]goldenTensor `json:"inputs"`
	Outputs map[string]goldenTensor `json:"outputs"`
	Grads   map[string]goldenTensor `json:"grads"`
}

// kind recognizes a golden case by its content; "" means not a case this package claims.
func (c *goldenCase) kind() string {
	ref := c.Reference
	switch {
	case ref.Repo == "microsoft/DeepSpeed" && strings.Contains(ref.Symbol, "gating"):
		return "deepspeed"
	case ref.Repo == "CengZihao/AdaMoE" && len(c.Inputs["gate2_weight"].Shape) == 2:
		return "adamoe"
	case ref.Repo == "databricks/megablocks" && c.Outputs["zloss"].Shape != nil:
		return "megablocks"
	case ref.Repo == "microsoft/tutel" && strings.Contains(ref.Symbol, "gshard_loss"):
		return "tutel"
	case ref.Repo == "rachtsy/MomentumSMoE" && strings.Contains(ref.Symbol, "PositionwiseFFMoM"):
		return "momentum"
	case ref.Repo == "rachtsy/MomentumSMoE" && strings.Contains(ref.Symbol, "PositionwiseFFAdam"):
		return "adamstack"
	}
	return ""
}

func (c *goldenCase) hp(name string) float64 {
	switch v := c.Hyperparams[name].(type) {
	case float64:
		return v
	case bool:
		if v {
			return 1
		}
	}
	return 0
}

// recognizeMoEFile claims a golden file of the moe directories when it decodes into a
// goldenCase of a kind this package implements (see testdata/golden/moe/README.md); anything
// else is Unknown, which fails in the own directories and is left alone in $MOEBOOST_GOLDEN_DIR.
func recognizeMoEFile(f golden.File) golden.Verdict {
	var c goldenCase
	if f.Decode(&c) != nil || c.kind() == "" {
		return golden.Unknown
	}
	return golden.Mine
}

// TestGolden runs every moe golden case (internal/golden: union of the shared and repository
// directories plus MOEBOOST_GOLDEN_DIR, one subtest per file, a count of cases run against the
// files selected).
func TestGolden(t *testing.T) {
	files := golden.Select(t, "moe", recognizeMoEFile)
	golden.Run(t, files, func(t *testing.T, f golden.File) {
		var c goldenCase
		require.NoError(t, json.Unmarshal(f.Data, &c), "%s", f.Path)
		switch c.kind() {
		case "deepspeed":
			goldenDeepSpeed(t, &c)
		case "adamoe":
			goldenAdaMoE(t, &c)
		case "megablocks":
			goldenMegaBlocks(t, &c)
		case "tutel":
			goldenTutel(t, &c)
		case "momentum":
			goldenMomentum(t, &c)
		case "adamstack":
			goldenAdamStack(t, &c)
		default:
			require.Failf(t, "unrecognized golden case", "%s: kind %q", f.Path, c.kind())
		}
	})
}

// near checks got against want element by element: |got-want| <= atol + rtol·|want|, failing on
// a length mismatch and on NaN (golden.RequireClose).
func near(t *testing.T, c *goldenCase, name string, want []float64, got *tensors.Tensor) {
	t.Helper()
	golden.RequireClose(t, name, flat(got), want, c.Tolerance.ATol, c.Tolerance.RTol)
}

// flat returns a tensor's values as float64.
func flat(x *tensors.Tensor) []float64 {
	switch v := x.Value().(type) {
	case float64:
		return []float64{v}
	case float32:
		return []float64{float64(v)}
	case int32:
		return []float64{float64(v)}
	}
	switch x.DType().GoType().Kind().String() {
	case "float64":
		return tensors.MustCopyFlatData[float64](x)
	case "float32":
		f := tensors.MustCopyFlatData[float32](x)
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out
	case "int32":
		f := tensors.MustCopyFlatData[int32](x)
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out
	}
	panic(fmt.Sprintf("flat: dtype %s", x.DType()))
}

// exec runs fn once on a fresh store (with vars set first) and returns its outputs.
func exec(t *testing.T, vars map[string]*tensors.Tensor, fn func(scope *model.Scope, xs []*graph.Node) []*graph.Node, args ...any) []*tensors.Tensor {
	t.Helper()
	store := model.NewStore()
	require.NoError(t, store.SetRNGStateFromSeed(1))
	for path, v := range vars {
		dir, name := model.SplitPath(path)
		_, err := store.Scope(dir).CreateVariable(name, v)
		require.NoError(t, err)
	}
	e, err := model.NewExec(backend.MustDefault(), store, fn)
	require.NoError(t, err)
	defer e.Finalize()
	outs, err := e.Call(args...)
	require.NoError(t, err)
	return outs
}

func goldenDeepSpeed(t *testing.T, c *goldenCase) {
	logits := c.Inputs["logits"]
	tt, e := logits.Shape[0], logits.Shape[1]
	capFile := int(c.Outputs["capacity"].floats()[0])
	cfg := Config{NumExperts: e, Gate: GateSoftmaxTopK, CapacityFactor: c.hp("capacity_factor"),
		MinCapacity: int(c.hp("min_capacity")), Priority: PrioritySlot}.Defaults()
	switch {
	case strings.Contains(c.Reference.Symbol, "top1gating"):
		cfg.TopK, cfg.BalanceMode = 1, BalanceFirst
	case strings.Contains(c.Reference.Symbol, "top2gating"):
		// The reference normalizes g1/(g1+g2) with the masks after dropping: a token that
		// lost one slot keeps weight 1 on the other (the vectors show it).
		cfg.TopK, cfg.RenormalizeKept, cfg.BalanceMode = 2, true, BalanceFirst
	default:
		cfg.TopK, cfg.RenormalizeKept, cfg.BalanceMode = int(c.hp("k")), true, BalanceSwitch
		cfg.Priority = PriorityToken
		if c.Hyperparams["drop_policy"] == "probs" {
			cfg.Priority = PriorityScore
		}
	}
	require.NoError(t, cfg.Validate())
	capGo := tt
	if c.hp("drop_tokens") != 0 {
		capGo = capacity(tt, cfg.TopK, e, cfg.CapacityFactor, cfg.MinCapacity)
		require.Equal(t, capFile, capGo, "capacity")
	} else {
		require.LessOrEqual(t, capFile, tt)
	}
	outs := exec(t, nil, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		r := Route(xs[0], cfg, e)
		r.Assign(capGo, cfg)
		comb := r.Combine() // [T, E, capGo]
		used := graph.Slice(comb, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(0, capFile))
		rest := graph.ReduceAllSum(graph.Abs(comb)) // total, to check nothing lies beyond capFile
		laux := BalanceLoss(r, cfg.BalanceMode, false)
		ws := graph.ReduceAllSum(graph.Mul(used, xs[1]))
		return []*graph.Node{laux, used, r.Counts, ws, graph.Sub(rest, graph.ReduceAllSum(graph.Abs(used))),
			graph.Gradient(laux, xs[0])[0], graph.Gradient(ws, xs[0])[0]}
	}, logits.tensor(), c.Inputs["R"].tensor())
	near(t, c, "l_aux", c.Outputs["l_aux"].floats(), outs[0])
	near(t, c, "combine_weights", c.Outputs["combine_weights"].floats(), outs[1])
	near(t, c, "exp_counts", c.Outputs["exp_counts"].floats(), outs[2])
	near(t, c, "weighted_sum", c.Outputs["weighted_sum"].floats(), outs[3])
	require.InDelta(t, 0, flat(outs[4])[0], 1e-12, "combine weights beyond the reference capacity")
	// dispatch_mask = combine_weights != 0.
	mask := c.Outputs["dispatch_mask"].floats()
	for i, w := range flat(outs[1]) {
		require.Equal(t, mask[i] != 0, w != 0, "dispatch_mask[%d]", i)
	}
	near(t, c, "grad logits", c.Grads["logits"].floats(), outs[5])
	near(t, c, "grad logits@weighted_sum", c.Grads["logits@weighted_sum"].floats(), outs[6])
}

// transposed returns the flat [b, a] transpose of a flat [a, b] matrix.
func transposed(v []float64, a, b int) []float64 {
	out := make([]float64, len(v))
	for i := range a {
		for j := range b {
			out[j*a+i] = v[i*b+j]
		}
	}
	return out
}

// nullTieGroups returns, for each of the m null experts, the lowest null index (0..m-1) whose
// router row w [m, d] (flat, row-major) is identical: null experts with equal rows have equal
// logits for every token, so they tie in every top-k.
func nullTieGroups(w []float64, m, d int) []int {
	rep := make([]int, m)
	for i := range m {
		rep[i] = i
		for j := range i {
			if slices.Equal(w[i*d:(i+1)*d], w[j*d:(j+1)*d]) {
				rep[i] = j
				break
			}
		}
	}
	return rep
}

// goldenAdaMoE runs our AdaMoE routing, stand-in experts and released balance loss (per-slot,
// no null-group mean) on an official CustomMixtralSparseMoeBlock case and checks every output
// and every gradient, with the dropless and the dense dispatch.
//
// Ties among null experts (identical null-router rows, as the official Mixtral conversion
// makes them) are compared up to the order inside a tied group: torch.topk on CPU orders equal
// values by std::nth_element, not by index, and we take the lower index. Which tied null
// expert a token gets cannot change the output, the weights, the loss, or the gradients w.r.t.
// the input and the true router (tied rows have equal probabilities for every token), so
// these are compared exactly; null indices are compared as their group's lowest index; the
// null-router gradient rows of a group are compared one by one when the group never
// straddles the k boundary (all or none of it selected in every token) and by their sum
// otherwise (the split of counts between tied rows is the order-dependent part).
func goldenAdaMoE(t *testing.T, c *goldenCase) {
	n, m, k := int(c.hp("num_local_experts")), int(c.hp("num_null_experts")), int(c.hp("num_experts_per_tok"))
	hs := c.Inputs["hidden_states"]
	d := hs.Shape[len(hs.Shape)-1]
	cfg, err := adaMoEConfig(Config{NumExperts: n, NullExperts: m, TopK: k, Gate: GateSoftmaxTopK,
		Dispatch: DispatchDropless, NoNullGroupMean: true, BalanceMode: BalanceSlots})
	require.NoError(t, err)
	gw, g2w := c.Inputs["gate_weight"], c.Inputs["gate2_weight"]
	rep := nullTieGroups(g2w.floats(), m, d)
	vars := map[string]*tensors.Tensor{
		"/router/w":      tensors.FromFlatDataAndDimensions(transposed(gw.floats(), n, d), d, n),
		"/null_router/w": tensors.FromFlatDataAndDimensions(transposed(g2w.floats(), m, d), d, m),
	}
	// Stand-in experts of the reference run: expert e maps x -> x·W_e^T.
	for _, dense := range []bool{false, true} {
		cfg := cfg
		if dense {
			cfg.Dispatch = DispatchDense
		}
		outs := exec(t, vars, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
			s := &sparse{cfg: cfg, null: m}
			experts := func(_ *model.Scope, x *graph.Node) *graph.Node {
				return graph.Einsum("ecd,eod->eco", x, xs[1])
			}
			out := s.forward(scope, xs[0], 0, experts)
			r := out.Routing
			ws := graph.ReduceAllSum(graph.Mul(out.Y, xs[2]))
			w := scope.Store().GetVariable("/router/w").NodeValue(xs[0].Graph())
			w2 := scope.Store().GetVariable("/null_router/w").NodeValue(xs[0].Graph())
			gl := graph.Gradient(out.Balance, w, w2, xs[0])
			gw := graph.Gradient(ws, w, w2, xs[0], xs[1])
			return []*graph.Node{r.Logits, graph.Transpose(r.Index, 0, 1), graph.Transpose(r.Gates, 0, 1),
				graph.Transpose(r.Valid, 0, 1), graph.ReduceSum(r.Valid, 0), out.Y, out.Balance, ws,
				graph.Transpose(gl[0], 0, 1), graph.Transpose(gl[1], 0, 1), gl[2],
				graph.Transpose(gw[0], 0, 1), graph.Transpose(gw[1], 0, 1), gw[2], gw[3]}
		}, hs.tensor(), c.Inputs["expert_weight"].tensor(), c.Inputs["R"].tensor())
		// Null indices as their tie group's lowest index (identity without ties).
		canon := func(sel []float64) []float64 {
			out := slices.Clone(sel)
			for i, e := range out {
				if int(e) >= n {
					out[i] = float64(n + rep[int(e)-n])
				}
			}
			return out
		}
		gotSel := flat(outs[1])
		closeF(t, c, "selected_experts (null ties as group)", canon(c.Outputs["selected_experts"].floats()), canon(gotSel))
		for i, name := range []string{"router_logits", "", "routing_weights", "true_mask",
			"num_true_experts", "final_hidden_states", "loss", "weighted_sum"} {
			if name != "" {
				near(t, c, name, c.Outputs[name].floats(), outs[i])
			}
		}
		// A tie group straddles when some token selected some but not all of it.
		straddles := make([]bool, m)
		for tok := range len(gotSel) / k {
			count := make([]int, m)
			for _, e := range gotSel[tok*k : (tok+1)*k] {
				if int(e) >= n {
					count[rep[int(e)-n]]++
				}
			}
			for j := range m {
				if size := countEq(rep, rep[j]); count[rep[j]] > 0 && count[rep[j]] < size {
					straddles[j] = true
				}
			}
		}
		grads := []string{"gate_weight", "gate2_weight", "hidden_states", "gate_weight@weighted_sum",
			"gate2_weight@weighted_sum", "hidden_states@weighted_sum", "expert_weight@weighted_sum"}
		for i, name := range grads {
			want, ok := c.Grads[name]
			if !ok && name == "expert_weight@weighted_sum" {
				continue // Absent from the first (seed-1, m 16) file.
			}
			require.True(t, ok, "grads.%s missing", name)
			if !strings.HasPrefix(name, "gate2_weight") {
				near(t, c, "grad "+name, want.floats(), outs[8+i])
				continue
			}
			gotW, wantW := flat(outs[8+i]), want.floats()
			require.Len(t, gotW, m*d, "grad %s", name)
			var gotRows, wantRows, gotSum, wantSum []float64
			for j := range m {
				if !straddles[j] {
					gotRows, wantRows = append(gotRows, gotW[j*d:(j+1)*d]...), append(wantRows, wantW[j*d:(j+1)*d]...)
				}
				if rep[j] == j && countEq(rep, j) > 1 {
					gs, ws := make([]float64, d), make([]float64, d)
					for i := range m {
						if rep[i] == j {
							for q := range d {
								gs[q] += gotW[i*d+q]
								ws[q] += wantW[i*d+q]
							}
						}
					}
					gotSum, wantSum = append(gotSum, gs...), append(wantSum, ws...)
				}
			}
			closeF(t, c, "grad "+name+" (rows of non-straddling groups)", wantRows, gotRows)
			closeF(t, c, "grad "+name+" (summed over each tie group)", wantSum, gotSum)
		}
	}
}

// closeF is near for values already in a slice (an empty pair passes).
func closeF(t *testing.T, c *goldenCase, name string, want, got []float64) {
	t.Helper()
	golden.RequireClose(t, name, got, want, c.Tolerance.ATol, c.Tolerance.RTol)
}

// countEq counts the entries of xs equal to v.
func countEq(xs []int, v int) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

func goldenMegaBlocks(t *testing.T, c *goldenCase) {
	x := c.Inputs["x"]
	e, k, d := int(c.hp("moe_num_experts")), int(c.hp("moe_top_k")), x.Shape[1]
	cfg := Config{NumExperts: e, TopK: k, Gate: GateSoftmaxTopK, Dispatch: DispatchDropless}.Defaults()
	require.NoError(t, cfg.Validate())
	rw := c.Inputs["router_weight"]
	vars := map[string]*tensors.Tensor{"/router/w": tensors.FromFlatDataAndDimensions(transposed(rw.floats(), e, d), d, e)}
	outs := exec(t, vars, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		s := &sparse{cfg: cfg}
		identity := func(_ *model.Scope, x *graph.Node) *graph.Node { return x }
		out := s.forward(scope, xs[0], 0, identity)
		r := out.Routing
		loss := graph.MulScalar(out.Balance, c.hp("moe_loss_weight"))
		z := graph.MulScalar(out.Z, c.hp("moe_zloss_weight"))
		w := scope.Store().GetVariable("/router/w").NodeValue(xs[0].Graph())
		gl := graph.Gradient(loss, xs[0], w)
		gz := graph.Gradient(z, xs[0], w)
		return []*graph.Node{r.Clean, r.Probs, graph.Transpose(r.Gates, 0, 1), graph.Transpose(r.Index, 0, 1),
			r.Counts, z, loss, gl[0], graph.Transpose(gl[1], 0, 1), gz[0], graph.Transpose(gz[1], 0, 1)}
	}, x.tensor())
	for i, name := range []string{"logits", "scores", "expert_weights", "expert_indices", "tokens_per_expert", "zloss", "loss"} {
		near(t, c, name, c.Outputs[name].floats(), outs[i])
	}
	for i, name := range []string{"x", "router_weight", "x@zloss", "router_weight@zloss"} {
		near(t, c, "grad "+name, c.Grads[name].floats(), outs[7+i])
	}
}

func goldenTutel(t *testing.T, c *goldenCase) {
	logits := c.Inputs["logits"]
	cfg := Config{NumExperts: logits.Shape[1], TopK: int(c.hp("top_k")), Gate: GateSoftmaxTopK}.Defaults()
	outs := exec(t, nil, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		r := Route(xs[0], cfg, cfg.NumExperts)
		loss := BalanceLoss(r, BalanceFirst, false)
		return []*graph.Node{r.Probs, graph.Transpose(r.Index, 0, 1), loss, graph.Gradient(loss, xs[0])[0]}
	}, logits.tensor())
	near(t, c, "scores", c.Outputs["scores"].floats(), outs[0])
	near(t, c, "top_ids", c.Outputs["top_ids"].floats(), outs[1])
	near(t, c, "loss", c.Outputs["loss"].floats(), outs[2])
	near(t, c, "grad logits", c.Grads["logits"].floats(), outs[3])
}

func goldenMomentum(t *testing.T, c *goldenCase) {
	x := c.Inputs["x"]
	d := x.Shape[len(x.Shape)-1]
	vars := map[string]*tensors.Tensor{
		"/ln_a/layer_normalization/gain":   tensors.FromFlatDataAndDimensions(c.Inputs["ln_weight"].floats(), d),
		"/ln_a/layer_normalization/offset": tensors.FromFlatDataAndDimensions(c.Inputs["ln_bias"].floats(), d),
	}
	cfg := Config{Mu: c.hp("mu"), Gamma: c.hp("gamma2")}.Defaults()
	args := []any{x.tensor(), c.Inputs["p"].tensor(), c.Inputs["f"].tensor(), c.Inputs["R"].tensor(), c.Inputs["R2"].tensor()}
	for _, ref := range []bool{true, false} {
		cfg := cfg
		cfg.Reference = ref
		outs := exec(t, vars, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
			y, p := heavyBall(scope, xs[0], xs[1], xs[2], cfg)
			out := y
			if !ref { // Pre-LN: the block adds y to the residual stream: x - p_new.
				out = graph.Add(xs[0], y)
			}
			obj := graph.Add(graph.ReduceAllSum(graph.Mul(out, xs[3])), graph.ReduceAllSum(graph.Mul(p, xs[4])))
			return append([]*graph.Node{out, p, obj}, graph.Gradient(obj, xs[0], xs[1], xs[2])...)
		}, args...)
		suffix, gsuffix := "", ""
		if !ref {
			suffix, gsuffix = "_prelnorm", "@objective_prelnorm"
		}
		near(t, c, "output"+suffix, c.Outputs["output"+suffix].floats(), outs[0])
		near(t, c, "moment"+suffix, c.Outputs["moment"+suffix].floats(), outs[1])
		near(t, c, "objective"+suffix, c.Outputs["objective"+suffix].floats(), outs[2])
		for i, name := range []string{"x", "p", "f"} {
			near(t, c, "grad "+name+gsuffix, c.Grads[name+gsuffix].floats(), outs[3+i])
		}
	}
}

// goldenAdamStack runs AdamSMoE's update over the file's stacked post-LN blocks (official
// CustomizedMoEPositionwiseFFAdam inside TransformerSeqLayer, attention off) with the file's
// stand-in expert f_l(h) = tanh(h·W_l): the Adam step at the first AdamLayers (1) layers,
// heavy-ball after, each block h <- LN_b(h + LN_a(...)); checks the output, the final state
// and the gradients of objective = sum(output·R) + 0.5·sum(moment) w.r.t. x and every W_l.
func goldenAdamStack(t *testing.T, c *goldenCase) {
	x := c.Inputs["x"]
	d := x.Shape[len(x.Shape)-1]
	n := int(c.hp("layers"))
	require.Positive(t, n, "hyperparams.layers")
	vars := map[string]*tensors.Tensor{}
	args := []any{x.tensor(), c.Inputs["R"].tensor()}
	for l := range n {
		for _, ln := range []string{"ln_a", "ln_b"} {
			vars[fmt.Sprintf("/block%d/%s/layer_normalization/gain", l, ln)] = tensors.FromFlatDataAndDimensions(c.Inputs[fmt.Sprintf("%s%d_weight", ln, l)].floats(), d)
			vars[fmt.Sprintf("/block%d/%s/layer_normalization/offset", l, ln)] = tensors.FromFlatDataAndDimensions(c.Inputs[fmt.Sprintf("%s%d_bias", ln, l)].floats(), d)
		}
		args = append(args, c.Inputs[fmt.Sprintf("W%d", l)].tensor())
	}
	cfg := Config{Mu: c.hp("mu"), Gamma: c.hp("gamma2"), Gamma1: c.hp("gamma1"), Beta1: c.hp("beta1"), Beta2: c.hp("beta2"), Reference: true}.Defaults()
	require.Equal(t, 1, cfg.AdamLayers, "the official code takes the Adam step at layerth 0 only")
	outs := exec(t, vars, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		h := xs[0]
		p, m, v := graph.ZerosLike(h), graph.ZerosLike(h), graph.ZerosLike(h)
		for l := range n {
			s := scope.In("block%d", l)
			f := graph.Tanh(graph.Einsum("btd,de->bte", h, xs[2+l]))
			var y *graph.Node
			if l < cfg.AdamLayers {
				y, p, m, v = adamStep(s, h, p, m, v, f, cfg)
			} else {
				y, p = heavyBall(s, h, p, f, cfg)
			}
			h = norm.LayerNorm(s.In("ln_b"), graph.Add(h, y), -1).Epsilon(c.hp("layer_norm_eps")).Done()
		}
		obj := graph.Add(graph.ReduceAllSum(graph.Mul(h, xs[1])), graph.MulScalar(graph.ReduceAllSum(p), 0.5))
		wrt := append([]*graph.Node{xs[0]}, xs[2:]...)
		return append([]*graph.Node{h, m, v, p, obj}, graph.Gradient(obj, wrt...)...)
	}, args...)
	for i, name := range []string{"output", "adam_m", "adam_v", "moment", "objective"} {
		near(t, c, name, c.Outputs[name].floats(), outs[i])
	}
	near(t, c, "grad x", c.Grads["x"].floats(), outs[5])
	for l := range n {
		near(t, c, fmt.Sprintf("grad W%d", l), c.Grads[fmt.Sprintf("W%d", l)].floats(), outs[6+l])
	}
}

func TestMain(m *testing.M) {
	backend.ForTests()
	_ = backend.MustDefault() // Created (and its one-line notice printed) before any Example runs.
	os.Exit(m.Run())
}

// TestGoldenDetectsBadCases: a copy of a real case whose expected values are nudged beyond the
// tolerance, made null (NaN), or given one value more fails TestGolden (abs(got-want) > tol is
// false for NaN, and a loop over our values alone would miss the extra value).
func TestGoldenDetectsBadCases(t *testing.T) {
	var tutel golden.File
	for _, f := range golden.Select(t, "moe", recognizeMoEFile) {
		if f.Name == "switch_loss_tutel_s1" {
			tutel = f
		}
	}
	require.NotEmpty(t, tutel.Data, "switch_loss_tutel_s1.json not found")
	scores := func(doc map[string]any) []any {
		return doc["outputs"].(map[string]any)["scores"].(map[string]any)["values"].([]any)
	}
	for _, tc := range []struct {
		name string
		edit func(doc map[string]any)
		want string
	}{
		{"nudged", func(doc map[string]any) { s := scores(doc); s[3] = golden.Nudge(s[3], 1e-6) }, "scores[3]"},
		{"null", func(doc map[string]any) { scores(doc)[5] = nil }, "scores[5]"},
		{"one value more", func(doc map[string]any) {
			out := doc["outputs"].(map[string]any)["scores"].(map[string]any)
			out["values"] = append(scores(doc), json.Number("0.5"))
		}, "got 128 values, want 129"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden.RequireDetects(t, "TestGolden", "zz_tutel_"+strings.ReplaceAll(tc.name, " ", "_"), tutel.Data, golden.Edit(t, tutel.Data, tc.edit), tc.want)
		})
	}
}
