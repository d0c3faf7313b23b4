package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Subset returns a new table holding the examples at idx, in that order.
func (t *Table) Subset(idx []int) *Table {
	s := &Table{Name: t.Name, N: len(idx), D: t.D, Task: t.Task, NumClasses: t.NumClasses,
		ClassNames: t.ClassNames, FeatureNames: t.FeatureNames, LabelName: t.LabelName,
		X: make([]float64, 0, len(idx)*t.D), Y: make([]float64, 0, len(idx))}
	for _, i := range idx {
		s.X = append(s.X, t.Row(i)...)
		s.Y = append(s.Y, t.Y[i])
	}
	return s
}

// Clone returns a deep copy.
func (t *Table) Clone() *Table {
	c := *t
	c.X = slices.Clone(t.X)
	c.Y = slices.Clone(t.Y)
	return &c
}

// Rand returns the PCG generator moeboost uses for a seed (stable across Go versions).
func Rand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6d6f65626f6f7374)) }

// Split shuffles with seed and returns (train, test) with a testFraction of the examples in
// test. Classification splits are stratified: each class keeps its proportion.
func (t *Table) Split(testFraction float64, seed uint64) (train, test *Table, err error) {
	if !(testFraction > 0 && testFraction < 1) {
		return nil, nil, fmt.Errorf("test fraction %v must be in (0, 1)", testFraction)
	}
	trainIdx, testIdx := t.splitIndices(testFraction, seed)
	if len(trainIdx) == 0 || len(testIdx) == 0 {
		return nil, nil, fmt.Errorf("%s: test fraction %v of %d examples leaves an empty side", t.Name, testFraction, t.N)
	}
	return t.Subset(trainIdx), t.Subset(testIdx), nil
}

func (t *Table) groups() [][]int {
	if t.Task != Classification {
		all := make([]int, t.N)
		for i := range all {
			all[i] = i
		}
		return [][]int{all}
	}
	g := make([][]int, t.NumClasses)
	for i, y := range t.Y {
		g[int(y)] = append(g[int(y)], i)
	}
	return g
}

func (t *Table) splitIndices(testFraction float64, seed uint64) (trainIdx, testIdx []int) {
	r := Rand(seed)
	for _, g := range t.groups() {
		g = slices.Clone(g)
		r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		nTest := int(math.Round(testFraction * float64(len(g))))
		testIdx = append(testIdx, g[:nTest]...)
		trainIdx = append(trainIdx, g[nTest:]...)
	}
	r.Shuffle(len(trainIdx), func(i, j int) { trainIdx[i], trainIdx[j] = trainIdx[j], trainIdx[i] })
	r.Shuffle(len(testIdx), func(i, j int) { testIdx[i], testIdx[j] = testIdx[j], testIdx[i] })
	return
}

// KFold returns k (train, test) pairs covering every example exactly once as test,
// stratified for classification, shuffled with seed.
func (t *Table) KFold(k int, seed uint64) (trains, tests []*Table, err error) {
	if k < 2 || k > t.N {
		return nil, nil, fmt.Errorf("k-fold: k=%d must be in [2, %d examples]", k, t.N)
	}
	r := Rand(seed)
	folds := make([][]int, k)
	next := 0
	for _, g := range t.groups() {
		g = slices.Clone(g)
		r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		for _, i := range g { // Deal examples round-robin so folds stay balanced per class.
			folds[next%k] = append(folds[next%k], i)
			next++
		}
	}
	for f := range k {
		var tr []int
		for o := range k {
			if o != f {
				tr = append(tr, folds[o]...)
			}
		}
		trains = append(trains, t.Subset(tr))
		tests = append(tests, t.Subset(folds[f]))
	}
	return trains, tests, nil
}

// Scaler standardizes features (and, for regression, optionally the target) with statistics
// fitted on a training table: x' = (x - mean) / std, with std = 1 for constant columns.
type Scaler struct {
	Mean, Std   []float64
	YMean, YStd float64
	ScaleTarget bool
}

// FitScaler computes per-feature mean and std on t; scaleTarget also standardizes a
// regression target.
func FitScaler(t *Table, scaleTarget bool) *Scaler {
	s := &Scaler{Mean: make([]float64, t.D), Std: make([]float64, t.D), YStd: 1,
		ScaleTarget: scaleTarget && t.Task == Regression}
	for i := range t.N {
		for j, v := range t.Row(i) {
			s.Mean[j] += v
		}
	}
	for j := range s.Mean {
		s.Mean[j] /= float64(t.N)
	}
	for i := range t.N {
		for j, v := range t.Row(i) {
			s.Std[j] += (v - s.Mean[j]) * (v - s.Mean[j])
		}
	}
	for j := range s.Std {
		s.Std[j] = math.Sqrt(s.Std[j] / float64(t.N))
		if s.Std[j] < 1e-12 {
			s.Std[j] = 1
		}
	}
	if s.ScaleTarget {
		for _, y := range t.Y {
			s.YMean += y
		}
		s.YMean /= float64(t.N)
		var v float64
		for _, y := range t.Y {
			v += (y - s.YMean) * (y - s.YMean)
		}
		s.YStd = math.Sqrt(v / float64(t.N))
		if s.YStd < 1e-12 {
			s.YStd = 1
		}
	}
	return s
}

// Apply returns a standardized copy of t.
func (s *Scaler) Apply(t *Table) *Table {
	c := t.Clone()
	for i := range c.N {
		row := c.Row(i)
		for j := range row {
			row[j] = (row[j] - s.Mean[j]) / s.Std[j]
		}
	}
	if s.ScaleTarget {
		for i := range c.Y {
			c.Y[i] = (c.Y[i] - s.YMean) / s.YStd
		}
	}
	return c
}

// UnscaleY maps a standardized target (or prediction) back to the original units.
func (s *Scaler) UnscaleY(y float64) float64 {
	if !s.ScaleTarget {
		return y
	}
	return y*s.YStd + s.YMean
}

// Standardize fits a Scaler on train and applies it to train and to every other table.
func Standardize(train *Table, scaleTarget bool, others ...*Table) (*Scaler, *Table, []*Table) {
	s := FitScaler(train, scaleTarget)
	out := make([]*Table, len(others))
	for i, o := range others {
		out[i] = s.Apply(o)
	}
	return s, s.Apply(train), out
}
