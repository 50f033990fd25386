package analysis

import (
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/speclab/speclab/terms"
)

// Table is a titled table of text cells, printed on a terminal, in
// Markdown or in HTML.
type Table struct {
	Title  string
	Header []string
	Rows   [][]string
	Note   string // printed under the table
}

// WriteText prints the table with aligned columns.
func (t *Table) WriteText(w io.Writer) error {
	if t.Title != "" {
		if _, err := fmt.Fprintf(w, "%s\n", t.Title); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.Header, "\t"))
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if t.Note != "" {
		if _, err := fmt.Fprintf(w, "%s\n", t.Note); err != nil {
			return err
		}
	}
	return nil
}

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// WriteMarkdown writes the table as a GitHub-flavoured Markdown table.
func (t *Table) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + mdCell(c) + " |")
		}
		b.WriteString("\n")
	}
	row(t.Header)
	b.WriteString("|")
	for i := range t.Header {
		if i == 0 {
			b.WriteString(" --- |")
		} else {
			b.WriteString(" ---: |")
		}
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		row(r)
	}
	if t.Note != "" {
		b.WriteString("\n" + t.Note + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteHTML writes the table as an HTML table.
func (t *Table) WriteHTML(w io.Writer) error {
	var b strings.Builder
	b.WriteString("<table>\n<thead><tr>")
	for _, h := range t.Header {
		b.WriteString("<th>" + html.EscapeString(h) + "</th>")
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for _, r := range t.Rows {
		b.WriteString("<tr>")
		for i, c := range r {
			if i == 0 {
				b.WriteString("<td class=\"l\">" + html.EscapeString(c) + "</td>")
			} else {
				b.WriteString("<td>" + html.EscapeString(c) + "</td>")
			}
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody></table>\n")
	if t.Note != "" {
		b.WriteString("<p class=\"note\">" + html.EscapeString(t.Note) + "</p>\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCSV writes the summaries as CSV, one row per group, numbers in full
// precision, a missing number as an empty field.
func WriteCSV(w io.Writer, groups []*Summary, by []Dim) error {
	cw := csv.NewWriter(w)
	header := []string{}
	for _, d := range by {
		header = append(header, string(d))
	}
	header = append(header, "baseline", "cells", "tasks", "repeats", "applied_cells", "drafted_cells",
		"tokens_generated", "steps", "draft_steps", "drafted", "accepted", string(terms.AcceptanceRate), string(terms.MeanAcceptanceLength),
		"tps", "tps_lo", "tps_hi", "baseline_tps", string(terms.Speedup), "speedup_lo", "speedup_hi",
		string(terms.Alpha), string(terms.Gamma), string(terms.CostRatio), string(terms.ExpectedTokens), string(terms.SpeedupLeviathan),
		string(terms.SpeedupModel), string(terms.BreakEvenAlpha), string(terms.VerifyCost),
		"p_target_accepted", "q_draft_accepted", "p_target_rejected", "q_draft_rejected")
	for _, r := range terms.ReportOrder() {
		header = append(header, "empty_"+strings.ReplaceAll(string(r), "-", "_"))
	}
	header = append(header, "per_position_unconditional", "per_position_conditional", "refusals")
	if err := cw.Write(header); err != nil {
		return err
	}
	f := func(n Num) string {
		if !n.OK() {
			return ""
		}
		return strconv.FormatFloat(float64(n), 'g', -1, 64)
	}
	i := strconv.Itoa
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	list := func(v []Num) string {
		var s []string
		for _, x := range v {
			s = append(s, f(x))
		}
		return strings.Join(s, ";")
	}
	for _, g := range groups {
		var rec []string
		for _, d := range by {
			rec = append(rec, g.Get(d))
		}
		rec = append(rec, strconv.FormatBool(g.Baseline), i(g.Cells), i(g.Tasks), i(g.Repeats), i(g.AppliedCells), i(g.DraftedCells),
			i64(g.Generated), i64(g.Steps), i64(g.DraftSteps), i64(g.Drafted), i64(g.Accepted), f(g.AcceptanceRate), f(g.MeanAcceptLen),
			f(g.TPS.Mean), f(g.TPS.Lo), f(g.TPS.Hi), f(g.BaselineTPS.Mean), f(g.Speedup.Mean), f(g.Speedup.Lo), f(g.Speedup.Hi),
			f(g.Alpha), f(g.Gamma), f(g.CostRatio), f(g.ExpectedTokens), f(g.SpeedupLeviathan), f(g.SpeedupModel), f(g.BreakEvenAlpha), f(g.VerifyCost),
			f(g.PTargetAccepted), f(g.QDraftAccepted), f(g.PTargetRejected), f(g.QDraftRejected))
		for _, r := range terms.ReportOrder() {
			rec = append(rec, i64(g.Empty[string(r)]))
		}
		rec = append(rec, list(g.PosUncond), list(g.PosCond), strings.Join(g.Refusals, "; "))
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
