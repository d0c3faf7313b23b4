package optimizers_test

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/moeboost/moeboost/internal/golden"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/stretchr/testify/require"
)

// goldenCase is one optimizer golden file (see ../shared/golden/optimizers/README.md).
type goldenCase struct {
	Optimizer     string             `json:"optimizer"`
	Case          string             `json:"case"`
	Mode          string             `json:"mode"`
	Steps         int                `json:"steps"`
	DType         string             `json:"dtype"`
	Hyperparams   map[string]any     `json:"hyperparams"`
	Tolerance     map[string]float64 `json:"tolerance"`
	ParamsInitial []tensorSpec       `json:"params_initial"`
	Grads         [][][]float64      `json:"grads"`
	ParamsAfter   [][][]float64      `json:"params_after_each_step"`
	Quadratic     *struct {
		A [][]float64 `json:"A"`
		B [][]float64 `json:"b"`
	} `json:"quadratic"`
	ScaleInv *struct {
		Noise [][][]float64 `json:"noise"`
	} `json:"scaleinv"`
	Projectors []struct {
		Tensor         string    `json:"tensor"`
		ComputedAtStep int       `json:"computed_at_step"`
		Kind           string    `json:"kind"`
		Shape          []int     `json:"shape"`
		Values         []float64 `json:"values"`
	} `json:"projectors"`
	Inputs  [][]float64 `json:"inputs"`
	Targets [][]float64 `json:"targets"`
	Model   *struct {
		Batch       int   `json:"batch"`
		InputShape  []int `json:"input_shape"`
		TargetShape []int `json:"target_shape"`
	} `json:"model"`
}

// recognizeOptimizerFile: an optimizer case is a JSON object with "optimizer",
// "params_initial" and "params_after_each_step"; the StableMax vectors of the same directory
// ("function": "StableMax") belong to train/losses' test. See
// testdata/golden/optimizers/README.md.
func recognizeOptimizerFile(f golden.File) golden.Verdict {
	switch {
	case f.Has("optimizer", "params_initial", "params_after_each_step"):
		return golden.Mine
	case f.String("function") == "StableMax":
		return golden.Other
	}
	return golden.Unknown
}

// goldenModes are the gradient modes of the README; any other mode is an error, never a
// silent replay of the recorded gradients.
var goldenModes = map[string]bool{"fixed": true, "quadratic": true, "scaleinv": true, "model": true}

// decodeCase parses an optimizer golden file and checks that its parts agree in size.
func decodeCase(f golden.File) (*goldenCase, error) {
	var c goldenCase
	if err := f.Decode(&c); err != nil {
		return nil, err
	}
	switch {
	case !goldenModes[c.Mode]:
		return nil, fmt.Errorf("%s: mode %q; want fixed, quadratic, scaleinv or model", f.Path, c.Mode)
	case c.Steps < 1:
		return nil, fmt.Errorf("%s: steps=%d must be >= 1", f.Path, c.Steps)
	case len(c.ParamsAfter) != c.Steps:
		return nil, fmt.Errorf("%s: %d entries in params_after_each_step, want steps=%d", f.Path, len(c.ParamsAfter), c.Steps)
	case len(c.ParamsInitial) == 0:
		return nil, fmt.Errorf("%s: no params_initial", f.Path)
	case c.Mode == "fixed" && len(c.Grads) != c.Steps:
		return nil, fmt.Errorf("%s: %d entries in grads, want steps=%d", f.Path, len(c.Grads), c.Steps)
	case c.Mode == "quadratic" && (c.Quadratic == nil || len(c.Quadratic.A) != len(c.ParamsInitial) || len(c.Quadratic.B) != len(c.ParamsInitial)):
		return nil, fmt.Errorf("%s: quadratic mode needs quadratic.A and quadratic.b for each of the %d tensors", f.Path, len(c.ParamsInitial))
	case c.Mode == "scaleinv" && (c.ScaleInv == nil || len(c.ScaleInv.Noise) != c.Steps):
		return nil, fmt.Errorf("%s: scaleinv mode needs scaleinv.noise for each of the %d steps", f.Path, c.Steps)
	case c.Mode == "model" && (c.Model == nil || len(c.Inputs) != c.Steps || len(c.Targets) != c.Steps):
		return nil, fmt.Errorf("%s: model mode needs model and %d inputs and targets", f.Path, c.Steps)
	}
	for i, p := range c.ParamsInitial {
		size := 1
		for _, d := range p.Shape {
			size *= d
		}
		if p.Name == "" || size != len(p.Values) {
			return nil, fmt.Errorf("%s: params_initial[%d] %q has shape %v and %d values", f.Path, i, p.Name, p.Shape, len(p.Values))
		}
		if c.Mode == "quadratic" && (len(c.Quadratic.A[i]) != size || len(c.Quadratic.B[i]) != size) {
			return nil, fmt.Errorf("%s: quadratic A, b of %q have %d, %d values, want %d", f.Path, p.Name, len(c.Quadratic.A[i]), len(c.Quadratic.B[i]), size)
		}
	}
	for _, key := range []string{"rtol", "atol"} {
		if v, ok := c.Tolerance[key]; !ok || !(v >= 0) {
			return nil, fmt.Errorf("%s: tolerance %s missing or negative (%v)", f.Path, key, c.Tolerance)
		}
	}
	return &c, nil
}

