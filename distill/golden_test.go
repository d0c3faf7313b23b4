package distill_test

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/distill"
	"github.com/moeboost/moeboost/distill/imbalance"
	"github.com/moeboost/moeboost/internal/golden"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// The golden vectors (testdata/golden/distill, ../shared/golden/distill and every
// MOEBOOST_GOLDEN_DIR directory) were produced by the official code of each method (see the
// README there). Files are recognized
// by their content (reference repository and symbol), never by name; files of other kinds are
// skipped. Every hyperparameter is read from the file.

type goldenTensor struct {
	Shape  []int             `json:"shape"`
	Values []json.RawMessage `json:"values"`
	DType  string            `json:"dtype"`
}

type goldenFile struct {
	Function  string `json:"function"`
	Reference struct {
		Repo, File, Commit, Symbol string
	} `json:"reference"`
	Hyperparams map[string]any `json:"hyperparams"`
	Tolerance   struct {
		Rtol float64 `json:"rtol"`
		Atol float64 `json:"atol"`
	} `json:"tolerance"`
	Inputs  map[string]goldenTensor `json:"inputs"`
	Outputs map[string]goldenTensor `json:"outputs"`
	Grads   map[string]goldenTensor `json:"grads"`
}

func (t goldenTensor) floats() []float64 {
	out := make([]float64, len(t.Values))
	for i, v := range t.Values {
		s := string(v)
		switch s {
		case "true":
			out[i] = 1
		case "false":
			out[i] = 0
		default:
			f, err := jsonFloat(v)
			if err != nil {
				panic(err)
			}
			out[i] = f
		}
	}
	return out
}

func jsonFloat(v json.RawMessage) (float64, error) {
	var f float64
	if err := json.Unmarshal(v, &f); err == nil {
		return f, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return 0, err
	}
	switch strings.ToLower(s) {
	case "nan":
		return math.NaN(), nil
	case "inf", "infinity":
		return math.Inf(1), nil
	case "-inf", "-infinity":
		return math.Inf(-1), nil
	}
	return 0, fmt.Errorf("bad number %q", s)
}

func (t goldenTensor) tensor() *tensors.Tensor {
	vals := t.floats()
	dims := t.Shape
	switch t.DType {
	case "int64", "int32":
		is := make([]int32, len(vals))
		for i, v := range vals {
			is[i] = int32(v)
		}
		return tensors.FromFlatDataAndDimensions(is, dims...)
	case "bool":
		bs := make([]bool, len(vals))
		for i, v := range vals {
			bs[i] = v != 0
		}
		return tensors.FromFlatDataAndDimensions(bs, dims...)
	}
	return tensors.FromFlatDataAndDimensions(vals, dims...)
}

// computation is a golden case turned into a graph: the inputs it feeds (by name), the
// outputs and intermediates it builds.
type computation struct {
	inputs []string
	build  func(in map[string]*Node) (outs map[string]*Node, intermediates map[string]*Node)
}

func hpFloat(t *testing.T, f *goldenFile, key string) float64 {
	t.Helper()
	v, ok := f.Hyperparams[key]
	require.True(t, ok, "hyperparameter %q missing", key)
	x, ok := v.(float64)
	require.True(t, ok, "hyperparameter %q = %v is not a number", key, v)
	return x
}

func hpFloatOr(f *goldenFile, key string, def float64) float64 {
	if v, ok := f.Hyperparams[key].(float64); ok {
		return v
	}
	return def
}

func hpBool(f *goldenFile, key string, def bool) bool {
	if v, ok := f.Hyperparams[key].(bool); ok {
		return v
	}
	return def
}

func hpString(f *goldenFile, key, def string) string {
	if v, ok := f.Hyperparams[key].(string); ok {
		return v
	}
	return def
}

func hasInput(f *goldenFile, name string) bool { _, ok := f.Inputs[name]; return ok }

