package optimizers_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
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

// loadGoldenCases reads every JSON file of the directories and keeps those that are optimizer
// cases by content (an "optimizer" name, initial params, and per-step params); other files
// (StableMax's function values, READMEs) are skipped.
func loadGoldenCases(t *testing.T) (names []string, cases map[string]*goldenCase) {
	cases = map[string]*goldenCase{}
	for _, dir := range goldenDirs(t, "optimizers") {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		require.NoError(t, err)
		for _, f := range files {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			var probe map[string]json.RawMessage
			if json.Unmarshal(raw, &probe) != nil {
				continue
			}
			_, hasOpt := probe["optimizer"]
			_, hasInit := probe["params_initial"]
			_, hasAfter := probe["params_after_each_step"]
			if !hasOpt || !hasInit || !hasAfter {
				continue
			}
			var c goldenCase
			require.NoError(t, json.Unmarshal(raw, &c), f)
			name := strings.TrimSuffix(filepath.Base(f), ".json")
			if _, dup := cases[name]; dup {
				name = filepath.Base(dir) + "_" + name
			}
			cases[name] = &c
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, cases
}

func TestGolden(t *testing.T) {
	names, cases := loadGoldenCases(t)
	require.NotEmpty(t, names, "no optimizer golden files found in %v", goldenDirs(t, "optimizers"))
	for _, name := range names {
		c := cases[name]
		t.Run(name, func(t *testing.T) {
			require.Len(t, c.ParamsAfter, c.Steps)
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
					runGolden(t, c, optName, params, false, c.Tolerance["rtol_own_svd"], c.Tolerance["atol_own_svd"])
				})
				return
			}
			runGolden(t, c, optName, params, false, c.Tolerance["rtol"], c.Tolerance["atol"])
		})
	}
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
	for i := range want {
		for j := range want[i] {
			worst = math.Max(worst, math.Abs(got[i][j]-want[i][j])/(atol+rtol*math.Abs(want[i][j])))
		}
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

// diffStep reports the first element outside |got − want| ≤ atol + rtol·|want|.
func diffStep(step int, specs []tensorSpec, got, want [][]float64, rtol, atol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("step %d: %d tensors, want %d", step+1, len(got), len(want))
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			return fmt.Errorf("step %d, tensor %q: %d values, want %d", step+1, specs[i].Name, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			d := math.Abs(got[i][j] - want[i][j])
			if !(d <= atol+rtol*math.Abs(want[i][j])) {
				return fmt.Errorf("step %d, tensor %q[%d]: got %.17g, want %.17g (|diff| %.3g > atol %g + rtol %g·|want|)",
					step+1, specs[i].Name, j, got[i][j], want[i][j], d, atol, rtol)
			}
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
	case "PerpGrad":
		v, _ := h.take("base")
		switch v {
		case "torch.optim.SGD":
			name = "perpgrad+sgd"
			// torch.optim.SGD's defaults where the file does not list them.
			h.out[optimizers.ParamMomentum], h.out[optimizers.ParamDampening] = 0.0, 0.0
			h.num("momentum", optimizers.ParamMomentum)
			h.num("dampening", optimizers.ParamDampening)
			h.boolean("nesterov", optimizers.ParamNesterov)
		case "torch.optim.AdamW", "torch.optim.Adam":
			name = "perpgrad+adamw"
			if v == "torch.optim.Adam" {
				h.out[optimizers.ParamAdamL2] = true
				if _, ok := h.out[optimizers.ParamWeightDecay]; !ok {
					h.out[optimizers.ParamWeightDecay] = 0.0
				}
			}
			h.boolean("amsgrad", optimizers.ParamAMSGrad)
		default:
			return "", nil, fmt.Errorf("PerpGrad base %v not supported", v)
		}
	default:
		return "", nil, fmt.Errorf("golden optimizer %q has no moeboost mapping", c.Optimizer)
	}
	params, err := h.done()
	return name, params, err
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
