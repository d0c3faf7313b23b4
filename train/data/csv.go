// Package data loads the tables moeboost trains on and turns them into batches.
//
// Files: ordinary CSV as pandas, R and spreadsheets write it (a header of names, detected or
// forced; no header; comma, semicolon or tab delimited; quoted fields, BOM, CRLF; string class
// labels; empty/NA cells; categorical string features), scikit-learn's bundled format (a first
// line `count,features,name...`: example count, feature count, then class names or one target
// name), gzip (detected by its magic bytes). ReadFrame/LoadFrame give a Frame (named columns,
// NaN for missing, categorical levels, the label with its class-name mapping); Frame.ToDense
// gives the numeric Table networks train on (one-hot categoricals, missing values an error or
// imputed); boosting/trees.FromFrame gives trees their Data (missing values and categories
// kept). Every error about a file's content is one sentence naming its line and column.
package data

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Task is what the label column holds.
type Task int

const (
	// Auto infers the task: class names in the header mean classification, one target name
	// means regression; without a header, non-negative integer labels with at most 100
	// distinct values mean classification.
	Auto Task = iota
	Classification
	Regression
)

func (t Task) String() string {
	switch t {
	case Classification:
		return "classification"
	case Regression:
		return "regression"
	default:
		return "auto"
	}
}

// Table is a numeric dataset held in memory: N examples of D features (row-major in X) and
// one label each.
type Table struct {
	Name string
	N, D int
	// X holds the features row-major: example i is X[i*D : (i+1)*D].
	X []float64
	// Y holds the labels: class ids 0..NumClasses-1 for classification, targets for regression.
	Y []float64
	// Task is Classification or Regression (never Auto once loaded).
	Task Task
	// NumClasses is the number of classes (0 for regression).
	NumClasses int
	// ClassNames holds the class names, ClassNames[id] being the label text of class id (the
	// mapping to keep with a model): the header's names, the sorted distinct label strings, or
	// "0", "1", ... for integer labels; for regression it holds the target name, if any.
	ClassNames []string
	// FeatureNames names the D columns of X when known (one-hot columns as "name=level").
	FeatureNames []string
	// LabelName is the label column's header name, if any.
	LabelName string
}

// Row returns the features of example i (a view into X).
func (t *Table) Row(i int) []float64 { return t.X[i*t.D : (i+1)*t.D] }

// maxInferredClasses bounds the integer labels that Auto still reads as class ids.
const maxInferredClasses = 100

// Options are the reading and conversion options of LoadTable (the -header, -label, -task,
// -categorical and -impute flags).
type Options struct {
	Read  ReadOptions
	Dense DenseOptions
}

// ReadCSV reads a CSV (see ReadOptions for the format) from r and converts it with ToDense
// (categoricals one-hot, missing values an error); name labels the table and error messages.
func ReadCSV(r io.Reader, name string, task Task) (*Table, error) {
	f, err := ReadFrame(r, name, ReadOptions{Task: task})
	if err != nil {
		return nil, err
	}
	return f.ToDense(DenseOptions{})
}

// LoadFrame reads a CSV file (gzip accepted) or, by its .parquet extension, a Parquet file.
func LoadFrame(path string, o ReadOptions) (*Frame, error) {
	if strings.EqualFold(filepath.Ext(path), ".parquet") {
		return LoadParquet(path, o)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadFrame(f, tableName(path), o)
}

func tableName(path string) string {
	name := filepath.Base(path)
	for _, ext := range []string{".gz", ".csv", ".tsv", ".txt", ".parquet"} {
		name = strings.TrimSuffix(name, ext)
	}
	return name
}

// LoadTable reads a file with LoadFrame and converts it with ToDense.
func LoadTable(path string, o Options) (*Table, error) {
	f, err := LoadFrame(path, o.Read)
	if err != nil {
		return nil, err
	}
	return f.ToDense(o.Dense)
}

// LoadCSV reads a CSV (or Parquet) file with default options but the task: header detected,
// label last, categoricals one-hot, missing values an error. See LoadTable for the options.
func LoadCSV(path string, task Task) (*Table, error) {
	return LoadTable(path, Options{Read: ReadOptions{Task: task}})
}

//go:embed builtin/*.csv builtin/*.csv.gz
var builtinFS embed.FS

var builtinFiles = map[string]string{
	"breast_cancer": "builtin/breast_cancer.csv",
	"diabetes":      "builtin/diabetes.csv",
	"digits":        "builtin/digits.csv.gz",
	"iris":          "builtin/iris.csv",
}

// BuiltinNames lists the datasets embedded in the binary.
func BuiltinNames() []string { return []string{"breast_cancer", "diabetes", "digits", "iris"} }

// Builtin returns an embedded dataset (see builtin/README.md for their origin): "digits"
// (1797x64, 10 classes), "iris" (150x4, 3 classes), "breast_cancer" (569x30, 2 classes),
// "diabetes" (442x10, regression).
func Builtin(name string) (*Table, error) {
	path, ok := builtinFiles[name]
	if !ok {
		return nil, fmt.Errorf("unknown builtin dataset %q: known are %q", name, BuiltinNames())
	}
	raw, err := builtinFS.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ReadCSV(bytes.NewReader(raw), name, Auto)
}

// Load returns a builtin dataset when nameOrPath is one of BuiltinNames, else reads the file.
func Load(nameOrPath string) (*Table, error) {
	if _, ok := builtinFiles[nameOrPath]; ok {
		return Builtin(nameOrPath)
	}
	t, err := LoadCSV(nameOrPath, Auto)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("dataset %q is neither a builtin (%q) nor an existing file", nameOrPath, BuiltinNames())
	}
	return t, err
}