// kindOf recognizes a distill golden file by its content (reference repository and symbol,
// as listed in testdata/golden/distill/README.md); "" means not a distill file.
func kindOf(f *goldenFile) string {
	sym, repo := f.Reference.Symbol, f.Reference.Repo
	switch {
	case repo == "yoshitomo-matsubara/torchdistill" && sym == "KDLoss":
		return "kd"
	case sym == "kd_loss" && strings.Contains(repo, "logit-standardization-KD"):
		return "lskd"
	case sym == "DIST" && (strings.Contains(repo, "image_classification_sota") || strings.Contains(repo, "DIST_KD")):
		return "dist"
	case sym == "dkd_loss" && strings.Contains(repo, "mdistiller"):
		return "dkd"
	case sym == "dkd_loss" && strings.Contains(repo, "MDCS"):
		return "dkd_mdcs"
	case sym == "MDCSLoss":
		return "mdcs"
	case strings.Contains(sym, "Custom_CrossEntropy_PSKD"):
		return "pskd"
	case sym == "DiceLoss":
		return "dice"
	case strings.HasPrefix(sym, "interpolated_lower_bound"):
		return "mi_alpha"
	case sym == "tuba_lower_bound":
		return "tuba"
	case sym == "nwj_lower_bound":
		return "nwj"
	case sym == "infonce_lower_bound":
		return "infonce"
	case sym == "RKDLoss":
		return "rkd"
	case sym == "PKTLoss":
		return "pkt"
	case sym == "ATLoss":
		return "at"
	case strings.Contains(sym, "ConvReg"):
		return "fitnet"
	}
	return ""
}

// classify returns the computation of a recognized golden file.
func classify(t *testing.T, f *goldenFile) *computation {
	switch kindOf(f) {
	case "kd":
		return kdCase(t, f)
	case "lskd":
		return lskdCase(t, f)
	case "dist":
		return distCase(t, f)
	case "dkd":
		return dkdCase(t, f, "mdistiller")
	case "dkd_mdcs":
		return dkdCase(t, f, "mdcs")
	case "mdcs":
		return mdcsCase(t, f)
	case "pskd":
		return pskdCase(t, f)
	case "dice":
		return diceCase(t, f)
	case "mi_alpha":
		return miAlphaCase(t, f)
	case "tuba":
		return tubaCase(f)
	case "nwj":
		return &computation{inputs: []string{"scores"}, build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
			return map[string]*Node{"bound": distill.NWJBound(in["scores"])}, nil
		}}
	case "infonce":
		return &computation{inputs: []string{"scores"}, build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
			return map[string]*Node{"bound": distill.InfoNCEBound(in["scores"])}, nil
		}}
	case "rkd":
		return rkdCase(t, f)
	case "pkt":
		return pktCase(t, f)
	case "at":
		return atCase(t, f)
	case "fitnet":
		return fitnetCase(t, f)
	}
	t.Fatalf("no computation for %s %s", f.Reference.Repo, f.Reference.Symbol)
	return nil
}

// inputNamed returns the first of names that the file has as an input.
func inputNamed(t *testing.T, f *goldenFile, names ...string) string {
	t.Helper()
	for _, n := range names {
		if hasInput(f, n) {
			return n
		}
	}
	t.Fatalf("the file has none of the inputs %q", names)
	return ""
}

// lskdCase: mdistiller's kd_loss with logit standardization (Sun et al.'s code), KD here with
// Standardize. With ce_loss_weight and kd_loss_weight (KD.forward_train's weights) "loss" is
// the weighted total (Alpha = kd_loss_weight, HardWeight = ce_loss_weight), "loss_ce" and
// "loss_kd" its terms; without them "loss" is kd_loss itself. "kd_loss" is always the
// unweighted kd_loss (T² applied).
func lskdCase(t *testing.T, f *goldenFile) *computation {
	temp := hpFloat(t, f, "temperature")
	stand, ok := f.Hyperparams["logit_stand"].(bool)
	require.True(t, ok, "hyperparameter logit_stand missing or not a bool")
	_, weighted := f.Hyperparams["kd_loss_weight"]
	ceW, kdW := 0.0, 1.0
	if weighted {
		ceW, kdW = hpFloat(t, f, "ce_loss_weight"), hpFloat(t, f, "kd_loss_weight")
	}
	k, err := distill.NewKD(distill.KDConfig{Temperature: temp, Alpha: distill.Float(kdW), HardWeight: distill.Float(ceW), Standardize: stand})
	require.NoError(t, err)
	sName := inputNamed(t, f, "logits_student", "logits_student_in")
	tName := inputNamed(t, f, "logits_teacher", "logits_teacher_in")
	inputs := []string{sName, tName}
	if weighted {
		inputs = append(inputs, inputNamed(t, f, "target"))
	}
	return &computation{inputs: inputs, build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
		s, tl := in[sName], StopGradient(in[tName])
		if !weighted {
			_, soft := k.Parts(s, tl, nil)
			kdLoss := MulScalar(soft, temp*temp)
			// Compute without labels is torchdistill's soft-only branch (no T²); kd_loss has T².
			return map[string]*Node{"loss": kdLoss, "kd_loss": kdLoss}, nil
		}
		y := in["target"]
		hard, soft := k.Parts(s, tl, y)
		kdLoss := MulScalar(soft, temp*temp)
		return map[string]*Node{"loss": k.Compute(s, tl, y), "loss_ce": MulScalar(hard, ceW), "loss_kd": MulScalar(kdLoss, kdW), "kd_loss": kdLoss}, nil
	}}
}

