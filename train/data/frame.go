package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ColumnKind says how a feature column is stored.
type ColumnKind int

const (
	// Numeric columns hold float64 values, NaN where the cell was missing.
	Numeric ColumnKind = iota
	// Categorical columns hold level codes 0..len(Levels)-1 as float64, NaN where missing.
	Categorical
)

func (k ColumnKind) String() string {
	if k == Categorical {
		return "categorical"
	}
	return "numeric"
}

// Column is one feature column of a Frame.
type Column struct {
	// Name is the header's name, or "x1", "x2", ... (the 1-based file column) without one.
	Name string
	// FileColumn is the column's 1-based position in the file (error messages use it).
	FileColumn int
	Kind       ColumnKind
	// Values holds one value per row: the number (Numeric) or the level code (Categorical);
	// NaN marks a missing cell.
	Values []float64
	// Levels are a categorical column's distinct values, sorted (code i is Levels[i]).
	Levels []string
	// Missing counts the NaN cells; FirstMissingLine is the file line of the first one.
	Missing, FirstMissingLine int
}

// Frame is a table as read from a CSV or Parquet file, before any choice a learner makes:
// named numeric and categorical feature columns with missing values kept (NaN), and the
// label, either class ids with their class names or a numeric regression target.
// ToDense turns it into the Table networks train on; boosting/trees' FromFrame into the
// trees' Data (missing values and categories kept).
type Frame struct {
	Name     string
	N        int
	Features []Column
	// LabelName is the label column's header name ("" without a header); LabelColumn its
	// 1-based file column.
	LabelName   string
	LabelColumn int
	// Y is the label of each row: a class id in 0..NumClasses-1, or a regression target.
	Y []float64
	// Task is Classification or Regression (never Auto once read); see ReadOptions.Task for
	// the rule that infers it.
	Task Task
	// NumClasses and ClassNames describe the classes: ClassNames[id] is the label text that
	// class id stands for (the mapping to keep with a model). For regression NumClasses is 0
	// and ClassNames holds the target name, if known.
	NumClasses int
	ClassNames []string
	// Lines holds each row's 1-based line number in the file (for Parquet: its 1-based row).
	Lines []int
}

// HeaderMode says whether the first record of a CSV is a header.
type HeaderMode int

const (
	// HeaderAuto detects the header (see ReadOptions).
	HeaderAuto HeaderMode = iota
	// HeaderNames: the first record holds the column names.
	HeaderNames
	// HeaderNone: the first record is data.
	HeaderNone
)

// ParseHeaderMode reads a -header flag value: "auto" (or ""), "yes"/"true"/"names", "no"/"false"/"none".
func ParseHeaderMode(s string) (HeaderMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return HeaderAuto, nil
	case "yes", "true", "names", "1":
		return HeaderNames, nil
	case "no", "false", "none", "0":
		return HeaderNone, nil
	}
	return HeaderAuto, fmt.Errorf("header mode %q: allowed are auto, yes, no", s)
}

// ParseTask reads a -task flag value: "auto" (or ""), "classification", "regression".
func ParseTask(s string) (Task, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return Auto, nil
	case "classification", "class", "classify":
		return Classification, nil
	case "regression", "regress":
		return Regression, nil
	}
	return Auto, fmt.Errorf("task %q: allowed are auto, classification, regression", s)
}

