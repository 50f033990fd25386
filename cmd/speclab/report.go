package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/speclab/speclab/analysis"
	"github.com/speclab/speclab/experiments/runlog"
)

func formatFlag() cli.Flag {
	return &cli.StringFlag{Name: "format", Usage: "figure formats, comma list of png (150 DPI), svg and pdf (vector, for papers)", Value: "png,svg,pdf"}
}

// parseFormats reads --format.
func parseFormats(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if !slices.Contains(analysis.Formats, f) {
			return nil, usagef("--format %q: want png, svg, pdf or a comma list such as png,pdf", f)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, usagef("--format is empty: want png, svg, pdf or a comma list such as png,pdf")
	}
	return out, nil
}

// loadRuns finds and loads the run folders named by the arguments.
func loadRuns(c *cli.Context) (*analysis.Data, error) {
	if err := noFlagsAfterArgs(c); err != nil {
		return nil, err
	}
	if c.NArg() == 0 {
		return nil, usagef("%s takes one or more run folders (or globs, or folders of shards): speclab %s [flags] RUN...",
			c.Command.Name, c.Command.Name)
	}
	dirs, err := runlog.Find(c.Args().Slice()...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Command.Name, err)
	}
	d, err := analysis.Load(dirs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Command.Name, err)
	}
	return d, nil
}

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "metrics, diagnosis and figures from run folders: acceptance, speedup with intervals, theory, why drafts were empty or rejected",
		ArgsUsage: "RUN...",
		Description: `Reads the Parquet logs of one or more run folders (written by speclab
reproduce or speclab experiment run; globs, folders of shards and several runs
are read together) and prints, grouped by --by: acceptance rate, mean
acceptance length, tokens/s and speedup over the matching baseline with 95%
intervals across repeats, Leviathan et al.'s predicted speedup from the
measured acceptance and draft cost with the break-even acceptance, empty
drafts by reason, and a diagnosis of every configuration (applied or not and
why, why drafts were empty, where and how confidently they were rejected).

With --out DIR it also writes a report there: report.md and report.html
(self-contained, figures embedded), summary.json, summary.csv and the figures
as PNG and SVG.

Examples:
   speclab report runs/seed-reproduction-20261127-101500
   speclab report --by config,task runs/seed
   speclab report --out report/ 'runs/sweep/shard-*'
   speclab report --json runs/a runs/b > summary.json
   speclab report --csv --by config,task,model runs/ > summary.csv`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the summaries and the diagnosis as JSON"},
			&cli.BoolFlag{Name: "csv", Usage: "print the summaries as CSV, one row per group"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write the report (Markdown, HTML, JSON, CSV, figures) into this folder"},
			&cli.StringFlag{Name: "by", Usage: "group by a comma list of config, task, model, run (default: config, and model when there are several)"},
			formatFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.Bool("json") && c.Bool("csv") {
				return usagef("give --json or --csv, not both")
			}
			var by []analysis.Dim
			if c.IsSet("by") {
				var err error
				if by, err = analysis.ParseDims(c.String("by")); err != nil {
					return usagef("--by: %v", err)
				}
			}
			formats, err := parseFormats(c.String("format"))
			if err != nil {
				return err
			}
			if c.IsSet("format") && c.String("out") == "" {
				return usagef("--format chooses the figures of the report: give --out DIR too")
			}
			d, err := loadRuns(c)
			if err != nil {
				return err
			}
			if by == nil {
				by = analysis.DefaultDims(d)
			}
			w := c.App.Writer
			switch {
			case c.Bool("json"):
				err = analysis.WriteJSON(w, d, by)
			case c.Bool("csv"):
				err = analysis.WriteCSV(w, analysis.Summarize(d, by), by)
			default:
				if err = analysis.PrintTables(w, d, by); err == nil {
					_, err = fmt.Fprintf(w, "\nDiagnosis\n%s", analysis.Diagnose(d).Text())
				}
			}
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			if out := c.String("out"); out != "" {
				path, err := analysis.WriteReport(d, out, analysis.Options{By: by, Formats: formats})
				if err != nil {
					return fmt.Errorf("report: %w", err)
				}
				fmt.Fprintf(c.App.ErrWriter, "report written to %s (and report.html, figures beside it)\n", path)
			}
			return nil
		},
	}
}

func plotCommand() *cli.Command {
	return &cli.Command{
		Name:      "plot",
		Usage:     "draw the figures of run folders as PNG, SVG and PDF",
		ArgsUsage: "RUN...",
		Description: `Draws, from the logs of one or more run folders: acceptance against speed
(one point per configuration and task, baseline speed as a reference line);
per-position acceptance, unconditional and conditional; accepted-length
histograms by draft length; acceptance along the generation; speedup against
draft length with Leviathan et al.'s curve; and why drafts were empty. PNG at
150 DPI and SVG, sans-serif text, colour-blind-safe colours. Prints the files
written.

Examples:
   speclab plot --out figures runs/seed-reproduction-20261127-101500
   speclab plot --out figures --format svg 'runs/sweep/shard-*'`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "folder to write the figures into (created if needed)"},
			formatFlag(),
		},
		Action: func(c *cli.Context) error {
			out := c.String("out")
			if out == "" {
				if err := noFlagsAfterArgs(c); err != nil {
					return err
				}
				return usagef("plot needs --out DIR, the folder for the figures")
			}
			formats, err := parseFormats(c.String("format"))
			if err != nil {
				return err
			}
			d, err := loadRuns(c)
			if err != nil {
				return err
			}
			files, err := analysis.WritePlots(d, out, formats)
			for _, f := range files {
				fmt.Fprintln(c.App.Writer, f)
			}
			if err != nil {
				return fmt.Errorf("plot: %w", err)
			}
			if len(files) == 0 {
				return errors.New("plot: no figure written")
			}
			return nil
		},
	}
}
