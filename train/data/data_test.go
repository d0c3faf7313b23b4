package data

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadCSV(t *testing.T) {
	for _, tc := range []struct {
		name, csv  string
		task       Task
		n, d, nCls int
		wantTask   Task
		err        string
	}{
		{name: "header classes", csv: "3,2,a,b\n1,2,0\n3,4,1\n5,6,1\n", n: 3, d: 2, nCls: 2, wantTask: Classification},
		{name: "header regression", csv: "2,1,target\n1,2.5\n3,4.5\n", n: 2, d: 1, wantTask: Regression},
		{name: "no header ints", csv: "1,2,0\n3,4,2\n5,6,1\n", n: 3, d: 2, nCls: 3, wantTask: Classification},
		{name: "no header floats", csv: "1,2,0.5\n3,4,2\n5,6,7.5\n", n: 3, d: 2, wantTask: Regression},
		{name: "forced regression", csv: "1,2,0\n3,4,1\n", task: Regression, n: 2, d: 2, wantTask: Regression},
		{name: "blank lines and spaces", csv: "\n 1 , 2 ,0\n\n3,4, 1\n", n: 2, d: 2, nCls: 2, wantTask: Classification},
		{name: "ragged", csv: "1,2,0\n3,1\n", err: "line 2 column 3: ragged row: 2 cells, the first row has 3 columns"},
		{name: "typo in numeric column", csv: "1,2,0\n1,x,0\n3,4,1\n", err: `line 2 column 2: "x" is not a number, though 2 of the column's 2 other filled cells are`},
		{name: "missing for networks", csv: "1,NaN,0\n2,3,1\n", err: `line 1 column 2: feature "x2" has 1 missing cell(s) of 2; networks need every value: pass -impute mean or -impute median`},
		{name: "inf", csv: "1,2,+Inf\n", err: `line 1 column 3: "+Inf" is not a finite number`},
		{name: "empty", csv: "", err: "line 1: the file has no data rows (it is empty)"},
		{name: "header only", csv: "0,2,a,b\n", err: "line 2: no data rows after the header"},
		{name: "header count", csv: "3,2,a,b\n1,2,0\n", err: "line 1 column 1: header says 3 rows but the file has 1"},
		{name: "header features", csv: "1,3,a,b\n1,2,0\n", err: "line 2 column 4: ragged row: 3 cells, the first row has 4 columns"},
		{name: "one column", csv: "1\n2\n", err: "line 1 column 1: a row needs at least one feature and a label"},
		{name: "one class", csv: "1,2,0\n", task: Classification, err: `line 1 column 3: classification needs at least 2 classes, the label column holds only ["0"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := ReadCSV(strings.NewReader(tc.csv), "t", tc.task)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.n, tab.N)
			require.Equal(t, tc.d, tab.D)
			require.Equal(t, tc.wantTask, tab.Task)
			require.Equal(t, tc.nCls, tab.NumClasses)
			require.Len(t, tab.X, tc.n*tc.d)
			require.Len(t, tab.Y, tc.n)
		})
	}
}

func TestGzipAndFile(t *testing.T) {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write([]byte("1,2,0\n3,4,1\n"))
	require.NoError(t, w.Close())
	path := filepath.Join(t.TempDir(), "x.csv.gz")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	tab, err := LoadCSV(path, Auto)
	require.NoError(t, err)
	require.Equal(t, "x", tab.Name)
	require.Equal(t, []float64{1, 2, 3, 4}, tab.X)
	_, err = Load(filepath.Join(t.TempDir(), "missing.csv"))
	require.ErrorContains(t, err, "neither a builtin")
}

func TestBuiltin(t *testing.T) {
	for _, tc := range []struct {
		name       string
		n, d, nCls int
	}{{"digits", 1797, 64, 10}, {"iris", 150, 4, 3}, {"breast_cancer", 569, 30, 2}, {"diabetes", 442, 10, 0}} {
		tab, err := Builtin(tc.name)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.n, tab.N, tc.name)
		require.Equal(t, tc.d, tab.D, tc.name)
		require.Equal(t, tc.nCls, tab.NumClasses, tc.name)
	}
	_, err := Builtin("mnist")
	require.ErrorContains(t, err, `unknown builtin dataset "mnist"`)
}

func TestSplitStratifiedAndKFold(t *testing.T) {
	tab, err := Builtin("iris")
	require.NoError(t, err)
	tr, te, err := tab.Split(0.2, 7)
	require.NoError(t, err)
	require.Equal(t, 120, tr.N)
	require.Equal(t, 30, te.N)
	counts := map[float64]int{}
	for _, y := range te.Y {
		counts[y]++
	}
	require.Equal(t, map[float64]int{0: 10, 1: 10, 2: 10}, counts, "stratified")
	tr2, te2, _ := tab.Split(0.2, 7)
	require.Equal(t, tr.X, tr2.X, "same seed, same split")
	require.Equal(t, te.Y, te2.Y)
	_, _, err = tab.Split(1.5, 7)
	require.ErrorContains(t, err, "must be in (0, 1)")

	trains, tests, err := tab.KFold(5, 1)
	require.NoError(t, err)
	total := 0
	for f := range 5 {
		require.Equal(t, 150, trains[f].N+tests[f].N)
		total += tests[f].N
	}
	require.Equal(t, 150, total)
	_, _, err = tab.KFold(1, 1)
	require.ErrorContains(t, err, "k=1")
}

func TestScaler(t *testing.T) {
	tab, err := Builtin("diabetes")
	require.NoError(t, err)
	s, scaled, _ := Standardize(tab, true)
	for j := range scaled.D {
		var m, v float64
		for i := range scaled.N {
			m += scaled.Row(i)[j]
		}
		m /= float64(scaled.N)
		for i := range scaled.N {
			v += (scaled.Row(i)[j] - m) * (scaled.Row(i)[j] - m)
		}
		require.InDelta(t, 0, m, 1e-9)
		require.InDelta(t, 1, v/float64(scaled.N), 1e-9)
	}
	require.InDelta(t, tab.Y[5], s.UnscaleY(scaled.Y[5]), 1e-9)
}

func TestBatchesResumable(t *testing.T) {
	tab, err := Builtin("iris")
	require.NoError(t, err)
	a, err := NewTrainBatches(tab, 32, 3)
	require.NoError(t, err)
	var first [][]int
	for s := range int64(10) {
		first = append(first, append([]int(nil), a.trainIndices(s)...))
	}
	b, _ := NewTrainBatches(tab, 32, 3)
	b.SetStep(6)
	n := 0
	for batch := range b.Iter() {
		idx := b.trainIndices(b.Step() - 1)
		require.Equal(t, first[6+n], idx)
		require.Equal(t, []int{32, 4}, batch.Inputs[0].Shape().Dimensions)
		require.Equal(t, []int{32, 1}, batch.Labels[0].Shape().Dimensions)
		n++
		if n == 4 {
			break
		}
	}
	ev, _ := NewEvalBatches(tab, 64)
	sizes := []int{}
	for batch := range ev.WithIndices().Iter() {
		sizes = append(sizes, batch.Inputs[0].Shape().Dimensions[0])
		require.Len(t, batch.Inputs, 2)
	}
	require.Equal(t, []int{64, 64, 22}, sizes)
	_, err = NewTrainBatches(tab, 0, 1)
	require.ErrorContains(t, err, "batch size 0")
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{"1,2,0\n3,4,1\n", "3,2,a,b\n1,2,0\n", "", "1,x\n", "1,2,3\n4,5\n", "2,1,target\n1,2\n3,4\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := ReadCSV(bytes.NewReader(data), "fuzz", Auto)
		if err != nil {
			return
		}
		if tab.N < 1 || tab.D < 1 || len(tab.X) != tab.N*tab.D || len(tab.Y) != tab.N {
			t.Fatalf("inconsistent table: N=%d D=%d len(X)=%d len(Y)=%d", tab.N, tab.D, len(tab.X), len(tab.Y))
		}
		if tab.Task == Classification && tab.NumClasses < 2 {
			t.Fatalf("classification with %d classes", tab.NumClasses)
		}
	})
}