// ReadOptions controls how ReadFrame reads a CSV.
//
// Format: RFC 4180 records (encoding/csv: quoted fields may hold delimiters, quotes and line
// breaks); an optional UTF-8 byte order mark; LF or CRLF line ends; blank lines skipped; cells
// trimmed of spaces; gzip accepted (detected by its magic bytes). The delimiter is detected
// from the first line (the most frequent of comma, semicolon and tab outside quotes; comma
// when none occurs); with a semicolon or tab delimiter a decimal comma ("1,5") also reads as
// a number.
//
// Header (HeaderAuto): the first record is scikit-learn's bundled header
// `count,features,name...` when its first two cells are non-negative integers, some later
// cell is not a number, and the next record has features+1 cells; it is a header of names
// when none of its cells is a number or an NA string (empty names are allowed, as pandas
// writes its index column, but not all empty) and either some column holds only numbers (or
// missing cells) in the next 100 records, or no first-record cell recurs in its column there.
// Otherwise the file has no header. An unnamed last column that is empty in those records (a
// spreadsheet's trailing delimiter) is dropped; other unnamed columns are "unnamed_N".
//
// Missing cells: empty, or one of pandas' default NA strings (NA, N/A, n/a, NaN, nan, -NaN,
// -nan, NULL, null, None, <NA>, #N/A, #NA, #N/A N/A, -1.#IND, -1.#QNAN, 1.#IND, 1.#QNAN).
//
// Feature columns: numeric when every non-missing cell is a finite number; categorical when
// most non-missing cells are not numbers (or when listed in Categorical). A column where most
// cells are numbers but some are not is an error naming the first such cell, since that is
// usually a typo; list the column in Categorical to read it as categories.
type ReadOptions struct {
	Header HeaderMode
	// Label names the label column: a header name, or a 0-based column index (negative counts
	// from the end, -1 is the last column); "" means the last column.
	Label string
	// Task is the label's task; Auto infers it: the bundled header's names decide (two or
	// more class names: classification, one target name: regression); else a label column
	// with any non-number is classification (classes are the sorted distinct strings); else
	// non-negative integer labels below 100 and labels with exactly two distinct values are
	// classification; anything else is regression. Numeric class labels that are exactly
	// 0..K-1 are their own class ids (names "0".."K-1"); other numeric class labels (1..K,
	// -1/1, gaps) map to ids 0, 1, ... by sorted value, named by their values.
	Task Task
	// Categorical lists columns (names or 0-based indices) to read as categorical even when
	// their cells are numbers.
	Categorical []string
	// Delimiter, when not 0, overrides the detected delimiter.
	Delimiter rune
}

// naValues are pandas' default missing-value strings (pandas.read_csv na_values).
var naValues = map[string]bool{
	"": true, "NA": true, "N/A": true, "n/a": true, "NaN": true, "nan": true, "-NaN": true,
	"-nan": true, "NULL": true, "null": true, "None": true, "<NA>": true, "#N/A": true,
	"#NA": true, "#N/A N/A": true, "-1.#IND": true, "-1.#QNAN": true, "1.#IND": true,
	"1.#QNAN": true,
}

// headerProbeRows is how many records after the first the header detection looks at.
const headerProbeRows = 100

// ReadFrame reads a CSV (see ReadOptions for the format and rules) from r; name labels the
// frame and error messages. Every error about the file's content is one sentence naming the
// line and the column (a 1-based field number, or a character position for quoting errors).
func ReadFrame(r io.Reader, name string, o ReadOptions) (*Frame, error) {
	raw, err := readAllMaybeGzip(r, name)
	if err != nil {
		return nil, err
	}
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	if !utf8.Valid(raw) {
		at := firstInvalidUTF8(raw)
		line := 1 + bytes.Count(raw[:at], []byte("\n"))
		char := utf8.RuneCount(raw[bytes.LastIndexByte(raw[:at], '\n')+1:at]) + 1
		return nil, fmt.Errorf("%s line %d, character %d: the file is not valid UTF-8 text (save it as UTF-8 CSV)", name, line, char)
	}
	delim := o.Delimiter
	if delim == 0 {
		delim = detectDelimiter(raw)
	}
	// First pass with every column's kind inferred; a second pass only when a column turned
	// out categorical after numeric cells (so those cells keep their exact text as levels).
	p := &parser{name: name, delim: delim, opts: o}
	f, redo, err := p.parse(raw, nil)
	if err != nil {
		return nil, err
	}
	if redo != nil {
		if f, _, err = p.parse(raw, redo); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

func readAllMaybeGzip(r io.Reader, name string) ([]byte, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s line 1: bad gzip stream (%v)", name, err)
		}
		defer gz.Close()
		raw, err := io.ReadAll(gz)
		if err != nil {
			line := 1 + bytes.Count(raw, []byte("\n"))
			return nil, fmt.Errorf("%s line %d: bad gzip stream after %d bytes (%v)", name, line, len(raw), err)
		}
		return raw, nil
	}
	raw, err := io.ReadAll(br)
	if err != nil {
		return nil, fmt.Errorf("%s line %d: reading failed (%w)", name, 1+bytes.Count(raw, []byte("\n")), err)
	}
	return raw, nil
}

