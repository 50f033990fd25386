package analysis

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func diagnosisCells() []cellSpec {
	var cells []cellSpec
	for _, task := range []string{"t1", "t2", "t3"} {
		cells = append(cells, cellSpec{run: cell("baseline", task, 0, true, 10), steps: []st{{reason: "disabled"}}})
	}
	noHist := func(n int) []st {
		var s []st
		for range n {
			s = append(s, st{reason: "no-history"})
		}
		return s
	}
	ng := func(task string, steps []st, prompt int32) cellSpec {
		c := cellSpec{run: cell("ngram-simple", task, 0, false, 10), steps: steps}
		c.run.SpecTypes = "ngram-simple"
		c.run.ConfigRaw = `{"name":"ngram-simple","spec":{"--spec-ngram-simple-size-n":3,"spec_ngram_simple_size_m":8}}`
		c.run.PromptTokens = prompt
		return c
	}
	cells = append(cells,
		ng("t1", noHist(5), 4),
		ng("t2", noHist(3), 2),
		ng("t3", []st{
			{k: 3, j: 1, p: []float32{0.9, 0.05}},
			{k: 3, j: 3, p: []float32{0.8, 0.8, 0.8}},
			{reason: "no-match"},
		}, 30),
	)
	for _, task := range []string{"t1", "t2", "t3"} {
		c := cellSpec{run: cell("draft-simple", task, 0, false, 10), steps: []st{{reason: "vocab-refused"}}}
		c.run.Applied = false
		c.run.Refusal = "draft vocabulary refused: vocab sizes differ by 1000 (more than 128)"
		cells = append(cells, c)

		r := cellSpec{run: cell("ngram-map-k4v", task, 0, false, 10), steps: []st{{reason: "target-cannot-rollback"}, {reason: "target-cannot-rollback"}}}
		r.run.SpecTypes = "ngram-map-k4v"
		r.run.Applied = false
		cells = append(cells, r)

		cells = append(cells, cellSpec{run: cell("draft-model", task, 0, false, 12), steps: []st{
			{k: 2, j: 0, p: []float32{0.1}, q: []float32{0.8}},
			{k: 2, j: 2, p: []float32{0.9, 0.9}, q: []float32{0.9, 0.9}},
		}})
	}
	return cells
}

func TestDiagnose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	writeRun(t, dir, "0", diagnosisCells()...)
	diag := Diagnose(load(t, dir))
	byName := map[string]*ConfigDiagnosis{}
	for _, c := range diag.Configs {
		byName[c.Config] = c
	}
	status := map[string]Status{
		"baseline": StatusBaseline, "ngram-simple": StatusApplied, "draft-simple": StatusRefused,
		"ngram-map-k4v": StatusCannotRollback, "draft-model": StatusApplied,
	}
	for name, want := range status {
		c := byName[name]
		if c == nil {
			t.Fatalf("no diagnosis of %s", name)
		}
		if c.Status != want {
			t.Errorf("%s: status %s, want %s", name, c.Status, want)
		}
	}
	if diag.Configs[0].Config != "baseline" {
		t.Errorf("first configuration %s, want the baseline", diag.Configs[0].Config)
	}

	ng := byName["ngram-simple"]
	if ng.TasksDrafted != 1 || ng.Tasks != 3 {
		t.Errorf("ngram-simple drafted on %d of %d tasks, want 1 of 3", ng.TasksDrafted, ng.Tasks)
	}
	// t1: prompt 4 + 5 generated; t2: 2 + 3
	wantIdle := IdleFinding{Tasks: []string{"t1", "t2"}, Reason: "no-history", Steps: 8, MaxContext: 9,
		Meaning: "too little history: ngram-simple needs more than 12 tokens of history (n+m+1, n=3 m=8)"}
	if len(ng.Idle) != 1 || !reflect.DeepEqual(ng.Idle[0], wantIdle) {
		t.Errorf("idle findings %+v, want [%+v]", ng.Idle, wantIdle)
	}
	wantEmpty := []EmptyFinding{
		{Reason: "no-history", Steps: 8, Tasks: 2, Meaning: wantIdle.Meaning},
		{Reason: "no-match", Steps: 1, Tasks: 1, Meaning: reasonMeaning("no-match", "", "")},
	}
	if !reflect.DeepEqual(ng.Empty, wantEmpty) {
		t.Errorf("empty findings %+v, want %+v", ng.Empty, wantEmpty)
	}
	rj := ng.Rejections
	if rj == nil || rj.Rejected != 1 || !reflect.DeepEqual(rj.RejectedAt, []int64{0, 1}) ||
		!near(float64(rj.PTargetRejected), float64(float32(0.05))) || rj.QDraftRejected.OK() {
		t.Errorf("rejections %+v, want 1 rejected at position 2 with p 0.05 and no q", rj)
	}

	text := diag.Text()
	for _, want := range []string{
		"baseline: not configured",
		"ngram-simple drafted nothing on 2 of 3 tasks (t1, t2): too little history: ngram-simple needs more than 12 tokens of history",
		"(no-history 8 steps; prompt + output reach at most 9 tokens there)",
		"100% at position 2",
		"the proposer has no probabilities",
		"draft-simple: NOT APPLIED on any of 3 tasks: refused: draft vocabulary refused: vocab sizes differ by 1000 (more than 128)",
		"ngram-map-k4v: NOT APPLIED on any of 3 tasks: the target's memory cannot roll back",
		"target-cannot-rollback on 6 steps",
		"draft-model: applied, drafted on 3 of 3 tasks",
		"the draft gave them q = 0.80 (accepted ones 0.90): the draft was confidently wrong",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("diagnosis lacks %q:\n%s", want, text)
		}
	}
}