// loadGoldenCases selects the optimizer golden files (own directories and MOEBOOST_GOLDEN_DIR)
// and decodes them by file name, for tests that pick cases by name.
func loadGoldenCases(t *testing.T) (files []golden.File, cases map[string]*goldenCase) {
	files = golden.Select(t, "optimizers", recognizeOptimizerFile)
	cases = map[string]*goldenCase{}
	for _, f := range files {
		c, err := decodeCase(f)
		require.NoError(t, err)
		cases[f.Name] = c
	}
	return files, cases
}

// TestGolden replays every optimizer golden file step by step: the recorded gradients (fixed),
// or ones recomputed at our parameters (quadratic, scaleinv), or MKOR's model; every element
// of every tensor is compared after every step.
func TestGolden(t *testing.T) {
	files := golden.Select(t, "optimizers", recognizeOptimizerFile)
	golden.Run(t, files, func(t *testing.T, f golden.File) {
		c, err := decodeCase(f)
		require.NoError(t, err)
		if c.Mode == "model" {
			runMKORGolden(t, c)
			return
		}
		optName, params, err := goldenOptimizer(c)
		require.NoError(t, err)
		if len(c.Projectors) > 0 {
			t.Run("injected_projectors", func(t *testing.T) {
				runGolden(t, c, optName, params, true, c.Tolerance["rtol"], c.Tolerance["atol"])
			})
			t.Run("own_svd", func(t *testing.T) {
				rtol, ok1 := c.Tolerance["rtol_own_svd"]
				atol, ok2 := c.Tolerance["atol_own_svd"]
				require.True(t, ok1 && ok2, "tolerance rtol_own_svd/atol_own_svd missing: %v", c.Tolerance)
				runGolden(t, c, optName, params, false, rtol, atol)
			})
			return
		}
		runGolden(t, c, optName, params, false, c.Tolerance["rtol"], c.Tolerance["atol"])
	})
}

func runGolden(t *testing.T, c *goldenCase, optName string, params map[string]any, inject bool, rtol, atol float64) {
	require.True(t, rtol > 0 || atol > 0, "tolerance missing")
	worst, err := replayGolden(t, c, optName, params, inject, rtol, atol)
	require.NoError(t, err)
	t.Logf("%d steps within tolerance (rtol %g, atol %g); worst error %.3g of the tolerance", c.Steps, rtol, atol, worst)
}

