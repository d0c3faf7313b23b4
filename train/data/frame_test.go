package data

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/require"
)

// col describes one expected feature column: name, kind, levels, values (NaN = missing).
type col struct {
	name   string
	kind   ColumnKind
	levels []string
	values []float64
}

func requireFrame(t *testing.T, f *Frame, cols []col, task Task, classes []string, y []float64) {
	t.Helper()
	require.Len(t, f.Features, len(cols))
	for i, c := range cols {
		got := f.Features[i]
		require.Equal(t, c.name, got.Name, "column %d", i)
		require.Equal(t, c.kind, got.Kind, c.name)
		require.Equal(t, c.levels, got.Levels, c.name)
		require.Len(t, got.Values, len(c.values), c.name)
		for r, v := range c.values {
			if math.IsNaN(v) {
				require.True(t, math.IsNaN(got.Values[r]), "%s row %d: want missing, got %v", c.name, r, got.Values[r])
			} else {
				require.Equal(t, v, got.Values[r], "%s row %d", c.name, r)
			}
		}
	}
	require.Equal(t, task, f.Task)
	require.Equal(t, classes, f.ClassNames)
	require.Equal(t, y, f.Y)
	require.Equal(t, len(y), f.N)
}

func TestReadFrame(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name, csv string
		opts      ReadOptions
		cols      []col
		task      Task
		classes   []string
		y         []float64
		label     string
	}{
		{name: "pandas header, string classes", csv: "x1,x2,label\n1,2,cat\n3,4,dog\n5,6,cat\n",
			cols: []col{{"x1", Numeric, nil, []float64{1, 3, 5}}, {"x2", Numeric, nil, []float64{2, 4, 6}}},
			task: Classification, classes: []string{"cat", "dog"}, y: []float64{0, 1, 0}, label: "label"},
		{name: "pandas index column", csv: ",size,y\n0,1.5,a\n1,2.5,b\n",
			cols: []col{{"unnamed_1", Numeric, nil, []float64{0, 1}}, {"size", Numeric, nil, []float64{1.5, 2.5}}},
			task: Classification, classes: []string{"a", "b"}, y: []float64{0, 1}, label: "y"},
		{name: "regression with header", csv: "a,b,price\n1,2,3.5\n2,3,4.25\n4,1,9.5\n",
			cols: []col{{"a", Numeric, nil, []float64{1, 2, 4}}, {"b", Numeric, nil, []float64{2, 3, 1}}},
			task: Regression, classes: []string{"price"}, y: []float64{3.5, 4.25, 9.5}, label: "price"},
		{name: "no header, categorical", csv: "red,1.5,yes\nblue,2.5,no\nred,0.5,yes\n",
			cols: []col{{"x1", Categorical, []string{"blue", "red"}, []float64{1, 0, 1}}, {"x2", Numeric, nil, []float64{1.5, 2.5, 0.5}}},
			task: Classification, classes: []string{"no", "yes"}, y: []float64{1, 0, 1}},
		{name: "forced header of numbers", csv: "1,2,3\n4,5,0\n6,7,1\n", opts: ReadOptions{Header: HeaderNames},
			cols: []col{{"1", Numeric, nil, []float64{4, 6}}, {"2", Numeric, nil, []float64{5, 7}}},
			task: Classification, classes: []string{"0", "1"}, y: []float64{0, 1}, label: "3"},
		{name: "forced no header", csv: "a,b,c\nb,a,d\n", opts: ReadOptions{Header: HeaderNone},
			cols: []col{{"x1", Categorical, []string{"a", "b"}, []float64{0, 1}}, {"x2", Categorical, []string{"a", "b"}, []float64{1, 0}}},
			task: Classification, classes: []string{"c", "d"}, y: []float64{0, 1}},
		{name: "label by name", csv: "y,x\n0,1.5\n1,2.5\n", opts: ReadOptions{Label: "y"},
			cols: []col{{"x", Numeric, nil, []float64{1.5, 2.5}}}, task: Classification, classes: []string{"0", "1"}, y: []float64{0, 1}, label: "y"},
		{name: "label by index", csv: "7,1.5,9\n8,2.5,9\n", opts: ReadOptions{Label: "0", Task: Regression},
			cols: []col{{"x2", Numeric, nil, []float64{1.5, 2.5}}, {"x3", Numeric, nil, []float64{9, 9}}}, task: Regression, y: []float64{7, 8}},
		{name: "label by negative index", csv: "a,b,c\n1,5,2\n2,6,3\n", opts: ReadOptions{Label: "-2", Task: Regression},
			cols: []col{{"a", Numeric, nil, []float64{1, 2}}, {"c", Numeric, nil, []float64{2, 3}}}, task: Regression, classes: []string{"b"}, y: []float64{5, 6}, label: "b"},
		{name: "missing cells", csv: "a,b,y\n1,,0\nNA,2,1\n3,n/a,1\n",
			cols: []col{{"a", Numeric, nil, []float64{1, nan, 3}}, {"b", Numeric, nil, []float64{nan, 2, nan}}},
			task: Classification, classes: []string{"0", "1"}, y: []float64{0, 1, 1}, label: "y"},
		{name: "missing categorical", csv: "c,v,y\nred,1,a\n,2,b\nNA,3,a\nblue,4,b\n",
			cols: []col{{"c", Categorical, []string{"blue", "red"}, []float64{1, nan, nan, 0}}, {"v", Numeric, nil, []float64{1, 2, 3, 4}}},
			task: Classification, classes: []string{"a", "b"}, y: []float64{0, 1, 0, 1}, label: "y"},
		{name: "quotes, BOM, CRLF", csv: "\ufeff\"name, full\",x,\"y\"\r\n\"Smith, J\",1,\"a \"\"b\"\"\"\r\n\"Doe,\nJ\",2,c\r\n",
			cols: []col{{"name, full", Categorical, []string{"Doe,\nJ", "Smith, J"}, []float64{1, 0}}, {"x", Numeric, nil, []float64{1, 2}}},
			task: Classification, classes: []string{`a "b"`, "c"}, y: []float64{0, 1}, label: "y"},
		{name: "semicolon, decimal comma", csv: "a;b;y\n1,5;2;0\n2,25;3;1\n",
			cols: []col{{"a", Numeric, nil, []float64{1.5, 2.25}}, {"b", Numeric, nil, []float64{2, 3}}},
			task: Classification, classes: []string{"0", "1"}, y: []float64{0, 1}, label: "y"},
		{name: "tab", csv: "a\tb\ty\n1\t2\t0.5\n3\t4\t1.5\n4\t4\t2.5\n",
			cols: []col{{"a", Numeric, nil, []float64{1, 3, 4}}, {"b", Numeric, nil, []float64{2, 4, 4}}},
			task: Regression, classes: []string{"y"}, y: []float64{0.5, 1.5, 2.5}, label: "y"},
		{name: "spaces and blank lines", csv: "a , b, y\n\n 1 , 2 ,0\n   \n3,4, 1\n",
			cols: []col{{"a", Numeric, nil, []float64{1, 3}}, {"b", Numeric, nil, []float64{2, 4}}},
			task: Classification, classes: []string{"0", "1"}, y: []float64{0, 1}, label: "y"},
		{name: "trailing delimiter", csv: "a,b,y,\n1,2,0,\n3,4,1,\n",
			cols: []col{{"a", Numeric, nil, []float64{1, 3}}, {"b", Numeric, nil, []float64{2, 4}}},
			task: Classification, classes: []string{"0", "1"}, y: []float64{0, 1}, label: "y"},
		{name: "labels 1..3 mapped", csv: "x,y\n1,1\n2,3\n3,2\n4,3\n",
			cols: []col{{"x", Numeric, nil, []float64{1, 2, 3, 4}}}, task: Classification, classes: []string{"1", "2", "3"}, y: []float64{0, 2, 1, 2}, label: "y"},
		{name: "labels -1/1 binary", csv: "x,y\n1,-1\n2,1\n3,1\n",
			cols: []col{{"x", Numeric, nil, []float64{1, 2, 3}}}, task: Classification, classes: []string{"-1", "1"}, y: []float64{0, 1, 1}, label: "y"},
		{name: "numeric column turned categorical keeps text", csv: "z,y\n01,a\nx,b\nw,a\n",
			cols: []col{{"z", Categorical, []string{"01", "w", "x"}, []float64{0, 2, 1}}}, task: Classification, classes: []string{"a", "b"}, y: []float64{0, 1, 0}, label: "y"},
		{name: "categorical option", csv: "zip,y\n02134,1.5\n10001,2.5\n02134,3\n", opts: ReadOptions{Categorical: []string{"zip"}},
			cols: []col{{"zip", Categorical, []string{"02134", "10001"}, []float64{0, 1, 0}}}, task: Regression, classes: []string{"y"}, y: []float64{1.5, 2.5, 3}, label: "y"},
		{name: "bundled classes", csv: "3,2,setosa,virginica\n1,2,0\n3,4,1\n5,6,1\n",
			cols: []col{{"x1", Numeric, nil, []float64{1, 3, 5}}, {"x2", Numeric, nil, []float64{2, 4, 6}}},
			task: Classification, classes: []string{"setosa", "virginica"}, y: []float64{0, 1, 1}},
		{name: "bundled regression", csv: "2,1,target\n1,2.5\n3,4.5\n",
			cols: []col{{"x1", Numeric, nil, []float64{1, 3}}}, task: Regression, classes: []string{"target"}, y: []float64{2.5, 4.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ReadFrame(strings.NewReader(tc.csv), "t", tc.opts)
			require.NoError(t, err)
			requireFrame(t, f, tc.cols, tc.task, tc.classes, tc.y)
			require.Equal(t, tc.label, f.LabelName)
		})
	}
}