// detectDelimiter returns the most frequent of ',', ';' and '\t' outside quotes on the first
// non-blank line (',' on ties and when none occurs).
func detectDelimiter(raw []byte) rune {
	counts := map[byte]int{}
	inQuote, seen := false, false
	for _, c := range raw {
		if c == '"' {
			inQuote = !inQuote
		}
		if inQuote {
			continue
		}
		if c == '\n' {
			if seen {
				break
			}
			continue
		}
		if c != '\r' && c != ' ' {
			seen = true
		}
		if c == ',' || c == ';' || c == '\t' {
			counts[c]++
		}
	}
	best := byte(',')
	for _, c := range []byte{';', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return rune(best)
}

type parser struct {
	name  string
	delim rune
	opts  ReadOptions
}

// record is one CSV record with its file position.
type record struct {
	cells []string
	line  int
}

// parseNumber reads a cell as a number: ok is false for non-numbers; missing for NA cells.
func (p *parser) parseNumber(s string) (v float64, ok, missing bool) {
	if naValues[s] {
		return math.NaN(), true, true
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && p.delim != ',' && strings.Count(s, ",") == 1 && !strings.Contains(s, ".") {
		v, err = strconv.ParseFloat(strings.Replace(s, ",", ".", 1), 64)
	}
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return v, true, false // ±Inf or 0: reported as not finite by the caller
		}
		return 0, false, false
	}
	if math.IsNaN(v) {
		return v, true, true
	}
	return v, true, false
}

func (p *parser) csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s line %d, character %d: %v", p.name, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("%s: %v", p.name, err)
}