// replayGolden runs the case's steps with our optimizer and returns the worst error relative to
// the tolerance, or the first element outside it.
func replayGolden(t *testing.T, c *goldenCase, optName string, params map[string]any, inject bool, rtol, atol float64) (float64, error) {
	store := newStore(t, dtypes.Float64, c.ParamsInitial, params)
	opt, err := optimizers.New(store.RootScope(), optName)
	require.NoError(t, err)
	if inject {
		proj := map[string][]float64{}
		for _, p := range c.Projectors {
			require.Equal(t, 1, p.ComputedAtStep, "projector refreshed after step 1: cannot inject")
			proj["/"+p.Tensor] = p.Values
		}
		require.NoError(t, optimizers.InjectProjectors(opt, proj))
	}
	st := newStepper(t, store, opt, dtypes.Float64)
	worst := 0.0
	for step := range c.Steps {
		st.step(t, goldenGrads(c, step, st.values()))
		got := st.values()
		if err := diffStep(step, c.ParamsInitial, got, c.ParamsAfter[step], rtol, atol); err != nil {
			return worst, err
		}
		worst = math.Max(worst, worstRatio(got, c.ParamsAfter[step], rtol, atol))
	}
	return worst, nil
}

// goldenGrads returns the gradients of a step: recorded (fixed), or recomputed at our current
// parameters (quadratic: A⊙p + b; scaleinv: the noise minus its component along each output
// channel of p, for tensors with more than one axis).
func goldenGrads(c *goldenCase, step int, cur [][]float64) [][]float64 {
	switch c.Mode {
	case "quadratic":
		grads := make([][]float64, len(cur))
		for i, p := range cur {
			grads[i] = make([]float64, len(p))
			for j := range p {
				grads[i][j] = c.Quadratic.A[i][j]*p[j] + c.Quadratic.B[i][j]
			}
		}
		return grads
	case "scaleinv":
		grads := make([][]float64, len(cur))
		if len(c.ScaleInv.Noise[step]) != len(cur) {
			panic(fmt.Sprintf("scaleinv.noise[%d] has %d tensors, want %d", step, len(c.ScaleInv.Noise[step]), len(cur)))
		}
		for i, p := range cur {
			r := c.ScaleInv.Noise[step][i]
			grads[i] = append([]float64(nil), r...)
			if shape := c.ParamsInitial[i].Shape; len(shape) > 1 {
				rows, d := shape[0], len(p)/shape[0]
				for row := range rows {
					rp, pp := 0.0, 0.0
					for j := row * d; j < (row+1)*d; j++ {
						rp += r[j] * p[j]
						pp += p[j] * p[j]
					}
					for j := row * d; j < (row+1)*d; j++ {
						grads[i][j] = r[j] - rp/pp*p[j]
					}
				}
			}
		}
		return grads
	}
	return c.Grads[step]
}

func worstRatio(got, want [][]float64, rtol, atol float64) float64 {
	worst := 0.0
	for i := range min(len(got), len(want)) {
		worst = math.Max(worst, golden.Ratio(got[i], want[i], atol, rtol))
	}
	return worst
}

// compareStep checks every element of every tensor after a step and returns the largest
// |got − want|/(atol + rtol·|want|) ratio seen (≤ 1 passes).
func compareStep(t *testing.T, step int, specs []tensorSpec, got, want [][]float64, rtol, atol float64) float64 {
	t.Helper()
	if err := diffStep(step, specs, got, want, rtol, atol); err != nil {
		t.Fatal(err)
	}
	return worstRatio(got, want, rtol, atol)
}

// diffStep reports the first element outside |got − want| ≤ atol + rtol·|want| (golden.Compare:
// a NaN or a length mismatch fails too).
func diffStep(step int, specs []tensorSpec, got, want [][]float64, rtol, atol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("step %d: %d tensors, want %d", step+1, len(got), len(want))
	}
	for i := range want {
		if err := golden.Compare(fmt.Sprintf("step %d, tensor %q", step+1, specs[i].Name), got[i], want[i], atol, rtol); err != nil {
			return err
		}
	}
	return nil
}

