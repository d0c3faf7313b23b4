package suite

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/moeboost/moeboost/train/data"
)

// ParseDataFlags turns the -header, -label, -task, -categorical and -impute flag values into
// data.Options (data.ParseOptions).
func ParseDataFlags(header, label, task, categorical, impute string) (data.Options, error) {
	return data.ParseOptions(header, label, task, categorical, impute)
}

// LoadFrame reads the -data file with the -header, -label, -task and -categorical flags; task,
// when not data.Auto, is the benchmark's requirement and overrides -task=auto (a conflicting
// explicit -task is an error). The frame's summary (shape, task, the class-name mapping,
// categorical and missing columns) is printed to o.Out.
func (o Options) LoadFrame(task data.Task) (*data.Frame, error) {
	if o.DataFile == "" {
		return nil, fmt.Errorf("no -data file given")
	}
	ro := o.Data.Read
	if task != data.Auto {
		if ro.Task != data.Auto && ro.Task != task {
			return nil, fmt.Errorf("-task=%s, but this benchmark needs %s data", ro.Task, task)
		}
		ro.Task = task
	}
	f, err := data.LoadFrame(o.DataFile, ro)
	if err != nil {
		return nil, fmt.Errorf("-data: %w", err)
	}
	if o.Out != nil {
		fmt.Fprintf(o.Out, "data %s\n", f.Describe())
	}
	return f, nil
}

// LoadTable is LoadFrame followed by ToDense with -impute: the all-numeric table networks
// train on (categorical columns one-hot).
func (o Options) LoadTable(task data.Task) (*data.Table, error) {
	f, err := o.LoadFrame(task)
	if err != nil {
		return nil, err
	}
	t, err := f.ToDense(o.Data.Dense)
	if err != nil {
		return nil, fmt.Errorf("-data: %w", err)
	}
	return t, nil
}

// ClassNamesExtra returns the class-name mapping of a classification table for a result
// row's Extra (class id i is the label text names[i]), or nil for regression.
func ClassNamesExtra(t *data.Table) []string {
	if t.Task != data.Classification {
		return nil
	}
	return t.ClassNames
}

// DataOrBuiltin returns the tables a benchmark runs on: the -data file alone (LoadTable with
// task, named after the file when it has no name of its own), or else the named bundled
// tables (data.Builtin), in order.
func (o Options) DataOrBuiltin(task data.Task, builtins ...string) ([]*data.Table, error) {
	if o.DataFile != "" {
		t, err := o.LoadTable(task)
		if err != nil {
			return nil, err
		}
		if t.Name == "" {
			t.Name = strings.TrimSuffix(filepath.Base(o.DataFile), filepath.Ext(o.DataFile))
		}
		return []*data.Table{t}, nil
	}
	if len(builtins) == 0 {
		return nil, fmt.Errorf("no -data file and no bundled table named")
	}
	tables := make([]*data.Table, 0, len(builtins))
	for _, name := range builtins {
		t, err := data.Builtin(name)
		if err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	return tables, nil
}