// parse reads the records. forceCat, when not nil, marks the file columns to read as
// categorical; otherwise parse infers the kinds and returns in redo the columns that need a
// second pass.
func (p *parser) parse(raw []byte, forceCat []bool) (*Frame, []bool, error) {
	cr := csv.NewReader(bytes.NewReader(raw))
	cr.Comma = p.delim
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	keep := true // records read before streaming (header and probe) keep their own slices
	next := func() (*record, error) {
		for {
			cells, err := cr.Read()
			if err == io.EOF {
				return nil, nil
			}
			if err != nil {
				return nil, p.csvError(err)
			}
			line, _ := cr.FieldPos(0)
			if len(cells) == 1 && strings.TrimSpace(cells[0]) == "" {
				continue // a line of spaces
			}
			if keep {
				cells = slices.Clone(cells)
			}
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			return &record{cells: cells, line: line}, nil
		}
	}
	first, err := next()
	if err != nil {
		return nil, nil, err
	}
	if first == nil {
		return nil, nil, fmt.Errorf("%s line 1: the file has no data rows (it is empty)", p.name)
	}
	// Look ahead for header detection.
	var probe []*record
	for len(probe) < headerProbeRows {
		r, err := next()
		if err != nil {
			return nil, nil, err
		}
		if r == nil {
			break
		}
		probe = append(probe, r)
	}
	var names []string
	bundledCount, bundledFeatures := -1, -1
	var bundledNames []string
	headerLine := 0
	switch mode := p.opts.Header; {
	case mode == HeaderNone:
	case mode == HeaderAuto && p.isBundled(first, probe):
		bundledCount, _ = strconv.Atoi(first.cells[0])
		bundledFeatures, _ = strconv.Atoi(first.cells[1])
		bundledNames = slices.Clone(first.cells[2:])
		headerLine = first.line
	case mode == HeaderNames || p.isNamesHeader(first, probe):
		names = slices.Clone(first.cells)
		headerLine = first.line
	}
	rows := probe
	if headerLine == 0 {
		rows = append([]*record{first}, probe...)
	}
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("%s line %d: no data rows after the header", p.name, headerLine+1)
	}
	width := len(first.cells)
	if bundledFeatures >= 0 {
		width = bundledFeatures + 1
	}
	// A spreadsheet's trailing delimiter: an unnamed last column that is empty in every
	// probed row is dropped (so the label stays the last real column).
	trailing := false
	if names != nil && len(names) > 1 && names[len(names)-1] == "" {
		trailing = true
		for _, r := range rows {
			if len(r.cells) == width && r.cells[width-1] != "" {
				trailing = false
			}
		}
		if trailing {
			width--
			names = names[:width]
		}
	}
	if names != nil {
		seen := map[string]int{}
		for j, n := range names {
			if n == "" {
				continue
			}
			if k, dup := seen[n]; dup {
				return nil, nil, fmt.Errorf("%s line %d column %d: column name %q repeats column %d; names must be unique", p.name, headerLine, j+1, n, k+1)
			}
			seen[n] = j
		}
	}
	if width < 2 {
		line := first.line
		return nil, nil, fmt.Errorf("%s line %d column 1: a row needs at least one feature and a label, this one has %d column (wrong delimiter? detected %q)", p.name, line, width, string(p.delim))
	}
	labelCol, err := p.labelColumn(names, width, headerLine)
	if err != nil {
		return nil, nil, err
	}
	keep = false
	cat := forceCat
	if cat == nil {
		cat = make([]bool, width)
		// A label with a non-number among the first records is string classes (the rule
		// for the label is "any non-number"), so it needs no second pass.
		for _, r := range rows {
			if len(r.cells) == width {
				if _, ok, _ := p.parseNumber(r.cells[labelCol]); !ok {
					cat[labelCol] = true
					break
				}
			}
		}
		for _, c := range p.opts.Categorical {
			j, err := resolveColumn(c, names, width)
			if err != nil {
				return nil, nil, fmt.Errorf("%s line %d: categorical column: %v", p.name, max(headerLine, 1), err)
			}
			cat[j] = true
		}
	}
	// Column accumulators.
	cols := make([]colAcc, width)
	for j := range cols {
		cols[j].cat = cat[j]
		cols[j].levels = map[string]int{}
	}
	var lines []int
	addRow := func(r *record) error {
		if trailing && len(r.cells) == width+1 && r.cells[width] == "" {
			r.cells = r.cells[:width]
		}
		if len(r.cells) != width {
			col := min(len(r.cells), width) + 1
			if len(r.cells) > width {
				col = width + 1
			}
			what := "the first row has"
			if headerLine != 0 {
				what = "the header has"
				if bundledFeatures >= 0 {
					what = "the header's feature count gives"
				}
			}
			return fmt.Errorf("%s line %d column %d: ragged row: %d cells, %s %d columns", p.name, r.line, col, len(r.cells), what, width)
		}
		for j, s := range r.cells {
			if err := cols[j].add(p, s, r.line, j); err != nil {
				return err
			}
		}
		lines = append(lines, r.line)
		return nil
	}
	for _, r := range rows {
		if err := addRow(r); err != nil {
			return nil, nil, err
		}
	}
	for {
		r, err := next()
		if err != nil {
			return nil, nil, err
		}
		if r == nil {
			break
		}
		if err := addRow(r); err != nil {
			return nil, nil, err
		}
	}
	if len(lines) == 0 {
		return nil, nil, fmt.Errorf("%s line %d: no data rows after the header", p.name, headerLine+1)
	}
	if bundledCount >= 0 && bundledCount != len(lines) {
		return nil, nil, fmt.Errorf("%s line %d column 1: header says %d rows but the file has %d", p.name, headerLine, bundledCount, len(lines))
	}
	// Decide the kinds; ask for a second pass where a column turned out categorical (the
	// label: any non-number; a feature: mostly non-numbers).
	var redo []bool
	for j := range cols {
		c := &cols[j]
		if c.cat || c.nonNumeric == 0 {
			if c.firstInf != nil && !c.cat {
				return nil, nil, fmt.Errorf("%s line %d column %d: %q is not a finite number (infinity is not allowed)", p.name, c.firstInf.line, j+1, c.firstInf.text)
			}
			continue
		}
		if j != labelCol && c.nonNumeric <= c.numericSeen {
			return nil, nil, fmt.Errorf("%s line %d column %d: %q is not a number, though %d of the column's %d other filled cells are; fix the cell, or name the column as categorical", p.name, c.firstNonNum.line, j+1, c.firstNonNum.text, c.numericSeen, c.numericSeen+c.nonNumeric-1)
		}
		redo = ensure(redo, width)
		redo[j] = true
	}
	if redo != nil {
		for j := range cols {
			redo[j] = redo[j] || cols[j].cat
		}
		return nil, redo, nil
	}
	f, err := p.assemble(cols, names, labelCol, lines, bundledNames)
	return f, nil, err
}

