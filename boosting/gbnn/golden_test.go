package gbnn

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/golden"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// goldenFiles returns the JSON files of testdata/ (made by testdata/gen_golden.py from the
// official code), of the shared golden directory of the "boosting" area and of every
// MOEBOOST_GOLDEN_DIR directory.
func goldenFiles(t *testing.T) []string {
	dirs := append([]string{"testdata"}, golden.Dirs("boosting")...)
	files := golden.Files(dirs)
	require.NotEmpty(t, files)
	return files
}

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

func num(v any) float64 { return v.(float64) }

// TestGolden replays the official code's arithmetic (kind gbnn_stage_math) and its to_NN
// assembly (kind gbnn_to_nn); files of other kinds are skipped.
func TestGolden(t *testing.T) {
	seen := 0
	for _, path := range goldenFiles(t) {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		var doc map[string]any
		if json.Unmarshal(raw, &doc) != nil {
			continue
		}
		kind, _ := doc["kind"].(string)
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		switch kind {
		case "gbnn_stage_math":
			seen++
			t.Run(name, func(t *testing.T) { checkStageMath(t, doc) })
		case "gbnn_to_nn":
			seen++
			t.Run(name, func(t *testing.T) { checkToNN(t, doc) })
		}
	}
	require.GreaterOrEqual(t, seen, 6, "expected the 6 golden files of testdata/")
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

func checkStageMath(t *testing.T, doc map[string]any) {
	kind := taskKind(t, doc["task"].(string))
	n, k, eta := int(num(doc["n"])), int(num(doc["k"])), num(doc["eta"])
	y := flatten(doc["y"])
	f0, err := initialBias(kind, y, n, k)
	require.NoError(t, err)
	require.InDeltaSlice(t, flatten(doc["f0"]), f0, 1e-12, "F0")
	f := make([]float64, n*k)
	for i := range n {
		copy(f[i*k:], f0)
	}
	r := make([]float64, n*k)
	hs := doc["h"].([]any)
	for s := range hs {
		h := flatten(hs[s])
		residuals(kind, y, f, r, n, k)
		require.InDeltaSlice(t, flatten(doc["residuals"].([]any)[s]), r, 1e-12, "residuals of stage %d", s)
		a, b, hh := newtonTerms(kind, y, r, h)
		want := num(doc["rho"].([]any)[s])
		rho, _ := stepSize(kind, a, b, hh, eta, DefaultMaxStep, false) // the official, unguarded step
		require.InDelta(t, want, rho, 1e-12*max(1, abs(want)), "rho of stage %d", s)
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
		require.InDelta(t, num(doc["losses"].([]any)[s]), loss, 1e-12, "loss after stage %d", s)
	}
	require.InDeltaSlice(t, flatten(doc["f_final"]), f, 1e-12, "final F")
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func checkToNN(t *testing.T, doc map[string]any) {
	kind := taskKind(t, doc["task"].(string))
	m := &Model{Kind: kind, NumClasses: int(num(doc["num_classes"])), Inputs: int(num(doc["inputs"])),
		UnitsPerStage: int(num(doc["units_per_stage"])), Outputs: int(num(doc["outputs"])),
		Activation: doc["activation"].(string), DType: dtypes.Float64, F0: flatten(doc["f0"])}
	for _, s := range doc["stages"].([]any) {
		st := s.(map[string]any)
		m.Stages = append(m.Stages, &Stage{W1: flatten(st["w1"]), B1: flatten(st["b1"]), W2: flatten(st["w2"]),
			B2: flatten(st["b2"]), Rho: num(st["rho"])})
	}
	x := flatten(doc["x_test"])
	rows := len(x) / m.Inputs

	// The ensemble equals the official decision function.
	dec, err := m.Decision(x, rows)
	require.NoError(t, err)
	require.InDeltaSlice(t, flatten(doc["decision"]), dec, 1e-9)
	if kind != Regression {
		p, err := m.Proba(x, rows)
		require.NoError(t, err)
		require.InDeltaSlice(t, flatten(doc["proba"]), p, 1e-9)
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
		require.InDeltaSlice(t, flatten(doc[c.key]), fromTensor(v.MustValue()), 1e-12, c.path)
	}
	out, err := net.Predict(backend.MustDefault(), store, x, rows, 0)
	require.NoError(t, err)
	require.InDeltaSlice(t, flatten(doc["nn_output"]), out, 1e-9)
}