// hp consumes the hyperparameters of a golden file; unknown leftovers are an error, so a case
// with a setting the port does not map is never silently run with a different one.
type hp struct {
	m    map[string]any
	used map[string]bool
	out  map[string]any
	err  error
}

func newHP(m map[string]any) *hp { return &hp{m: m, used: map[string]bool{}, out: map[string]any{}} }

func (h *hp) take(key string) (any, bool) {
	v, ok := h.m[key]
	h.used[key] = true
	return v, ok
}

// num maps a numeric (or null, as 0) hyperparameter to a store param.
func (h *hp) num(key, param string) {
	v, ok := h.take(key)
	if !ok {
		return
	}
	switch x := v.(type) {
	case nil:
		h.out[param] = 0.0
	case float64:
		h.out[param] = x
	default:
		h.err = fmt.Errorf("hyperparameter %s=%v is not a number", key, v)
	}
}

func (h *hp) integer(key, param string) {
	v, ok := h.take(key)
	if !ok {
		return
	}
	switch x := v.(type) {
	case nil:
		h.out[param] = 0
	case float64:
		h.out[param] = int(x)
	default:
		h.err = fmt.Errorf("hyperparameter %s=%v is not an integer", key, v)
	}
}

func (h *hp) boolean(key, param string) {
	if v, ok := h.take(key); ok {
		b, isBool := v.(bool)
		if !isBool {
			h.err = fmt.Errorf("hyperparameter %s=%v is not a bool", key, v)
		}
		h.out[param] = b
	}
}

func (h *hp) str(key, param string) {
	if v, ok := h.take(key); ok {
		h.out[param] = fmt.Sprint(v)
	}
}

// betas maps a betas list to beta1, beta2 (, beta3).
func (h *hp) betas() {
	v, ok := h.take("betas")
	if !ok {
		return
	}
	list, _ := v.([]any)
	for i, b := range list {
		h.out[[]string{optimizers.ParamBeta1, optimizers.ParamBeta2, optimizers.ParamBeta3}[i]] = b.(float64)
	}
}

// ignore accepts keys that do not change the arithmetic (e.g. Adan's foreach path).
func (h *hp) ignore(keys ...string) {
	for _, k := range keys {
		h.take(k)
	}
}

// require accepts a key only with the given value.
func (h *hp) require(key string, want any) {
	if v, ok := h.take(key); ok && v != want {
		h.err = fmt.Errorf("hyperparameter %s=%v is not supported (only %v)", key, v, want)
	}
}

func (h *hp) done() (map[string]any, error) {
	if h.err != nil {
		return nil, h.err
	}
	var unknown []string
	for k := range h.m {
		if !h.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unmapped hyperparameters %q", unknown)
	}
	return h.out, nil
}

