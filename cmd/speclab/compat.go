package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/terms"
)

// compatReport is `speclab compat --json`.
type compatReport struct {
	Schema string `json:"schema"`
	Target string `json:"target"`
	Draft  string `json:"draft"`
	// Llama is llama.cpp's verdict: "accepted", or the failing rule.
	Llama       string             `json:"llama_cpp_verdict"`
	LlamaDetail string             `json:"llama_cpp_detail,omitempty"`
	Overlap     drafts.Overlap     `json:"overlap"`
	Texts       []drafts.Agreement `json:"texts"`
	SameTexts   int                `json:"texts_tokenized_alike"`
	// TLIShare is the share of the draft's own tokens of the texts that
	// the target has too (what draft-tli keeps of its choices).
	TLIShare float64 `json:"tli_share_of_draft_tokens"`
	// TranslateUs is one step's history translation on the longest text
	// (draft-slem and draft-tli pay it every step).
	TranslateUs     float64      `json:"translate_us"`
	TranslateTokens int          `json:"translate_history_tokens"`
	Modes           []compatMode `json:"modes"`
}

// compatMode is one way of drafting with this draft.
type compatMode struct {
	SpecType string `json:"spec_type"`
	Works    bool   `json:"works"`
	Why      string `json:"why"`
	Cost     string `json:"cost"`
}

