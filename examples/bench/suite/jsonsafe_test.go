package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A benchmark whose rows are non-finite in every field, run before test-ok: the suite must
// write it and go on.
func init() {
	Register("test-nan", Func{Desc: "diverges in every field", Fn: func(context.Context, Options) ([]Result, error) {
		r := Row("", "task", "arm", "metric", []float64{1, math.NaN(), math.Inf(1)}, math.NaN(), 10)
		r.Extra["curve"] = map[string]any{"loss": []float32{float32(math.NaN()), 2}}
		return []Result{r}, nil
	}})
}

type nanStruct struct {
	A    float64   `json:"a"`
	B    []float64 `json:"b,omitempty"`
	C    float32
	Skip float64 `json:"-"`
	hid  float64
}

func TestMarshalJSONNaNEveryField(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	r := Result{Benchmark: "b", Task: "t", Arm: "a", Metric: "m", Value: nan, Std: inf, Seeds: 3,
		MsPerStep: math.Inf(-1), Steps: 7, Extra: map[string]any{
			"per_seed":  []float64{1, nan, -inf},
			"scalar":    nan,
			"f32":       float32(math.NaN()),
			"f32s":      []float32{float32(inf), 0.5},
			"any":       []any{nan, "x", 2, true, nil},
			"nested":    map[string]any{"deep": map[string][]float64{"v": {nan, 3}}},
			"matrix":    [][]float64{{nan}, {inf, 4}},
			"array":     [2]float64{nan, 5},
			"map_f64":   map[string]float64{"k": inf},
			"int_keys":  map[int]float64{1: nan},
			"ptr":       &[]float64{nan},
			"nil_ptr":   (*float64)(nil),
			"struct":    nanStruct{A: nan, B: []float64{inf}, C: float32(math.NaN()), Skip: nan, hid: nan},
			"struct_pt": &nanStruct{A: 6},
			"finite":    1.5,
			"text":      "ok",
		}}
	before := r.Extra["per_seed"].([]float64)[1]
	data, err := json.Marshal(r)
	require.NoError(t, err)
	require.True(t, math.IsNaN(before), "the row's own values are not modified")
	var got map[string]any
	require.NoError(t, json.Unmarshal(data, &got))
	for _, k := range []string{"value", "std", "ms_per_step"} {
		require.Contains(t, got, k)
		require.Nil(t, got[k], k)
	}
	require.Equal(t, 7.0, got["steps"])
	extra := got["extra"].(map[string]any)
	want := map[string]any{
		"per_seed":  []any{1.0, nil, nil},
		"scalar":    nil,
		"f32":       nil,
		"f32s":      []any{nil, 0.5},
		"any":       []any{nil, "x", 2.0, true, nil},
		"nested":    map[string]any{"deep": map[string]any{"v": []any{nil, 3.0}}},
		"matrix":    []any{[]any{nil}, []any{nil, 4.0}},
		"array":     []any{nil, 5.0},
		"map_f64":   map[string]any{"k": nil},
		"int_keys":  map[string]any{"1": nil},
		"ptr":       []any{nil},
		"nil_ptr":   nil,
		"struct":    map[string]any{"a": nil, "b": []any{nil}, "C": nil},
		"struct_pt": map[string]any{"a": 6.0, "C": 0.0},
		"finite":    1.5,
		"text":      "ok",
	}
	require.Equal(t, want, extra)

	var back Result
	require.NoError(t, json.Unmarshal(data, &back))
	require.True(t, math.IsNaN(back.Value) && math.IsNaN(back.Std) && math.IsNaN(back.MsPerStep))
	require.Equal(t, []any{1.0, nil, nil}, back.Extra["per_seed"])
}

func TestJSONSafeScalars(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"nan", math.NaN(), nil},
		{"+inf", math.Inf(1), nil},
		{"-inf f32", float32(math.Inf(-1)), nil},
		{"finite", 2.5, 2.5},
		{"int", 3, 3},
		{"string", "s", "s"},
		{"bytes", []byte("ab"), []byte("ab")},
		{"nil slice", []float64(nil), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, JSONSafe(tc.in))
		})
	}
}

func TestRunGoesOnAfterNaNRows(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	var out bytes.Buffer
	require.NoError(t, Run(context.Background(), []string{"-only", "test-nan,test-ok", "-json", jsonPath}, &out))
	raw, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var doc File
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Empty(t, doc.Errors)
	require.Len(t, doc.Results, 3, "test-nan's row and both of test-ok's")
	require.Equal(t, "test-nan", doc.Results[0].Benchmark)
	require.Equal(t, []any{1.0, nil, nil}, doc.Results[0].Extra["per_seed"])
	require.Equal(t, map[string]any{"loss": []any{nil, 2.0}}, doc.Results[0].Extra["curve"])
	require.Equal(t, "test-ok", doc.Results[1].Benchmark)
}
