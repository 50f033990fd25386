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

// DefaultRollRows bounds a part: a cell with more step (or token) rows
// than this continues in a new part. Parts are closed at every cell's end
// in any case.
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

// close finishes the file: footer, fsync, rename into place. On an error
// the temporary file is removed and nothing reaches the final name.
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

// abort drops an open part without writing it.
func (p *part[T]) abort() {
	if p.w == nil {
		return
	}
	p.f.Close()
	os.Remove(p.tmp)
	*p = part[T]{buf: p.buf[:0]}
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Writer appends rows to a run folder. It is not safe for concurrent use.
//
// Every cell is durable before the next one starts: EndCell closes the
// steps and tokens parts (fsync, rename, fsync of the folder) and only then
// writes the cell's runs row, in a part of its own, the same way. A crash
// or an I/O error at any moment leaves either the whole cell or no runs row
// for it (its steps and tokens, if any reached the disk, are orphans that
// readers skip by exec_id). After an I/O error the writer refuses further
// rows.
type Writer struct {
	dir      string
	prefix   string
	seq      int
	RollRows int // step or token rows after which a part continues in a new one

	lock   *Lock
	runs   part[RunRow]
	steps  part[StepRow]
	tokens part[TokenRow]
	err    error // the first I/O error; the writer is unusable after it
	closed bool
}

// Create opens a run folder for writing (creating it), naming its parts
// after shard and start, a string unique to this writer (e.g. a time). It
// takes the folder's lock for shard (see Lock): a second writer of the
// same shard is refused with ErrLocked. Temporary parts that a killed
// writer of the shard left behind are removed.
func Create(dir, shard, start string) (*Writer, error) {
	for _, sub := range []string{RunsDir, StepsDir, TokensDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("create run folder: %w", err)
		}
	}
	lock, err := TakeLock(dir, shard)
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{RunsDir, StepsDir, TokensDir} {
		stale, _ := filepath.Glob(filepath.Join(dir, sub, ".part-"+shard+"-*.tmp"))
		for _, f := range stale {
			if err := os.Remove(f); err != nil {
				lock.Release()
				return nil, fmt.Errorf("remove a killed writer's temporary part: %w", err)
			}
		}
	}
	return &Writer{dir: dir, prefix: fmt.Sprintf("part-%s-%s", shard, start), RollRows: DefaultRollRows, lock: lock}, nil
}

// Dir is the run folder.
func (w *Writer) Dir() string { return w.dir }

func (w *Writer) name() string { return fmt.Sprintf("%s-%05d.parquet", w.prefix, w.seq) }

// fail records the first I/O error, naming the folder.
func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = fmt.Errorf("run folder %s: %w", w.dir, err)
	}
	return w.err
}

// Step appends a step row.
func (w *Writer) Step(r StepRow) error { return addRow(w, &w.steps, StepsDir, r) }

// Token appends a token row.
func (w *Writer) Token(r TokenRow) error { return addRow(w, &w.tokens, TokensDir, r) }

// addRow appends r to part p of table folder dir, continuing in a new part
// once p holds RollRows rows.
func addRow[T any](w *Writer, p *part[T], dir string, r T) error {
	if w.err != nil {
		return w.err
	}
	if p.rows >= w.RollRows {
		w.seq++
		if err := p.close(); err != nil {
			return w.fail(err)
		}
	}
	if err := p.add(filepath.Join(w.dir, dir), w.name(), r); err != nil {
		return w.fail(err)
	}
	return nil
}

// EndCell makes the cell's steps and tokens durable, then writes r, the
// runs row that completes it, and makes that durable too.
func (w *Writer) EndCell(r RunRow) error {
	if w.err != nil {
		return w.err
	}
	err := w.steps.close()
	if err2 := w.tokens.close(); err == nil {
		err = err2
	}
	for _, sub := range []string{StepsDir, TokensDir} {
		if err == nil {
			err = syncDir(filepath.Join(w.dir, sub))
		}
	}
	if err != nil {
		return w.fail(fmt.Errorf("cell %s not saved: %w", r.CellID, err))
	}
	if err := w.runs.add(filepath.Join(w.dir, RunsDir), w.name(), r); err != nil {
		return w.fail(fmt.Errorf("cell %s not saved: %w", r.CellID, err))
	}
	err = w.runs.close()
	if err == nil {
		err = syncDir(filepath.Join(w.dir, RunsDir))
	}
	w.seq++
	if err != nil {
		return w.fail(fmt.Errorf("cell %s not saved: %w", r.CellID, err))
	}
	return nil
}

// Close drops the rows of an unfinished cell (they have no runs row) and
// releases the lock; the writer cannot be used afterwards. It returns the
// writer's first I/O error, if any.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	w.steps.abort()
	w.tokens.abort()
	w.runs.abort()
	w.lock.Release()
	return w.err
}