// goldenOptimizer maps a golden file's optimizer and hyperparameters (named as in the official
// code) to a registered optimizer and store params. Every tensor is in the reference's single
// (decayed) param group, hence optimizer_decay_all.
func goldenOptimizer(c *goldenCase) (string, map[string]any, error) {
	h := newHP(c.Hyperparams)
	h.out[optimizers.ParamDecayAll] = true
	h.num("lr", optimizers.ParamLearningRate)
	h.num("weight_decay", optimizers.ParamWeightDecay)
	h.num("eps", optimizers.ParamEpsilon)
	h.betas()
	var name string
	switch c.Optimizer {
	case "AdamP", "SGDP":
		name = strings.ToLower(c.Optimizer)
		h.num("delta", "adamp_delta")
		h.num("wd_ratio", "adamp_wd_ratio")
		h.boolean("nesterov", optimizers.ParamNesterov)
		h.num("momentum", optimizers.ParamMomentum)
		h.num("dampening", optimizers.ParamDampening)
	case "Adan":
		name = "adan"
		h.num("max_grad_norm", "adan_max_grad_norm")
		h.boolean("no_prox", "adan_no_prox")
		h.ignore("foreach")
		h.require("fused", false)
	case "Lion":
		name = "lion"
	case "AdaBelief":
		name = "adabelief"
		h.boolean("amsgrad", optimizers.ParamAMSGrad)
		h.boolean("weight_decouple", "adabelief_weight_decouple")
		h.boolean("fixed_decay", "adabelief_fixed_decay")
		h.boolean("rectify", "adabelief_rectify")
		h.boolean("degenerated_to_sgd", "adabelief_degenerated_to_sgd")
		h.ignore("print_change_log")
	case "SPAM":
		name = "spam"
		h.boolean("correct_bias", "spam_correct_bias")
		h.integer("warmup_steps", "spam_warmup_steps")
		h.num("threshold", "spam_threshold")
		h.integer("DeltaT", "spam_delta_t")
		h.integer("grad_accu_steps", "spam_grad_accu_steps")
	case "StableSPAM":
		name = "stable_spam"
		h.boolean("amsgrad", optimizers.ParamAMSGrad)
		h.num("gamma1", "stable_spam_gamma1")
		h.num("gamma2", "stable_spam_gamma2")
		h.num("gamma3", "stable_spam_gamma3")
		h.integer("total_T", "stable_spam_total_t")
		h.num("eta_min", "stable_spam_eta_min")
		h.integer("update_proj_gap", "stable_spam_update_proj_gap")
	case "SGDSaI":
		name = "sgd_sai"
		h.num("momentum", optimizers.ParamMomentum)
	case "Fira":
		name = "fira"
		h.boolean("correct_bias", "fira_correct_bias")
		h.integer("rank", "fira_rank")
		h.integer("update_proj_gap", "fira_update_proj_gap")
		h.num("alpha", "fira_alpha")
		h.str("proj_type", "fira_proj_type")
	case "AdamW", "Adam", "SGD":
		// torch.optim's own optimizers, the reference for the adamw/sgd switches.
		base, err := torchBase(h, "torch.optim."+c.Optimizer)
		if err != nil {
			return "", nil, err
		}
		name = base
	case "PerpGrad":
		v, _ := h.take("base")
		base, err := torchBase(h, fmt.Sprint(v))
		if err != nil {
			return "", nil, fmt.Errorf("PerpGrad base: %w", err)
		}
		name = "perpgrad+" + base
	default:
		return "", nil, fmt.Errorf("golden optimizer %q has no moeboost mapping", c.Optimizer)
	}
	params, err := h.done()
	return name, params, err
}

// torchBase maps a torch.optim optimizer (or the official Lion) and its arguments to a
// registered optimizer name and store params.
func torchBase(h *hp, base string) (string, error) {
	switch base {
	case "torch.optim.SGD":
		// torch.optim.SGD's defaults where the file does not list them.
		h.out[optimizers.ParamMomentum], h.out[optimizers.ParamDampening] = 0.0, 0.0
		h.num("momentum", optimizers.ParamMomentum)
		h.num("dampening", optimizers.ParamDampening)
		h.boolean("nesterov", optimizers.ParamNesterov)
		return "sgd", nil
	case "torch.optim.AdamW", "torch.optim.Adam":
		if base == "torch.optim.Adam" {
			h.out[optimizers.ParamAdamL2] = true
			if _, ok := h.out[optimizers.ParamWeightDecay]; !ok {
				h.out[optimizers.ParamWeightDecay] = 0.0
			}
		}
		h.boolean("amsgrad", optimizers.ParamAMSGrad)
		return "adamw", nil
	case "lion_pytorch.Lion":
		return "lion", nil
	}
	return "", fmt.Errorf("base optimizer %q not supported", base)
}

