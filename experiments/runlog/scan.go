package runlog

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// This file reads single columns of Parquet part files page by page, into
// typed slices, without decoding whole rows: the analysis of tens of
// millions of token rows depends on it. Column names are checked against
// the table's schema (StepRow, TokenRow), so a name that is not a column
// of the table, or a file whose column holds another type, is an error.

// Part is an open part file of one table, for column scans.
type Part struct {
	path   string
	f      *os.File
	pf     *parquet.File
	schema *parquet.Schema
}

// OpenPart opens a part file of the table whose rows are of table's type
// (StepRow{} or TokenRow{}).
func OpenPart(path string, table any) (*Part, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &Part{path: path, f: f, pf: pf, schema: parquet.SchemaOf(table)}, nil
}

// Close closes the file.
func (p *Part) Close() error { return p.f.Close() }

// Path is the file's path.
func (p *Part) Path() string { return p.path }

// RowGroups are the file's row groups.
func (p *Part) RowGroups() []parquet.RowGroup { return p.pf.RowGroups() }

// Column returns the index, in a row group's ColumnChunks, of the table's
// column name, after checking that the file's column holds the type the
// schema gives it.
func (p *Part) Column(name string) (int, error) {
	want, ok := p.schema.Lookup(name)
	if !ok {
		return 0, fmt.Errorf("read %s: %q is not a column of the %s table", p.path, name, p.schema.Name())
	}
	leaf, ok := p.pf.Schema().Lookup(name)
	if !ok {
		return 0, fmt.Errorf("read %s: no column %q (not a speclab log part?)", p.path, name)
	}
	if k, w := leaf.Node.Type().Kind(), want.Node.Type().Kind(); k != w {
		return 0, fmt.Errorf("read %s: column %q holds %s values, want %s", p.path, name, k, w)
	}
	return leaf.ColumnIndex, nil
}

// AddedColumns are the columns of the steps and tokens tables added after
// folders were first written: a part without them is an older speclab's,
// read with zeros there. (The runs table is read by field, so a column it
// gains needs no entry.)
var AddedColumns = map[string]bool{"translate_ns": true}

// CheckSchema checks that the file holds every column of its table, with
// the schema's types (an AddedColumns column may be missing): a part of
// another table, or not of speclab's, fails.
func (p *Part) CheckSchema() error {
	for _, path := range p.schema.Columns() {
		name := strings.Join(path, ".")
		if _, ok := p.pf.Schema().Lookup(name); !ok && AddedColumns[name] {
			continue
		}
		if _, err := p.Column(name); err != nil {
			return err
		}
	}
	return nil
}

// Col is the column name of the field of a table's row type T: the name
// in its parquet tag. It panics on a field T lacks (a bug in the caller,
// found by its first test).
func Col[T any](field string) string {
	f, ok := reflect.TypeFor[T]().FieldByName(field)
	if !ok {
		panic("runlog: " + reflect.TypeFor[T]().Name() + " has no field " + field)
	}
	name, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
	return name
}

// eachPage calls fn with every page of a column chunk, releasing each page
// after the call.
func eachPage(cc parquet.ColumnChunk, fn func(parquet.Page) error) error {
	pages := cc.Pages()
	defer pages.Close()
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		err = fn(p)
		parquet.Release(p)
		if err != nil {
			return err
		}
	}
}

var errNulls = errors.New("unexpected NULL values in a required column")

// ReadInt32 appends the values of a required INT32 column.
func ReadInt32(cc parquet.ColumnChunk, dst []int32) ([]int32, error) {
	return readInts(cc, dst, func(v encoding.Values) []int32 { return v.Int32() })
}

// ReadInt64 appends the values of a required INT64 column.
func ReadInt64(cc parquet.ColumnChunk, dst []int64) ([]int64, error) {
	return readInts(cc, dst, func(v encoding.Values) []int64 { return v.Int64() })
}