// assemble builds the frame from the finished column accumulators (the label's included).
func (p *parser) assemble(cols []colAcc, names []string, labelCol int, lines []int, bundledNames []string) (*Frame, error) {
	f := &Frame{Name: p.name, N: len(lines), Lines: lines}
	for j := range cols {
		c := &cols[j]
		name := fmt.Sprintf("x%d", j+1)
		if names != nil {
			name = names[j]
			if name == "" {
				name = fmt.Sprintf("unnamed_%d", j+1) // pandas' unnamed index column
			}
		}
		if j == labelCol {
			f.LabelColumn = j + 1
			if names != nil {
				f.LabelName = names[j]
			}
			continue
		}
		col := Column{Name: name, FileColumn: j + 1, Values: c.values, Missing: c.missing, FirstMissingLine: c.firstMissing}
		if c.cat {
			col.Kind = Categorical
			col.Levels = c.sortLevels()
		}
		f.Features = append(f.Features, col)
	}
	if len(f.Features) == 0 {
		return nil, fmt.Errorf("%s line %d column %d: the file has a label column but no feature column", p.name, lines[0], labelCol+1)
	}
	if err := p.setLabel(f, &cols[labelCol], labelCol, bundledNames); err != nil {
		return nil, err
	}
	return f, nil
}

func ensure(b []bool, n int) []bool {
	if b == nil {
		return make([]bool, n)
	}
	return b
}

type cellRef struct {
	line int
	text string
}

// colAcc accumulates one file column.
type colAcc struct {
	cat                     bool
	values                  []float64
	levels                  map[string]int
	levelNames              []string
	numericSeen, nonNumeric int
	missing, firstMissing   int
	firstNonNum, firstInf   *cellRef
}

