package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/speclab/speclab/analysis"
	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/experiments/llamaserver"
	"github.com/speclab/speclab/experiments/runlog"
	"github.com/speclab/speclab/terms"
)

// runFlags are the flags of every command that executes an experiment.
func runFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "run folder to write (default runs/NAME-TIME)"},
		&cli.BoolFlag{Name: "resume", Usage: "continue the run folder given with --out, skipping finished cells"},
		&cli.StringFlag{Name: "shard", Usage: "run only shard K of N of the cells (e.g. 2/8), for Slurm arrays or indexed jobs"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress lines (as --progress none)"},
		&cli.StringFlag{Name: "progress", Usage: "progress on stderr: bar (the cells with an ETA and the running cell's tokens), plain (a line per finished cell with the ETA, and one every 30 s in a long cell: batch jobs, Slurm logs), auto (bar on a terminal, else plain) or none", Value: "auto"},
		&cli.IntFlag{Name: "roll-rows", Usage: "step and token rows per log part", Value: runlog.DefaultRollRows, Hidden: true},
		&cli.StringFlag{Name: "server", Usage: "send the battery to your running llama-server at this URL instead (experiment files: key server): one configuration, the server's own; start it with --metrics for drafting steps"},
		&cli.DurationFlag{Name: "server-timeout", Usage: "longest wait for the server's answer to one request", Value: 10 * time.Minute},
	}
}

func experimentCommand() *cli.Command {
	return &cli.Command{
		Name:  "experiment",
		Usage: "run an experiment described in a YAML file (models × battery × configurations × repeats)",
		Subcommands: []*cli.Command{
			{
				Name:      "run",
				Usage:     "execute an experiment file into a run folder of Parquet logs",
				ArgsUsage: "EXPERIMENT.yaml",
				Description: `Executes every (task, configuration, repeat) cell of the experiment and logs
runs, steps and drafted tokens as Parquet (see docs/LOGS.md). Unknown keys in
the file are errors. Ctrl-C finishes cleanly; --resume continues.

Models are a dimension too: instead of target and draft, give lists
(targets: [a.gguf, b.gguf], drafts: [d.gguf]) and every target runs with
every draft; cells are then named TARGET+DRAFT/task/config/rN.

Examples:
   speclab experiment init > exp.yaml && $EDITOR exp.yaml
   speclab experiment run --out runs/a exp.yaml
   speclab experiment run --out runs/a --resume exp.yaml
   speclab experiment run --out runs/a --shard $SLURM_ARRAY_TASK_ID/8 exp.yaml`,
				Flags: runFlags(),
				Action: func(c *cli.Context) error {
					if err := noFlagsAfterArgs(c); err != nil {
						return err
					}
					if c.NArg() != 1 {
						return usagef("experiment run takes one EXPERIMENT.yaml")
					}
					exp, err := experiments.Load(c.Args().First())
					if err != nil {
						return err
					}
					if c.String("server") != "" {
						exp.Server = c.String("server")
					}
					if exp.Server != "" {
						fmt.Fprintf(c.App.ErrWriter, "server %s: its own command line sets the speculation; the file's %d configurations are replaced by one, %q\n",
							exp.Server, len(exp.Configs), experiments.ServerConfig)
						exp.Target, exp.Targets, exp.Draft, exp.Drafts = exp.Server, nil, "", nil
						exp.Configs = []experiments.Configuration{{Name: experiments.ServerConfig}}
					}
					_, err = execute(c, exp)
					return err
				},
			},
			{
				Name:  "init",
				Usage: "print an experiment file to start from (the seed study's configurations)",
				Action: func(c *cli.Context) error {
					exp := &experiments.Experiment{Name: "my-study", Target: "models/target.gguf", Draft: "models/draft.gguf",
						Battery: "seed", Repeats: 1, Seed: 1,
						Sampling: experiments.Sampling{TopK: 40, TopP: 0.95, MinP: 0.05},
						Context:  experiments.Context{FlashAttn: "auto"}, Configs: experiments.SeedConfigs()}
					fmt.Fprintln(c.App.Writer, "# speclab experiment: keys follow llama-server's flags; unknown keys are errors.")
					fmt.Fprintln(c.App.Writer, "# battery: seed, code, or a YAML file {name, tasks: [{name, prompt, n_predict}]}")
					fmt.Fprintln(c.App.Writer, "# several models: targets: [a.gguf, b.gguf] and drafts: [d.gguf] instead of target and draft")
					fmt.Fprintln(c.App.Writer, "# design: order: random (the default, seeded by order_seed, else seed), abba or fixed, within each task and repeat;")
					fmt.Fprintln(c.App.Writer, "#   noise_floor: false drops the A/A cell (the baseline timed twice per block, which says whether noise explains a speedup)")
					fmt.Fprintln(c.App.Writer, "# a battery's task may name its category (Spec-Bench's: translation, qa, math_reasoning, summarization, rag, multi_turn; or coding, writing, reasoning)")
					enc := yaml.NewEncoder(c.App.Writer)
					enc.SetIndent(2)
					return enc.Encode(exp)
				},
			},
		},
	}
}

