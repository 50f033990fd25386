package experiments_test

import (
	"context"
	"slices"
	"testing"

	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/internal/testenv"
	"github.com/speclab/speclab/models"
	"github.com/speclab/speclab/spec"
	"github.com/speclab/speclab/terms"
)

// Greedy output with draft-slem and draft-tli, drafting with the shipped
// draft whose vocabulary llama.cpp refuses, equals plain greedy output
// token for token on every task of the code and seed batteries (each cut
// at 64 tokens), on the transformer target and on the hybrid one; and the
// drafts are not idle (so the comparison is not trivially true).
func TestCrossVocabLossless(t *testing.T) {
	lib := testenv.Lib(t)
	draft, err := models.Path(models.OtherVocabDraft)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{models.Target, models.HybridTarget} {
		tp, err := models.Path(target)
		if err != nil {
			t.Fatal(err)
		}
		s, err := experiments.Open(lib, experiments.Models{Target: tp, Draft: draft, Context: experiments.Context{CtxSize: 1024, FlashAttn: "auto"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		for _, typ := range []string{terms.DraftSLEM, terms.DraftTLI} {
			t.Run(target+"/"+typ, func(t *testing.T) {
				g, err := s.Generation(experiments.Configuration{Name: typ, SpecType: typ}, experiments.Sampling{}, 1)
				if err != nil {
					t.Fatal(err)
				}
				var drafted, accepted, translate int64
				for _, b := range []experiments.Battery{experiments.CodeBattery, experiments.SeedBattery} {
					for _, task := range b.Tasks {
						prompt, err := s.Prompt(task.Prompt, false, "")
						if err != nil {
							t.Fatal(err)
						}
						cfg := spec.Config{NPredict: min(task.NPredict, 64), IgnoreEOG: true}
						s.Loop.Clear()
						plain, err := spec.Generate(context.Background(), s.Loop, nil, prompt, cfg, nil)
						if err != nil {
							t.Fatal(err)
						}
						cfg.Policy = drafts.Static{NMax: 4}
						var ev spec.Collect
						s.Loop.Clear()
						g.Proposer.Reset()
						got, err := spec.Generate(context.Background(), s.Loop, g.Proposer, prompt, cfg, &ev)
						if err != nil {
							t.Fatal(err)
						}
						if !slices.Equal(got.Tokens, plain.Tokens) {
							t.Errorf("%s: %s output differs from plain greedy at token %d", task.Name, typ, firstDiff(got.Tokens, plain.Tokens))
						}
						drafted += int64(got.Stats.Drafted)
						accepted += int64(got.Stats.Accepted)
						for _, st := range ev.Steps {
							translate += st.Translate.Nanoseconds()
						}
					}
				}
				t.Logf("drafted %d, accepted %d (%.0f%%), %.1f ms translating", drafted, accepted, 100*float64(accepted)/float64(max(drafted, 1)), float64(translate)/1e6)
				if accepted == 0 || translate == 0 {
					t.Errorf("drafted %d, accepted %d, translation %d ns: the cross-vocabulary drafts must be used", drafted, accepted, translate)
				}
			})
		}
	}
}

func firstDiff(a, b []engine.Token) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