// distCase: DIST (hunto's classification code; its segmentation copy in hunto/DIST_KD has no
// τ, i.e. τ = 1, and flattens [N, C, H, W] inputs as transpose(1, 3).reshape(-1, C)), with β, γ,
// τ from the file; inter_loss and intra_loss carry τ² as the official forward returns them.
func distCase(t *testing.T, f *goldenFile) *computation {
	beta, gamma, tau := hpFloat(t, f, "beta"), hpFloat(t, f, "gamma"), hpFloatOr(f, "tau", 1)
	d, err := distill.NewDIST(distill.DISTConfig{Beta: beta, Gamma: gamma, Tau: tau})
	require.NoError(t, err)
	sName := inputNamed(t, f, "z_s", "y_s", "logits_student", "student_logits")
	tName := inputNamed(t, f, "z_t", "y_t", "logits_teacher", "teacher_logits")
	return &computation{inputs: []string{sName, tName}, build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
		s, tl := in[sName], StopGradient(in[tName])
		if s.Rank() == 4 { // [N, C, H, W] -> [N·W·H, C], the official order
			c := s.Shape().Dimensions[1]
			s, tl = Reshape(Transpose(s, 1, 3), -1, c), Reshape(Transpose(tl, 1, 3), -1, c)
		}
		inter, intra := d.Parts(s, tl)
		inter, intra = MulScalar(inter, tau*tau), MulScalar(intra, tau*tau)
		loss := d.Compute(s, tl)
		if beta == 0 || gamma == 0 { // the Config reads 0 as the default 1: weigh the parts here
			loss = Add(MulScalar(inter, beta), MulScalar(intra, gamma))
		}
		return map[string]*Node{"loss": loss, "inter_loss": inter, "intra_loss": intra}, nil
	}}
}

func kdCase(t *testing.T, f *goldenFile) *computation {
	temp := hpFloat(t, f, "temperature")
	red := hpString(f, "reduction", "batchmean")
	alphaTD, alphaSet := f.Hyperparams["alpha"].(float64)
	var beta float64
	if b, ok := f.Hyperparams["beta"].(float64); ok {
		beta = b
	} else {
		require.True(t, alphaSet, "torchdistill raises when alpha and beta are both None")
		beta = 1 - alphaTD
	}
	softOnlyMain := !alphaSet || alphaTD == 0
	main, err := distill.NewKD(distill.KDConfig{Temperature: temp, Alpha: distill.Float(beta), HardWeight: distill.Float(alphaTD), SoftOnly: softOnlyMain, Reduction: red})
	require.NoError(t, err)
	soft, err := distill.NewKD(distill.KDConfig{Temperature: temp, SoftOnly: true, Reduction: red})
	require.NoError(t, err)
	return &computation{inputs: []string{"student_logits", "teacher_logits", "targets"}, build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
		s, tl, y := in["student_logits"], StopGradient(in["teacher_logits"]), in["targets"]
		hard, _ := main.Parts(s, tl, y)
		return map[string]*Node{"loss": main.Compute(s, tl, y), "hard_loss_ce": hard, "loss_soft_only": soft.Compute(s, tl, nil)}, nil
	}}
}