func reproduceCommand() *cli.Command {
	flags := append(runFlags(),
		&cli.StringFlag{Name: "target", Aliases: []string{"m"}, Usage: "target model (default: speclab's own default models)"},
		&cli.StringFlag{Name: "draft", Aliases: []string{"md"}, Usage: "draft model for the draft-simple configurations"},
		&cli.StringFlag{Name: "battery", Usage: "task battery: seed, code, or a YAML file", Value: "seed"},
		&cli.IntFlag{Name: "repeats", Usage: "repeats of every cell", Value: 1},
		&cli.Float64Flag{Name: "n-predict-scale", Usage: "multiply every task's token cap (e.g. 0.25 for a quick look)", Value: 1},
		&cli.Float64Flag{Name: "temp", Usage: "temperature (0: greedy, as the seed's numbers allow)"},
		&cli.Uint64Flag{Name: "seed", Usage: "sampling seed", Value: 1},
		&cli.IntFlag{Name: "ctx-size", Aliases: []string{"c"}, Usage: "context size (0: the model's)"},
		&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Usage: "CPU threads (0: speclab's default)"},
		&cli.BoolFlag{Name: "force-threads", Usage: "allow -t above the number of cores (ggml's spinning threads then stall the run)"},
		&cli.IntFlag{Name: "gpu-layers", Aliases: []string{"ngl"}, Usage: "layers of the target offloaded to the GPU (-1 or 999: all)"},
		&cli.StringFlag{Name: "gpu-layers-draft", Aliases: []string{"ngld"}, Usage: "layers of the draft offloaded (default: as --gpu-layers; 0 keeps the draft on the CPU)"},
		&cli.StringFlag{Name: "llama-behaviour", Usage: "which llama.cpp release's handling of targets that cannot drop a tail (hybrid, recurrent) to follow: " +
			"a tag (b8390, v0.5.0), a runtime version (3.18.1), latest, or seed: the last release before the seed's runs (b8390: refuse)", Value: "seed"},
		&cli.StringFlag{Name: "matched-draft", Usage: "draft with the target's tokenizer for the counterfactual rows (default: speclab's, with the default models)"},
		&cli.BoolFlag{Name: "no-counterfactuals", Usage: "run only the seed's five configurations"},
		&cli.BoolFlag{Name: "cross-vocab", Usage: "add rows that draft with --draft across vocabularies (draft-tli@checkpoint, draft-slem@checkpoint): what a draft llama.cpp refuses for its vocabulary could do"},
		&cli.BoolFlag{Name: "side-by-side", Usage: "with --server: run the same battery in-process too (the server's model and methods, or --target) and compare them in one table"},
	)
	return &cli.Command{
		Name:  "reproduce",
		Usage: "re-run the seed study (nine tasks × baseline, ngram-simple, ngram-map-k4v, draft-simple, draft-simple+dd-policy) and explain it",
		Description: `The seed study ran a 27B FP4 model on Strix Halo through llama-server with
four speculative set-ups and saw zero accepted drafts everywhere, without
being able to tell "speculation never ran" from "every draft was rejected".
reproduce runs the same nine tasks and five configurations on the target and
draft you give (or speclab's own default models), logs every verify step and
drafted token, prints the seed's table with the speculative columns, and a
diagnosis of every configuration: applied or not and why, why drafts were
empty, and where and how confidently drafts were rejected. Then it prints the
seed's own table beside speclab's rows, with the cause of each zero.

The defaults are speclab's shipped models, chosen to match the seed:
- a hybrid target (qwen35: Gated DeltaNet + attention), whose memory cannot drop
  a tail, as the seed's Qwen3.5-27B's could not;
- a draft of another vocabulary in the draft-simple rows.

--llama-behaviour picks which llama.cpp release's handling of such targets to
follow, and the run prints which one it used:
- b7347 to b7836 speculated unchecked (lossy), and translated a draft of another
  vocabulary through text instead of refusing it (speclab runs those rows as its
  draft-slem, and says so);
- b8095 to b8390 refused;
- b9842 and later checkpoint.

The default, seed, is b8390: the last release before the seed's runs on
2026-06-23.

Counterfactual rows (named CONFIG@CHANGE; --no-counterfactuals leaves them out)
measure what each change would have given: checkpointing instead of the
refusal, each n-gram method alone, and the matched draft. Each row gets its
acceptance, speedup and rollback cost. --cross-vocab adds the refused draft
drafting across vocabularies (draft-tli and draft-slem, lossless; see
speclab compat).

Examples:
   speclab reproduce
   speclab reproduce --target ~/models/qwen35-27b-fp4.gguf --draft ~/models/qwen2.5-0.5b.gguf \
       --llama-lib ~/llama.cpp/build/bin -ngl 999
   speclab reproduce --llama-behaviour latest         # as today's llama-server would
   speclab reproduce --cross-vocab                    # and the refused draft across vocabularies
   speclab reproduce --n-predict-scale 0.25 --out runs/quick
   speclab reproduce --out runs/quick --resume`,
		Flags: flags,
		Action: func(c *cli.Context) error {
			if err := noFlagsAfterArgs(c); err != nil {
				return err
			}
			beh, err := experiments.ParseBehaviour(c.String("llama-behaviour"))
			if err != nil {
				return usageError{err.Error()}
			}
			exp := &experiments.Experiment{
				Name: "seed-reproduction", Target: c.String("target"), Draft: c.String("draft"),
				Battery: c.String("battery"), Repeats: c.Int("repeats"), Seed: c.Uint64("seed"),
				NPredictScale: new(c.Float64("n-predict-scale")),
				Sampling:      experiments.Sampling{Temp: c.Float64("temp"), TopK: 40, TopP: 0.95, MinP: 0.05},
				Context: experiments.Context{CtxSize: c.Int("ctx-size"), Threads: c.Int("threads"), ForceThreads: c.Bool("force-threads"),
					GPULayers: c.Int("gpu-layers"), FlashAttn: "auto"},
				Configs: experiments.SeedConfigs(),
			}
			if v := c.String("gpu-layers-draft"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil {
					return usagef("--gpu-layers-draft %q: want a number of layers", v)
				}
				exp.Context.GPULayersDraft = &n
			}
			if url := c.String("server"); url != "" {
				// The server's configuration is its command line: one
				// configuration, no models of speclab's.
				exp.Target, exp.Draft, exp.Server = url, "", url
				exp.Configs = []experiments.Configuration{{Name: experiments.ServerConfig}}
				if err := exp.Normalise(); err != nil {
					return usageError{err.Error()}
				}
				sum, err := execute(c, exp)
				if err != nil || sum.Cells == 0 {
					return err
				}
				if err := printReproduction(c.App.Writer, sum.Dir); err != nil {
					return err
				}
				if err := printServerDiagnosis(c, sum.Dir); err != nil {
					return err
				}
				if c.Bool("side-by-side") {
					return sideBySide(c, exp, sum.Dir)
				}
				return nil
			}
			matched := c.String("matched-draft")
			if exp.Target == "" {
				t, mismatched, m, note, err := experiments.SeedModels(c.String("cache-dir"))
				if err != nil {
					return err
				}
				exp.Target = t
				if !c.IsSet("draft") {
					exp.Draft = mismatched
				}
				if matched == "" {
					matched = m
				}
				fmt.Fprintln(c.App.ErrWriter, note)
			}
			for i := range exp.Configs {
				exp.Configs[i].Rollback = string(beh.Rollback())
			}
			if exp.Draft == "" {
				// Without a draft the draft configurations cannot run: keep
				// them out, and say so.
				exp.Configs = exp.Configs[:3]
				fmt.Fprintln(c.App.ErrWriter, "no --draft: the draft-simple configurations are left out")
			}
			if beh.TranslatesVocab && exp.Draft != "" {
				if err := translateRefusedDraft(c, exp, beh); err != nil {
					return err
				}
			}
			if !c.Bool("no-counterfactuals") {
				bat, err := experiments.LoadBattery(exp.Battery)
				if err != nil {
					return usageError{err.Error()}
				}
				exp.Configs = append(exp.Configs, experiments.SeedCounterfactuals(matched, beh.Rollback(), bat)...)
			}
			if c.Bool("cross-vocab") {
				if exp.Draft == "" {
					return usagef("--cross-vocab drafts with --draft: give one")
				}
				exp.Configs = append(exp.Configs, experiments.CrossVocabCounterfactuals()...)
			}
			fmt.Fprintf(c.App.ErrWriter, "behaviour: %s (--llama-behaviour)\n", beh)
			if err := exp.Normalise(); err != nil {
				return usageError{err.Error()}
			}
			sum, err := execute(c, exp)
			if err != nil {
				return err
			}
			if sum.Cells == 0 {
				return nil
			}
			if err := printReproduction(c.App.Writer, sum.Dir); err != nil {
				return err
			}
			if err := printSeedComparison(c.App.Writer, sum.Dir, beh); err != nil {
				return err
			}
			report, err := analysis.Report([]string{sum.Dir}, filepath.Join(sum.Dir, "report"), c.App.Writer)
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			fmt.Fprintf(c.App.Writer, "\nrun folder %s\nreport     %s\n", sum.Dir, report)
			return nil
		},
	}
}