func compatCommand() *cli.Command {
	return &cli.Command{
		Name:  "compat",
		Usage: "can this draft serve this target: llama.cpp's verdict, how far apart the vocabularies are, and which drafting modes work",
		Description: `Loads the two vocabularies only (fast, no weights) and says:
  - llama.cpp's verdict (common_speculative_are_compatible) and the rule that fails;
  - how much they overlap: token texts in common, ids holding the same text;
  - how both tokenize sample texts (the batteries' prompts, or --text FILE):
    alike or not, and where they first split differently;
  - which drafting modes would work, and what each costs:
      draft-simple  llama.cpp's, only when its rules accept the pair;
      draft-tli     token-level intersection: the draft's distribution
                    restricted to the shared tokens, lossless with any
                    verification, temperature > 0 included;
      draft-slem    string-level exact match: the draft's text re-tokenized
                    for the target and verified by exact match (greedy or
                    match), lossless, whatever the vocabularies.
Both cross-vocabulary modes follow Timor et al., "Accelerating LLM Inference
with Lossless Speculative Decoding Algorithms for Heterogeneous
Vocabularies" (ICML 2025).

Examples:
   speclab compat -m models/target.gguf -md models/draft-othervocab.gguf
   speclab compat -m qwen3.5-27b.gguf -md qwen2.5-0.5b.gguf --text my-prompts.txt --json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Aliases: []string{"m", "model"}, Usage: "target model (GGUF)", Required: true},
			&cli.StringFlag{Name: "draft", Aliases: []string{"md"}, Usage: "draft model (GGUF)", Required: true},
			&cli.StringFlag{Name: "text", Usage: "a file of sample text to tokenize with both (default: the seed and code batteries' prompts)"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		},
		Action: func(c *cli.Context) error {
			if err := noFlagsAfterArgs(c); err != nil {
				return err
			}
			lib, err := openLib(c)
			if err != nil {
				return err
			}
			load := func(path string) (*engine.Model, error) {
				m, err := lib.LoadModel(path, engine.ModelParams{VocabOnly: true})
				if err != nil {
					return nil, fmt.Errorf("%s: %w", path, err)
				}
				return m, nil
			}
			tm, err := load(c.String("target"))
			if err != nil {
				return err
			}
			defer tm.Close()
			dm, err := load(c.String("draft"))
			if err != nil {
				return err
			}
			defer dm.Close()
			texts, err := sampleTexts(c.String("text"))
			if err != nil {
				return err
			}
			r, err := compare(drafts.ModelVocab{M: tm}, drafts.ModelVocab{M: dm}, texts)
			if err != nil && !errors.Is(err, drafts.ErrNoSharedText) {
				return err
			}
			r.Target, r.Draft = c.String("target"), c.String("draft")
			if c.Bool("json") {
				if jerr := writeJSON(c.App.Writer, r); jerr != nil {
					return jerr
				}
			} else {
				r.print(c)
			}
			if err != nil {
				return fmt.Errorf("%s cannot draft for %s in any mode: %w", r.Draft, r.Target, err)
			}
			return nil
		},
	}
}

// sampleText is a named text to tokenize with both vocabularies.
type sampleText struct{ name, text string }

func sampleTexts(path string) ([]sampleText, error) {
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--text: %w", err)
		}
		return []sampleText{{name: path, text: string(data)}}, nil
	}
	var out []sampleText
	for _, b := range []experiments.Battery{experiments.SeedBattery, experiments.CodeBattery} {
		for _, t := range b.Tasks {
			out = append(out, sampleText{name: b.Name + "/" + t.Name, text: t.Prompt})
		}
	}
	return out, nil
}

// compare measures the pair; it returns drafts.ErrNoSharedText (with the
// report filled) when no mode can work.
func compare(target, draft drafts.TextVocab, texts []sampleText) (*compatReport, error) {
	r := &compatReport{Schema: SchemaVersion, Overlap: drafts.CompareVocabs(target, draft), Llama: "accepted"}
	var ie *drafts.IncompatibleError
	switch err := r.Overlap.Verdict; {
	case errors.As(err, &ie):
		r.Llama, r.LlamaDetail = "refused: "+ie.Rule, ie.Detail
	case err != nil:
		return nil, err
	}
	in, ierr := drafts.Intersect(target, draft)
	if ierr != nil && !errors.Is(ierr, drafts.ErrNoSharedText) {
		return nil, ierr
	}
	var shared, all int
	longest := ""
	for _, t := range texts {
		a, err := drafts.Agree(t.name, t.text, target, draft, in)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		r.Texts = append(r.Texts, a)
		if a.Same {
			r.SameTexts++
		}
		shared += a.Shared
		all += a.DraftTokens
		if len(t.text) > len(longest) {
			longest = t.text
		}
	}
	if all > 0 {
		r.TLIShare = float64(shared) / float64(all)
	}
	if ierr == nil {
		cost, n, err := drafts.TranslationCost(target, draft, strings.Repeat(longest, max(1, 2000/max(1, len(longest)))), 5)
		if err != nil {
			return nil, err
		}
		r.TranslateUs, r.TranslateTokens = float64(cost)/float64(time.Microsecond), n
	}
	direct := compatMode{SpecType: terms.DraftSimple, Works: r.Overlap.Verdict == nil, Cost: "none beyond drafting"}
	if direct.Works {
		direct.Why = "llama.cpp's rules accept the pair"
	} else {
		direct.Why = "llama.cpp " + r.Llama
	}
	tli := compatMode{SpecType: terms.DraftTLI, Works: ierr == nil}
	slem := compatMode{SpecType: terms.DraftSLEM, Works: ierr == nil}
	if ierr != nil {
		tli.Why, slem.Why = ierr.Error(), ierr.Error()
	} else {
		tli.Why = fmt.Sprintf("the draft's distribution restricted to the %d draft tokens the target has too (%.1f%% of the draft's own tokens on the sample texts), renormalised: lossless with greedy, match and rejection verification",
			in.Shared, 100*r.TLIShare)
		tli.Cost = fmt.Sprintf("a mask over the draft's logits per drafted token, and the history translated each step (%.0f µs for %d tokens)", r.TranslateUs, r.TranslateTokens)
		slem.Why = fmt.Sprintf("the draft's text re-tokenized for the target and verified by exact match (greedy, or match at temperature > 0): lossless; %d of %d sample texts tokenize alike", r.SameTexts, len(r.Texts))
		slem.Cost = fmt.Sprintf("the history translated each step (%.0f µs for %d tokens) and each draft re-tokenized; the draft may stop inside a target token", r.TranslateUs, r.TranslateTokens)
	}
	r.Modes = []compatMode{direct, tli, slem}
	if ierr != nil {
		return r, ierr
	}
	return r, nil
}

func (r *compatReport) print(c *cli.Context) {
	w := c.App.Writer
	o := r.Overlap
	fmt.Fprintf(w, "target     %s: %d tokens\n", r.Target, o.TargetSize)
	fmt.Fprintf(w, "draft      %s: %d tokens\n", r.Draft, o.DraftSize)
	if r.LlamaDetail != "" {
		fmt.Fprintf(w, "llama.cpp  %s (%s): llama-server b8095 and later run no speculation with this draft (b7347 to b7836 translated its tokens through text)\n", r.Llama, r.LlamaDetail)
	} else {
		fmt.Fprintf(w, "llama.cpp  accepted: draft-simple runs as in llama-server\n")
	}
	first := "none"
	if o.FirstDifferentID >= 0 {
		first = fmt.Sprint(o.FirstDifferentID)
	}
	fmt.Fprintf(w, "overlap    %d token texts in common: %.1f%% of the target's, %.1f%% of the draft's; %d ids hold the same text (%.1f%%), the first that differs is %s\n",
		o.SharedTexts, 100*o.TargetShare, 100*o.DraftShare, o.SameID, 100*o.SameIDShare, first)
	fmt.Fprintf(w, "texts      %d of %d sample texts tokenized alike by both", r.SameTexts, len(r.Texts))
	for _, a := range r.Texts {
		if !a.Same {
			fmt.Fprintf(w, "; the first that is not, %s, splits differently at byte %d: the target has %q, the draft %q", a.Name, a.DiffByte, a.TargetPiece, a.DraftPiece)
			break
		}
	}
	fmt.Fprintln(w)
	for _, m := range r.Modes {
		mark := "works"
		if !m.Works {
			mark = "NO"
		}
		fmt.Fprintf(w, "%-12s %-5s %s", m.SpecType, mark, m.Why)
		if m.Cost != "" {
			fmt.Fprintf(w, "; cost: %s", m.Cost)
		}
		fmt.Fprintln(w)
	}
}
