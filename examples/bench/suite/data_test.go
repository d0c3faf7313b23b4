package suite

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestLoadTableFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cars.csv")
	require.NoError(t, os.WriteFile(path, []byte("make,hp,price,class\nvw,90,,small\nbmw,200,40000,big\nvw,100,15000,small\nbmw,150,,big\n"), 0o644))
	for _, tc := range []struct {
		name                                     string
		header, label, task, categorical, impute string
		need                                     data.Task
		d                                        int
		wantTask                                 data.Task
		y                                        []float64
		err                                      string
	}{
		{name: "classification, median", impute: "median", d: 4, wantTask: data.Classification, y: []float64{1, 0, 1, 0}},
		{name: "regression by label name", label: "price", impute: "mean", need: data.Regression, err: "-data: cars line 2 column 3: the label is missing"},
		{name: "no impute", err: `-data: cars line 2 column 3: feature "price" has 2 missing cell(s) of 4; networks need every value`},
		{name: "conflicting task", task: "regression", need: data.Classification, err: "-task=regression, but this benchmark needs classification data"},
		{name: "label index", label: "1", task: "regression", impute: "mean", d: 5, wantTask: data.Regression, y: []float64{90, 200, 100, 150}},
		{name: "bad header flag", header: "sometimes", err: `-header: header mode "sometimes": allowed are auto, yes, no`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseDataFlags(tc.header, tc.label, tc.task, tc.categorical, tc.impute)
			if err == nil {
				var out bytes.Buffer
				opts := Options{DataFile: path, Data: o, Out: &out}
				var tab *data.Table
				tab, err = opts.LoadTable(tc.need)
				if err == nil {
					require.Contains(t, out.String(), "data cars: 4 rows")
					require.Equal(t, tc.d, tab.D)
					require.Equal(t, tc.wantTask, tab.Task)
					require.Equal(t, tc.y, tab.Y)
				}
			}
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestRunDataFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"-impute", "zero"}, `-impute: impute "zero": allowed are none, mean, median`},
		{[]string{"-task", "ranking"}, `-task: task "ranking": allowed are auto, classification, regression`},
		{[]string{"-header", "maybe"}, `-header: header mode "maybe": allowed are auto, yes, no`},
	} {
		var out bytes.Buffer
		require.EqualError(t, Run(context.Background(), tc.args, &out), tc.err)
	}
}

func TestDataOrBuiltin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pairs.csv")
	require.NoError(t, os.WriteFile(path, []byte("x1,x2,label\n1,2,a\n3,4,b\n5,6,a\n7,8,b\n"), 0o644))
	for _, tc := range []struct {
		name     string
		file     string
		builtins []string
		want     []string
		err      string
	}{
		{name: "bundled tables in order", builtins: []string{"iris", "digits"}, want: []string{"iris", "digits"}},
		{name: "-data replaces the bundled tables", file: path, builtins: []string{"iris"}, want: []string{"pairs"}},
		{name: "unknown bundled table", builtins: []string{"irises"}, err: "irises"},
		{name: "nothing to run on", err: "no -data file and no bundled table named"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{DataFile: tc.file, Out: &bytes.Buffer{}}
			tables, err := o.DataOrBuiltin(data.Classification, tc.builtins...)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, tab := range tables {
				names = append(names, tab.Name)
				require.Equal(t, data.Classification, tab.Task)
			}
			require.Equal(t, tc.want, names)
		})
	}
}
