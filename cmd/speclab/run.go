package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/spec"
	"github.com/speclab/speclab/terms"
)

// Flags shared by the commands that load models and generate.
func modelFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "target", Aliases: []string{"m", "model"}, Usage: "target model (GGUF; default: speclab's trained default target, models/target.gguf)"},
		&cli.StringFlag{Name: "draft", Aliases: []string{"md", "spec-draft-model"}, Usage: "draft model (GGUF) for --spec-type draft-simple"},
		&cli.IntFlag{Name: "ctx-size", Aliases: []string{"c"}, Usage: "context size in tokens (0: the model's training context)"},
		&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Usage: "CPU threads of each context (0: 1 for models under 256 MiB, else all cores; each context keeps a persistent threadpool, as llama.cpp's tools do; -t 2 is faster on a quiet 2-core machine, see docs/BENCHMARKS.md)"},
		&cli.IntFlag{Name: "poll", Usage: "polling level of the threadpools, 0 (none) to 100, as llama.cpp's --poll (default 0, unlike llama.cpp's 50: spinning threads take the cores a draft model or other processes need, for a small gain)"},
		&cli.IntFlag{Name: "gpu-layers", Aliases: []string{"ngl", "n-gpu-layers"}, Usage: "layers of the target to offload to the GPU (-1 or 999: all)"},
		&cli.StringFlag{Name: "gpu-layers-draft", Aliases: []string{"ngld", "n-gpu-layers-draft"}, Usage: "layers of the draft model to offload (default: as --gpu-layers; 0 keeps the draft on the CPU)"},
		&cli.BoolFlag{Name: "force-threads", Usage: "allow -t above the number of cores (ggml's spinning threads then stall the run)"},
		&cli.StringFlag{Name: "flash-attn", Aliases: []string{"fa"}, Usage: "flash attention: on, off or auto", Value: "auto"},
		&cli.IntFlag{Name: "batch-size", Aliases: []string{"b"}, Usage: "logical batch: most tokens one llama_decode takes (0: llama.cpp's 2048)"},
		&cli.IntFlag{Name: "ubatch-size", Aliases: []string{"ub"}, Usage: "physical batch (0: llama.cpp's 512)"},
		&cli.StringFlag{Name: "cache-type-k", Aliases: []string{"ctk"}, Usage: "KV cache type of K: f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1 (default f16)"},
		&cli.StringFlag{Name: "cache-type-v", Aliases: []string{"ctv"}, Usage: "KV cache type of V (as --cache-type-k)"},
		&cli.StringFlag{Name: "hf-repo", Aliases: []string{"hf", "hfr"}, Usage: "not supported: speclab downloads nothing; pass the GGUF file with --target"},
		&cli.StringFlag{Name: "spec-draft-hf", Aliases: []string{"hfd", "hfrd", "hf-repo-draft"}, Usage: "not supported: speclab downloads nothing; pass the GGUF file with --draft"},
	}
}