func TestReadFrameErrors(t *testing.T) {
	for _, tc := range []struct {
		name, csv string
		opts      ReadOptions
		err       string
	}{
		{"duplicate names", "a,b,a\n1,2,0\n", ReadOptions{}, `t line 1 column 3: column name "a" repeats column 1; names must be unique`},
		{"unknown label", "a,b,y\n1,2,0\n", ReadOptions{Label: "z"}, `t line 1: label column: "z" is neither a column name (known: ["a" "b" "y"]) nor a column index in [-3, 2]`},
		{"label index out of range", "1,2,0\n", ReadOptions{Label: "3"}, `t line 1: label column: "3" is not a column index in [-3, 2] (the file has no header of names)`},
		{"missing label", "a,y\n1,0\n2,\n3,NA\n", ReadOptions{}, "t line 3 column 2: the label is missing; every row needs a label (drop or fill the 2 row(s) without one)"},
		{"bare quote", "a,b,y\n1,2\"x,0\n", ReadOptions{}, `t line 2, character 4: bare " in non-quoted-field`},
		{"unterminated quote", "a,b,y\n1,\"2,0\n", ReadOptions{}, `t line 2, character 8: extraneous or missing " in quoted-field`},
		{"too many cells", "a,b,y\n1,2,0,5\n", ReadOptions{}, "t line 2 column 4: ragged row: 4 cells, the header has 3 columns"},
		{"invalid utf8", "a,b,y\n1,2,0\n\xff,2,1\n", ReadOptions{}, "t line 3, character 1: the file is not valid UTF-8 text"},
		{"invalid utf8 mid-line", "a,b,y\n1,é\xff,0\n", ReadOptions{}, "t line 2, character 4: the file is not valid UTF-8 text"},
		{"unknown categorical", "a,b,y\n1,2,0\n", ReadOptions{Categorical: []string{"q"}}, `t line 1: categorical column: "q" is neither a column name`},
		{"regression on strings", "a,y\n1,x\n2,y\n", ReadOptions{Task: Regression}, `t line 2 column 2: regression label "x" is not a number`},
		{"no feature", "a,y\n,1\n,0\n", ReadOptions{Header: HeaderNames}, ""},
		{"label only features empty", "y\n1\n", ReadOptions{}, "t line 1 column 1: a row needs at least one feature and a label, this one has 1 column"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadFrame(strings.NewReader(tc.csv), "t", tc.opts)
			if tc.err == "" {
				// An all-missing feature column is still a column (ToDense rejects it).
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
			require.NotContains(t, err.Error(), "\n", "one sentence")
		})
	}
}