func (c *colAcc) add(p *parser, s string, line, j int) error {
	if naValues[s] {
		c.values = append(c.values, math.NaN())
		if c.missing == 0 {
			c.firstMissing = line
		}
		c.missing++
		return nil
	}
	if c.cat {
		code, ok := c.levels[s]
		if !ok {
			code = len(c.levelNames)
			c.levels[s] = code
			c.levelNames = append(c.levelNames, s)
		}
		c.values = append(c.values, float64(code))
		if _, isNum, _ := p.parseNumber(s); isNum {
			c.numericSeen++
		} else {
			c.nonNumeric++
		}
		return nil
	}
	v, ok, missing := p.parseNumber(s)
	switch {
	case missing:
		c.values = append(c.values, math.NaN())
		if c.missing == 0 {
			c.firstMissing = line
		}
		c.missing++
	case ok:
		if math.IsInf(v, 0) && c.firstInf == nil {
			c.firstInf = &cellRef{line, s}
		}
		c.values = append(c.values, v)
		c.numericSeen++
	default:
		if c.firstNonNum == nil {
			c.firstNonNum = &cellRef{line, s}
		}
		c.values = append(c.values, math.NaN())
		c.nonNumeric++
	}
	return nil
}

// sortLevels sorts the levels and recodes the values to the sorted order.
func (c *colAcc) sortLevels() []string {
	sorted := slices.Clone(c.levelNames)
	slices.Sort(sorted)
	recode := make([]float64, len(c.levelNames))
	for i, s := range sorted {
		recode[c.levels[s]] = float64(i)
	}
	for i, v := range c.values {
		if !math.IsNaN(v) {
			c.values[i] = recode[int(v)]
		}
	}
	return sorted
}

// isBundled reports whether first is scikit-learn's `count,features,name...` header.
func (p *parser) isBundled(first *record, probe []*record) bool {
	c := first.cells
	if len(c) < 3 {
		return false
	}
	count, err1 := strconv.Atoi(c[0])
	feats, err2 := strconv.Atoi(c[1])
	if err1 != nil || err2 != nil || count < 0 || feats < 1 {
		return false
	}
	named := false
	for _, s := range c[2:] {
		if _, ok, _ := p.parseNumber(s); !ok {
			named = true // a name that is neither a number nor an NA string
		}
	}
	if !named {
		return false
	}
	return len(probe) == 0 || len(probe[0].cells) == feats+1
}

// isNamesHeader applies ReadOptions' rule for a header of names.
func (p *parser) isNamesHeader(first *record, probe []*record) bool {
	named := false
	for _, s := range first.cells {
		_, ok, missing := p.parseNumber(s)
		if ok && !missing || missing && s != "" {
			return false
		}
		named = named || s != ""
	}
	if !named {
		return false
	}
	if len(probe) == 0 {
		return true // one record of names only: reported as "no data rows after the header"
	}
	recurs := false
	for j, h := range first.cells {
		numeric, any := true, false
		for _, r := range probe {
			if j >= len(r.cells) {
				continue
			}
			s := r.cells[j]
			if s == h {
				recurs = true
			}
			_, ok, missing := p.parseNumber(s)
			if missing {
				continue
			}
			any = true
			numeric = numeric && ok
		}
		if any && numeric {
			return true
		}
	}
	return !recurs
}

// resolveColumn finds a column by header name or 0-based index (negative from the end).
func resolveColumn(s string, names []string, width int) (int, error) {
	if i := slices.Index(names, s); i >= 0 {
		return i, nil
	}
	if k, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && k >= -width && k < width {
		if k < 0 {
			k += width
		}
		return k, nil
	}
	if names != nil {
		return 0, fmt.Errorf("%q is neither a column name (known: %q) nor a column index in [%d, %d]", s, names, -width, width-1)
	}
	return 0, fmt.Errorf("%q is not a column index in [%d, %d] (the file has no header of names)", s, -width, width-1)
}

func (p *parser) labelColumn(names []string, width, headerLine int) (int, error) {
	if p.opts.Label == "" {
		return width - 1, nil
	}
	j, err := resolveColumn(p.opts.Label, names, width)
	if err != nil {
		return 0, fmt.Errorf("%s line %d: label column: %v", p.name, max(headerLine, 1), err)
	}
	return j, nil
}