// specFlags are llama.cpp's speculative flags, spelled as llama-server
// spells them, plus speclab's own.
func specFlags() []cli.Flag {
	fs := []cli.Flag{
		&cli.StringFlag{Name: "spec-type", Usage: "comma list of methods: none, " + strings.Join(drafts.Priority, ", ") + " (default: draft-simple when --draft is given, else none)"},
		&cli.IntFlag{Name: "spec-draft-n-max", Usage: "most tokens a draft model drafts per step", Value: drafts.DefaultNMax},
		&cli.IntFlag{Name: "spec-draft-n-min", Usage: "drafts shorter than this are thrown away", Value: 0},
		&cli.Float64Flag{Name: "spec-draft-p-min", Usage: "a draft model stops below this probability", Value: float64(drafts.DefaultPMin)},
		&cli.Float64Flag{Name: "spec-draft-p-split", Aliases: []string{"draft-p-split"}, Usage: "accepted for llama-server's command lines; it has no effect there either (only llama.cpp's tree-drafting example reads it)", Value: 0.1},
		&cli.StringFlag{Name: "dd-policy", Usage: `dynamic draft policy, e.g. "0:n4,p0.25;49152:n4,p0.0", "hf:5", "staircase:1,8", "entropy:e2.5,n8" (overrides the n-max/p-min flags)`},
		&cli.StringFlag{Name: "verify", Usage: "verification: greedy, rejection or match (default: greedy at --temp 0, else match, as llama-server)"},
		&cli.StringFlag{Name: "rollback", Usage: "for targets whose memory cannot drop a tail: checkpoint (save/restore state) or refuse (llama.cpp early 2026: no speculation)", Value: string(spec.Checkpoint)},
		&cli.StringFlag{Name: "semantics", Value: terms.SemanticsServer, Usage: "how the flags shared with llama-server are read: " + terms.SemanticsServer +
			" (as llama-server: a refused draft model switches every method off, --draft alone runs no speculation, none anywhere in --spec-type turns it off) or " +
			terms.SemanticsPerMethod + " (a refused draft leaves out that method only, --draft alone turns draft-simple on, none is skipped)"},
		&cli.BoolFlag{Name: "llama-refusal", Hidden: true, Usage: "kept for older scripts: what --semantics llama-server does by default"},
	}
	for _, f := range drafts.NgramFlags() {
		fs = append(fs, &cli.IntFlag{Name: strings.TrimPrefix(f, "--"), Usage: "llama.cpp's " + f + " (default as llama.cpp)"})
	}
	return fs
}

func samplingFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "n-predict", Aliases: []string{"n"}, Usage: "tokens to generate", Value: 128},
		&cli.Float64Flag{Name: "temp", Usage: "temperature (0: greedy)", Value: 0},
		&cli.IntFlag{Name: "top-k", Usage: "top-k at temperature > 0 (0: off)", Value: 40},
		&cli.Float64Flag{Name: "top-p", Usage: "top-p at temperature > 0 (1: off)", Value: 0.95},
		&cli.Float64Flag{Name: "min-p", Usage: "min-p at temperature > 0 (0: off)", Value: 0.05},
		&cli.Uint64Flag{Name: "seed", Aliases: []string{"s"}, Usage: "seed of sampling (the same seed gives the same output)", Value: 1},
		&cli.BoolFlag{Name: "ignore-eos", Usage: "keep generating past end-of-generation tokens"},
	}
}

func runCommand() *cli.Command {
	flags := append(modelFlags(), specFlags()...)
	flags = append(flags, samplingFlags()...)
	flags = append(flags,
		&cli.StringFlag{Name: "prompt", Aliases: []string{"p"}, Usage: "prompt text"},
		&cli.StringFlag{Name: "prompt-file", Aliases: []string{"f"}, Usage: "read the prompt from a file"},
		&cli.BoolFlag{Name: "chat", Usage: "wrap the prompt as a user message in the target's chat template (the draft sees the same tokens)"},
		&cli.BoolFlag{Name: "jinja", Usage: "accepted for llama-server's command lines: speclab applies chat templates with llama_chat_apply_template, llama.cpp's built-in matcher, not the Jinja engine, so --chat prompts can differ from llama-server --jinja for templates the matcher does not know"},
		&cli.StringFlag{Name: "system", Usage: "system message for --chat"},
		&cli.BoolFlag{Name: "check-lossless", Usage: "also decode without speculation and fail if the outputs differ (greedy only)"},
		&cli.BoolFlag{Name: "json", Usage: "print the result and statistics as JSON"},
		&cli.StringFlag{Name: "server", Usage: "send the prompt to your running llama-server at this URL (http://host:port) instead, and report what it says about speculation"},
		&cli.DurationFlag{Name: "server-timeout", Usage: "longest wait for the server's answer to one request", Value: 10 * time.Minute},
	)
	return &cli.Command{
		Name:  "run",
		Usage: "generate from a prompt with speculative decoding and say what happened to every draft",
		Description: `Loads the target (and the draft model, if any), runs the speculative loop and
prints the text, then a summary: steps, drafted, accepted, acceptance rate, mean
acceptance length, tokens/s, and why drafts were empty. Flags are spelled as
llama-server spells them, so a configuration carries across, and they mean
what llama-server makes of them (--semantics llama-server, the default):
--draft alone runs no speculation (name --spec-type draft-simple), "none"
anywhere in --spec-type turns speculation off, and a draft model whose
vocabulary llama.cpp's rules refuse switches off every method of the list.
--semantics per-method reads them speclab's way instead: --draft alone turns
draft-simple on, "none" is skipped, and a refused draft leaves out only
itself. The summary says when the two would differ.

Examples:
   speclab run --target models/target.gguf --spec-type draft-simple --draft models/draft.gguf -p "func main() {"
   speclab run -m t.gguf --spec-type ngram-simple,ngram-map-k4v -f prompt.txt -n 512
   speclab run -m t.gguf --spec-type draft-simple -md d.gguf --dd-policy "0:n4,p0.25;49152:n4,p0.0" --check-lossless
   speclab run -m t.gguf --spec-type draft-simple -md d.gguf --temp 0.8 --verify rejection --seed 7`,
		Flags: flags,
		Action: func(c *cli.Context) error {
			if err := noFlagsAfterArgs(c); err != nil {
				return err
			}
			if c.NArg() > 0 {
				return usagef("run takes no arguments (got %q); give the prompt with --prompt or --prompt-file", c.Args().First())
			}
			return doRun(c)
		},
	}
}

