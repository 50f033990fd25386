package analysis

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	synthStudy(t, run, 2, 0.2)
	out := filepath.Join(t.TempDir(), "report")
	var w bytes.Buffer
	path, err := Report([]string{run}, out, &w)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(out, "report.md") {
		t.Errorf("report path %s", path)
	}
	term := w.String()
	for _, want := range []string{"Acceptance and speed", "tok/s [95% CI]", "Theory (Leviathan", "Empty drafts by reason",
		"Diagnosis", "baseline: not configured", "ngram-simple drafted nothing on", "sky-is-blue"} {
		if !strings.Contains(term, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, term)
		}
	}
	md, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# speclab report", "## Diagnosis", "| config | task |", "![Speedup and acceptance](speedup-vs-acceptance.png)",
		"([SVG](speedup-vs-acceptance.svg))", "([PDF](speedup-vs-acceptance.pdf))", "Accepted tokens j by draft length k: draft-simple", "qwen-27b"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, name := range []string{"speedup-vs-acceptance", "speedup-by-task", "acceptance-by-position", "accepted-length", "acceptance-along-generation", "speedup-vs-draft-length", "empty-drafts"} {
		for _, ext := range []string{".png", ".svg", ".pdf"} {
			if st, err := os.Stat(filepath.Join(out, name+ext)); err != nil || st.Size() == 0 {
				t.Errorf("figure %s%s: %v", name, ext, err)
			}
		}
	}
	ht, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(ht), "data:image/png;base64,"); n != 7 {
		t.Errorf("report.html embeds %d PNGs, want 7", n)
	}
	var o Output
	js, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &o); err != nil {
		t.Fatal(err)
	}
	if len(o.Groups) != 5 || len(o.Diagnosis.Configs) != 5 || o.Groups[0].Config != "baseline" {
		t.Errorf("summary.json: %d groups, %d diagnoses, first %q; want 5, 5, baseline", len(o.Groups), len(o.Diagnosis.Configs), o.Groups[0].Config)
	}
	f, err := os.Open(filepath.Join(out, "summary.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 || recs[0][0] != "config" || recs[1][0] != "baseline" {
		t.Errorf("summary.csv: %d records, header %v", len(recs), recs[0])
	}
}

func TestTables(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	writeRun(t, dir, "0", studyCells()...)
	d := load(t, dir)
	by := []Dim{ByConfig, ByTask}
	g := Summarize(d, by)
	sp := SpeedTable(g, by)
	if len(sp.Rows) != 5 {
		t.Fatalf("speed table has %d rows, want 5 (baseline t1, t2; spec t1, t2; idle t1)", len(sp.Rows))
	}
	var row []string
	for _, r := range sp.Rows {
		if r[0] == "spec" && r[1] == "t1" {
			row = r
		}
	}
	// τ = 1 + 9 accepted / 4 drafting steps (llama-server's mean len); 1 + 9/6 = 2.50 over all steps
	want := []string{"spec", "t1", "3", "1/3", "6", "13", "9", "69.2%", "3.25", "0.0", "14.8 [8.9, 24.5]", "1.48× [0.89, 2.45]", "noise", "1.50× [1.20, 1.80]"} // geometric means, log-scale intervals; Spec-Bench: arithmetic, bootstrap
	if strings.Join(row, "|") != strings.Join(want, "|") {
		t.Errorf("spec/t1 row %q, want %q", row, want)
	}
	th := TheoryTable(g, by)
	if len(th.Rows) != 1 || th.Rows[0][2] != "0.818" || th.Rows[0][3] != "3.25" || th.Rows[0][4] != "0.2" {
		t.Errorf("theory rows %q, want one for spec/t1 with α 0.818, γ 3.25, c 0.2", th.Rows)
	}
	em := EmptyTable(g, by)
	if strings.Join(em.Header, ",") != "config,task,steps,drafted,no-history,no-match" {
		t.Errorf("empty-draft header %v", em.Header)
	}
	var b bytes.Buffer
	if err := sp.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| spec | t1 | 3 | 1/3 |") {
		t.Errorf("markdown:\n%s", b.String())
	}
	ht := HistTable(find(t, Summarize(d, []Dim{ByConfig}), Key{Config: "spec"}))
	// k=2: j=0; k=3: j=3; k=4: j=2 and j=4
	wantH := [][]string{{"2", "1", "100.0%", "0.0%", "0.0%", "0.0%", "0.0%"}, {"3", "1", "0.0%", "0.0%", "0.0%", "100.0%", "0.0%"},
		{"4", "2", "0.0%", "0.0%", "50.0%", "0.0%", "50.0%"}}
	if len(ht.Rows) != 3 || strings.Join(ht.Rows[2], ",") != strings.Join(wantH[2], ",") || strings.Join(ht.Rows[0], ",") != strings.Join(wantH[0], ",") {
		t.Errorf("histogram rows %q, want %q", ht.Rows, wantH)
	}
}