func TestToDense(t *testing.T) {
	csv := "color,a,b,y\nred,1,,x\n,NA,4,y\nblue,3,8,x\nred,5,5,y\n"
	f, err := ReadFrame(strings.NewReader(csv), "t", ReadOptions{})
	require.NoError(t, err)
	_, err = f.ToDense(DenseOptions{})
	require.EqualError(t, err, `t line 3 column 2: feature "a" has 1 missing cell(s) of 4; networks need every value: pass -impute mean or -impute median, or use trees, which route missing values natively`)
	for _, tc := range []struct {
		impute Impute
		x      []float64
	}{
		// color=blue, color=red, a, b; a's mean/median of {1,3,5} is 3; b's mean of {4,8,5}
		// is 17/3, its median 5.
		{ImputeMean, []float64{0, 1, 1, 17.0 / 3, 0, 0, 3, 4, 1, 0, 3, 8, 0, 1, 5, 5}},
		{ImputeMedian, []float64{0, 1, 1, 5, 0, 0, 3, 4, 1, 0, 3, 8, 0, 1, 5, 5}},
	} {
		tab, err := f.ToDense(DenseOptions{Impute: tc.impute})
		require.NoError(t, err, tc.impute)
		require.Equal(t, []string{"color=blue", "color=red", "a", "b"}, tab.FeatureNames)
		require.Equal(t, 4, tab.D)
		require.InDeltaSlice(t, tc.x, tab.X, 1e-12, tc.impute)
		require.Equal(t, []string{"x", "y"}, tab.ClassNames)
		require.Equal(t, []float64{0, 1, 0, 1}, tab.Y)
		require.Equal(t, "y", tab.LabelName)
	}
	empty, err := ReadFrame(strings.NewReader("a,y\n,1\n,0\n"), "t", ReadOptions{Header: HeaderNames})
	require.NoError(t, err)
	_, err = empty.ToDense(DenseOptions{Impute: ImputeMean})
	require.ErrorContains(t, err, `t line 2 column 1: feature "a" has 2 missing cell(s) of 2, so there is nothing to impute from`)
	require.Contains(t, f.Describe(), `t: 4 rows, 3 features, classification of y (0="x", 1="y"); categorical: color(2); missing: color(1), a(1), b(1)`)
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		in  string
		err string
	}{{"auto", ""}, {"yes", ""}, {"no", ""}, {"maybe", `header mode "maybe": allowed are auto, yes, no`}} {
		_, err := ParseHeaderMode(tc.in)
		if tc.err == "" {
			require.NoError(t, err)
		} else {
			require.EqualError(t, err, tc.err)
		}
	}
	m, err := ParseImpute("median")
	require.NoError(t, err)
	require.Equal(t, ImputeMedian, m)
	_, err = ParseImpute("mode")
	require.EqualError(t, err, `impute "mode": allowed are none, mean, median`)
	task, err := ParseTask("regression")
	require.NoError(t, err)
	require.Equal(t, Regression, task)
	_, err = ParseTask("ranking")
	require.EqualError(t, err, `task "ranking": allowed are auto, classification, regression`)
}

