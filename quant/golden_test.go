package quant

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/moeboost/moeboost/internal/golden"
	"github.com/stretchr/testify/require"
)

// goldenCase is one file of testdata/golden/quant (see gen_lutgemm.py there): the official
// LUT-GEMM quantization code run on a random matrix.
type goldenCase struct {
	Format  string    `json:"format"`
	Rows    int       `json:"rows"`
	Cols    int       `json:"cols"`
	Bits    int       `json:"bits"`
	Group   int       `json:"group"`
	Rounds  int       `json:"rounds"`
	W       []float64 `json:"w"`
	Ret     []float64 `json:"ret"`
	Alpha   []float64 `json:"alpha"`
	Binary  []float64 `json:"binary"`
	Scale   []float64 `json:"scale"`
	Zero    []float64 `json:"zero"`
	Codes   []float64 `json:"codes"`
	Offset  []float64 `json:"offset"`
	Dequant []float64 `json:"dequant"`
}

// TestGoldenLUTGEMM checks the quantizers against bcq.py (greedy and alternating BCQ) and
// rtn_parameter.py (RTN and its BCQ conversion). Greedy codes and scales must match to float32
// rounding; the alternating fit solves its least squares exactly where bcq.py runs k damped
// conjugate-gradient steps in float32, so its scales agree to 1e-4 and its codes exactly unless
// a weight sits on a level midpoint (none does in these cases).
func TestGoldenLUTGEMM(t *testing.T) {
	files := golden.Select(t, "quant", func(f golden.File) golden.Verdict {
		switch f.String("format") {
		case "lutgemm_bcq", "lutgemm_rtn":
			return golden.Mine
		}
		return golden.Unknown
	})
	golden.Run(t, files, func(t *testing.T, f golden.File) {
		var c goldenCase
		require.NoError(t, f.Decode(&c))
		rows, cols, bits, group := c.Rows, c.Cols, c.Bits, c.Group
		require.Len(t, c.W, rows*cols)
		w := make([]float32, len(c.W))
		for i, v := range c.W {
			w[i] = float32(v)
		}
		groups := cols / group
		switch c.Format {
		case "lutgemm_bcq":
			rounds := c.Rounds
			if rounds == 0 {
				rounds = -1 // bcq.py's rounds=0 is the greedy fit
			}
			m, err := Quantize(w, rows, cols, Config{Bits: bits, GroupSize: group, Method: "bcq", Rounds: rounds})
			require.NoError(t, err)
			alpha := make([]float64, len(m.Alpha))
			for i, a := range m.Alpha {
				alpha[i] = float64(a)
			}
			tol := 2e-6
			if c.Rounds > 0 {
				tol = 1e-4
			}
			golden.RequireClose(t, "alpha", alpha, c.Alpha, tol, tol)
			golden.RequireClose(t, "dequantized", m.Dequantize(), c.Ret, tol, tol)
			// binary [rows, groups, group, bits] of ±1.
			var signs []float64
			for r := range rows {
				for g := range groups {
					for k := range group {
						for i := range bits {
							signs = append(signs, m.Sign(r, i, g*group+k))
						}
					}
				}
			}
			golden.RequireClose(t, "binary", signs, c.Binary, 0, 0)
			require.Equal(t, make([]float32, rows*groups), m.Offset, "bcq has no offset")
		case "lutgemm_rtn":
			m, err := Quantize(w, rows, cols, Config{Bits: bits, GroupSize: group, Method: "rtn"})
			require.NoError(t, err)
			var scale, zero, codes, alpha, offset []float64
			for r := range rows {
				for g := range groups {
					seg := make([]float64, group)
					for k := range seg {
						seg[k] = float64(w[r*cols+g*group+k])
					}
					u := fitUniform(seg, bits)
					scale, zero = append(scale, u.Scale), append(zero, u.Zero)
					for k := range group {
						code := 0
						for i := range bits {
							if m.Sign(r, i, g*group+k) > 0 {
								code |= 1 << i
							}
						}
						require.Equal(t, u.Codes[k], uint8(code))
						codes = append(codes, float64(code))
					}
					for i := range bits {
						alpha = append(alpha, float64(m.Alpha[(r*groups+g)*bits+i]))
					}
					offset = append(offset, float64(m.Offset[r*groups+g]))
				}
			}
			golden.RequireClose(t, "scale", scale, c.Scale, 0, 1e-7)
			golden.RequireClose(t, "zero", zero, c.Zero, 0, 0)
			golden.RequireClose(t, "codes", codes, c.Codes, 0, 0)
			golden.RequireClose(t, "alpha", alpha, c.Alpha, 0, 1e-7)
			golden.RequireClose(t, "offset", offset, c.Offset, 1e-7, 1e-6)
			golden.RequireClose(t, "dequantized", m.Dequantize(), c.Dequant, 1e-7, 1e-6)
		}
	})
}

// A nudged scale, a flipped code, a missing value or NaN in a golden case fails the test.
func TestGoldenLUTGEMMDetectsBadCases(t *testing.T) {
	files := golden.Select(t, "quant", func(f golden.File) golden.Verdict {
		if f.String("format") == "lutgemm_bcq" || f.String("format") == "lutgemm_rtn" {
			return golden.Mine
		}
		return golden.Unknown
	})
	var bcq, rtn []byte
	for _, f := range files {
		if f.String("format") == "lutgemm_bcq" && f.Has("rounds") && bcq == nil {
			var c goldenCase
			require.NoError(t, f.Decode(&c))
			if c.Rounds > 0 {
				bcq = f.Data
			}
		}
		if f.String("format") == "lutgemm_rtn" && rtn == nil {
			rtn = f.Data
		}
	}
	require.NotNil(t, bcq)
	require.NotNil(t, rtn)
	for _, tc := range []struct {
		name string
		data []byte
		edit func(doc map[string]any)
		want string
	}{
		{"bcq alpha nudged", bcq, func(doc map[string]any) {
			a := doc["alpha"].([]any)
			a[1] = golden.Nudge(a[1], 1e-3)
		}, "alpha[1]"},
		{"bcq code flipped", bcq, func(doc map[string]any) {
			b := doc["binary"].([]any)
			b[2] = json.Number(fmt.Sprint(-1 * mustFloat(t, b[2])))
		}, "binary[2]"},
		{"bcq ret short", bcq, func(doc map[string]any) {
			doc["ret"] = doc["ret"].([]any)[1:]
		}, "dequantized: got"},
		{"rtn offset nudged", rtn, func(doc map[string]any) {
			o := doc["offset"].([]any)
			o[0] = golden.Nudge(o[0], 1e-4)
		}, "offset[0]"},
		{"rtn zero point off by one", rtn, func(doc map[string]any) {
			z := doc["zero"].([]any)
			z[0] = json.Number(fmt.Sprint(mustFloat(t, z[0]) + 1))
		}, "zero[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden.RequireDetects(t, "TestGoldenLUTGEMM", "zz_"+strings.ReplaceAll(tc.name, " ", "_"), tc.data, golden.Edit(t, tc.data, tc.edit), tc.want)
		})
	}
}

func mustFloat(t *testing.T, v any) float64 {
	f, err := strconv.ParseFloat(fmt.Sprint(v), 64)
	require.NoError(t, err)
	return f
}
