package runlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func tokenRow(i int) TokenRow {
	p := float32(i%100) / 100
	return TokenRow{RunID: "r", CellID: fmt.Sprintf("c%d", i/1000), ExecID: "e", Step: int32(i / 4), Index: int32(i % 4),
		Token: int32(i % 32000), Accepted: i%3 != 0, Verified: true, PTarget: &p, TargetArgmax: int32(i % 7)}
}

func TestWriterRollsAndReads(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, "1of1", "t0")
	if err != nil {
		t.Fatal(err)
	}
	w.RollRows = 1000
	for c := 0; c < 5; c++ {
		for i := 0; i < 700; i++ {
			if err := w.Token(tokenRow(c*700 + i)); err != nil {
				t.Fatal(err)
			}
			if err := w.Step(StepRow{RunID: "r", CellID: fmt.Sprint(c), ExecID: fmt.Sprint("e", c), Step: int32(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.EndCell(RunRow{RunID: "r", CellID: fmt.Sprint(c), ExecID: fmt.Sprint("e", c)}); err != nil {
			t.Fatal(err)
		}
	}
	// an execution killed before its runs row: orphans
	w.Step(StepRow{RunID: "r", CellID: "x", ExecID: "orphan"})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if parts := Parts([]string{dir}, RunsDir); len(parts) != 5 {
		t.Errorf("%d runs parts, want one per roll (5)", len(parts))
	}
	tmp, _ := filepath.Glob(filepath.Join(dir, "*", ".*"))
	if len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	runs, err := ReadRuns([]string{dir})
	if err != nil || len(runs) != 5 {
		t.Fatalf("%d runs, %v", len(runs), err)
	}
	steps, err := ReadSteps([]string{dir}, Execs(runs))
	if err != nil || len(steps) != 5*700 {
		t.Fatalf("%d steps (orphans must be dropped), %v", len(steps), err)
	}
	dirs, err := Find(filepath.Dir(dir))
	if err != nil || len(dirs) != 1 || dirs[0] != dir {
		t.Errorf("Find: %v %v", dirs, err)
	}
	if _, err := Find(t.TempDir()); err == nil {
		t.Error("Find in an empty folder succeeded")
	}
}

// An unclosed part (a writer that died) is invisible to readers, and the
// next writer of the shard removes it.
func TestUnclosedPartInvisible(t *testing.T) {
	dir := t.TempDir()
	w, _ := Create(dir, "1of1", "t0")
	w.EndCell(RunRow{RunID: "r", CellID: "a", ExecID: "1"})
	w.Step(StepRow{RunID: "r", CellID: "b", ExecID: "2"})
	w.steps.flush() // on disk under the temporary name, no footer
	tmp := w.steps.tmp
	w.lock.Release() // as if the writer were killed
	runs, err := ReadRuns([]string{dir})
	if err != nil || len(runs) != 1 || runs[0].CellID != "a" {
		t.Fatalf("%+v %v", runs, err)
	}
	w2, err := Create(dir, "1of1", "t1")
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("the killed writer's temporary part %s is still there (%v)", tmp, err)
	}
}

// Two writers of one shard: the second is refused, naming the first; a
// writer of another shard is not; the lock of a closed writer is free.
func TestLock(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, "1of2", "t0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Create(dir, "1of2", "t1")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second writer: %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	other, err := Create(dir, "2of2", "t1")
	if err != nil {
		t.Fatalf("writer of another shard: %v", err)
	}
	other.Close()
	w.Close()
	again, err := Create(dir, "1of2", "t2")
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	again.Close()
}

// Each cell is durable at EndCell: a folder read while the writer is still
// open holds every finished cell, and no rows of the cell in flight.
func TestCellDurable(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, "1of1", "t0")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for c := range 3 {
		exec := fmt.Sprint("e", c)
		for i := range 10 {
			if err := w.Step(StepRow{RunID: "r", CellID: fmt.Sprint(c), ExecID: exec, Step: int32(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.EndCell(RunRow{RunID: "r", CellID: fmt.Sprint(c), ExecID: exec, Steps: new(int32(10))}); err != nil {
			t.Fatal(err)
		}
		runs, err := ReadRuns([]string{dir})
		if err != nil || len(runs) != c+1 {
			t.Fatalf("after cell %d: %d runs rows on disk, %v", c, len(runs), err)
		}
		if err := Verify([]string{dir}); err != nil {
			t.Fatal(err)
		}
	}
	w.Step(StepRow{RunID: "r", CellID: "x", ExecID: "in-flight"})
	w.Close()
	if steps, _ := ReadSteps([]string{dir}, map[string]bool{"in-flight": true}); len(steps) != 0 {
		t.Errorf("%d rows of the cell in flight on disk", len(steps))
	}
}

// BenchmarkTokenRows measures writing token rows (zstd, 64k-row groups).
func BenchmarkTokenRows(b *testing.B) {
	dir := b.TempDir()
	w, err := Create(dir, "1of1", "bench")
	if err != nil {
		b.Fatal(err)
	}
	rows := make([]TokenRow, 4096)
	for i := range rows {
		rows[i] = tokenRow(i)
	}
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		w.Token(rows[i%len(rows)])
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "rows/s")
}
