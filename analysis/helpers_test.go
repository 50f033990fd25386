package analysis

import (
	"fmt"
	"math"
	"testing"

	"github.com/speclab/speclab/experiments/runlog"
)

// st is a hand-built verify step: k drafted, j accepted; reason for an
// empty draft; p and q are the probabilities of the tokens the loop logs
// (the accepted ones and the first rejected one, as spec's loop does).
type st struct {
	k, j       int
	reason     string
	pos        int
	proposeNs  int64
	verifyNs   int64
	rollbackNs int64
	p, q       []float32
}

// cellSpec is a hand-built cell.
type cellSpec struct {
	run   runlog.RunRow
	steps []st
}

// cell makes the runs row of a cell.
func cell(config, task string, repeat int32, baseline bool, tps float64) runlog.RunRow {
	return runlog.RunRow{
		RunID: "run1", CellID: fmt.Sprintf("%s/%s/%d", task, config, repeat),
		ExecID: fmt.Sprintf("exec-%s-%s-%d", task, config, repeat),
		Task:   task, Config: config, Repeat: repeat, Baseline: baseline, GenTPS: tps,
		TargetPath: "/models/target.gguf", Host: "h", Device: "cpu", Applied: !baseline,
	}
}

// writeCell appends a cell's steps, tokens and runs row.
func writeCell(t testing.TB, w *runlog.Writer, c cellSpec) {
	t.Helper()
	r := c.run
	for i, s := range c.steps {
		err := w.Step(runlog.StepRow{
			RunID: r.RunID, CellID: r.CellID, ExecID: r.ExecID, Step: int32(i), Pos: int32(s.pos),
			NMax: int32(s.k), Drafted: int32(s.k), Accepted: int32(s.j), Emitted: int32(s.j + 1),
			Reason: s.reason, ProposeNs: s.proposeNs, VerifyNs: s.verifyNs, RollbackNs: s.rollbackNs,
		})
		if err != nil {
			t.Fatal(err)
		}
		// Every drafted token has a row, as the loop logs them: the ones
		// after the first rejection are not verified.
		for x := range s.k {
			tr := runlog.TokenRow{RunID: r.RunID, CellID: r.CellID, ExecID: r.ExecID,
				Step: int32(i), Index: int32(x), Token: int32(x), Accepted: x < s.j, Verified: x <= s.j}
			if x < len(s.p) && !math.IsNaN(float64(s.p[x])) {
				v := s.p[x]
				tr.PTarget = &v
			}
			if x < len(s.q) && !math.IsNaN(float64(s.q[x])) {
				v := s.q[x]
				tr.QDraft = &v
			}
			if err := w.Token(tr); err != nil {
				t.Fatal(err)
			}
		}
		r.Steps = new(r.StepCount() + 1)
		r.Drafted += int32(s.k)
		r.Accepted += int32(s.j)
		r.Generated += int32(s.j + 1)
	}
	if err := w.EndCell(r); err != nil {
		t.Fatal(err)
	}
}

// writeRun writes cells into a new run folder with one writer.
func writeRun(t testing.TB, dir, shard string, cells ...cellSpec) {
	t.Helper()
	w, err := runlog.Create(dir, shard, "t0")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		writeCell(t, w, c)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// load reads run folders found under the arguments.
func load(t testing.TB, args ...string) *Data {
	t.Helper()
	dirs, err := runlog.Find(args...)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(dirs)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

func nearNums(got []Num, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !near(float64(got[i]), want[i]) {
			return false
		}
	}
	return true
}

var nan = math.NaN()
