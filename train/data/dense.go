package data

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Impute says how ToDense fills missing numeric cells.
type Impute int

const (
	// ImputeNone: a missing numeric cell is an error naming the column.
	ImputeNone Impute = iota
	// ImputeMean fills a column's missing cells with the mean of its present cells.
	ImputeMean
	// ImputeMedian fills them with the median of its present cells.
	ImputeMedian
)

func (m Impute) String() string {
	switch m {
	case ImputeMean:
		return "mean"
	case ImputeMedian:
		return "median"
	default:
		return "none"
	}
}

// ParseImpute reads an -impute flag value: "" or "none", "mean", "median".
func ParseImpute(s string) (Impute, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none":
		return ImputeNone, nil
	case "mean":
		return ImputeMean, nil
	case "median":
		return ImputeMedian, nil
	}
	return ImputeNone, fmt.Errorf("impute %q: allowed are none, mean, median", s)
}

// DenseOptions controls ToDense.
type DenseOptions struct {
	Impute Impute
	// KeepMissing leaves missing numeric cells NaN (for learners that route missing values
	// themselves, as trees and XGBoost do); Impute is then ignored.
	KeepMissing bool
}

// ToDense turns the frame into the all-numeric Table networks train on.
//
// Numeric columns are copied; their missing cells are an error naming the column, the count
// and the first line, unless Impute fills them with the column's mean or median (computed
// over all rows of the frame, as pandas' fillna on a whole file; a column with no value at
// all stays an error). A categorical column with L levels becomes L one-hot columns named
// "name=level" in level order; a missing categorical cell is all zeros.
func (f *Frame) ToDense(o DenseOptions) (*Table, error) {
	t := &Table{Name: f.Name, N: f.N, Task: f.Task, NumClasses: f.NumClasses,
		ClassNames: slices.Clone(f.ClassNames), LabelName: f.LabelName, Y: slices.Clone(f.Y)}
	fill := make([]float64, len(f.Features))
	for c := range f.Features {
		col := &f.Features[c]
		if col.Kind == Categorical {
			for _, l := range col.Levels {
				t.FeatureNames = append(t.FeatureNames, col.Name+"="+l)
			}
			continue
		}
		t.FeatureNames = append(t.FeatureNames, col.Name)
		if col.Missing == 0 {
			continue
		}
		if o.KeepMissing {
			fill[c] = math.NaN()
			continue
		}
		what := fmt.Sprintf("%s line %d column %d: feature %q has %d missing cell(s) of %d", f.Name, col.FirstMissingLine, col.FileColumn, col.Name, col.Missing, f.N)
		if col.Missing == f.N {
			return nil, fmt.Errorf("%s, so there is nothing to impute from; drop the column", what)
		}
		switch o.Impute {
		case ImputeMean:
			s, n := 0.0, 0
			for _, v := range col.Values {
				if !math.IsNaN(v) {
					s += v
					n++
				}
			}
			fill[c] = s / float64(n)
		case ImputeMedian:
			vals := make([]float64, 0, f.N-col.Missing)
			for _, v := range col.Values {
				if !math.IsNaN(v) {
					vals = append(vals, v)
				}
			}
			slices.Sort(vals)
			m := len(vals) / 2
			fill[c] = vals[m]
			if len(vals)%2 == 0 {
				fill[c] = (vals[m-1] + vals[m]) / 2
			}
		default:
			return nil, fmt.Errorf("%s; networks need every value: pass -impute mean or -impute median, or use trees, which route missing values natively", what)
		}
	}
	t.D = len(t.FeatureNames)
	t.X = make([]float64, t.N*t.D)
	off := 0
	for c := range f.Features {
		col := &f.Features[c]
		if col.Kind == Categorical {
			for i, v := range col.Values {
				if !math.IsNaN(v) {
					t.X[i*t.D+off+int(v)] = 1
				}
			}
			off += len(col.Levels)
			continue
		}
		for i, v := range col.Values {
			if math.IsNaN(v) {
				v = fill[c]
			}
			t.X[i*t.D+off] = v
		}
		off++
	}
	return t, nil
}

// Describe returns a short summary of the frame for logs: shape, task, the label mapping,
// categorical columns with their level counts and columns with missing values.
func (f *Frame) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d rows, %d features, %s", f.Name, f.N, len(f.Features), f.Task)
	label := f.LabelName
	if label == "" {
		label = fmt.Sprintf("column %d", f.LabelColumn)
	}
	fmt.Fprintf(&b, " of %s", label)
	if f.Task == Classification {
		b.WriteString(" (")
		for k, n := range f.ClassNames {
			if k > 0 {
				b.WriteString(", ")
			}
			if k == 12 {
				fmt.Fprintf(&b, "... %d classes", len(f.ClassNames))
				break
			}
			fmt.Fprintf(&b, "%d=%q", k, n)
		}
		b.WriteString(")")
	}
	var cats, miss []string
	for _, c := range f.Features {
		if c.Kind == Categorical {
			cats = append(cats, fmt.Sprintf("%s(%d)", c.Name, len(c.Levels)))
		}
		if c.Missing > 0 {
			miss = append(miss, fmt.Sprintf("%s(%d)", c.Name, c.Missing))
		}
	}
	if len(cats) > 0 {
		fmt.Fprintf(&b, "; categorical: %s", strings.Join(cats, ", "))
	}
	if len(miss) > 0 {
		fmt.Fprintf(&b, "; missing: %s", strings.Join(miss, ", "))
	}
	return b.String()
}

// ParseOptions turns the command-line flags -header, -label, -task, -categorical
// (comma-separated) and -impute into Options; each bad value is an error naming the flag and
// what is allowed.
func ParseOptions(header, label, task, categorical, impute string) (Options, error) {
	var o Options
	var err error
	if o.Read.Header, err = ParseHeaderMode(header); err != nil {
		return o, fmt.Errorf("-header: %w", err)
	}
	if o.Read.Task, err = ParseTask(task); err != nil {
		return o, fmt.Errorf("-task: %w", err)
	}
	if o.Dense.Impute, err = ParseImpute(impute); err != nil {
		return o, fmt.Errorf("-impute: %w", err)
	}
	o.Read.Label = strings.TrimSpace(label)
	for _, c := range strings.Split(categorical, ",") {
		if c = strings.TrimSpace(c); c != "" {
			o.Read.Categorical = append(o.Read.Categorical, c)
		}
	}
	return o, nil
}