// execute runs exp into the folder the flags name.
func execute(c *cli.Context, exp *experiments.Experiment) (*experiments.Summary, error) {
	shard, err := experiments.ParseShard(c.String("shard"))
	if err != nil {
		return nil, usageError{err.Error()}
	}
	out := c.String("out")
	if out == "" {
		if c.Bool("resume") {
			return nil, usagef("--resume needs the run folder: --out DIR")
		}
		out = filepath.Join("runs", exp.Name+"-"+time.Now().Format("20060102-150405"))
	}
	if exp.LlamaLib != "" && !c.IsSet("llama-lib") {
		c.Set("llama-lib", exp.LlamaLib)
	}
	var lib *engine.Lib
	var srv *llamaserver.Client
	url := c.String("server")
	if url == "" {
		url = exp.Server
	}
	if url != "" {
		if srv, err = llamaserver.New(url); err != nil {
			return nil, usageError{err.Error()}
		}
		srv.Timeout = c.Duration("server-timeout")
		srv.Log = func(s string) { fmt.Fprintln(c.App.ErrWriter, "server: "+s) }
	} else if lib, err = openLib(c); err != nil {
		return nil, err
	}
	ctx, stop := interruptible()
	defer stop()
	r := &experiments.Runner{Exp: exp, Dir: out, Shard: shard, Resume: c.Bool("resume"), Lib: lib, Version: speclabVersion(),
		RollRows: c.Int("roll-rows"), Server: srv}
	switch p := c.String("progress"); {
	case p != "auto" && p != "bar" && p != "plain" && p != "none":
		return nil, usagef("--progress %q: want auto, bar, plain or none", p)
	case c.Bool("quiet") || p == "none":
	case p == "bar" || p == "auto" && isTerminal(os.Stderr):
		r.Progress = newBarProgress(c.App.ErrWriter)
	default:
		r.Progress = &experiments.LinePrinter{W: c.App.ErrWriter}
	}
	sum, err := r.Run(ctx)
	if errors.Is(err, experiments.ErrInterrupted) {
		return sum, fmt.Errorf("interrupted: %d cells finished and safe in %s; continue with the same command plus --resume --out %s", sum.Done+sum.Skipped, out, out)
	}
	if err != nil {
		return sum, err
	}
	if sum.Cells == 0 {
		fmt.Fprintf(c.App.ErrWriter, "shard %d/%d has no cells (the experiment has fewer cells than shards): nothing to do\n", shard.K, shard.N)
		return sum, nil
	}
	fmt.Fprintf(c.App.ErrWriter, "run folder %s: %d cells of shard %d/%d (%d run now, %d already done) in %s\n",
		out, sum.Cells, shard.K, shard.N, sum.Done, sum.Skipped, sum.Duration.Round(time.Millisecond))
	return sum, nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// printReproduction prints the seed study's table shape with the
// speculative columns, per configuration.
func printReproduction(w io.Writer, dir string) error {
	d, err := analysis.Load([]string{dir})
	if err != nil {
		return err
	}
	speedups := d.CellSpeedups()
	byConfig := map[string][]*analysis.Cell{}
	var order []string
	for _, c := range d.Cells {
		if _, ok := byConfig[c.Config]; !ok {
			order = append(order, c.Config)
		}
		byConfig[c.Config] = append(byConfig[c.Config], c)
	}
	sort.SliceStable(order, func(i, j int) bool { return configRank(order[i]) < configRank(order[j]) })
	for _, cfg := range order {
		fmt.Fprintf(w, "\n== %s\n", cfg)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "Task\tTokens\tGen tok/s\tPrompt tok/s\tWall\tSteps\tDrafted\tAccepted\tAccept %\tτ\tSpeedup\tEmpty drafts\t")
		for _, c := range byConfig[cfg] {
			r := c.RunRow
			acc, sp := "—", "—"
			if r.AcceptRate != nil {
				acc = fmt.Sprintf("%.1f", 100**r.AcceptRate)
			}
			if v, ok := speedups[c]; ok {
				sp = fmt.Sprintf("%.2f×", v)
				if r.Drafted == 0 {
					sp += " (noise: nothing drafted)" // the baseline's work, timed twice
				}
			}
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.2fs\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t\n",
				r.Task, r.Generated, r.GenTPS, r.PromptTPS, r.WallS, optional(r.Steps, "%d"), r.Drafted, r.Accepted, acc,
				optional(r.MeanAcceptLen, "%.2f"), sp, emptySummary(r))
		}
		tw.Flush()
	}
	return nil
}

