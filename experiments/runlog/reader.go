package runlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// ErrNoRuns: none of the folders holds a runs table.
var ErrNoRuns = errors.New("no speclab run folder found")

// Find expands arguments (run folders, parents of run folders such as a
// folder of shards, or glob patterns) into the run folders they hold: every
// folder with a runs/ subfolder, at any depth. The result is sorted and
// free of duplicates.
func Find(args ...string) ([]string, error) {
	seen := map[string]bool{}
	for _, a := range args {
		matches, err := filepath.Glob(a)
		if err != nil {
			return nil, fmt.Errorf("run folder pattern %q: %w", a, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("run folder %s: %w", a, fs.ErrNotExist)
		}
		for _, m := range matches {
			err := filepath.WalkDir(m, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() && d.Name() == RunsDir {
					seen[filepath.Dir(p)] = true
					return filepath.SkipDir
				}
				if d.IsDir() && (d.Name() == StepsDir || d.Name() == TokensDir) {
					return filepath.SkipDir
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("find run folders in %s: %w", m, err)
			}
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("%w in %v (a run folder has runs/, steps/ and tokens/ subfolders)", ErrNoRuns, args)
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out, nil
}

// Parts lists the closed part files of one table in the run folders.
func Parts(dirs []string, table string) []string {
	var out []string
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(d, table, "part-*.parquet"))
		out = append(out, m...)
	}
	sort.Strings(out)
	return out
}

func readAll[T any](parts []string) ([]T, error) {
	var out []T
	for _, p := range parts {
		rows, err := parquet.ReadFile[T](p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		out = append(out, rows...)
	}
	return out, nil
}

// ReadRuns reads the runs table of the folders. When a cell was executed
// more than once (a run resumed over the same folder, or the same shard run
// twice), the last execution is kept.
func ReadRuns(dirs []string) ([]RunRow, error) {
	rows, err := readAll[RunRow](Parts(dirs, RunsDir))
	if err != nil {
		return nil, err
	}
	latest := map[string]int{}
	for i, r := range rows {
		key := r.RunID + "\x00" + r.CellID
		if j, ok := latest[key]; !ok || rows[j].FinishedAt < r.FinishedAt {
			latest[key] = i
		}
	}
	out := make([]RunRow, 0, len(latest))
	for _, i := range latest {
		out = append(out, rows[i])
	}
	slices.SortFunc(out, func(a, b RunRow) int {
		if a.RunID != b.RunID {
			return cmpStr(a.RunID, b.RunID)
		}
		return cmpStr(a.CellID, b.CellID)
	})
	return out, nil
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Execs is the set of exec ids of runs rows: the executions whose steps
// and tokens a reader keeps.
func Execs(runs []RunRow) map[string]bool {
	m := make(map[string]bool, len(runs))
	for _, r := range runs {
		m[r.ExecID] = true
	}
	return m
}

// ReadSteps reads the steps of the executions in keep.
func ReadSteps(dirs []string, keep map[string]bool) ([]StepRow, error) {
	rows, err := readAll[StepRow](Parts(dirs, StepsDir))
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(rows, func(r StepRow) bool { return !keep[r.ExecID] }), nil
}

// ReadTokens reads the drafted tokens of the executions in keep.
func ReadTokens(dirs []string, keep map[string]bool) ([]TokenRow, error) {
	rows, err := readAll[TokenRow](Parts(dirs, TokensDir))
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(rows, func(r TokenRow) bool { return !keep[r.ExecID] }), nil
}

// Exists reports whether dir is a run folder.
func Exists(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, RunsDir))
	return err == nil && st.IsDir()
}

// ErrInconsistent: a runs row claims a finished cell whose steps or tokens
// are not all on disk (an I/O failure, or parts deleted by hand).
var ErrInconsistent = errors.New("run folder tables disagree")

// Verify checks that every cell the runs table of the folders calls
// finished has its rows: as many steps rows as its steps, as many tokens
// rows as it drafted. It reads only the exec_id columns. The error wraps
// ErrInconsistent, names the cells and the runs parts that hold them, and
// says how to repair the folder: removing those parts drops the cells, and
// --resume runs them again.
func Verify(dirs []string) error {
	latest, err := ReadRuns(dirs)
	if err != nil {
		return err
	}
	ids := map[string]int32{}
	for i, r := range latest {
		ids[r.ExecID] = int32(i)
	}
	count := func(table string, row any) ([]int, error) {
		n := make([]int, len(latest))
		col := Col[StepRow]("ExecID")
		for _, path := range Parts(dirs, table) {
			p, err := OpenPart(path, row)
			if err != nil {
				return nil, err
			}
			if err := p.CheckSchema(); err != nil {
				p.Close()
				return nil, err
			}
			ci, err := p.Column(col)
			if err != nil {
				p.Close()
				return nil, err
			}
			var buf []int32
			for _, rg := range p.RowGroups() {
				buf, err = ReadIDs(rg.ColumnChunks()[ci], buf[:0], func(b []byte) int32 {
					if i, ok := ids[string(b)]; ok {
						return i
					}
					return -1
				})
				if err != nil {
					p.Close()
					return nil, fmt.Errorf("read %s: %w", path, err)
				}
				for _, i := range buf {
					if i >= 0 {
						n[i]++
					}
				}
			}
			p.Close()
		}
		return n, nil
	}
	steps, err := count(StepsDir, StepRow{})
	if err != nil {
		return err
	}
	tokens, err := count(TokensDir, TokenRow{})
	if err != nil {
		return err
	}
	var bad []string
	badExec := map[string]bool{}
	for i, r := range latest {
		if !r.Detailed() {
			continue // a llama-server's row: it has no steps or tokens rows
		}
		if steps[i] != int(r.StepCount()) || tokens[i] != int(r.Drafted) {
			bad = append(bad, fmt.Sprintf("%s (%d of %d steps rows, %d of %d tokens rows)", r.CellID, steps[i], r.StepCount(), tokens[i], r.Drafted))
			badExec[r.ExecID] = true
		}
	}
	if len(bad) == 0 {
		return nil
	}
	// Name the runs parts that hold the bad cells.
	files := map[string]bool{}
	for _, path := range Parts(dirs, RunsDir) {
		rows, err := parquet.ReadFile[RunRow](path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		for _, r := range rows {
			if badExec[r.ExecID] {
				files[path] = true
			}
		}
	}
	list := make([]string, 0, len(files))
	for f := range files {
		list = append(list, f)
	}
	sort.Strings(list)
	if len(list) > 5 {
		list = append(list[:5], fmt.Sprintf("and %d more", len(list)-5))
	}
	more := ""
	if len(bad) > 5 {
		more = fmt.Sprintf(" and %d more", len(bad)-5)
		bad = bad[:5]
	}
	return fmt.Errorf("%w: %d finished cells lack rows: %s%s. Nothing in this folder is reported. To repair it, remove the runs parts that hold those cells (%s; other cells in them run again too) and run again with --resume",
		ErrInconsistent, len(badExec), strings.Join(bad, ", "), more, strings.Join(list, " "))
}