// setLabel fills f.Y, Task, NumClasses and ClassNames from the label column.
func (p *parser) setLabel(f *Frame, c *colAcc, j int, bundled []string) error {
	col := j + 1
	if c.missing > 0 {
		return fmt.Errorf("%s line %d column %d: the label is missing; every row needs a label (drop or fill the %d row(s) without one)", p.name, c.firstMissing, col, c.missing)
	}
	task := p.opts.Task
	lines := f.Lines
	if c.cat {
		levels := c.sortLevels()
		if task == Regression {
			for i, v := range c.values {
				if _, ok, _ := p.parseNumber(levels[int(v)]); !ok {
					return fmt.Errorf("%s line %d column %d: regression label %q is not a number", p.name, lines[i], col, levels[int(v)])
				}
			}
		}
		f.Task, f.Y, f.NumClasses, f.ClassNames = Classification, c.values, len(levels), levels
		return p.checkClasses(f, col)
	}
	if c.firstInf != nil {
		return fmt.Errorf("%s line %d column %d: label %q is not a finite number", p.name, c.firstInf.line, col, c.firstInf.text)
	}
	y := c.values
	integer, maxLabel := true, 0.0
	distinct := map[float64]bool{}
	for _, v := range y {
		if v < 0 || v != math.Trunc(v) {
			integer = false
		}
		maxLabel = max(maxLabel, v)
		if len(distinct) <= 1000 {
			distinct[v] = true
		}
	}
	if task == Auto {
		switch {
		case len(bundled) >= 2:
			task = Classification
		case len(bundled) == 1:
			task = Regression
		case integer && maxLabel < maxInferredClasses, len(distinct) == 2:
			task = Classification
		default:
			task = Regression
		}
	}
	f.Task, f.Y = task, y
	if task == Regression {
		f.ClassNames = bundled
		if len(bundled) == 0 && f.LabelName != "" {
			f.ClassNames = []string{f.LabelName}
		}
		return nil
	}
	contiguous := integer && len(distinct) == int(maxLabel)+1 // exactly 0..max
	switch {
	case len(bundled) > 0:
		if !integer {
			i := slices.IndexFunc(y, func(v float64) bool { return v < 0 || v != math.Trunc(v) })
			return fmt.Errorf("%s line %d column %d: label %v is not a class id 0..%d of the header's class names", p.name, lines[i], col, y[i], len(bundled)-1)
		}
		if int(maxLabel) >= len(bundled) {
			i := slices.Index(y, maxLabel)
			return fmt.Errorf("%s line %d column %d: label %v, but the header names only %d classes", p.name, lines[i], col, maxLabel, len(bundled))
		}
		f.NumClasses, f.ClassNames = len(bundled), bundled
	case contiguous:
		f.NumClasses = int(maxLabel) + 1
		for k := range f.NumClasses {
			f.ClassNames = append(f.ClassNames, strconv.Itoa(k))
		}
	default:
		if len(distinct) > 1000 {
			return fmt.Errorf("%s line %d column %d: classification labels have more than 1000 distinct values; is this a regression target?", p.name, lines[0], col)
		}
		vals := make([]float64, 0, len(distinct))
		for v := range distinct {
			vals = append(vals, v)
		}
		slices.Sort(vals)
		ids := map[float64]int{}
		for k, v := range vals {
			ids[v] = k
			f.ClassNames = append(f.ClassNames, strconv.FormatFloat(v, 'g', -1, 64))
		}
		f.Y = make([]float64, len(y))
		for i, v := range y {
			f.Y[i] = float64(ids[v])
		}
		f.NumClasses = len(vals)
	}
	return p.checkClasses(f, col)
}

func (p *parser) checkClasses(f *Frame, col int) error {
	if f.NumClasses < 2 {
		return fmt.Errorf("%s line %d column %d: classification needs at least 2 classes, the label column holds only %q", p.name, f.Lines[0], col, f.ClassNames)
	}
	return nil
}
