package runlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"

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