func TestLoadTableAndParquet(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "pets.csv")
	require.NoError(t, os.WriteFile(csvPath, []byte("w,kind,y\n1.5,cat,0.5\n,dog,1.5\n2.5,cat,2\n"), 0o644))
	tab, err := LoadTable(csvPath, Options{Read: ReadOptions{Task: Regression}, Dense: DenseOptions{Impute: ImputeMean}})
	require.NoError(t, err)
	require.Equal(t, "pets", tab.Name)
	require.Equal(t, []float64{1.5, 1, 0, 2, 0, 1, 2.5, 1, 0}, tab.X)
	_, err = LoadCSV(csvPath, Auto)
	require.ErrorContains(t, err, `pets line 3 column 1: feature "w" has 1 missing cell(s) of 3`)

	// The same table as Parquet (float64 with a null, string, string label).
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "w", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "kind", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int32},
		{Name: "y", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Float64Builder).AppendValues([]float64{1.5, 0, 2.5}, []bool{true, false, true})
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"cat", "", "cat"}, []bool{true, false, true})
	b.Field(2).(*array.Int32Builder).AppendValues([]int32{3, 4, 5}, nil)
	b.Field(3).(*array.StringBuilder).AppendValues([]string{"yes", "no", "yes"}, nil)
	rec := b.NewRecord()
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.Record{rec})
	defer tbl.Release()
	var buf bytes.Buffer
	require.NoError(t, pqarrow.WriteTable(tbl, &buf, 2, nil, pqarrow.DefaultWriterProps()))
	pqPath := filepath.Join(dir, "pets.parquet")
	require.NoError(t, os.WriteFile(pqPath, buf.Bytes(), 0o644))
	f, err := LoadFrame(pqPath, ReadOptions{})
	require.NoError(t, err)
	nan := math.NaN()
	requireFrame(t, f, []col{
		{"w", Numeric, nil, []float64{1.5, nan, 2.5}},
		{"kind", Categorical, []string{"cat"}, []float64{0, nan, 0}},
		{"n", Numeric, nil, []float64{3, 4, 5}},
	}, Classification, []string{"no", "yes"}, []float64{1, 0, 1})
	require.Equal(t, "y", f.LabelName)
	f, err = LoadFrame(pqPath, ReadOptions{Label: "n", Task: Regression})
	require.NoError(t, err)
	require.Equal(t, []float64{3, 4, 5}, f.Y)
	_, err = LoadFrame(pqPath, ReadOptions{Label: "q"})
	require.ErrorContains(t, err, `pets line 1: label column: "q" is neither a column name (known: ["w" "kind" "n" "y"])`)
	require.NoError(t, os.WriteFile(pqPath, []byte("not parquet"), 0o644))
	_, err = LoadFrame(pqPath, ReadOptions{})
	require.ErrorContains(t, err, "pets: not a readable Parquet file")
}