// The golden comparison catches a wrong rule: the same cases with one hyperparameter slightly
// off (as a port bug would be) must fail within the 20 steps.
func TestGoldenDetectsWrongRules(t *testing.T) {
	_, cases := loadGoldenCases(t)
	mutations := []struct {
		file, param string
		value       any
	}{
		{"Lion_default_fixed", optimizers.ParamBeta2, 0.98},
		{"AdamP_wd_scaleinv", "adamp_wd_ratio", 0.2},
		{"SPAM_reset_fixed", "spam_delta_t", 9},
		{"StableSPAM_reset_fixed", "stable_spam_update_proj_gap", 9},
		{"AdaBelief_default_quadratic", optimizers.ParamEpsilon, 1e-10},
		{"Fira_default_fixed", "fira_alpha", 0.3},
		{"Adan_wd_fixed", "adan_no_prox", true},
		{"SGDP_wd_fixed", optimizers.ParamNesterov, true},
	}
	for _, m := range mutations {
		c, ok := cases[m.file]
		require.True(t, ok, "golden file %s.json not found", m.file)
		t.Run(m.file, func(t *testing.T) {
			name, params, err := goldenOptimizer(c)
			require.NoError(t, err)
			params[m.param] = m.value
			_, err = replayGolden(t, c, name, params, false, c.Tolerance["rtol"], c.Tolerance["atol"])
			require.Error(t, err, "%s=%v was not detected", m.param, m.value)
		})
	}
}

// A golden case whose expected values are nudged beyond the tolerance, or that has one value
// more than we compute, fails: the comparison is element by element with lengths compared
// (a loop over our values alone, or abs(got−want) > tol, would miss these).
func TestGoldenDetectsBadCases(t *testing.T) {
	files, _ := loadGoldenCases(t)
	var lion golden.File
	for _, f := range files {
		if f.Name == "Lion_default_fixed" {
			lion = f
		}
	}
	require.NotEmpty(t, lion.Data, "Lion_default_fixed.json not found")
	for _, tc := range []struct {
		name string
		edit func(doc map[string]any)
		want string
	}{
		{"nudged", func(doc map[string]any) {
			w := doc["params_after_each_step"].([]any)[5].([]any)[0].([]any)
			w[3] = golden.Nudge(w[3], 1e-6)
		}, `step 6, tensor "w"[3]`},
		{"one value more", func(doc map[string]any) {
			steps := doc["params_after_each_step"].([]any)
			b := steps[len(steps)-1].([]any)
			b[1] = append(b[1].([]any), json.Number("0.5"))
		}, "got 6 values, want 7"},
		{"one step more than steps", func(doc map[string]any) {
			steps := doc["params_after_each_step"].([]any)
			doc["params_after_each_step"] = append(steps, steps[len(steps)-1])
		}, "params_after_each_step, want steps=20"},
		{"unknown mode", func(doc map[string]any) { doc["mode"] = "fixd" }, `mode "fixd"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden.RequireDetects(t, "TestGolden", "zz_lion_"+strings.ReplaceAll(tc.name, " ", "_"), lion.Data, golden.Edit(t, lion.Data, tc.edit), tc.want)
		})
	}
}

func TestDiffStepStrict(t *testing.T) {
	specs := []tensorSpec{{Name: "w"}, {Name: "b"}}
	want := [][]float64{{1, 2}, {3}}
	for _, tc := range []struct {
		name string
		got  [][]float64
		fail string
	}{
		{"equal", [][]float64{{1, 2}, {3}}, ""},
		{"NaN", [][]float64{{1, math.NaN()}, {3}}, `tensor "w"[1]`},
		{"short tensor", [][]float64{{1}, {3}}, "got 1 values, want 2"},
		{"long tensor", [][]float64{{1, 2}, {3, 4}}, "got 2 values, want 1"},
		{"missing tensor", [][]float64{{1, 2}}, "1 tensors, want 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := diffStep(0, specs, tc.got, want, 1e-9, 1e-12)
			if tc.fail == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.fail)
		})
	}
}