func dkdCase(t *testing.T, f *goldenFile, variant string) *computation {
	d, err := distill.NewDKD(distill.DKDConfig{Alpha: hpFloat(t, f, "alpha"), Beta: hpFloat(t, f, "beta"), Temperature: hpFloat(t, f, "temperature"), Variant: variant})
	require.NoError(t, err)
	alpha, beta := hpFloat(t, f, "alpha"), hpFloat(t, f, "beta")
	return &computation{inputs: []string{"logits_student", "logits_teacher", "target"}, build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
		s, tl, y := in["logits_student"], StopGradient(in["logits_teacher"]), in["target"]
		tckd, nckd := d.Parts(s, tl, y)
		// α and β are read from the file (0 is meaningful here: the tckd/nckd-only calls).
		loss := Add(MulScalar(tckd, alpha), MulScalar(nckd, beta))
		return map[string]*Node{"loss": loss, "tckd_loss": tckd, "nckd_loss": nckd}, nil
	}}
}

func mdcsCase(t *testing.T, f *goldenFile) *computation {
	var counts []float64
	for _, v := range f.Hyperparams["cls_num_list"].([]any) {
		counts = append(counts, v.(float64))
	}
	hc, _ := f.Hyperparams["hard_coded"].(map[string]any)
	var ex []float64
	for _, v := range hc["prior_exponents"].([]any) {
		ex = append(ex, v.(float64))
	}
	cfg := distill.MDCSConfig{ClassCounts: counts, Exponents: ex, KLWeight: hc["kl_weight"].(float64),
		WarmupEpochs: hc["warmup"].(float64), Temperature: hc["temperature"].(float64), LogEps: hc["log_eps"].(float64)}
	m, err := distill.NewMDCS(cfg)
	require.NoError(t, err)
	epoch := hpFloat(t, f, "epoch")
	var names []string
	for k := 1; hasInput(f, fmt.Sprintf("expert%d_logits", k)); k++ {
		names = append(names, fmt.Sprintf("expert%d_logits", k))
	}
	require.Len(t, names, len(ex))
	return &computation{inputs: append(append([]string(nil), names...), "target"), build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
		experts := make([]*Node, len(names))
		for i, n := range names {
			experts[i] = in[n]
		}
		g := experts[0].Graph()
		total, _, _, masks := m.Compute(experts, in["target"], Scalar(g, dtypes.Float64, epoch))
		total0, _, _, _ := m.Compute(experts, in["target"], ScalarZero(g, dtypes.Float64))
		outs := map[string]*Node{"loss": total, "loss_epoch0": total0}
		for k, mk := range masks {
			outs[fmt.Sprintf("cis_mask_expert%d", k+1)] = mk
		}
		return outs, nil
	}}
}

func pskdCase(t *testing.T, f *goldenFile) *computation {
	p, err := distill.NewPSKD(distill.PSKDConfig{AlphaT: hpFloat(t, f, "alpha_T"), Epochs: int(hpFloat(t, f, "end_epoch"))})
	require.NoError(t, err)
	epochT := hpFloat(t, f, "epoch_t")
	return &computation{
		inputs: []string{"all_predictions_initial", "input_indices_epoch0", "labels_epoch0", "logits_epoch0", "input_indices_epoch_t", "labels_epoch_t", "logits_epoch_t"},
		build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
			g := in["logits_epoch0"].Graph()
			mem := in["all_predictions_initial"]
			e0 := ScalarZero(g, dtypes.Float64)
			t0, l0, mem0 := distill.PSKDStep(mem, in["input_indices_epoch0"], in["labels_epoch0"], in["logits_epoch0"], p.Alpha(e0), Const(g, true))
			et := Scalar(g, dtypes.Float64, epochT)
			tt, lt, memT := distill.PSKDStep(mem0, in["input_indices_epoch_t"], in["labels_epoch_t"], in["logits_epoch_t"], p.Alpha(et), Const(g, epochT == 0))
			return map[string]*Node{"soft_targets_epoch0": t0, "loss_epoch0": l0, "all_predictions_after_epoch0": mem0,
				"soft_targets_epoch_t": tt, "loss_epoch_t": lt, "all_predictions_after_epoch_t": memT}, nil
		}}
}

