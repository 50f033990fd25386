package runlog

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
)

// Table folders of a run folder.
const (
	RunsDir   = "runs"
	StepsDir  = "steps"
	TokensDir = "tokens"
)

// DefaultRollRows is the number of step and token rows after which the
// writer closes its parts at the next cell boundary.
const DefaultRollRows = 200_000

const bufRows = 8192

// part is one open Parquet file of table T.
type part[T any] struct {
	tmp, final string
	f          *os.File
	w          *parquet.GenericWriter[T]
	buf        []T
	rows       int
}

func (p *part[T]) add(dir, name string, r T) error {
	if p.w == nil {
		p.final = filepath.Join(dir, name)
		p.tmp = filepath.Join(dir, "."+name+".tmp")
		f, err := os.Create(p.tmp)
		if err != nil {
			return fmt.Errorf("open log part: %w", err)
		}
		p.f = f
		p.w = parquet.NewGenericWriter[T](f, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(64*1024))
	}
	p.buf = append(p.buf, r)
	p.rows++
	if len(p.buf) >= bufRows {
		return p.flush()
	}
	return nil
}

func (p *part[T]) flush() error {
	if len(p.buf) == 0 {
		return nil
	}
	if _, err := p.w.Write(p.buf); err != nil {
		return fmt.Errorf("write %s: %w", p.final, err)
	}
	clear(p.buf)
	p.buf = p.buf[:0]
	return nil
}

// close finishes the file: footer, fsync, rename into place.
func (p *part[T]) close() error {
	if p.w == nil {
		return nil
	}
	err := p.flush()
	if err == nil {
		err = p.w.Close()
	}
	if err == nil {
		err = p.f.Sync()
	}
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(p.tmp, p.final)
	}
	if err != nil {
		os.Remove(p.tmp)
		err = fmt.Errorf("close log part %s: %w", p.final, err)
	}
	*p = part[T]{buf: p.buf[:0]}
	return err
}

// Writer appends rows to a run folder. It is not safe for concurrent use.
type Writer struct {
	dir      string
	prefix   string
	seq      int
	RollRows int // step+token rows after which EndCell rolls the parts

	runs   part[RunRow]
	steps  part[StepRow]
	tokens part[TokenRow]
	since  int // step+token rows since the last roll
	closed bool
}

// Create opens a run folder for writing (creating it), naming its parts
// after shard and start, a string unique to this writer (e.g. a time).
func Create(dir, shard, start string) (*Writer, error) {
	for _, sub := range []string{RunsDir, StepsDir, TokensDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("create run folder: %w", err)
		}
	}
	return &Writer{dir: dir, prefix: fmt.Sprintf("part-%s-%s", shard, start), RollRows: DefaultRollRows}, nil
}

// Dir is the run folder.
func (w *Writer) Dir() string { return w.dir }

func (w *Writer) name() string { return fmt.Sprintf("%s-%05d.parquet", w.prefix, w.seq) }

// Step appends a step row.
func (w *Writer) Step(r StepRow) error {
	w.since++
	return w.steps.add(filepath.Join(w.dir, StepsDir), w.name(), r)
}

// Token appends a token row.
func (w *Writer) Token(r TokenRow) error {
	w.since++
	return w.tokens.add(filepath.Join(w.dir, TokensDir), w.name(), r)
}

// EndCell appends the runs row that completes a cell, and rolls the parts
// when enough rows have gathered.
func (w *Writer) EndCell(r RunRow) error {
	if err := w.runs.add(filepath.Join(w.dir, RunsDir), w.name(), r); err != nil {
		return err
	}
	if w.since >= w.RollRows {
		return w.Roll()
	}
	return nil
}

// Roll closes the open parts of the three tables (steps and tokens first,
// runs last), so that everything written so far is safe on disk.
func (w *Writer) Roll() error {
	err1 := w.steps.close()
	err2 := w.tokens.close()
	err3 := w.runs.close()
	w.seq++
	w.since = 0
	if d, err := os.Open(w.dir); err == nil {
		d.Sync()
		d.Close()
	}
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			return err
		}
	}
	return nil
}

// Close rolls the open parts; the writer cannot be used afterwards.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.Roll()
}
