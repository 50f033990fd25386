package analysis

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/speclab/speclab/terms"
)

// Options tune WriteReport.
type Options struct {
	By      []Dim    // grouping of the main table; default: DefaultDims
	Formats []string // figure formats, "png", "svg" and/or "pdf"; default all three
}

// DefaultDims is the grouping speclab uses when none is asked for: by
// configuration, and by model too when the logs hold several.
func DefaultDims(d *Data) []Dim {
	by := []Dim{ByConfig}
	if len(distinct(d, func(c *Cell) string { return c.Model })) > 1 {
		by = append(by, ByModel)
	}
	return by
}

func distinct(d *Data, f func(*Cell) string) []string {
	var out []string
	for _, c := range d.Cells {
		if v := f(c); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Output is what `speclab report --json` prints.
type Output struct {
	Schema    string     `json:"schema"` // terms.JSONSchema
	Runs      []string   `json:"runs"`
	By        []Dim      `json:"by"`
	Groups    []*Summary `json:"groups"`
	Diagnosis *Diagnosis `json:"diagnosis"`
}

// WriteJSON writes the summaries grouped by by, and the diagnosis, as
// indented JSON.
func WriteJSON(w io.Writer, d *Data, by []Dim) error {
	out := Output{Schema: terms.JSONSchema, Runs: d.Dirs, By: by, Groups: Summarize(d, by), Diagnosis: Diagnose(d)}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// PrintTables prints the speed, theory and empty-draft tables grouped by by.
func PrintTables(w io.Writer, d *Data, by []Dim) error {
	groups := Summarize(d, by)
	for i, t := range []*Table{SpeedTable(groups, by), TheoryTable(groups, by), EmptyTable(groups, by)} {
		if len(t.Rows) == 0 {
			continue
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := t.WriteText(w); err != nil {
			return err
		}
	}
	if msg := ShortWarning(d); msg != "" {
		fmt.Fprintf(w, "\n%s\n", msg)
	}
	if msg := CeilingLine(d); msg != "" {
		fmt.Fprintf(w, "\n%s\n", msg)
	}
	return nil
}

// Report is the whole analysis of run folders in one call (what `speclab
// reproduce` runs at its end): it loads dirs, prints the tables and the
// diagnosis to w, and, when outDir is not empty, writes the report with its
// figures there (see WriteReport) and returns the Markdown report's path.
func Report(dirs []string, outDir string, w io.Writer) (string, error) {
	d, err := Load(dirs)
	if err != nil {
		return "", err
	}
	if err := PrintTables(w, d, DefaultDims(d)); err != nil {
		return "", err
	}
	fmt.Fprintf(w, "\nDiagnosis\n%s", Diagnose(d).Text())
	if outDir == "" {
		return "", nil
	}
	return WriteReport(d, outDir, Options{})
}

// CeilingLine says where the baselines stand against the decode ceiling:
// the bandwidth measured when the run started over the target's bytes per
// token; "" when the logs hold no bandwidth.
func CeilingLine(d *Data) string {
	var bw float64
	var src string
	var bytes int64
	var tps []float64
	for _, c := range d.Cells {
		if c.BandwidthGBs > 0 && bw == 0 {
			bw, src, bytes = c.BandwidthGBs, c.BandwidthSource, c.TargetBytesPerToken
		}
		if c.Baseline && c.GenTPS > 0 && c.TargetBytesPerToken == bytes {
			tps = append(tps, c.GenTPS)
		}
	}
	if bw == 0 || bytes <= 0 {
		return ""
	}
	ceiling := bw * 1e9 / float64(bytes)
	line := fmt.Sprintf("Ceiling: %.1f GB/s of memory bandwidth measured on the %s when the run started, over the %.1f MB of weights the target reads per token, "+
		"is %.0f tokens/s (no decoder goes faster; the KV cache is left out, so it is an upper bound).", bw, src, float64(bytes)/1e6, ceiling)
	if len(tps) > 0 {
		base := PositiveCI(tps).Mean
		u := float64(base) / ceiling
		verdict := "memory-bound: verifying several tokens per read of the weights is what speculation buys here"
		if u < 0.6 {
			verdict = "not memory-bound: compute, kernel launches or the CPU limit it (a small model may also run from the CPU's caches), so verifying k tokens costs more than one step"
		}
		line += fmt.Sprintf(" The baseline ran at %.1f tokens/s, %.0f%% of it: %s.", float64(base), 100*u, verdict)
	}
	return line
}

// ShortWarning names the cells too short to time, or returns "".
func ShortWarning(d *Data) string {
	var short []string
	for _, c := range d.Cells {
		if isShort(c) {
			short = append(short, c.CellID)
		}
	}
	if len(short) == 0 {
		return ""
	}
	shown := short[:min(len(short), 5)]
	more := ""
	if len(short) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(short)-len(shown))
	}
	verb := "cells are"
	if len(short) == 1 {
		verb = "cell is"
	}
	return fmt.Sprintf("WARNING: %d %s too short to time (under %d tokens or %.1f s of generation): %s%s. Their speeds are dominated by clock and scheduling noise; raise n_predict_scale or the tasks' n_predict.",
		len(short), verb, ShortCellTokens, ShortCellS, strings.Join(shown, ", "), more)
}

func dimHeader(by []Dim) []string {
	var h []string
	for _, d := range by {
		h = append(h, string(d))
	}
	return h
}

func keyCells(s *Summary, by []Dim) []string {
	var r []string
	for _, d := range by {
		r = append(r, s.Get(d))
	}
	return r
}

func pct1(n Num) string {
	if !n.OK() {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n))
}

// SpeedTable is acceptance and speed, one row per group.
func SpeedTable(groups []*Summary, by []Dim) *Table {
	t := &Table{Title: "Acceptance and speed",
		Header: append(dimHeader(by), "cells", "drafting", "steps", "drafted", "accepted", "accept", "τ", "rollback µs/step", "tok/s [95% CI]", "speedup [95% CI]", "noise", "Spec-Bench speedup [95% CI]"),
		Note: "drafting: cells with at least one draft; τ = 1 + accepted/drafting steps (llama-server's mean len, vLLM's mean acceptance length); " +
			"rollback: undoing rejected drafts per verify step (KV tail removal, or checkpoint save, restore and replay); speedup: tokens/s over the baseline's of the same model, task and repeat, " +
			"geometric mean over tasks, then over repeats, 95% interval on the log scale (never below 0); noise: whether noise can explain that speedup, from the run's A/A cells (the baseline timed twice per block; " +
			"floor: the factor noise reaches on a mean of this many cells) or, without them, whether the interval holds 1; Spec-Bench speedup: mean tokens/s over tasks ÷ the baselines' (Spec-Bench's evaluation/speed.py), mean over repeats, percentile bootstrap interval over tasks"}
	for _, s := range groups {
		r := keyCells(s, by)
		drafting := fmt.Sprintf("%d/%d", s.DraftedCells, s.Cells)
		if s.Baseline {
			drafting = "baseline"
		}
		if s.AA {
			drafting = "A/A"
		}
		sp, sb := s.Speedup.FormatUnit("%.2f", "×"), s.SpeedupSpecBench.FormatUnit("%.2f", "×")
		if s.Baseline {
			sp, sb = "", ""
		}
		r = append(r, strconv.Itoa(s.Cells), drafting, strconv.FormatInt(s.Steps, 10), strconv.FormatInt(s.Drafted, 10),
			strconv.FormatInt(s.Accepted, 10), pct1(s.AcceptanceRate), s.MeanAcceptLen.Format("%.2f"), s.RollbackUs.Format("%.1f"), s.TPS.Format("%.1f"), sp, s.Noise.String(), sb)
		t.Rows = append(t.Rows, r)
	}
	return t
}

// TheoryTable puts Leviathan et al.'s prediction next to the measured
// speedup, one row per group that drafted.
func TheoryTable(groups []*Summary, by []Dim) *Table {
	t := &Table{Title: "Theory (Leviathan et al. 2023) against measurement",
		Header: append(dimHeader(by), "α per token", "γ", "c", "tokens/step pred", "tokens/step meas", "S Leviathan", "S with empty drafts", "S with verify cost", "S measured", "break-even α (Leviathan)", "verify cost"),
		Note: "α = accepted / (accepted + rejections) over drafting steps; γ = mean draft length of drafting steps; " +
			"c = proposer time per drafted token / a plain target step (the baseline's verify time per step); S with empty drafts applies the model to the measured " +
			"draft lengths, empty drafts included; S with verify cost: the same over the share of drafting steps with the measured verify cost instead of 1; " +
			"break-even α of Leviathan's formula (verify cost 1) at this γ and c; verify cost = median verify time of a step with a draft " +
			"/ a baseline step's median (the model assumes 1); speclab bench predicts from measured times of every part of the loop"}
	for _, s := range groups {
		if s.Baseline || s.Drafted == 0 {
			continue
		}
		meas := Num(1 + ratio(float64(s.Accepted), s.DraftSteps))
		r := append(keyCells(s, by), s.Alpha.Format("%.3f"), s.Gamma.Format("%.2f"), s.CostRatio.Format("%.3g"),
			s.ExpectedTokens.Format("%.2f"), meas.Format("%.2f"), s.SpeedupLeviathan.Format("%.2f"),
			s.SpeedupModel.Format("%.2f"), s.SpeedupMeasuredCost.Format("%.2f"), s.Speedup.Mean.Format("%.2f"), s.BreakEvenAlpha.Format("%.3f"), s.VerifyCost.Format("%.2f×"))
		t.Rows = append(t.Rows, r)
	}
	return t
}

// EmptyTable counts empty drafts by reason, one row per speculative group.
func EmptyTable(groups []*Summary, by []Dim) *Table {
	all := map[string]int64{}
	for _, s := range groups {
		if !s.Baseline && !s.AA {
			for r, n := range s.Empty {
				all[r] += n
			}
		}
	}
	reasons := sortedReasons(all)
	t := &Table{Title: "Empty drafts by reason (steps)", Header: append(append(dimHeader(by), "steps", "drafted"), reasons...)}
	if len(reasons) == 0 {
		return &Table{Title: t.Title}
	}
	for _, s := range groups {
		if s.Baseline || s.AA { // they draft nothing by design
			continue
		}
		r := append(keyCells(s, by), strconv.FormatInt(s.Steps, 10), strconv.FormatInt(s.DraftSteps, 10))
		for _, reason := range reasons {
			r = append(r, strconv.FormatInt(s.Empty[reason], 10))
		}
		t.Rows = append(t.Rows, r)
	}
	return t
}

// PositionTable is the per-position acceptance of each drafting group, for
// the first positions.
func PositionTable(groups []*Summary, by []Dim, conditional bool, positions int) *Table {
	title, note := "Acceptance by draft position, unconditional", "share of drafting steps that accepted at least i tokens (vLLM's definition)"
	if conditional {
		title, note = "Acceptance by draft position, conditional", "among steps that drafted position i and accepted every position before it, the share that accepted i"
	}
	t := &Table{Title: title, Header: dimHeader(by), Note: note}
	for i := range positions {
		t.Header = append(t.Header, strconv.Itoa(i+1))
	}
	for _, s := range groups {
		if s.Drafted == 0 {
			continue
		}
		v := s.PosUncond
		if conditional {
			v = s.PosCond
		}
		r := keyCells(s, by)
		for i := range positions {
			if i < len(v) {
				r = append(r, pct(v[i]))
			} else {
				r = append(r, "")
			}
		}
		t.Rows = append(t.Rows, r)
	}
	return t
}

// ConfidenceTable compares the target's and the draft's probabilities of
// accepted and rejected tokens.
func ConfidenceTable(groups []*Summary, by []Dim) *Table {
	t := &Table{Title: "Confidence of accepted and rejected draft tokens",
		Header: append(dimHeader(by), "accepted", "p_target", "q_draft", "rejected", "p_target", "q_draft"),
		Note:   "rejected: the first rejected token of each step (the one the target judged); p_target at temperature 1 in greedy mode; q_draft is missing for n-gram methods"}
	for _, s := range groups {
		if s.Drafted == 0 {
			continue
		}
		t.Rows = append(t.Rows, append(keyCells(s, by), strconv.FormatInt(s.T.Accepted.N, 10), s.PTargetAccepted.Format("%.3f"),
			s.QDraftAccepted.Format("%.3f"), strconv.FormatInt(s.T.Rejected.N, 10), s.PTargetRejected.Format("%.3f"), s.QDraftRejected.Format("%.3f")))
	}
	return t
}

// HistTable is the histogram of accepted length j by draft length k of a
// group, as shares of its drafting steps; long drafts are banded as in the
// figure, and j beyond 12 is folded into one column.
func HistTable(s *Summary) *Table {
	const maxJ = 12
	maxK := len(s.AcceptHist) - 1
	t := &Table{Title: "Accepted tokens j by draft length k: " + s.Config, Header: []string{"k", "steps"}}
	topJ := 0
	for k := 1; k <= maxK; k++ {
		for j, n := range s.AcceptHist[k] {
			if n > 0 {
				topJ = max(topJ, j)
			}
		}
	}
	cols := min(topJ, maxJ)
	for j := 0; j <= cols; j++ {
		h := strconv.Itoa(j)
		if j == maxJ && topJ > maxJ {
			h += "+"
		}
		t.Header = append(t.Header, h)
	}
	for _, b := range bandsOfTable(maxK) {
		row := make([]int64, cols+1)
		var n int64
		for k := b[0]; k <= b[1] && k < len(s.AcceptHist); k++ {
			for j, c := range s.AcceptHist[k] {
				row[min(j, cols)] += c
				n += c
			}
		}
		if n == 0 {
			continue
		}
		r := []string{bandName(b), strconv.FormatInt(n, 10)}
		for _, c := range row {
			r = append(r, fmt.Sprintf("%.1f%%", 100*float64(c)/float64(n)))
		}
		t.Rows = append(t.Rows, r)
	}
	t.Note = "each row: share of the steps with that draft length that accepted j tokens"
	return t
}

// bandsOfTable groups long draft lengths in at most 8 bands.
func bandsOfTable(maxK int) [][2]int {
	if maxK <= 8 {
		var out [][2]int
		for k := 1; k <= maxK; k++ {
			out = append(out, [2]int{k, k})
		}
		return out
	}
	w := (maxK + 7) / 8
	var out [][2]int
	for lo := 1; lo <= maxK; lo += w {
		out = append(out, [2]int{lo, min(lo+w-1, maxK)})
	}
	return out
}

// a report is a list of blocks, rendered as Markdown and as HTML
type (
	heading struct {
		level int
		text  string
	}
	para    string
	preText string
	figure  struct {
		fig        *Figure
		file       string   // relative path of the file the Markdown links
		png        []byte   // embedded in the HTML when set
		svg        []byte   // else this
		alternates []string // the other formats' files
	}
)

// WriteReport writes into dir (created if needed) a self-contained report
// of the data: report.md (figures linked as files beside it), report.html
// (figures embedded), summary.json and summary.csv (the main table in full
// precision), and every figure in each format. It returns the path of
// report.md.
func WriteReport(d *Data, dir string, opt Options) (string, error) {
	by := opt.By
	if len(by) == 0 {
		by = DefaultDims(d)
	}
	formats := opt.Formats
	if len(formats) == 0 {
		formats = Formats
	}
	for _, f := range formats {
		if !slices.Contains(Formats, f) {
			return "", fmt.Errorf("plot format %q: want png, svg or pdf", f)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	groups := Summarize(d, by)
	ctBy := []Dim{ByConfig, ByTask}
	if slices.Contains(by, ByModel) {
		ctBy = append(ctBy, ByModel)
	}
	byCT := Summarize(d, ctBy)
	diag := Diagnose(d)

	var blocks []any
	add := func(b ...any) { blocks = append(blocks, b...) }
	add(heading{1, "speclab report"}, para(describe(d)))
	add(heading{2, "Summary"}, SpeedTable(groups, by))
	add(heading{2, "Diagnosis"}, preText(diag.Text()))
	if w := ShortWarning(d); w != "" {
		add(para(w))
	}
	if w := CeilingLine(d); w != "" {
		add(para(w))
	}
	add(heading{2, "By configuration and task"}, SpeedTable(byCT, ctBy))
	if len(distinct(d, func(c *Cell) string { return c.Category })) > 0 {
		ccBy := []Dim{ByConfig, ByCategory}
		add(heading{2, "By configuration and category"}, SpeedTable(Summarize(d, ccBy), ccBy))
	}
	add(heading{2, "Theory against measurement"}, para(theoryText), TheoryTable(groups, by), TheoryTable(byCT, ctBy))
	if t := EmptyTable(groups, by); len(t.Rows) > 0 {
		add(heading{2, "Empty drafts"}, t, EmptyTable(byCT, ctBy))
	}
	add(heading{2, "Where drafts are rejected"},
		PositionTable(groups, by, false, 8), PositionTable(groups, by, true, 8), ConfidenceTable(groups, by))
	for _, s := range groups {
		if s.Drafted > 0 {
			t := HistTable(s)
			t.Title = "Accepted tokens j by draft length k: " + s.Name(by)
			add(t)
		}
	}
	add(heading{2, "Figures"})
	for _, fig := range Figures(d) {
		fb := figure{fig: fig}
		for _, f := range formats {
			var b bytes.Buffer
			if err := fig.Write(&b, f); err != nil {
				return "", err
			}
			switch f {
			case "png":
				fb.png = b.Bytes()
			case "svg":
				fb.svg = b.Bytes()
			}
			name := fig.Name + "." + f
			if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
				return "", fmt.Errorf("report: %w", err)
			}
			if fb.file == "" && f != "pdf" {
				fb.file = name
			} else {
				fb.alternates = append(fb.alternates, name)
			}
		}
		add(fb)
	}
	add(heading{2, "Definitions"}, para(definitionsText), MetricsTable())

	var md, ht bytes.Buffer
	if err := renderMarkdown(&md, blocks); err != nil {
		return "", err
	}
	if err := renderHTML(&ht, blocks); err != nil {
		return "", err
	}
	var js, cs bytes.Buffer
	if err := WriteJSON(&js, d, by); err != nil {
		return "", err
	}
	if err := WriteCSV(&cs, groups, by); err != nil {
		return "", err
	}
	files := map[string][]byte{"report.md": md.Bytes(), "report.html": ht.Bytes(), "summary.json": js.Bytes(), "summary.csv": cs.Bytes()}
	for _, name := range sortedKeys(files) {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return "", fmt.Errorf("report: %w", err)
		}
	}
	return filepath.Join(dir, "report.md"), nil
}

const theoryText = "Leviathan et al. (2023) model a step as drafting γ tokens, each accepted independently with " +
	"probability α, at a cost of γ·c target steps for the drafts plus one for the verification: a step emits " +
	"(1 − α^(γ+1)) / (1 − α) tokens on average and the speedup is that divided by (γc + 1). Here α is estimated " +
	"from the drafting steps as accepted / (accepted + rejections) (a draft is tried only up to its first " +
	"rejection, so the plain acceptance rate underestimates α), γ is the mean draft length of the drafting steps, " +
	"and c is the proposer's time per drafted token divided by the time of a plain target decoding step (the " +
	"matching baseline cells' verify time per step; the configuration's own when no baseline matches), both from " +
	"the step timings. Verify cost is the verify time of a step with a draft over that plain step: the model assumes " +
	"1, which holds when decoding is memory-bound; well above 1 the prediction is too optimistic. \"S with empty drafts\" applies the model step by step to the measured distribution of draft " +
	"lengths, empty drafts (one token for one target step) included. The break-even α is where the predicted " +
	"speedup is 1 at that γ and c (with γ = 1 it equals c, and no γ does better)."

const definitionsText = "A verify step checks a draft of k ≥ 0 tokens, accepts j ≤ k of them and emits one more of " +
	"the target's own. Acceptance rate = Σ accepted / Σ drafted. Mean acceptance length τ = 1 + Σ accepted / drafting " +
	"steps, the steps whose draft was not empty (llama-server's mean len, vLLM's 1 + num_accepted_tokens / num_drafts); " +
	"tokens per verify step = 1 + Σ accepted / all steps, empty drafts included. Per-position acceptance, unconditional (vLLM): the share of drafting steps that " +
	"accepted at least i tokens; conditional: among steps that drafted position i and accepted the positions " +
	"before it, the share that accepted i. Speedup = tokens/s of the configuration ÷ tokens/s of the baseline " +
	"cell of the same target model, task and repeat; per repeat the geometric mean over tasks, then the geometric mean over " +
	"repeats with a 95% Student t interval on the log scale, which never goes below 0 (no interval with a single repeat). " +
	"Tokens/s are geometric means over repeats with log-scale intervals too."

// MetricsTable lists every metric with its key, definition and the anchor
// whose name and definition it follows (package terms' table).
func MetricsTable() *Table {
	t := &Table{Title: "Metrics", Header: []string{"key", "definition", "as in"}}
	for _, m := range terms.Metrics() {
		t.Rows = append(t.Rows, []string{string(m), m.Definition(), m.Anchor()})
	}
	return t
}

// describe says what the data is: runs, cells, models, runtime, dates.
func describe(d *Data) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run folders: %s. ", strings.Join(d.Dirs, ", "))
	tasks := distinct(d, func(c *Cell) string { return c.Task })
	cfgs := distinct(d, func(c *Cell) string { return c.Config })
	reps := distinct(d, func(c *Cell) string { return strconv.Itoa(int(c.Repeat)) })
	fmt.Fprintf(&b, "%d cells: %d tasks × %d configurations × %d repeats. ", len(d.Cells), len(tasks), len(cfgs), len(reps))
	item := func(label string, f func(*Cell) string) {
		if v := distinct(d, f); len(v) > 0 {
			fmt.Fprintf(&b, "%s: %s. ", label, strings.Join(v, ", "))
		}
	}
	item("Target", func(c *Cell) string { return c.TargetPath })
	item("Draft", func(c *Cell) string { return c.DraftPath })
	item("libllama", func(c *Cell) string {
		if c.LibVersion == "" {
			return ""
		}
		return strings.TrimSpace(c.LibVersion + " " + c.Backend)
	})
	item("Device", func(c *Cell) string { return c.Device })
	item("Host", func(c *Cell) string { return c.Host })
	item("speclab", func(c *Cell) string { return c.Speclab })
	var first, last int64
	for _, c := range d.Cells {
		if c.StartedAt > 0 && (first == 0 || c.StartedAt < first) {
			first = c.StartedAt
		}
		last = max(last, c.FinishedAt)
	}
	if first > 0 && last > 0 {
		fmt.Fprintf(&b, "Ran %s to %s.", time.UnixMicro(first).UTC().Format("2006-01-02 15:04"),
			time.UnixMicro(last).UTC().Format("2006-01-02 15:04 MST"))
	}
	return strings.TrimSpace(b.String())
}

