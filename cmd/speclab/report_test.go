package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/speclab/speclab/analysis"
	"github.com/speclab/speclab/experiments/runlog"
)

// speclabReport runs the command line with the report and plot commands
// (registered by main.go's newApp, or added here while they are not).
func speclabReport(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	app := newApp(&out, &errb)
	for _, cmd := range []string{"report", "plot"} {
		if app.Command(cmd) == nil {
			if cmd == "report" {
				app.Commands = append(app.Commands, reportCommand())
			} else {
				app.Commands = append(app.Commands, plotCommand())
			}
		}
	}
	err := app.Run(append([]string{"speclab"}, args...))
	if err == nil {
		return 0, out.String(), errb.String()
	}
	fmt.Fprintf(&errb, "speclab: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "flag provided but not defined") {
		return 2, out.String(), errb.String()
	}
	return 1, out.String(), errb.String()
}

// writeStudy writes a small run folder: a baseline and an n-gram
// configuration on two tasks with two repeats; the n-gram drafts nothing on
// the short task.
func writeStudy(t *testing.T, dir string) {
	t.Helper()
	w, err := runlog.Create(dir, "1of1", "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range []string{"code", "haiku"} {
		for rep := range 2 {
			for _, cfg := range []string{"baseline", "ngram-simple"} {
				r := runlog.RunRow{RunID: "r", CellID: fmt.Sprintf("%s/%s/r%d", task, cfg, rep), ExecID: fmt.Sprintf("%s-%s-%d", task, cfg, rep),
					Task: task, Config: cfg, Repeat: int32(rep), Baseline: cfg == "baseline", TargetPath: "/m/target.gguf",
					GenTPS: 10 + float64(rep)}
				if cfg != "baseline" {
					r.SpecTypes = cfg
					r.GenTPS = 12 + 2*float64(rep)
				}
				for s := range 20 {
					st := runlog.StepRow{RunID: "r", CellID: r.CellID, ExecID: r.ExecID, Step: int32(s), Pos: int32(10 + s), VerifyNs: 1000}
					switch {
					case cfg == "baseline":
						st.Reason = "disabled"
					case task == "haiku" || s < 10:
						st.Reason = "no-history"
					default:
						st.Drafted, st.Accepted, st.ProposeNs = 4, int32(s%5), 40
						r.Drafted += 4
						for x := range 4 { // every drafted token has a row
							if x > s%5 {
								err := w.Token(runlog.TokenRow{RunID: "r", CellID: r.CellID, ExecID: r.ExecID, Step: int32(s), Index: int32(x)})
								if err != nil {
									t.Fatal(err)
								}
								continue
							}
							p := float32(0.9)
							if x == s%5 {
								p = 0.2
							}
							err := w.Token(runlog.TokenRow{RunID: "r", CellID: r.CellID, ExecID: r.ExecID, Step: int32(s),
								Index: int32(x), Accepted: x < s%5, PTarget: &p})
							if err != nil {
								t.Fatal(err)
							}
						}
					}
					if err := w.Step(st); err != nil {
						t.Fatal(err)
					}
					r.Steps = new(r.StepCount() + 1)
				}
				if err := w.EndCell(r); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReportCommand(t *testing.T) {
	root := t.TempDir()
	run := filepath.Join(root, "run")
	writeStudy(t, run)

	code, out, errs := speclabReport(t, "report", run)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"Acceptance and speed", "ngram-simple", "Diagnosis",
		"ngram-simple drafted nothing on 1 of 2 tasks (haiku): too little history"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	code, out, errs = speclabReport(t, "report", "--json", "--by", "config,task", run)
	if code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errs)
	}
	var o analysis.Output
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if len(o.Groups) != 4 || len(o.By) != 2 {
		t.Errorf("--json: %d groups by %v, want 4 by config,task", len(o.Groups), o.By)
	}
	for _, g := range o.Groups {
		// code, ngram-simple: 10 steps drafting 4 tokens, accepting s%5 for s = 10..19
		if g.Config == "ngram-simple" && g.Task == "code" && (g.Drafted != 80 || g.Accepted != 40 || g.Cells != 2) {
			t.Errorf("ngram-simple/code: drafted %d accepted %d cells %d; want 80 40 2", g.Drafted, g.Accepted, g.Cells)
		}
	}

	code, out, errs = speclabReport(t, "report", "--csv", run)
	if code != 0 {
		t.Fatalf("--csv: exit %d: %s", code, errs)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 3 || recs[0][0] != "config" {
		t.Errorf("--csv: %v, %d records:\n%s", err, len(recs), out)
	}

	dir := filepath.Join(root, "report")
	code, _, errs = speclabReport(t, "report", "--out", dir, "--format", "svg", run)
	if code != 0 {
		t.Fatalf("--out: exit %d: %s", code, errs)
	}
	for _, f := range []string{"report.md", "report.html", "summary.json", "summary.csv", "speedup-vs-acceptance.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("--out: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "speedup-vs-acceptance.png")); err == nil {
		t.Error("--format svg wrote a PNG")
	}
	if !strings.Contains(errs, filepath.Join(dir, "report.md")) {
		t.Errorf("stderr does not name the report: %s", errs)
	}
}

func TestPlotCommand(t *testing.T) {
	root := t.TempDir()
	run := filepath.Join(root, "run")
	writeStudy(t, run)
	dir := filepath.Join(root, "figs")
	code, out, errs := speclabReport(t, "plot", "--out", dir, "--format", "png", run)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	files := strings.Fields(out)
	if len(files) != 7 {
		t.Fatalf("%d files listed, want 7:\n%s", len(files), out)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if r := img.Bounds(); r.Dx() < 900 || r.Dy() < 350 {
			t.Errorf("%s: %dx%d, too small for 150 DPI", f, r.Dx(), r.Dy())
		}
	}
}

func TestReportUsage(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	writeStudy(t, run)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no run", []string{"report"}, 2, "one or more run folders"},
		{"flag after run", []string{"report", run, "--json"}, 2, "put flags first"},
		{"json and csv", []string{"report", "--json", "--csv", run}, 2, "not both"},
		{"bad grouping", []string{"report", "--by", "config,colour", run}, 2, `"colour"`},
		{"bad format", []string{"report", "--out", t.TempDir(), "--format", "tiff", run}, 2, "tiff"},
		{"format without out", []string{"report", "--format", "svg", run}, 2, "--out"},
		{"missing folder", []string{"report", "/nonexistent/run"}, 1, "/nonexistent/run"},
		{"not a run folder", []string{"report", t.TempDir()}, 1, "no speclab run folder"},
		{"plot without out", []string{"plot", run}, 2, "--out"},
		{"plot without run", []string{"plot", "--out", t.TempDir()}, 2, "one or more run folders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := speclabReport(t, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errs, tt.code, tt.msg)
			}
		})
	}
}