func diceCase(t *testing.T, f *goldenFile) *computation {
	den := "batch"
	if hpBool(f, "square_denominator", false) {
		den = "square"
	}
	cfg := imbalance.DiceConfig{Smooth: imbalance.Float(hpFloat(t, f, "smooth")), Alpha: imbalance.Float(hpFloat(t, f, "alpha")),
		Denominator: den, OHEMRatio: hpFloatOr(f, "ohem_ratio", 0), Reduction: hpString(f, "reduction", "mean"),
		Probabilities: !hpBool(f, "with_logits", true)}
	d, err := imbalance.NewDice(cfg)
	require.NoError(t, err)
	cfg.Reduction = "none"
	perSample, err := imbalance.NewDice(cfg)
	require.NoError(t, err)
	return &computation{inputs: []string{"input", "target"}, build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
		return map[string]*Node{"loss": d.Compute(in["input"], in["target"]), "per_sample": perSample.Compute(in["input"], in["target"])}, nil
	}}
}

func miAlphaCase(t *testing.T, f *goldenFile) *computation {
	logit := hpFloatOr(f, "alpha_logit", math.NaN())
	if math.IsNaN(logit) {
		logit = distill.AlphaLogit(hpFloat(t, f, "alpha"))
	}
	return &computation{inputs: []string{"scores", "log_baseline"}, build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
		b := distill.InterpolatedBound(in["scores"], in["log_baseline"], logit)
		return map[string]*Node{"bound": b, "loss": Neg(b)}, nil
	}}
}

func tubaCase(f *goldenFile) *computation {
	withBase := hasInput(f, "log_baseline")
	in := []string{"scores"}
	if withBase {
		in = append(in, "log_baseline")
	}
	return &computation{inputs: in, build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
		return map[string]*Node{"bound": distill.TUBABound(in["scores"], in["log_baseline"])}, nil
	}}
}

func rkdCase(t *testing.T, f *goldenFile) *computation {
	r, err := distill.NewRKD(distill.RKDConfig{StudentTap: "s", TeacherTap: "t", DistFactor: distill.Float(hpFloat(t, f, "dist_factor")),
		AngleFactor: distill.Float(hpFloat(t, f, "angle_factor")), Reduction: hpString(f, "reduction", "mean")})
	require.NoError(t, err)
	return &computation{inputs: []string{"student_output", "teacher_output"}, build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
		d, a := r.Parts(in["student_output"], in["teacher_output"])
		return map[string]*Node{"loss": r.Compute(in["student_output"], in["teacher_output"]), "rkd_distance_loss": d, "rkd_angle_loss": a}, nil
	}}
}

func pktCase(t *testing.T, f *goldenFile) *computation {
	p, err := distill.NewPKT(distill.PKTConfig{StudentTap: "s", TeacherTap: "t", Eps: hpFloat(t, f, "eps")})
	require.NoError(t, err)
	var sName, tName string
	for n := range f.Inputs {
		if strings.HasPrefix(n, "student") {
			sName = n
		} else if strings.HasPrefix(n, "teacher") {
			tName = n
		}
	}
	return &computation{inputs: []string{sName, tName}, build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
		return map[string]*Node{"loss": p.Compute(in[sName], in[tName])}, nil
	}}
}

func atCase(t *testing.T, f *goldenFile) *computation {
	pairs, _ := f.Hyperparams["at_pairs"].(map[string]any)
	require.NotEmpty(t, pairs)
	names := sortedKeys(pairs)
	var cfgPairs []distill.ATPair
	var inputs []string
	for _, n := range names {
		w := 1.0
		if m, ok := pairs[n].(map[string]any); ok {
			if x, ok := m["weight"].(float64); ok {
				w = x
			}
		}
		cfgPairs = append(cfgPairs, distill.ATPair{StudentTap: "student_" + n, TeacherTap: "teacher_" + n, Weight: w})
		inputs = append(inputs, "student_"+n, "teacher_"+n)
	}
	a, err := distill.NewAT(distill.ATConfig{Pairs: cfgPairs, Mode: hpString(f, "mode", "code")})
	require.NoError(t, err)
	return &computation{inputs: inputs, build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
		var total *Node
		for _, p := range cfgPairs {
			l := MulScalar(a.PairLoss(in[p.StudentTap], StopGradient(in[p.TeacherTap])), p.Weight)
			if total == nil {
				total = l
			} else {
				total = Add(total, l)
			}
		}
		return map[string]*Node{"loss": total}, nil
	}}
}

