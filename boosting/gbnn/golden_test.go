package gbnn

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/golden"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// flatten returns the numbers of a (nested) JSON array in row-major order.
func flatten(v any) []float64 {
	switch x := v.(type) {
	case float64:
		return []float64{x}
	case []any:
		var out []float64
		for _, e := range x {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return nil
}

// field returns doc[key], failing the test when it is missing.
func field(t *testing.T, doc map[string]any, key string) any {
	t.Helper()
	v, ok := doc[key]
	require.True(t, ok, "golden file has no %q", key)
	return v
}

// num returns doc[key] as a number.
func num(t *testing.T, doc map[string]any, key string) float64 {
	t.Helper()
	x, ok := field(t, doc, key).(float64)
	require.True(t, ok, "golden field %q = %v is not a number", key, doc[key])
	return x
}

// nums returns doc[key] flattened; every leaf must be a number.
func nums(t *testing.T, doc map[string]any, key string) []float64 {
	t.Helper()
	v := field(t, doc, key)
	out := flatten(v)
	require.Equal(t, countLeaves(v), len(out), "golden field %q holds non-numbers", key)
	return out
}

// list returns doc[key] as a JSON array.
func list(t *testing.T, doc map[string]any, key string) []any {
	t.Helper()
	l, ok := field(t, doc, key).([]any)
	require.True(t, ok, "golden field %q is not a list", key)
	return l
}

func countLeaves(v any) int {
	if l, ok := v.([]any); ok {
		n := 0
		for _, e := range l {
			n += countLeaves(e)
		}
		return n
	}
	return 1
}

// recognizeGolden: a gbnn golden file is a JSON object whose "kind" is gbnn_stage_math or
// gbnn_to_nn (testdata/golden/gbnn/README.md).
func recognizeGolden(f golden.File) golden.Verdict {
	switch f.String("kind") {
	case "gbnn_stage_math", "gbnn_to_nn":
		return golden.Mine
	}
	return golden.Unknown
}

// TestGolden replays the official code's arithmetic (kind gbnn_stage_math) and its to_NN
// assembly (kind gbnn_to_nn) for every gbnn golden file: testdata/golden/gbnn (made by
// gen_golden.py there from GAA-UAM/GBNN), ../shared/golden/gbnn and the MOEBOOST_GOLDEN_DIR
// directories (files of other kinds there are skipped).
func TestGolden(t *testing.T) {
	files := golden.Select(t, "gbnn", recognizeGolden)
	golden.Run(t, files, func(t *testing.T, f golden.File) {
		var doc map[string]any
		require.NoError(t, f.Decode(&doc))
		if f.String("kind") == "gbnn_stage_math" {
			checkStageMath(t, doc)
		} else {
			checkToNN(t, doc)
		}
	})
}

func taskKind(t *testing.T, task string) Kind {
	switch task {
	case "regression":
		return Regression
	case "binary":
		return Binary
	case "multiclass":
		return MultiClass
	}
	t.Fatalf("unknown task %q", task)
	return 0
}

// Tolerances: the Go port repeats the official float64 arithmetic, so values agree to
// rounding (1e-12); the assembled network and the decision function go through GoMLX's
// matmuls and activations (1e-9).
const (
	mathTol = 1e-12
	netTol  = 1e-9
)

func checkStageMath(t *testing.T, doc map[string]any) {
	task, _ := field(t, doc, "task").(string)
	kind := taskKind(t, task)
	n, k, eta := int(num(t, doc, "n")), int(num(t, doc, "k")), num(t, doc, "eta")
	y := nums(t, doc, "y")
	require.Len(t, y, n*k, "y has n·k values")
	f0, err := initialBias(kind, y, n, k)
	require.NoError(t, err)
	golden.RequireClose(t, "F0", f0, nums(t, doc, "f0"), mathTol, 0)
	f := make([]float64, n*k)
	for i := range n {
		copy(f[i*k:], f0)
	}
	r := make([]float64, n*k)
	hs, wantRes, wantRho, wantLoss := list(t, doc, "h"), list(t, doc, "residuals"), nums(t, doc, "rho"), nums(t, doc, "losses")
	require.NotEmpty(t, hs, "no stages")
	for _, l := range [][]float64{wantRho, wantLoss} {
		require.Len(t, l, len(hs), "one rho and one loss per stage")
	}
	require.Len(t, wantRes, len(hs), "one residual vector per stage")
	for s := range hs {
		h := flatten(hs[s])
		require.Len(t, h, n*k, "h of stage %d", s)
		residuals(kind, y, f, r, n, k)
		golden.RequireClose(t, fmt.Sprintf("residuals of stage %d", s), r, flatten(wantRes[s]), mathTol, 0)
		a, b, hh := newtonTerms(kind, y, r, h)
		rho, _ := stepSize(kind, a, b, hh, eta, DefaultMaxStep, false) // the official, unguarded step
		golden.RequireScalar(t, fmt.Sprintf("rho of stage %d", s), rho, wantRho[s], mathTol, mathTol)
		rhoG, guarded := stepSize(kind, a, b, hh, eta, DefaultMaxStep, true)
		require.False(t, guarded, "the guard must leave a well-conditioned step alone")
		require.Equal(t, rho, rhoG)
		for i := range f {
			f[i] += rho * h[i]
		}
		loss := meanLoss(kind, y, f, n, k)
		if kind == MultiClass {
			loss *= float64(n) // The official multi-class loss sums over rows before its mean.
		}
		golden.RequireScalar(t, fmt.Sprintf("loss after stage %d", s), loss, wantLoss[s], mathTol, 0)
	}
	golden.RequireClose(t, "final F", f, nums(t, doc, "f_final"), mathTol, 0)
}

func checkToNN(t *testing.T, doc map[string]any) {
	task, _ := field(t, doc, "task").(string)
	kind := taskKind(t, task)
	act, _ := field(t, doc, "activation").(string)
	m := &Model{Kind: kind, NumClasses: int(num(t, doc, "num_classes")), Inputs: int(num(t, doc, "inputs")),
		UnitsPerStage: int(num(t, doc, "units_per_stage")), Outputs: int(num(t, doc, "outputs")),
		Activation: act, DType: dtypes.Float64, F0: nums(t, doc, "f0")}
	stages := list(t, doc, "stages")
	require.NotEmpty(t, stages, "no stages")
	for i, s := range stages {
		st, ok := s.(map[string]any)
		require.True(t, ok, "stage %d is not an object", i)
		m.Stages = append(m.Stages, &Stage{W1: nums(t, st, "w1"), B1: nums(t, st, "b1"), W2: nums(t, st, "w2"),
			B2: nums(t, st, "b2"), Rho: num(t, st, "rho")})
	}
	x := nums(t, doc, "x_test")
	require.NotEmpty(t, x)
	require.Zero(t, len(x)%m.Inputs, "x_test has %d values, not a multiple of inputs=%d", len(x), m.Inputs)
	rows := len(x) / m.Inputs

	// The ensemble equals the official decision function.
	dec, err := m.Decision(x, rows)
	require.NoError(t, err)
	golden.RequireClose(t, "decision", dec, nums(t, doc, "decision"), netTol, 0)
	if kind != Regression {
		p, err := m.Proba(x, rows)
		require.NoError(t, err)
		golden.RequireClose(t, "proba", p, nums(t, doc, "proba"), netTol, 0)
	}

	// The assembled network has to_NN's weights and outputs.
	store := model.NewStore()
	net, err := m.Assemble(store, dtypes.Float64)
	require.NoError(t, err)
	for _, c := range []struct{ path, key string }{
		{"/gbnn/hidden/weights", "nn_w1"}, {"/gbnn/hidden/biases", "nn_b1"},
		{"/gbnn/output/weights", "nn_w2"}, {"/gbnn/output/biases", "nn_b2"},
	} {
		v := store.GetVariable(c.path)
		require.NotNil(t, v, c.path)
		golden.RequireClose(t, c.path, fromTensor(v.MustValue()), nums(t, doc, c.key), mathTol, 0)
	}
	out, err := net.Predict(backend.MustDefault(), store, x, rows, 0)
	require.NoError(t, err)
	golden.RequireClose(t, "nn_output", out, nums(t, doc, "nn_output"), netTol, 0)
}

// A gbnn case with a nudged rho, a value more in the decision function or a missing field
// fails.
func TestGoldenDetectsBadCases(t *testing.T) {
	files := golden.Select(t, "gbnn", recognizeGolden)
	byName := map[string][]byte{}
	for _, f := range files {
		byName[f.Name] = f.Data
	}
	for _, tc := range []struct {
		name, file string
		edit       func(doc map[string]any)
		want       string
	}{
		{"nudged rho", "gbnn_stage_math_binary", func(doc map[string]any) {
			r := doc["rho"].([]any)
			r[2] = golden.Nudge(r[2], 1e-6)
		}, "rho of stage 2"},
		{"one decision more", "gbnn_to_nn_multiclass", func(doc map[string]any) {
			doc["decision"] = append(doc["decision"].([]any), []any{json.Number("0"), json.Number("0"), json.Number("0")})
		}, "decision: got"},
		{"missing nn_output", "gbnn_to_nn_regression", func(doc map[string]any) { delete(doc, "nn_output") }, `no "nn_output"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, ok := byName[tc.file]
			require.True(t, ok, "%s.json not found", tc.file)
			golden.RequireDetects(t, "TestGolden", "zz_gbnn_"+strings.ReplaceAll(tc.name, " ", "_"), data, golden.Edit(t, data, tc.edit), tc.want)
		})
	}
}
