package data

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// LoadParquet reads a Parquet file through Apache Arrow's Go module (arrow-go/v18, pqarrow)
// into a Frame. Column types decide the kinds: integer, floating-point and boolean columns
// are numeric (booleans as 0/1), string and dictionary-of-string columns categorical (the
// label: string classes); nulls and floating-point NaN are missing cells. Other types (dates,
// timestamps, nested) are an error naming the column. The label and task follow ReadOptions
// (Header, Delimiter and Categorical do not apply: Parquet names and types its columns).
// Errors name the 1-based row as the "line".
func LoadParquet(path string, o ReadOptions) (*Frame, error) {
	name := tableName(path)
	if len(o.Categorical) > 0 {
		return nil, fmt.Errorf("%s: categorical %q: Parquet columns are typed; store the column as strings instead", name, o.Categorical)
	}
	osf, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer osf.Close()
	rdr, err := file.NewParquetReader(osf)
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", name, err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, fmt.Errorf("%s: reading columns: %w", name, err)
	}
	defer tbl.Release()
	width, n := int(tbl.NumCols()), int(tbl.NumRows())
	p := &parser{name: name, delim: ',', opts: o}
	names := make([]string, width)
	for j := range width {
		names[j] = tbl.Column(j).Name()
	}
	if width < 2 {
		return nil, fmt.Errorf("%s line 1 column 1: a table needs at least one feature and a label column, this one has %d", name, width)
	}
	if n == 0 {
		return nil, fmt.Errorf("%s line 1: the file has no data rows", name)
	}
	labelCol, err := p.labelColumn(names, width, 1)
	if err != nil {
		return nil, err
	}
	lines := make([]int, n)
	for i := range lines {
		lines[i] = i + 1
	}
	cols := make([]colAcc, width)
	for j := range cols {
		c := &cols[j]
		c.levels = map[string]int{}
		col := tbl.Column(j)
		row := 0
		for _, chunk := range col.Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				row++
				if err := p.addArrowCell(c, chunk, i, row, j, col); err != nil {
					return nil, err
				}
			}
		}
	}
	for j := range cols {
		if cols[j].firstInf != nil {
			return nil, fmt.Errorf("%s line %d column %d: %q is not a finite number (infinity is not allowed)", name, cols[j].firstInf.line, j+1, cols[j].firstInf.text)
		}
	}
	return p.assemble(cols, names, labelCol, lines, nil)
}

// addArrowCell appends row i of chunk to c; the first cell fixes the column's kind.
func (p *parser) addArrowCell(c *colAcc, chunk arrow.Array, i, row, j int, col *arrow.Column) error {
	missing := func() {
		c.values = append(c.values, math.NaN())
		if c.missing == 0 {
			c.firstMissing = row
		}
		c.missing++
	}
	number := func(v float64) {
		if v != v {
			missing()
			return
		}
		if math.IsInf(v, 0) && c.firstInf == nil {
			c.firstInf = &cellRef{row, strconv.FormatFloat(v, 'g', -1, 64)}
		}
		c.values = append(c.values, v)
		c.numericSeen++
	}
	level := func(s string) {
		c.cat = true
		code, ok := c.levels[s]
		if !ok {
			code = len(c.levelNames)
			c.levels[s] = code
			c.levelNames = append(c.levelNames, s)
		}
		c.values = append(c.values, float64(code))
		c.nonNumeric++
	}
	if chunk.IsNull(i) {
		if _, isStr := stringValue(chunk, 0); isStr {
			c.cat = true
		}
		missing()
		return nil
	}
	switch a := chunk.(type) {
	case *array.Float64:
		number(a.Value(i))
	case *array.Float32:
		number(float64(a.Value(i)))
	case *array.Int64:
		number(float64(a.Value(i)))
	case *array.Int32:
		number(float64(a.Value(i)))
	case *array.Int16:
		number(float64(a.Value(i)))
	case *array.Int8:
		number(float64(a.Value(i)))
	case *array.Uint64:
		number(float64(a.Value(i)))
	case *array.Uint32:
		number(float64(a.Value(i)))
	case *array.Uint16:
		number(float64(a.Value(i)))
	case *array.Uint8:
		number(float64(a.Value(i)))
	case *array.Boolean:
		if a.Value(i) {
			number(1)
		} else {
			number(0)
		}
	default:
		s, ok := stringValue(chunk, i)
		if !ok {
			return fmt.Errorf("%s line %d column %d: column %q has type %s; allowed are integers, floats, booleans and strings", p.name, row, j+1, col.Name(), col.DataType())
		}
		level(s)
	}
	return nil
}

// stringValue returns row i of a string-like array (string, large string, dictionary of
// strings); ok is false for other types.
func stringValue(a arrow.Array, i int) (string, bool) {
	switch a := a.(type) {
	case *array.String:
		if a.IsNull(i) {
			return "", true
		}
		return a.Value(i), true
	case *array.LargeString:
		if a.IsNull(i) {
			return "", true
		}
		return a.Value(i), true
	case *array.Dictionary:
		if a.IsNull(i) {
			_, ok := a.Dictionary().(*array.String)
			return "", ok
		}
		s, ok := stringValue(a.Dictionary(), a.GetValueIndex(i))
		return s, ok
	}
	return "", false
}