func fitnetCase(t *testing.T, f *goldenFile) *computation {
	k := int(hpFloat(t, f, "kernel_size"))
	stride, pad := int(hpFloat(t, f, "stride")), int(hpFloat(t, f, "padding"))
	require.Equal(t, []int{int(hpFloat(t, f, "num_output_channels")), int(hpFloat(t, f, "num_input_channels")), k, k}, f.Inputs["convreg.conv.weight"].Shape)
	relu := hpBool(f, "uses_relu", true)
	red := hpString(f, "mse_reduction", "mean")
	return &computation{
		inputs: []string{"student_feature", "teacher_feature", "convreg.conv.weight", "convreg.conv.bias", "convreg.bn.weight", "convreg.bn.bias"},
		build: func(in map[string]*Node) (map[string]*Node, map[string]*Node) {
			r := distill.ConvReg(in["student_feature"], in["convreg.conv.weight"], in["convreg.conv.bias"], in["convreg.bn.weight"], in["convreg.bn.bias"], stride, pad, relu)
			loss := distill.SquaredError(r, StopGradient(in["teacher_feature"]), red)
			return map[string]*Node{"loss": loss, "regressor_output": r}, map[string]*Node{"regressor_output": r}
		}}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// runGolden evaluates one file: every output and every gradient is compared element-wise with
// |got − want| ≤ atol + rtol·|want|.
func runGolden(t *testing.T, f *goldenFile, c *computation) {
	b := backend.MustDefault()
	// The main scalar: "loss", else "bound"; files with several independent losses (PS-KD's
	// two phases, whose memory carries no gradient) use the sum of their "loss*" outputs.
	mainOut := "loss"
	if _, ok := f.Outputs["loss"]; !ok {
		if _, ok := f.Outputs["bound"]; ok {
			mainOut = "bound"
		} else {
			mainOut = "loss_sum"
		}
	}
	gradKeys := sortedKeys(f.Grads)
	outKeys := sortedKeys(f.Outputs)
	store := model.NewStore()
	exec, err := model.NewExec(b, store, func(scope *model.Scope, xs []*Node) []*Node {
		in := map[string]*Node{}
		for i, n := range c.inputs {
			in[n] = xs[i]
		}
		outs, inter := c.build(in)
		if _, ok := outs[mainOut]; !ok && mainOut == "loss_sum" {
			var sum *Node
			for _, k := range sortedKeys(outs) {
				if strings.HasPrefix(k, "loss") && outs[k].IsScalar() {
					if sum == nil {
						sum = outs[k]
					} else {
						sum = Add(sum, outs[k])
					}
				}
			}
			outs[mainOut] = sum
		}
		var res []*Node
		for _, k := range outKeys {
			o, ok := outs[k]
			if !ok {
				panic(fmt.Errorf("case builds no output %q", k))
			}
			res = append(res, o)
		}
		for _, k := range gradKeys {
			target, of, _ := strings.Cut(k, "@")
			if of == "" {
				of = mainOut
			}
			var wrt *Node
			if n, ok := in[target]; ok {
				wrt = n
			} else if n, ok := inter[target]; ok {
				wrt = n
			} else {
				panic(fmt.Errorf("gradient w.r.t. unknown tensor %q", target))
			}
			res = append(res, Gradient(outs[of], wrt)[0])
		}
		return res
	})
	require.NoError(t, err)
	defer exec.Finalize()
	args := make([]any, len(c.inputs))
	for i, n := range c.inputs {
		gt, ok := f.Inputs[n]
		require.True(t, ok, "input %q missing", n)
		args[i] = gt.tensor()
	}
	got, err := exec.Call(args...)
	require.NoError(t, err)
	tol := f.Tolerance
	if tol.Rtol == 0 && tol.Atol == 0 {
		tol.Rtol, tol.Atol = 1e-9, 1e-12
	}
	check := func(what string, want goldenTensor, gotT *tensors.Tensor) {
		require.Equal(t, fmt.Sprint(want.Shape), fmt.Sprint(gotT.Shape().Dimensions), "%s: shape", what)
		var g []float64
		switch gotT.DType() {
		case dtypes.Bool:
			for _, v := range tensors.MustCopyFlatData[bool](gotT) {
				g = append(g, map[bool]float64{false: 0, true: 1}[v])
			}
		case dtypes.Float64:
			g = tensors.MustCopyFlatData[float64](gotT)
		default:
			require.Failf(t, "unexpected dtype", "%s: %s", what, gotT.DType())
		}
		golden.RequireClose(t, what, g, want.floats(), tol.Atol, tol.Rtol)
	}
	for i, k := range outKeys {
		check("output "+k, f.Outputs[k], got[i])
	}
	for i, k := range gradKeys {
		check("grad "+k, f.Grads[k], got[len(outKeys)+i])
	}
}

// recognizeDistill: a distill golden file is a JSON object with "reference" and "inputs"
// whose reference names a method this package implements (kindOf).
func recognizeDistill(f golden.File) golden.Verdict {
	if !f.Has("reference", "inputs") {
		return golden.Unknown
	}
	var g goldenFile
	if f.Decode(&g) != nil || kindOf(&g) == "" {
		return golden.Unknown
	}
	return golden.Mine
}

// TestGolden runs every distill golden file (testdata/golden/distill, ../shared/golden/distill
// and MOEBOOST_GOLDEN_DIR): every output and every gradient is compared element by element.
func TestGolden(t *testing.T) {
	files := golden.Select(t, "distill", recognizeDistill)
	kinds := map[string]int{}
	golden.Run(t, files, func(t *testing.T, gf golden.File) {
		var f goldenFile
		require.NoError(t, gf.Decode(&f))
		require.NotEmpty(t, f.Outputs, "no outputs")
		c := classify(t, &f)
		runGolden(t, &f, c)
		kinds[kindOf(&f)]++
	})
	t.Logf("golden cases by kind: %v", kinds)
}

// Every method the README lists as golden has cases in the own directories, LSKD, DIST and
// InfoNCE included.
func TestGoldenCoversMethods(t *testing.T) {
	kinds := map[string]int{}
	for _, gf := range golden.Select(t, "distill", recognizeDistill) {
		if !gf.Own {
			continue
		}
		var f goldenFile
		require.NoError(t, gf.Decode(&f))
		kinds[kindOf(&f)]++
	}
	for _, k := range []string{"kd", "lskd", "dist", "dkd", "dkd_mdcs", "mdcs", "pskd", "dice", "mi_alpha", "tuba", "nwj", "infonce", "rkd", "pkt", "at", "fitnet"} {
		require.Positive(t, kinds[k], "no golden case of %s in %v", k, golden.OwnDirs("distill"))
	}
}

// A distill case with a NaN input, a nudged output, a gradient with one value more or a
// missing output fails.
func TestGoldenDetectsBadCases(t *testing.T) {
	byName := map[string][]byte{}
	for _, f := range golden.Select(t, "distill", recognizeDistill) {
		byName[f.Name] = f.Data
	}
	tensor := func(doc map[string]any, part, name string) map[string]any {
		return doc[part].(map[string]any)[name].(map[string]any)
	}
	for _, tc := range []struct {
		name, file string
		edit       func(doc map[string]any)
		want       string
	}{
		{"NaN input", "lskd_s1", func(doc map[string]any) {
			tensor(doc, "inputs", "logits_student")["values"].([]any)[3] = "nan"
		}, "NaN"},
		{"nudged output", "dist_s1", func(doc map[string]any) {
			v := tensor(doc, "outputs", "intra_loss")["values"].([]any)
			v[0] = golden.Nudge(v[0], 1e-7)
		}, "output intra_loss[0]"},
		{"one gradient value more", "distiller_infonce_s1", func(doc map[string]any) {
			g := tensor(doc, "grads", "scores")
			g["values"] = append(g["values"].([]any), json.Number("0"))
		}, "grad scores"},
		{"unknown output", "kd_torchdistill_s1", func(doc map[string]any) {
			doc["outputs"].(map[string]any)["loss_extra"] = tensor(doc, "outputs", "loss")
		}, "loss_extra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, ok := byName[tc.file]
			require.True(t, ok, "%s.json not found", tc.file)
			golden.RequireDetects(t, "TestGolden", "zz_distill_"+strings.ReplaceAll(tc.name, " ", "_"), data, golden.Edit(t, data, tc.edit), tc.want)
		})
	}
}