// printServerDiagnosis says what the server's signals say of a run
// against it: its build, and whether speculation ran, with the likely
// causes when it did not.
func printServerDiagnosis(c *cli.Context, dir string) error {
	rows, err := runlog.ReadRuns([]string{dir})
	if err != nil || len(rows) == 0 {
		return err
	}
	var cs []*llamaserver.Completion
	for _, r := range rows {
		cs = append(cs, &llamaserver.Completion{PromptN: int(r.PromptTokens), PredictedN: int(r.Generated),
			DraftN: new(int(r.Drafted)), DraftAccepted: new(int(r.Accepted))})
	}
	props := &llamaserver.Props{BuildInfo: rows[0].ServerBuild, ModelPath: rows[0].TargetPath}
	var slots []llamaserver.Slot
	for _, r := range rows {
		if r.Applied {
			slots = []llamaserver.Slot{{Speculative: true}}
		}
	}
	if props.BuildInfo == "" {
		props.BuildInfo = "build not reported"
	}
	fmt.Fprintf(c.App.Writer, "\n== what %s says (speculative settings: %s)\n", rows[0].ServerURL, rows[0].SpecTypes)
	for _, l := range llamaserver.Diagnose(props, slots, cs).Lines {
		fmt.Fprintln(c.App.Writer, l)
	}
	return nil
}

