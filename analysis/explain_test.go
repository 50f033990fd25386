package analysis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/speclab/speclab/experiments/runlog"
)

// TestJudge: a cause that drafts where the user saw no drafts is ruled
// out, with the history-threshold reason on a long task; one that matches
// every observation is consistent.
func TestJudge(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	w, err := runlog.Create(dir, "0", "t0")
	if err != nil {
		t.Fatal(err)
	}
	drafting := cell("ngram-simple", "t1", 0, false, 10)
	drafting.SpecTypes = "ngram-simple"
	writeCell(t, w, cellSpec{run: drafting, steps: []st{{k: 4, j: 3}, {reason: "no-match"}}})
	silent := cell("draft-simple", "t1", 0, false, 10)
	silent.SpecTypes, silent.Applied = "draft-simple", false
	writeCell(t, w, cellSpec{run: silent, steps: []st{{reason: "target-cannot-rollback"}}})
	w.Close()
	d := load(t, dir)

	zero, no := 0, false
	yaml := filepath.Join(t.TempDir(), "obs.yaml")
	os.WriteFile(yaml, []byte("source: test\nmax_generated: 2048\nobservations:\n"+
		"  - {config: ngram-simple, saw: none, drafts: 0}\n  - {config: draft-simple, saw: off, drafts: 0, applied: false}\n"), 0o644)
	o, err := LoadObserved(yaml)
	if err != nil {
		t.Fatal(err)
	}
	v := Judge("x", d, o)
	if v.Consistent || !strings.Contains(strings.Join(v.Reasons, "\n"), "history thresholds alone cannot explain 0 drafts on a 2048-token task") {
		t.Errorf("drafting cause judged %+v", v)
	}
	o.Observations = []Observation{{Config: "draft-simple", Saw: "off", Drafts: &zero, Applied: &no}}
	if v := Judge("y", d, o); !v.Consistent {
		t.Errorf("matching cause ruled out: %+v", v)
	}
	if _, err := LoadObserved(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Error("a missing file loaded")
	}
}

// The rollback time logged on every step reaches the summaries and the
// speed table: 3 µs over 2 steps.
func TestRollbackPerStep(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	w, err := runlog.Create(dir, "0", "t0")
	if err != nil {
		t.Fatal(err)
	}
	c := cell("spec", "t1", 0, false, 10)
	writeCell(t, w, cellSpec{run: c, steps: []st{{k: 2, j: 1, rollbackNs: 3000}, {k: 2, j: 2}}})
	w.Close()
	ss := Summarize(load(t, dir), []Dim{ByConfig})
	if got := float64(ss[0].RollbackUs); got != 1.5 {
		t.Errorf("rollback %v µs per step, want 1.5", got)
	}
	if row := SpeedTable(ss, []Dim{ByConfig}).Rows[0]; !strings.Contains(strings.Join(row, " "), " 1.5 ") {
		t.Errorf("speed table row %q lacks the rollback time", row)
	}
}
