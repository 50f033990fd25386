package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/experiments/runlog"
)

// sideBySide runs the battery of a finished server run in-process too,
// with the server's model (or --target) and speculative methods, and prints
// both in one table with the differences named.
func sideBySide(c *cli.Context, server *experiments.Experiment, serverDir string) error {
	srows, err := runlog.ReadRuns([]string{serverDir})
	if err != nil || len(srows) == 0 {
		return err
	}
	target := c.String("target")
	if target == "" {
		target = srows[0].TargetPath
	}
	if _, err := os.Stat(target); err != nil {
		return fmt.Errorf("side by side: the server's model %s is not readable here (%v): pass --target", target, err)
	}
	var methods []string
	for _, f := range strings.Fields(srows[0].SpecTypes) {
		if v, ok := strings.CutPrefix(f, "speculative.types="); ok {
			for _, m := range strings.Split(v, ",") {
				if m != "" && m != "none" {
					methods = append(methods, m)
				}
			}
		}
	}
	exp := &experiments.Experiment{Name: "side-by-side", Target: target, Draft: c.String("draft"), Battery: server.Battery,
		Repeats: server.Repeats, Seed: server.Seed, NPredictScale: server.NPredictScale, Sampling: server.Sampling,
		Context: experiments.Context{Threads: c.Int("threads"), CtxSize: c.Int("ctx-size")},
		Configs: []experiments.Configuration{{Name: "in-process", SpecType: strings.Join(methods, ",")}}}
	if err := exp.Normalise(); err != nil {
		return fmt.Errorf("side by side: %w", err)
	}
	lib, err := openLib(c)
	if err != nil {
		return err
	}
	dir := serverDir + "-in-process" // a sibling: report on the server folder reads it alone
	ctx, stop := interruptible()
	defer stop()
	r := &experiments.Runner{Exp: exp, Dir: dir, Lib: lib, Version: speclabVersion(), Resume: c.Bool("resume")}
	if _, err := r.Run(ctx); err != nil {
		return fmt.Errorf("side by side: %w", err)
	}
	irows, err := runlog.ReadRuns([]string{dir})
	if err != nil {
		return err
	}
	byTask := map[string]runlog.RunRow{}
	for _, x := range irows {
		byTask[x.Task+"/"+fmt.Sprint(x.Repeat)] = x
	}
	w := c.App.Writer
	fmt.Fprintf(w, "\n== side by side: llama-server %s (%s) and speclab in-process (%s, %s)\n", srows[0].ServerURL, srows[0].ServerBuild,
		filepath.Base(target), strings.Join(methods, ","))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "task\tserver drafted/accepted\tspeclab drafted/accepted\tserver tok/s\tspeclab tok/s\tsame output\t")
	var counters, outputs []string
	var sTPS, iTPS float64
	for _, s := range srows {
		i, ok := byTask[s.Task+"/"+fmt.Sprint(s.Repeat)]
		if !ok {
			continue
		}
		same := s.Text == i.Text
		fmt.Fprintf(tw, "%s\t%d/%d\t%d/%d\t%.1f\t%.1f\t%v\t\n", s.Task, s.Drafted, s.Accepted, i.Drafted, i.Accepted, s.GenTPS, i.GenTPS, same)
		if s.Drafted != i.Drafted || s.Accepted != i.Accepted {
			counters = append(counters, s.Task)
		}
		if !same {
			outputs = append(outputs, s.Task)
		}
		sTPS += s.GenTPS
		iTPS += i.GenTPS
	}
	tw.Flush()
	switch {
	case len(counters) == 0 && len(outputs) == 0:
		fmt.Fprintln(w, "the same drafts, acceptances and outputs on every task")
	default:
		if len(counters) > 0 {
			fmt.Fprintf(w, "counters differ on %d tasks (%s): other settings (a draft, n-gram sizes), or near-ties between builds\n", len(counters), strings.Join(counters, ", "))
		}
		if len(outputs) > 0 {
			fmt.Fprintf(w, "outputs differ on %d tasks (%s): sampling, or numerics of two builds (greedy near-ties)\n", len(outputs), strings.Join(outputs, ", "))
		}
	}
	if sTPS > 0 {
		fmt.Fprintf(w, "speed: speclab in-process at %.2f× the server's generation speed (summed over tasks; two processes, one machine)\n", iTPS/sTPS)
	}
	return nil
}