func TestNgramParam(t *testing.T) {
	tests := []struct {
		raw, method, param string
		want               int
	}{
		{"", "ngram-simple", "size-n", 12},
		{"not json", "ngram-simple", "size-n", 12},
		{`{"spec-ngram-simple-size-n": 5}`, "ngram-simple", "size-n", 5},
		{`{"a":{"b":[{"SPEC_NGRAM_MAP_K4V_SIZE_M": 20}]}}`, "ngram-map-k4v", "size-m", 20},
		{`{"spec-ngram-map-k4v-size-m": 20}`, "ngram-map-k", "size-m", 48}, // another method's
		{`{"--spec-ngram-mod-n-match": 16}`, "ngram-mod", "n-match", 16},
		{`{"spec-ngram-simple-size-n": 2.5}`, "ngram-simple", "size-n", 12},
	}
	for _, tt := range tests {
		def := map[string]int{"size-n": 12, "size-m": 48, "n-match": 24}[tt.param]
		if got := ngramParam(tt.raw, tt.method, tt.param, def); got != tt.want {
			t.Errorf("ngramParam(%s, %s, %s) = %d, want %d", tt.raw, tt.method, tt.param, got, tt.want)
		}
	}
}

// TestIdleCausesPerTask: idle tasks are told their own cause: a task idle
// for lack of history is not told that the n-gram never occurred.
func TestIdleCausesPerTask(t *testing.T) {
	mk := func(task, reason string, n int) cellSpec {
		c := cellSpec{run: cell("ngram-simple", task, 0, false, 10)}
		c.run.SpecTypes = "ngram-simple"
		for range n {
			c.steps = append(c.steps, st{reason: reason})
		}
		return c
	}
	dir := filepath.Join(t.TempDir(), "run")
	// "long" has more no-match steps than "short" has no-history ones:
	// one cause for both would be no-match.
	writeRun(t, dir, "0", mk("short", "no-history", 3), mk("long", "no-match", 20))
	diag := Diagnose(load(t, dir))
	var idle []IdleFinding
	for _, c := range diag.Configs {
		if c.Config == "ngram-simple" {
			idle = c.Idle
		}
	}
	got := map[string]string{}
	for _, g := range idle {
		for _, task := range g.Tasks {
			got[task] = g.Reason
		}
	}
	if got["short"] != "no-history" || got["long"] != "no-match" {
		t.Errorf("idle causes %v; want short: no-history, long: no-match", got)
	}
}

// The diagnosis names each prediction: the mixture over the measured
// draft lengths, and Leviathan's formula at the printed α, γ and c, whose
// value is the formula's at those numbers.
func TestDiagnosePredictionsNamed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	writeRun(t, dir, "0", studyCells()...)
	d := load(t, dir)
	text := Diagnose(d).Text()
	s := find(t, Summarize(d, []Dim{ByConfig}), Key{Config: "spec"})
	if !s.SpeedupLeviathan.OK() {
		t.Fatal("no Leviathan prediction in the fixture")
	}
	want := "and " + s.SpeedupLeviathan.Format("%.2f") + "× at α " + s.Alpha.Format("%.2f")
	if !strings.Contains(text, want) || !strings.Contains(text, "over the measured draft lengths") {
		t.Errorf("diagnosis lacks %q:\n%s", want, text)
	}
	if got := Leviathan(float64(s.Alpha), float64(s.Gamma), float64(s.CostRatio)); !near(got, float64(s.SpeedupLeviathan)) {
		t.Errorf("SpeedupLeviathan %v is not the formula's %v at its α, γ, c", s.SpeedupLeviathan, got)
	}
}
