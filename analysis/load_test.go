package analysis

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/speclab/speclab/experiments/runlog"
)

// Reading a folder of shards gives what reading one folder holding every
// cell gives, whether the shards wrote into subfolders or into one folder.
func TestShardsEqualUnion(t *testing.T) {
	cells := studyCells()
	root := t.TempDir()
	single := filepath.Join(root, "single")
	writeRun(t, single, "0", cells...)

	sub := filepath.Join(root, "sub")
	writeRun(t, filepath.Join(sub, "shard-1"), "1of3", cells[:3]...)
	writeRun(t, filepath.Join(sub, "shard-2"), "2of3", cells[3:5]...)
	writeRun(t, filepath.Join(sub, "shard-3"), "3of3", cells[5:]...)

	same := filepath.Join(root, "same")
	writeRun(t, same, "1of2", cells[5:]...)
	writeRun(t, same, "2of2", cells[:5]...)

	want := load(t, single)
	wantJSON := summariesJSON(t, want)
	for _, args := range [][]string{{sub}, {filepath.Join(sub, "shard-*")}, {same}} {
		got := load(t, args...)
		if len(got.Cells) != len(want.Cells) {
			t.Fatalf("%v: %d cells, want %d", args, len(got.Cells), len(want.Cells))
		}
		for i := range got.Cells {
			g, w := got.Cells[i], want.Cells[i]
			if !reflect.DeepEqual(g.RunRow, w.RunRow) || !reflect.DeepEqual(g.S, w.S) || !reflect.DeepEqual(g.T, w.T) {
				t.Errorf("%v: cell %s differs:\n got %+v %+v\nwant %+v %+v", args, g.CellID, g.S, g.T, w.S, w.T)
			}
		}
		if s := summariesJSON(t, got); s != wantJSON {
			t.Errorf("%v: summaries differ from the single folder's:\n%s\nwant\n%s", args, s, wantJSON)
		}
	}
}

func summariesJSON(t *testing.T, d *Data) string {
	t.Helper()
	b, err := json.Marshal(Summarize(d, []Dim{ByConfig, ByTask, ByModel}))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Steps and tokens of a killed execution (no runs row) and of an execution
// superseded by a later one of the same cell are left out.
func TestOrphansAndReexecution(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	w, err := runlog.Create(dir, "0", "t0")
	if err != nil {
		t.Fatal(err)
	}
	// a killed execution: its steps and tokens reach disk (in parts of a
	// row each), its runs row never
	w.RollRows = 1
	r := cell("spec", "t1", 0, false, 15)
	r.ExecID = "killed"
	for i := range 3 {
		if err := w.Step(runlog.StepRow{ExecID: "killed", CellID: r.CellID, Step: int32(i), Drafted: 5, Accepted: 5}); err != nil {
			t.Fatal(err)
		}
		if err := w.Token(runlog.TokenRow{ExecID: "killed", CellID: r.CellID, Step: int32(i), Accepted: true, Verified: true}); err != nil {
			t.Fatal(err)
		}
	}
	w.RollRows = runlog.DefaultRollRows
	// the same cell executed twice; the later execution wins
	first := cellSpec{run: cell("spec", "t1", 0, false, 11), steps: []st{{k: 2, j: 2}, {k: 2, j: 2}}}
	first.run.ExecID, first.run.FinishedAt = "first", 1
	second := cellSpec{run: cell("spec", "t1", 0, false, 15), steps: mixedSteps}
	second.run.ExecID, second.run.FinishedAt = "second", 2
	writeCell(t, w, second)
	writeCell(t, w, first) // written last, finished first
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	d := load(t, dir)
	if len(d.Cells) != 1 || d.Cells[0].ExecID != "second" {
		t.Fatalf("cells %d, want the one cell of exec second", len(d.Cells))
	}
	c := d.Cells[0]
	if c.S.Steps != 6 || c.S.Drafted != 13 || c.S.Accepted != 9 || c.T.Tokens != 13 {
		t.Errorf("steps %d drafted %d accepted %d tokens %d; want 6 13 9 13 (mixedSteps only)",
			c.S.Steps, c.S.Drafted, c.S.Accepted, c.T.Tokens)
	}
}

func TestLoadErrors(t *testing.T) {
	good := filepath.Join(t.TempDir(), "run")
	writeRun(t, good, "0", studyCells()...)

	corrupt := filepath.Join(t.TempDir(), "run")
	writeRun(t, corrupt, "0", studyCells()...)
	parts := runlog.Parts([]string{corrupt}, runlog.StepsDir)
	if err := os.WriteFile(parts[0], []byte("PAR1 this is not parquet"), 0o644); err != nil {
		t.Fatal(err)
	}

	wrong := filepath.Join(t.TempDir(), "run")
	writeRun(t, wrong, "0", studyCells()...)
	tok := runlog.Parts([]string{wrong}, runlog.TokensDir)
	b, err := os.ReadFile(tok[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wrong, runlog.StepsDir, "part-x-x-00009.parquet"), b, 0o644); err != nil {
		t.Fatal(err)
	}

	empty := filepath.Join(t.TempDir(), "run")
	for _, s := range []string{runlog.RunsDir, runlog.StepsDir, runlog.TokensDir} {
		if err := os.MkdirAll(filepath.Join(empty, s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		dir  string
		msg  string
	}{
		{"corrupt part", corrupt, parts[0]},
		{"tokens part among steps", wrong, `no column "pos"`},
		{"no cells", empty, "no finished cell"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]string{tt.dir})
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Load: %v, want an error saying %q", err, tt.msg)
			}
		})
	}
	if _, err := Load([]string{good}); err != nil {
		t.Errorf("Load of the good folder: %v", err)
	}
}