// seedTable is the seed study's own speculative results, per
// configuration, as its table gives them.
var seedTable = []struct{ config, result string }{
	{terms.NgramSimple, "0 drafts generated"},
	{terms.NgramMapK4V, "0 drafts generated"},
	{terms.DraftSimple, "loaded, 0 drafts accepted"},
	{terms.DraftSimple + "+dd-policy", "0 drafts, applied: false"},
}

// printSeedComparison prints the seed's table beside speclab's totals for
// the same configurations, each row's cause, and the counterfactuals.
func printSeedComparison(w io.Writer, dir string, beh experiments.Behaviour) error {
	d, err := analysis.Load([]string{dir})
	if err != nil {
		return err
	}
	type tot struct {
		cells, applied, drafted, accepted int
		empty                             map[string]int
		refusal                           string
	}
	by := map[string]*tot{}
	var order []string
	for _, c := range d.Cells {
		r := c.RunRow
		t := by[r.Config]
		if t == nil {
			t = &tot{empty: map[string]int{}}
			by[r.Config] = t
			order = append(order, r.Config)
		}
		t.cells++
		if r.Applied {
			t.applied++
		}
		t.drafted += int(r.Drafted)
		t.accepted += int(r.Accepted)
		for _, e := range r.Empty() {
			t.empty[string(e.Reason)] += int(e.N)
		}
		if r.Refusal != "" {
			t.refusal = r.Refusal
		}
	}
	cause := func(t *tot) string {
		best, n := "", 0
		for k, v := range t.empty {
			if v > n {
				best, n = k, v
			}
		}
		out := "—"
		if best != "" {
			out = fmt.Sprintf("%s (%s)", best, terms.Reason(best).Meaning())
		}
		if t.refusal != "" {
			r := t.refusal
			if len(r) > 120 {
				r = r[:120] + "…"
			}
			out += "; and refused: " + r
		}
		return out
	}
	fmt.Fprintf(w, "\n== the seed's table beside speclab's (%s)\n", beh)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "configuration\tthe seed saw\tspeclab: drafted\taccepted\tapplied\tcause of the empty drafts\t")
	for _, row := range seedTable {
		t := by[row.config]
		if t == nil {
			fmt.Fprintf(tw, "%s\t%s\t(not run)\t\t\t\t\n", row.config, row.result)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d of %d cells\t%s\t\n", row.config, row.result, t.drafted, t.accepted, t.applied, t.cells, cause(t))
	}
	tw.Flush()
	var cf []string
	for _, name := range order {
		if strings.Contains(name, "@") {
			cf = append(cf, name)
		}
	}
	if len(cf) == 0 {
		return nil
	}
	speedups := d.CellSpeedups()
	fmt.Fprintln(w, "\n== counterfactuals: what each change would have given")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "configuration\tdrafted\taccepted\tacceptance\tapplied\tmedian speedup\trollback per step (checkpoint save, restore, replay)\t")
	for _, name := range cf {
		t := by[name]
		acc := "—"
		if t.drafted > 0 {
			acc = fmt.Sprintf("%.1f%%", 100*float64(t.accepted)/float64(t.drafted))
		}
		var sp []float64
		var rollback float64
		var steps int
		for _, c := range d.Cells {
			if c.Config != name {
				continue
			}
			if v, ok := speedups[c]; ok {
				sp = append(sp, v)
			}
			rollback += c.RollbackS
			steps += int(c.StepCount())
		}
		spd := "—"
		if len(sp) > 0 && !strings.Contains(name, "long-prompt") { // its baseline had the short prompt
			sort.Float64s(sp)
			spd = fmt.Sprintf("%.2f×", sp[len(sp)/2])
		}
		cost := "—"
		if steps > 0 && rollback > 0 {
			cost = fmt.Sprintf("%.0f µs", 1e6*rollback/float64(steps))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d of %d cells\t%s\t%s\t\n", name, t.drafted, t.accepted, acc, t.applied, t.cells, spd, cost)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Which release behaviours fit the seed's n-gram zeros.
	var drafting []string
	for _, row := range seedTable {
		if t := by[row.config+"@checkpoint"]; t != nil && strings.HasPrefix(row.result, "0 drafts") && t.drafted > 0 {
			drafting = append(drafting, fmt.Sprintf("%s@checkpoint drafted %d", row.config, t.drafted))
		}
	}
	if len(drafting) > 0 {
		fmt.Fprintf(w, "\nthe seed saw 0 drafts from its n-gram methods; on these models a checkpointing release (b9842 and later) would not give that "+
			"(%s), a refusing one (b8095 to b8390) does. speclab explain --observed tests every cause against a table.\n", strings.Join(drafting, ", "))
	}
	return nil
}

// optional formats a nullable value: "—" for NULL (what a llama-server
// does not report).
func optional[T any](p *T, format string) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf(format, *p)
}

