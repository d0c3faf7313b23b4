package trees

import (
	"fmt"
	"math"

	"github.com/moeboost/moeboost/train/data"
)

// FromFrame returns the trees' view of a frame read from a CSV or Parquet file (data.Frame):
// numeric columns become Num (float32, missing cells kept as NaN, which greedy trees route
// by a learned default direction, XGBoost's way; see Split.MissingRight),
// categorical columns become Cat with their level strings (a missing cell is the value "", a
// category of its own that a split can send either way); no imputation, no one-hot. It also
// returns the feature names in the trees' feature order (numeric first, then categorical),
// for Importance and SHAP.
func FromFrame(f *data.Frame) (*Data, []string, error) {
	if f == nil || f.N == 0 || len(f.Features) == 0 {
		return nil, nil, fmt.Errorf("trees: frame is empty (no rows or no feature columns)")
	}
	var num, cat []*data.Column
	for i := range f.Features {
		c := &f.Features[i]
		if len(c.Values) != f.N {
			return nil, nil, fmt.Errorf("trees: frame column %q has %d values for %d rows", c.Name, len(c.Values), f.N)
		}
		if c.Kind == data.Categorical {
			cat = append(cat, c)
		} else {
			num = append(num, c)
		}
	}
	d := &Data{N: f.N, NumFeatures: len(num), CatFeatures: len(cat),
		Num: make([]float32, f.N*len(num)), Cat: make([]string, f.N*len(cat))}
	names := make([]string, 0, len(num)+len(cat))
	for j, c := range num {
		names = append(names, c.Name)
		for i, v := range c.Values {
			d.Num[i*len(num)+j] = float32(v) // NaN stays NaN
		}
	}
	for j, c := range cat {
		names = append(names, c.Name)
		for i, v := range c.Values {
			if !math.IsNaN(v) {
				d.Cat[i*len(cat)+j] = c.Levels[int(v)]
			}
		}
	}
	return d, names, d.Validate()
}