// stepRowBefore is the steps table as speclab wrote it before translate_ns.
type stepRowBefore struct {
	RunID      string `parquet:"run_id,dict"`
	CellID     string `parquet:"cell_id,dict"`
	ExecID     string `parquet:"exec_id,dict"`
	Step       int32  `parquet:"step"`
	Pos        int32  `parquet:"pos"`
	NMax       int32  `parquet:"n_max"`
	Drafted    int32  `parquet:"drafted"`
	Accepted   int32  `parquet:"accepted"`
	Emitted    int32  `parquet:"emitted"`
	Source     string `parquet:"source,dict"`
	Reason     string `parquet:"reason,dict"`
	Checkpoint bool   `parquet:"checkpoint"`
	StateBytes int64  `parquet:"state_bytes"`
	ProposeNs  int64  `parquet:"propose_ns"`
	VerifyNs   int64  `parquet:"verify_ns"`
	RollbackNs int64  `parquet:"rollback_ns"`
	OverheadNs int64  `parquet:"overhead_ns"`
}

// A folder written before a column was added to the steps table still
// loads, with zeros in that column.
func TestLoadOlderSteps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	writeRun(t, dir, "0", cellSpec{run: cell("spec", "t1", 1, false, 10), steps: []st{{k: 3, j: 2, proposeNs: 5}, {k: 0, reason: "no-match"}}})
	parts := runlog.Parts([]string{dir}, runlog.StepsDir)
	if len(parts) != 1 {
		t.Fatalf("%d steps parts", len(parts))
	}
	rows, err := parquet.ReadFile[runlog.StepRow](parts[0])
	if err != nil {
		t.Fatal(err)
	}
	old := make([]stepRowBefore, len(rows))
	for i, r := range rows {
		old[i] = stepRowBefore{RunID: r.RunID, CellID: r.CellID, ExecID: r.ExecID, Step: r.Step, Pos: r.Pos, NMax: r.NMax,
			Drafted: r.Drafted, Accepted: r.Accepted, Emitted: r.Emitted, Source: r.Source, Reason: r.Reason,
			ProposeNs: r.ProposeNs, VerifyNs: r.VerifyNs, RollbackNs: r.RollbackNs, OverheadNs: r.OverheadNs}
	}
	if err := parquet.WriteFile(parts[0], old); err != nil {
		t.Fatal(err)
	}
	d := load(t, dir)
	if len(d.Cells) != 1 || d.Cells[0].S.Steps != 2 || d.Cells[0].S.TranslateNs != 0 || d.Cells[0].S.Drafted != 3 {
		t.Errorf("cells %+v", d.Cells)
	}
}