func configRank(name string) int {
	for i, c := range experiments.SeedConfigs() {
		if c.Name == name {
			return i
		}
	}
	return 100
}

func emptySummary(r runlog.RunRow) string {
	var parts []string
	for _, e := range r.Empty() {
		parts = append(parts, fmt.Sprintf("%s %d", e.Reason, e.N))
	}
	return strings.Join(parts, ", ")
}

// translateRefusedDraft runs the seed's draft-simple rows as a release
// that translated tokens would have (b7347 to b7836): when llama.cpp's
// vocabulary rules refuse the draft, through text, with speclab's
// draft-slem, and says so.
func translateRefusedDraft(c *cli.Context, exp *experiments.Experiment, beh experiments.Behaviour) error {
	lib, err := openLib(c)
	if err != nil {
		return err
	}
	load := func(path string) (*engine.Model, error) {
		return lib.LoadModel(path, engine.ModelParams{VocabOnly: true})
	}
	tm, err := load(exp.Target)
	if err != nil {
		return err
	}
	defer tm.Close()
	dm, err := load(exp.Draft)
	if err != nil {
		return err
	}
	defer dm.Close()
	refusal := drafts.CheckCompatible(drafts.ModelVocab{M: tm}, drafts.ModelVocab{M: dm})
	if refusal == nil {
		return nil // the same vocabulary: draft-simple as it is
	}
	for i, cfg := range exp.Configs {
		if cfg.SpecType == terms.DraftSimple && cfg.Draft == "" {
			exp.Configs[i].SpecType = terms.DraftSLEM
		}
	}
	fmt.Fprintf(c.App.ErrWriter, "vocabulary: %v; llama.cpp %s did not refuse such a draft but translated its tokens through text "+
		"(common/speculative.cpp), so the seed's draft-simple rows run as speclab's %s, which translates through text too but is not llama.cpp's code "+
		"(it re-tokenizes the history incrementally, and --spec-replace is not implemented) and has not been compared with that release's llama-server\n",
		refusal, beh.Release, terms.DraftSLEM)
	return nil
}