// session is the loaded models and the built generation of a run.
type session struct {
	*experiments.Session
	*experiments.Generation
}

// modelsFromFlags reads the models and context flags; without --target it
// takes speclab's default models (the draft too, when --draft is not given
// and withDraft).
func modelsFromFlags(c *cli.Context, withDraft bool) (experiments.Models, error) {
	m := experiments.Models{Target: c.String("target"), Draft: c.String("draft"), Context: experiments.Context{
		CtxSize: c.Int("ctx-size"), Threads: c.Int("threads"), GPULayers: c.Int("gpu-layers"), FlashAttn: c.String("flash-attn"),
		BatchSize: c.Int("batch-size"), UBatchSize: c.Int("ubatch-size"), CacheTypeK: c.String("cache-type-k"), CacheTypeV: c.String("cache-type-v"),
		Poll: c.Int("poll"), ForceThreads: c.Bool("force-threads"),
	}}
	for _, f := range []string{"hf-repo", "spec-draft-hf"} {
		if c.IsSet(f) {
			return m, usagef("--%s: speclab downloads no models; download the GGUF file yourself and pass its path (--target / --draft)", f)
		}
	}
	if _, err := experiments.ParseFlashAttn(m.Context.FlashAttn); err != nil {
		return m, usagef("--flash-attn %v", err)
	}
	if _, err := m.Context.Params(); err != nil {
		return m, usagef("%v", err)
	}
	if v := c.String("gpu-layers-draft"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return m, usagef("--gpu-layers-draft %q: want a number of layers", v)
		}
		m.Context.GPULayersDraft = &n
	}
	if m.Target == "" {
		t, d, note, err := experiments.DefaultModels(c.String("cache-dir"))
		if err != nil {
			return m, err
		}
		m.Target = t
		if withDraft && m.Draft == "" {
			m.Draft = d
		}
		fmt.Fprintln(c.App.ErrWriter, note)
	}
	return m, nil
}

