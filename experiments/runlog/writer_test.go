package runlog

import (
	"fmt"
	"os"
	"path/filepath"
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

// An unclosed part (a writer that died) is invisible to readers.
func TestUnclosedPartInvisible(t *testing.T) {
	dir := t.TempDir()
	w, _ := Create(dir, "1of1", "t0")
	w.EndCell(RunRow{RunID: "r", CellID: "a", ExecID: "1"})
	w.Roll()
	w.EndCell(RunRow{RunID: "r", CellID: "b", ExecID: "2"})
	w.runs.flush() // on disk under the temporary name, no footer
	runs, err := ReadRuns([]string{dir})
	if err != nil || len(runs) != 1 || runs[0].CellID != "a" {
		t.Fatalf("%+v %v", runs, err)
	}
	os.Remove(w.runs.tmp)
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