// readInts appends the values of a required integer column, plain or
// dictionary-encoded; vals views a page's values as T.
func readInts[T int32 | int64](cc parquet.ColumnChunk, dst []T, vals func(encoding.Values) []T) ([]T, error) {
	err := eachPage(cc, func(p parquet.Page) error {
		if p.NumNulls() > 0 {
			return errNulls
		}
		data := p.Data()
		if d := p.Dictionary(); d != nil {
			dict := vals(d.Page().Data())
			for _, ix := range data.Int32() {
				if int(ix) >= len(dict) || ix < 0 {
					return errBadIndex
				}
				dst = append(dst, dict[ix])
			}
			return nil
		}
		dst = append(dst, vals(data)...)
		return nil
	})
	return dst, err
}

var errBadIndex = errors.New("dictionary index out of range")

// ReadBool appends the values of a required BOOLEAN column.
func ReadBool(cc parquet.ColumnChunk, dst []bool) ([]bool, error) {
	err := eachPage(cc, func(p parquet.Page) error {
		if p.NumNulls() > 0 {
			return errNulls
		}
		n := int(p.NumValues())
		start := len(dst)
		dst = append(dst, make([]bool, n)...)
		r, ok := p.Values().(parquet.BooleanReader)
		if !ok {
			return fmt.Errorf("boolean page of type %T cannot be read as booleans", p)
		}
		got, err := r.ReadBooleans(dst[start:])
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if got != n {
			return fmt.Errorf("boolean page: read %d of %d values", got, n)
		}
		return nil
	})
	return dst, err
}

// ReadOptFloat appends the values of an optional FLOAT column, NaN for NULL.
func ReadOptFloat(cc parquet.ColumnChunk, dst []float32) ([]float32, error) {
	nan := float32(math.NaN())
	err := eachPage(cc, func(p parquet.Page) error {
		data := p.Data()
		var vals []float32
		if d := p.Dictionary(); d != nil {
			dv := d.Page().Data()
			dict := dv.Float()
			idx := data.Int32()
			vals = make([]float32, len(idx))
			for i, ix := range idx {
				if int(ix) >= len(dict) || ix < 0 {
					return errBadIndex
				}
				vals[i] = dict[ix]
			}
		} else {
			vals = data.Float()
		}
		defs := p.DefinitionLevels()
		if len(defs) == 0 {
			if p.NumNulls() > 0 {
				return errNulls
			}
			dst = append(dst, vals...)
			return nil
		}
		j := 0
		for _, d := range defs {
			if d == 0 {
				dst = append(dst, nan)
				continue
			}
			if j >= len(vals) {
				return errors.New("optional page: fewer values than definition levels say")
			}
			dst = append(dst, vals[j])
			j++
		}
		return nil
	})
	return dst, err
}

// ReadIDs appends, for each value of a required BYTE_ARRAY column, the id
// that id gives it. Dictionary-encoded pages call id once per dictionary
// entry; plain pages once per run of equal values.
func ReadIDs(cc parquet.ColumnChunk, dst []int32, id func([]byte) int32) ([]int32, error) {
	var lastDict parquet.Dictionary
	var dictIDs []int32
	err := eachPage(cc, func(p parquet.Page) error {
		if p.NumNulls() > 0 {
			return errNulls
		}
		if d := p.Dictionary(); d != nil {
			if d != lastDict {
				dv := d.Page().Data()
				data, off := dv.ByteArray()
				dictIDs = dictIDs[:0]
				for i := 0; i+1 < len(off); i++ {
					dictIDs = append(dictIDs, id(data[off[i]:off[i+1]]))
				}
				lastDict = d
			}
			pv := p.Data()
			for _, ix := range pv.Int32() {
				if int(ix) >= len(dictIDs) || ix < 0 {
					return errBadIndex
				}
				dst = append(dst, dictIDs[ix])
			}
			return nil
		}
		pv := p.Data()
		data, off := pv.ByteArray()
		var prev []byte
		var prevID int32
		for i := 0; i+1 < len(off); i++ {
			v := data[off[i]:off[i+1]]
			if i == 0 || string(v) != string(prev) {
				prev, prevID = v, id(v)
			}
			dst = append(dst, prevID)
		}
		return nil
	})
	return dst, err
}