// openSession loads the models and builds the proposer and the loop's
// configuration from the flags, through the same builder as experiments.
func openSession(c *cli.Context) (*session, error) {
	conf, sm, types, err := configFromFlags(c)
	if err != nil {
		return nil, err
	}
	m, err := modelsFromFlags(c, false)
	if err != nil {
		return nil, err
	}
	if !usesDraftModel(types) {
		m.Draft = "" // a draft model is loaded only for the methods that use it
	}
	lib, err := openLib(c)
	if err != nil {
		return nil, err
	}
	es, err := experiments.Open(lib, m)
	if err != nil {
		return nil, err
	}
	g, err := es.Generation(conf, sm, c.Uint64("seed"))
	if err != nil {
		es.Close()
		return nil, usageError{err.Error()}
	}
	g.Config.NPredict = c.Int("n-predict")
	g.Config.IgnoreEOG = c.Bool("ignore-eos")
	return &session{es, g}, nil
}

// configFromFlags reads the speculative and sampling flags into a
// configuration, as an experiment file would hold it, checks it and
// returns the methods it runs.
func configFromFlags(c *cli.Context) (experiments.Configuration, experiments.Sampling, []string, error) {
	sm := experiments.Sampling{Temp: c.Float64("temp"), TopK: c.Int("top-k"), TopP: c.Float64("top-p"), MinP: c.Float64("min-p")}
	sp := sm.Params()
	conf := experiments.Configuration{Name: "run", SpecType: c.String("spec-type"), NMin: c.Int("spec-draft-n-min"),
		DDPolicy: c.String("dd-policy"), Verify: c.String("verify"), Rollback: c.String("rollback"),
		Semantics: c.String("semantics"), Ngram: map[string]int{}}
	nmax, pmin := c.Int("spec-draft-n-max"), c.Float64("spec-draft-p-min")
	conf.NMax, conf.PMin = &nmax, &pmin
	if !c.IsSet("spec-type") && c.String("draft") != "" {
		if conf.Semantics == terms.SemanticsPerMethod {
			conf.SpecType = terms.DraftSimple
		} else {
			fmt.Fprintf(c.App.ErrWriter, "note: --draft without --spec-type: llama-server runs no speculation then, and so does speclab; "+
				"name the method (--spec-type %s), or pass --semantics %s to have --draft turn it on\n", terms.DraftSimple, terms.SemanticsPerMethod)
		}
	}
	if conf.Semantics != terms.SemanticsPerMethod {
		if others, _ := drafts.ParseTypesPerMethod(conf.SpecType); len(others) > 0 && slices.Contains(strings.Split(strings.ReplaceAll(conf.SpecType, " ", ""), ","), "none") {
			fmt.Fprintf(c.App.ErrWriter, "note: \"none\" in --spec-type turns speculation off, as in llama-server; --semantics %s would run %s\n",
				terms.SemanticsPerMethod, strings.Join(others, ","))
		}
	}
	if c.Int("spec-draft-n-max") < 0 {
		return conf, sm, nil, usagef("--spec-draft-n-max %d: invalid value (llama.cpp refuses a negative n_max too)", c.Int("spec-draft-n-max"))
	}
	if c.Int("n-predict") <= 0 {
		return conf, sm, nil, usagef("--n-predict %d: want > 0", c.Int("n-predict"))
	}
	if err := sp.Validate(); err != nil {
		return conf, sm, nil, usageError{err.Error()}
	}
	switch v := conf.Verify; {
	case v != "" && v != string(spec.Greedy) && sp.Greedy():
		return conf, sm, nil, usagef("--verify %s samples: give --temp > 0 (or use --verify greedy)", v)
	case v == string(spec.Greedy) && !sp.Greedy():
		return conf, sm, nil, usagef("--verify greedy with --temp %g: greedy verification needs --temp 0", sp.Temp)
	}
	if p := conf.DDPolicy; p != "" {
		if _, err := drafts.ParsePolicy(p); err != nil {
			return conf, sm, nil, usagef("--dd-policy: %v", err)
		}
	}
	for _, f := range drafts.NgramFlags() {
		if name := strings.TrimPrefix(f, "--"); c.IsSet(name) {
			conf.Ngram[name] = c.Int(name)
		}
	}
	b, err := conf.Build(sp, c.Uint64("seed"))
	if err != nil {
		return conf, sm, nil, usageError{err.Error()}
	}
	if usesDraftModel(b.Types) && c.String("draft") == "" {
		return conf, sm, nil, usagef("--spec-type %s needs a draft model: --draft MODEL.gguf", strings.Join(b.Types, ","))
	}
	return conf, sm, b.Types, nil
}

