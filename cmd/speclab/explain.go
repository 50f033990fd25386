package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/speclab/speclab/analysis"
	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/spec"
)

// cause is a candidate mechanism that explain runs: the rollback it
// implies and which draft the draft-simple rows use.
type cause struct {
	name, desc string
	rollback   spec.Rollback
	matched    bool // the draft with the target's tokenizer, else the user's
}

var causes = []cause{
	{"hybrid-refusal", "the release refuses speculation on a target whose memory cannot drop a tail (llama.cpp b8095 to b8390, the last releases before the seed's runs)", spec.Refuse, false},
	{"vocab-refusal", "the draft's vocabulary is refused and llama-server drops every method of the list with it, while the release checkpoints the hybrid target (b9842 and later)", spec.Checkpoint, false},
	{"per-method", "nothing is refused: only each method's own limits act (history thresholds, n-gram no-match, p_min stops, no room), with a draft of the target's tokenizer; releases b7347 to b7836, which speculated on such targets unchecked, behave like this too", spec.Checkpoint, true},
}

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:  "explain",
		Usage: "test the causes speclab knows against a table of what you observed (drafts, accepted, applied per configuration)",
		Description: `explain runs each candidate mechanism on your models (or speclab's defaults:
the hybrid target, the draft of another vocabulary, the matched draft) over the
tasks of your observations, and says which causes are consistent with every
observation and which are ruled out, and why. The table is YAML; the seed
study's own is docs/examples/seed-observed.yaml, which says the format.

Candidate causes:
   hybrid-refusal  the release refuses speculation on hybrid/recurrent targets
   vocab-refusal   the draft's vocabulary is refused, dropping every method
   per-method      nothing refused: history thresholds, no-match, p_min, no room

Examples:
   speclab explain --observed docs/examples/seed-observed.yaml
   speclab explain --observed mine.yaml --target ~/models/qwen35-27b.gguf --draft ~/models/qwen2.5-0.5b.gguf \
       --matched-draft ~/models/qwen35-0.8b.gguf`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "observed", Usage: "YAML table of what you saw (required)", Required: true},
			&cli.StringFlag{Name: "target", Aliases: []string{"m"}, Usage: "target model (default: speclab's hybrid target)"},
			&cli.StringFlag{Name: "draft", Aliases: []string{"md"}, Usage: "the draft you ran (default: speclab's draft of another vocabulary)"},
			&cli.StringFlag{Name: "matched-draft", Usage: "a draft with the target's tokenizer, for the per-method cause (default: speclab's, with the default models)"},
			&cli.Float64Flag{Name: "n-predict-scale", Usage: "multiply every task's token cap", Value: 1},
			&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Usage: "CPU threads (0: speclab's default)"},
			&cli.StringFlag{Name: "out", Usage: "folder for the runs, one per cause (default runs/explain-TIME)"},
		},
		Action: func(c *cli.Context) error {
			if err := noFlagsAfterArgs(c); err != nil {
				return err
			}
			obs, err := analysis.LoadObserved(c.String("observed"))
			if err != nil {
				return usageError{err.Error()}
			}
			known := experiments.SeedConfigs()
			var configs []experiments.Configuration
			for _, o := range obs.Observations {
				i := slices.IndexFunc(known, func(k experiments.Configuration) bool { return k.Name == o.Config })
				if i < 0 {
					var names []string
					for _, k := range known {
						names = append(names, k.Name)
					}
					return usagef("observed config %q: not one of the reproduction's (%s)", o.Config, strings.Join(names, ", "))
				}
				configs = append(configs, known[i])
			}
			target, draft, matched := c.String("target"), c.String("draft"), c.String("matched-draft")
			if target == "" {
				t, mis, m, note, err := experiments.SeedModels(c.String("cache-dir"))
				if err != nil {
					return err
				}
				target = t
				if draft == "" {
					draft = mis
				}
				if matched == "" {
					matched = m
				}
				fmt.Fprintln(c.App.ErrWriter, note)
			}
			battery := obs.Battery
			if battery == "" {
				battery = "seed"
			}
			out := c.String("out")
			if out == "" {
				out = filepath.Join("runs", "explain-"+time.Now().Format("20060102-150405"))
			}
			lib, err := openLib(c)
			if err != nil {
				return err
			}
			ctx, stop := interruptible()
			defer stop()
			var verdicts []analysis.Verdict
			for _, k := range causes {
				d := draft
				if k.matched {
					d = matched
				}
				if d == "" && slices.ContainsFunc(configs, func(c experiments.Configuration) bool { return strings.Contains(c.SpecType, "draft") }) {
					fmt.Fprintf(c.App.ErrWriter, "%s: skipped (no draft for it: --draft / --matched-draft)\n", k.name)
					continue
				}
				cfgs := slices.Clone(configs)
				for i := range cfgs {
					cfgs[i].Rollback = string(k.rollback)
				}
				exp := &experiments.Experiment{Name: "explain-" + k.name, Target: target, Draft: d, Battery: battery, Repeats: 1, Seed: 1,
					NPredictScale: new(c.Float64("n-predict-scale")), Context: experiments.Context{Threads: c.Int("threads")}, Configs: cfgs}
				if err := exp.Normalise(); err != nil {
					return usageError{err.Error()}
				}
				dir := filepath.Join(out, k.name)
				fmt.Fprintf(c.App.ErrWriter, "running cause %s into %s\n", k.name, dir)
				r := &experiments.Runner{Exp: exp, Dir: dir, Lib: lib, Version: speclabVersion()}
				if _, err := r.Run(ctx); err != nil {
					return fmt.Errorf("cause %s: %w", k.name, err)
				}
				data, err := analysis.Load([]string{dir})
				if err != nil {
					return err
				}
				verdicts = append(verdicts, analysis.Judge(k.name, data, obs))
			}
			w := c.App.Writer
			fmt.Fprintf(w, "%d candidate causes against %d observations (%s), on %s with %s\n\n",
				len(verdicts), len(obs.Observations), obs.Source, filepath.Base(target), filepath.Base(draft))
			var fits []string
			for i, v := range verdicts {
				mark := "RULED OUT "
				if v.Consistent {
					mark = "CONSISTENT"
					fits = append(fits, v.Cause)
				}
				fmt.Fprintf(w, "%s  %s: %s\n", mark, v.Cause, causeDesc(v.Cause))
				for _, r := range v.Reasons {
					fmt.Fprintf(w, "    %s\n", r)
				}
				if i < len(verdicts)-1 {
					fmt.Fprintln(w)
				}
			}
			switch len(fits) {
			case 0:
				fmt.Fprintln(w, "\nno cause speclab knows fits every observation on these models")
			default:
				fmt.Fprintf(w, "\nconsistent with every observation: %s (on these models; a model whose outputs differ may differ)\n", strings.Join(fits, ", "))
			}
			return nil
		},
	}
}

func causeDesc(name string) string {
	for _, k := range causes {
		if k.name == name {
			return k.desc
		}
	}
	return ""
}