func renderMarkdown(w io.Writer, blocks []any) error {
	var b bytes.Buffer
	for _, bl := range blocks {
		switch x := bl.(type) {
		case heading:
			fmt.Fprintf(&b, "%s %s\n\n", strings.Repeat("#", x.level), x.text)
		case para:
			fmt.Fprintf(&b, "%s\n\n", x)
		case preText:
			fmt.Fprintf(&b, "```\n%s```\n\n", x)
		case *Table:
			if x.Title != "" {
				fmt.Fprintf(&b, "**%s**\n\n", x.Title)
			}
			t := *x
			t.Title = ""
			if err := t.WriteMarkdown(&b); err != nil {
				return err
			}
			b.WriteString("\n")
		case figure:
			fmt.Fprintf(&b, "### %s\n\n![%s](%s)\n\n%s", x.fig.Title, x.fig.Title, x.file, x.fig.Caption)
			for _, alt := range x.alternates {
				fmt.Fprintf(&b, " ([%s](%s))", strings.ToUpper(filepath.Ext(alt)[1:]), alt)
			}
			b.WriteString("\n\n")
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

const htmlStyle = `body{font-family:"Liberation Sans",Arial,Helvetica,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
th{border-bottom:2px solid #888}td.l,th:first-child{text-align:left}pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:13px;white-space:pre-wrap}
h3.t{font-size:14px;margin-bottom:.2em}p.note,p.cap{font-size:12px;color:#555}img,svg{max-width:100%;height:auto}figure{margin:1.5em 0}`

func renderHTML(w io.Writer, blocks []any) error {
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>speclab report</title>\n<style>" + htmlStyle + "</style></head><body>\n")
	for _, bl := range blocks {
		switch x := bl.(type) {
		case heading:
			fmt.Fprintf(&b, "<h%d>%s</h%d>\n", x.level, html.EscapeString(x.text), x.level)
		case para:
			fmt.Fprintf(&b, "<p>%s</p>\n", html.EscapeString(string(x)))
		case preText:
			fmt.Fprintf(&b, "<pre>%s</pre>\n", html.EscapeString(string(x)))
		case *Table:
			if x.Title != "" {
				fmt.Fprintf(&b, "<h3 class=\"t\">%s</h3>\n", html.EscapeString(x.Title))
			}
			if err := x.WriteHTML(&b); err != nil {
				return err
			}
		case figure:
			fmt.Fprintf(&b, "<figure><h3 class=\"t\">%s</h3>\n", html.EscapeString(x.fig.Title))
			if x.png != nil {
				fmt.Fprintf(&b, "<img alt=\"%s\" src=\"data:image/png;base64,%s\">\n", html.EscapeString(x.fig.Title), base64.StdEncoding.EncodeToString(x.png))
			} else {
				svg := x.svg
				if i := bytes.Index(svg, []byte("<svg")); i >= 0 {
					svg = svg[i:]
				}
				b.Write(svg)
			}
			fmt.Fprintf(&b, "<figcaption><p class=\"cap\">%s</p></figcaption></figure>\n", html.EscapeString(x.fig.Caption))
		}
	}
	b.WriteString("</body></html>\n")
	_, err := w.Write(b.Bytes())
	return err
}