// usesDraftModel reports whether a method of types drives a draft model.
func usesDraftModel(types []string) bool {
	return slices.ContainsFunc(types, func(t string) bool { return slices.Contains(drafts.DraftModelTypes, t) })
}

func readPrompt(c *cli.Context) (string, error) {
	p, f := c.String("prompt"), c.String("prompt-file")
	switch {
	case p != "" && f != "":
		return "", usagef("give --prompt or --prompt-file, not both")
	case f != "":
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("prompt: %w", err)
		}
		return string(b), nil
	case p != "":
		return p, nil
	}
	return "", usagef("no prompt: give --prompt TEXT or --prompt-file FILE")
}

// runOutput is `speclab run --json`.
type runOutput struct {
	Schema        string         `json:"schema"`
	Text          string         `json:"text"`
	Tokens        []int32        `json:"tokens"`
	SpecTypes     []string       `json:"spec_types"`
	Policy        string         `json:"policy"`
	Verify        string         `json:"verify"`
	Refusal       string         `json:"refusal,omitempty"`
	Steps         int            `json:"steps"`
	Drafted       int            `json:"drafted"`
	Accepted      int            `json:"accepted"`
	Acceptance    *float64       `json:"acceptance_rate"`        // null when nothing was drafted
	MeanAcceptLen float64        `json:"mean_acceptance_length"` // 1 + accepted / drafting steps (llama-server, vLLM)
	TokensPerStep float64        `json:"tokens_per_verify_step"` // 1 + accepted / all steps
	NumDrafts     int            `json:"num_drafts"`             // steps with a non-empty draft (llama-server's n_draft_verif_steps)
	Semantics     string         `json:"semantics"`              // llama-server or per-method
	TokensPerSec  float64        `json:"tokens_per_second"`
	PromptTokens  int            `json:"prompt_tokens"`
	Generated     int            `json:"generated"`
	Stop          string         `json:"stop"`
	EmptyDrafts   map[string]int `json:"empty_drafts"`
	Lossless      *bool          `json:"lossless,omitempty"`
}

func doRun(c *cli.Context) error {
	text, err := readPrompt(c)
	if err != nil {
		return err
	}
	if c.String("server") != "" {
		return serverRun(c, text)
	}
	if c.Bool("check-lossless") && c.String("verify") != "" && c.String("verify") != "greedy" {
		return usagef("--check-lossless compares with plain greedy decoding: it needs --verify greedy (and --temp 0)")
	}
	s, err := openSession(c)
	if err != nil {
		return err
	}
	defer s.Close()
	prompt, err := s.Prompt(text, c.Bool("chat"), c.String("system"))
	if err != nil {
		return err
	}
	ctx, stop := interruptible()
	defer stop()
	res, err := spec.Generate(ctx, s.Loop, s.Proposer, prompt, s.Config, nil)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("run: %w", err)
	}
	var acceptance *float64
	if res.Stats.Drafted > 0 {
		acceptance = new(res.Stats.AcceptanceRate())
	}
	out := runOutput{Schema: SchemaVersion,
		Acceptance: acceptance,
		Text:       s.Target.Text(res.Tokens), Tokens: res.Tokens, SpecTypes: s.Types, Policy: s.Policy,
		Verify: string(s.Config.Verify), Steps: res.Stats.Steps, Drafted: res.Stats.Drafted,
		Accepted:      res.Stats.Accepted,
		MeanAcceptLen: res.Stats.MeanAcceptLen(), TokensPerStep: res.Stats.TokensPerStep(), NumDrafts: res.Stats.DraftSteps,
		Semantics:    s.Semantics,
		TokensPerSec: res.Stats.TokensPerSecond(),
		PromptTokens: res.Stats.PromptTokens, Generated: res.Stats.Generated, Stop: string(res.Stats.Stop),
		EmptyDrafts: map[string]int{},
	}
	if out.SpecTypes == nil {
		out.SpecTypes = []string{}
	}
	for r, n := range res.Stats.Empty {
		out.EmptyDrafts[string(r)] = n
	}
	if s.Refusal != nil {
		out.Refusal = s.Refusal.Error()
	}
	var lossErr error
	if c.Bool("check-lossless") && !errors.Is(err, context.Canceled) {
		s.Loop.Clear()
		plain, perr := spec.Generate(ctx, s.Loop, nil, prompt, s.Config, nil)
		if perr != nil {
			return fmt.Errorf("check-lossless: plain decoding: %w", perr)
		}
		same := slices.Equal(plain.Tokens, res.Tokens)
		out.Lossless = &same
		if !same {
			i := 0
			for i < len(plain.Tokens) && i < len(res.Tokens) && plain.Tokens[i] == res.Tokens[i] {
				i++
			}
			lossErr = fmt.Errorf("check-lossless: FAILED: speculative output differs from plain decoding at generated token %d", i)
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if e := enc.Encode(out); e != nil {
			return e
		}
	} else {
		fmt.Fprintln(c.App.Writer, out.Text)
		printSummary(c, s, res, out)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted after %d tokens", len(res.Tokens))
	}
	return lossErr
}