// FuzzReadFrame: no input makes the reader panic or return an inconsistent frame, and every
// error is one line naming the line of the file.
func FuzzReadFrame(f *testing.F) {
	for _, s := range []string{
		"x1,x2,label\n1,2,cat\n3,4,dog\n", ",a,y\n0,1,a\n1,,b\n", "a;b;y\n1,5;2;0\n2;3;1\n",
		"\ufeff\"q, r\",x,y\r\n\"a\"\"b\",1,c\r\nz,2,d\r\n", "3,2,a,b\n1,2,0\n3,4,1\n5,6,1\n",
		"red,1.5,yes\nblue,NA,no\n", "a,b,y,\n1,2,0,\n", "1,2\"x,0\n", "a\tb\n1\t2\n3\t4\n",
	} {
		f.Add([]byte(s), "")
		f.Add([]byte(s), "0")
	}
	f.Fuzz(func(t *testing.T, data []byte, label string) {
		fr, err := ReadFrame(bytes.NewReader(data), "fuzz", ReadOptions{Label: label})
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "fuzz line ") {
				t.Fatalf("error is not one sentence starting with the line: %q", msg)
			}
			return
		}
		if fr.N < 1 || len(fr.Features) < 1 || len(fr.Y) != fr.N || len(fr.Lines) != fr.N {
			t.Fatalf("inconsistent frame: N=%d features=%d len(Y)=%d", fr.N, len(fr.Features), len(fr.Y))
		}
		for _, c := range fr.Features {
			if len(c.Values) != fr.N {
				t.Fatalf("column %q has %d values for %d rows", c.Name, len(c.Values), fr.N)
			}
			for _, v := range c.Values {
				if c.Kind == Categorical && !math.IsNaN(v) && (v < 0 || int(v) >= len(c.Levels)) {
					t.Fatalf("column %q code %v outside %d levels", c.Name, v, len(c.Levels))
				}
				if math.IsInf(v, 0) {
					t.Fatalf("column %q holds %v", c.Name, v)
				}
			}
		}
		for _, y := range fr.Y {
			if math.IsNaN(y) || math.IsInf(y, 0) || fr.Task == Classification && (y < 0 || int(y) >= fr.NumClasses || y != math.Trunc(y)) {
				t.Fatalf("bad label %v (task %s, %d classes)", y, fr.Task, fr.NumClasses)
			}
		}
		if fr.Task == Classification && (fr.NumClasses < 2 || len(fr.ClassNames) != fr.NumClasses) {
			t.Fatalf("classification with %d classes and names %q", fr.NumClasses, fr.ClassNames)
		}
		if tab, err := fr.ToDense(DenseOptions{Impute: ImputeMedian}); err == nil {
			if len(tab.X) != tab.N*tab.D || len(tab.FeatureNames) != tab.D {
				t.Fatalf("inconsistent dense table")
			}
		}
	})
}

func TestReadFrameTruncatedGzip(t *testing.T) {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write([]byte(strings.Repeat("1,2,0\n", 2000)))
	require.NoError(t, w.Close())
	raw := buf.Bytes()
	_, err := ReadFrame(bytes.NewReader(raw[:len(raw)-10]), "t", ReadOptions{})
	require.ErrorContains(t, err, "t line 2001: bad gzip stream after 12000 bytes (unexpected EOF)")
	_, err = ReadFrame(bytes.NewReader(raw[:5]), "t", ReadOptions{})
	require.ErrorContains(t, err, "t line 1: bad gzip stream (unexpected EOF)")
}

// BenchmarkReadFrame reads a 100,000 x 10 numeric CSV with a header and a string label.
func BenchmarkReadFrame(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("x0,x1,x2,x3,x4,x5,x6,x7,x8,x9,label\n")
	rng := uint64(1)
	for r := 0; r < 100000; r++ {
		for j := 0; j < 10; j++ {
			rng = rng*6364136223846793005 + 1442695040888963407
			fmt.Fprintf(&sb, "%.6g,", float64(rng>>11)/(1<<53)*4-2)
		}
		sb.WriteString([]string{"cat", "dog", "emu"}[r%3])
		sb.WriteByte('\n')
	}
	raw := []byte(sb.String())
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for range b.N {
		f, err := ReadFrame(bytes.NewReader(raw), "bench", ReadOptions{})
		if err != nil || f.N != 100000 {
			b.Fatalf("read: %v", err)
		}
	}
}
