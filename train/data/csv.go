// Package data loads the numeric tables moeboost trains on and turns them into batches.
//
// The CSV format: one example per line, numeric feature columns and the label in the last
// column; an optional first line `count,features,name...` (scikit-learn's bundled format:
// example count, feature count, then class names, or one target name for regression); gzip
// accepted (detected by its magic bytes). Bad input (ragged rows, non-numeric cells, NaN or
// infinite values, empty files, a header that disagrees with the data) is an error naming the
// line and column.
package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
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
	// ClassNames holds the header's class names (or "0", "1", ... when there was no header);
	// for regression it holds the target name, if any.
	ClassNames []string
}

// Row returns the features of example i (a view into X).
func (t *Table) Row(i int) []float64 { return t.X[i*t.D : (i+1)*t.D] }

// maxInferredClasses bounds the number of distinct integer labels that Auto still reads as
// classes.
const maxInferredClasses = 100

// ReadCSV parses a numeric CSV (see the package doc) read from r. name labels the table and
// error messages.
func ReadCSV(r io.Reader, name string, task Task) (*Table, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: bad gzip stream: %w", name, err)
		}
		defer gz.Close()
		br = bufio.NewReader(gz)
	}
	t := &Table{Name: name}
	var header []string
	headerCount, headerFeatures := -1, -1
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		cells := strings.Split(line, ",")
		if t.D == 0 && headerCount < 0 && t.N == 0 && len(cells) >= 2 {
			if isHeader(cells) {
				c, err1 := strconv.Atoi(strings.TrimSpace(cells[0]))
				f, err2 := strconv.Atoi(strings.TrimSpace(cells[1]))
				if err1 != nil || err2 != nil || c < 0 || f < 1 {
					return nil, fmt.Errorf("%s line %d: header must be `count,features,name...` with a count >= 0 and features >= 1, got %q", name, lineNo, line)
				}
				headerCount, headerFeatures = c, f
				for _, h := range cells[2:] {
					header = append(header, strings.TrimSpace(h))
				}
				continue
			}
		}
		if len(cells) < 2 {
			return nil, fmt.Errorf("%s line %d: need at least one feature and a label, got %d column(s)", name, lineNo, len(cells))
		}
		if t.N == 0 && t.D == 0 {
			t.D = len(cells) - 1
			if headerFeatures >= 0 && headerFeatures != t.D {
				return nil, fmt.Errorf("%s line %d: header says %d features but the row has %d (label last)", name, lineNo, headerFeatures, t.D)
			}
		} else if len(cells)-1 != t.D {
			return nil, fmt.Errorf("%s line %d: ragged row: %d columns, previous rows have %d", name, lineNo, len(cells), t.D+1)
		}
		for j, c := range cells {
			v, err := strconv.ParseFloat(strings.TrimSpace(c), 64)
			if err != nil {
				return nil, fmt.Errorf("%s line %d column %d: %q is not a number", name, lineNo, j+1, c)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s line %d column %d: %q is not a finite number (NaN and infinity are not allowed)", name, lineNo, j+1, c)
			}
			if j < t.D {
				t.X = append(t.X, v)
			} else {
				t.Y = append(t.Y, v)
			}
		}
		t.N++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: reading line %d: %w", name, lineNo+1, err)
	}
	if t.N == 0 {
		return nil, fmt.Errorf("%s: no data rows (empty file or header only)", name)
	}
	if headerCount >= 0 && headerCount != t.N {
		return nil, fmt.Errorf("%s: header says %d rows but the file has %d", name, headerCount, t.N)
	}
	if err := t.setTask(task, header); err != nil {
		return nil, err
	}
	return t, nil
}

func isHeader(cells []string) bool {
	// A header has integer count and features and at least one non-numeric name, or exactly
	// the shape `count,features,name...` where names are not numbers.
	if len(cells) < 3 {
		return false
	}
	for _, c := range cells[2:] {
		if _, err := strconv.ParseFloat(strings.TrimSpace(c), 64); err != nil {
			return true
		}
	}
	return false
}

func (t *Table) setTask(task Task, header []string) error {
	integerLabels := true
	maxLabel := 0.0
	distinct := map[float64]bool{}
	for _, y := range t.Y {
		if y < 0 || y != math.Trunc(y) {
			integerLabels = false
		}
		maxLabel = max(maxLabel, y)
		if len(distinct) <= maxInferredClasses {
			distinct[y] = true
		}
	}
	if task == Auto {
		switch {
		case len(header) >= 2:
			task = Classification
		case len(header) == 1:
			task = Regression
		case integerLabels && len(distinct) <= maxInferredClasses && maxLabel < maxInferredClasses:
			task = Classification
		default:
			task = Regression
		}
	}
	t.Task = task
	if task == Regression {
		t.ClassNames = header
		return nil
	}
	if !integerLabels {
		for i, y := range t.Y {
			if y < 0 || y != math.Trunc(y) {
				return fmt.Errorf("%s: classification label of row %d is %v; labels must be class ids 0, 1, 2, ...", t.Name, i+1, y)
			}
		}
	}
	t.NumClasses = int(maxLabel) + 1
	if len(header) > 0 {
		if len(header) < t.NumClasses {
			return fmt.Errorf("%s: header names %d classes but labels go up to %d", t.Name, len(header), t.NumClasses-1)
		}
		t.NumClasses = len(header)
		t.ClassNames = header
	} else {
		for c := range t.NumClasses {
			t.ClassNames = append(t.ClassNames, strconv.Itoa(c))
		}
	}
	if t.NumClasses < 2 {
		return fmt.Errorf("%s: classification needs at least 2 classes, the labels hold %d", t.Name, t.NumClasses)
	}
	return nil
}

// LoadCSV reads a numeric CSV file (gzip accepted); see ReadCSV.
func LoadCSV(path string, task Task) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name := filepath.Base(path)
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".csv")
	return ReadCSV(f, name, task)
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