func printSummary(c *cli.Context, s *session, res *spec.Result, out runOutput) {
	w := c.App.ErrWriter
	st := res.Stats
	types := "none"
	if len(s.Types) > 0 {
		types = strings.Join(s.Types, ",")
	}
	fmt.Fprintf(w, "\n--- speclab: %s, verify %s, policy %s, semantics %s\n", types, s.Config.Verify, s.Policy, s.Semantics)
	if s.Refusal != nil {
		fmt.Fprintf(w, "refused:    %v\n", s.Refusal)
	}
	applied := "never applied"
	if st.Applied() {
		applied = fmt.Sprintf("applied on %d of %d steps", st.DraftSteps, st.Steps)
	}
	fmt.Fprintf(w, "speculation %s\n", applied)
	if st.Drafted > 0 {
		fmt.Fprintf(w, "drafted     %d, accepted %d (acceptance rate %.1f%%), mean acceptance length %.2f (per draft), %.2f tokens per verify step\n",
			st.Drafted, st.Accepted, 100*st.AcceptanceRate(), st.MeanAcceptLen(), st.TokensPerStep())
	} else {
		// No acceptance rate: with nothing drafted there is none (not 0 %).
		fmt.Fprintln(w, "drafted     nothing: no acceptance rate, no acceptance length")
	}
	fmt.Fprintf(w, "speed       %.1f tokens/s generating %d tokens (stop: %s); prompt %d tokens in %s\n",
		st.TokensPerSecond(), st.Generated, st.Stop, st.PromptTokens, st.PromptTime.Round(1e5))
	if st.Checkpoints > 0 {
		fmt.Fprintf(w, "rollback    %d state checkpoints, %s restoring and replaying\n", st.Checkpoints, st.Rollback.Round(1e5))
	}
	if st.Translate > 0 && st.DraftSteps > 0 {
		fmt.Fprintf(w, "translate   %.0f µs per drafting step between the vocabularies, %.0f%% of the proposer's time\n",
			float64(st.Translate.Microseconds())/float64(st.DraftSteps), 100*st.Translate.Seconds()/st.Propose.Seconds())
	}
	if len(st.Empty) > 0 {
		var rs []string
		for r, n := range st.Empty {
			rs = append(rs, fmt.Sprintf("%s %d", r, n))
		}
		sort.Strings(rs)
		fmt.Fprintf(w, "empty       %s\n", strings.Join(rs, ", "))
	}
	if out.Lossless != nil {
		fmt.Fprintf(w, "lossless    %v (compared with plain decoding)\n", *out.Lossless)
	}
}
