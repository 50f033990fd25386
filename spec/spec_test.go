package spec_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/testenv"
	"github.com/speclab/speclab/spec"
	"github.com/speclab/speclab/spec/sample"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var prompts = []string{
	"func main() {\n\tfmt.Println(\"hello, world\")\n}\n",
	"The quick brown fox jumps over the lazy dog. The quick brown fox",
	"for i := 0; i < n; i++ {\n\tsum += a[i]\n}\nfor i := 0; i < n; i++ {",
	"package spec\n\nimport \"fmt\"\n",
	"a b c a b c a b c a b",
	// long and repetitive: enough history for llama.cpp's default n-gram sizes
	strings.Repeat("if err != nil {\n\treturn fmt.Errorf(\"read %s: %w\", path, err)\n}\n", 6),
}

type fixture struct {
	lib    *engine.Lib
	target *engine.Model
	draft  *engine.Model
	set    string
}

func load(t testing.TB, path string) *engine.Model { return testenv.Load(t, path) }

func newCtx(t testing.TB, m *engine.Model, n int) *engine.Context { return testenv.Context(t, m, n) }

func newTarget(t testing.TB, m *engine.Model) *spec.EngineTarget {
	t.Helper()
	tg, err := spec.NewTarget(newCtx(t, m, 512))
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func tokenize(t testing.TB, m *engine.Model, s string) []engine.Token {
	return testenv.Tokenize(t, m, s)
}

// plainGreedy is the reference: one token at a time, argmax, no speculation,
// written independently of the loop under test.
func plainGreedy(t testing.TB, c *engine.Context, prompt []engine.Token, n int) []engine.Token {
	t.Helper()
	c.ClearMemory()
	if err := c.Decode(prompt, 0, 0, engine.LogitsLast); err != nil {
		t.Fatal(err)
	}
	var out []engine.Token
	pos := len(prompt)
	for len(out) < n {
		next := sample.Argmax(c.Logits(-1))
		out = append(out, next)
		if c.Model().IsEOG(next) || len(out) == n {
			break
		}
		if err := c.Decode([]engine.Token{next}, pos, 0, engine.LogitsLast); err != nil {
			t.Fatal(err)
		}
		pos++
	}
	return out
}

type proposerCase struct {
	name   string
	policy string
	make   func(t *testing.T) drafts.Proposer
}

func ngram(t *testing.T, typ string, opts map[string]int) drafts.Proposer {
	t.Helper()
	p, err := drafts.NewNgram(typ, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func draftModel(t *testing.T, target, draft *engine.Model) drafts.Proposer {
	t.Helper()
	p, err := drafts.NewDraftModel(drafts.ModelVocab{M: target}, newCtx(t, draft, 512), 7)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func proposerCases(target, draft *engine.Model) []proposerCase {
	small := func(typ string) map[string]int {
		return map[string]int{"--spec-" + typ + "-size-n": 2, "--spec-" + typ + "-size-m": 4}
	}
	return []proposerCase{
		{"ngram-simple", "", func(t *testing.T) drafts.Proposer { return ngram(t, "ngram-simple", nil) }},
		{"ngram-simple-n2m4", "", func(t *testing.T) drafts.Proposer { return ngram(t, "ngram-simple", small("ngram-simple")) }},
		{"ngram-map-k-n2m4", "", func(t *testing.T) drafts.Proposer { return ngram(t, "ngram-map-k", small("ngram-map-k")) }},
		{"ngram-map-k4v-n2m4", "", func(t *testing.T) drafts.Proposer { return ngram(t, "ngram-map-k4v", small("ngram-map-k4v")) }},
		{"ngram-mod-small", "", func(t *testing.T) drafts.Proposer {
			return ngram(t, "ngram-mod", map[string]int{"spec-ngram-mod-n-match": 2, "spec-ngram-mod-n-min": 1, "spec-ngram-mod-n-max": 6})
		}},
		{"draft-simple", "static:n4", func(t *testing.T) drafts.Proposer { return draftModel(t, target, draft) }},
		{"draft-simple-dd-policy", "0:n4,p0.25;40:n2,p0", func(t *testing.T) drafts.Proposer { return draftModel(t, target, draft) }},
		{"draft-simple-hf", "hf:3", func(t *testing.T) drafts.Proposer { return draftModel(t, target, draft) }},
		{"draft-simple-staircase", "staircase:1,6", func(t *testing.T) drafts.Proposer { return draftModel(t, target, draft) }},
		{"draft-simple-entropy", "entropy:e1.5,n5", func(t *testing.T) drafts.Proposer { return draftModel(t, target, draft) }},
		{"ngram-simple,draft-simple", "static:n3", func(t *testing.T) drafts.Proposer {
			return &drafts.Multi{Members: []drafts.Proposer{ngram(t, "ngram-simple", small("ngram-simple")), draftModel(t, target, draft)}}
		}},
	}
}

// TestGreedyLossless: for every proposer and policy, greedy speculative
// output equals plain greedy output token for token.
func TestGreedyLossless(t *testing.T) {
	draftedBy := map[string]int{} // over both weight types
	defer func() {
		for name, n := range draftedBy {
			if n == 0 {
				t.Errorf("%s drafted nothing on any prompt: its comparison proves nothing", name)
			}
		}
	}()
	for _, wt := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeMXFP4} {
		set := testenv.Models(t, wt)
		target, draft := load(t, set.Target), load(t, set.Draft)
		ref := newCtx(t, target, 512)
		var want [][]engine.Token
		for _, p := range prompts {
			want = append(want, plainGreedy(t, ref, tokenize(t, target, p), 64))
		}
		for _, pc := range proposerCases(target, draft) {
			t.Run(wt.String()+"/"+pc.name, func(t *testing.T) {
				prop := pc.make(t)
				cfg := spec.Config{NPredict: 64, TokenProbs: true}
				if pc.policy != "" {
					pol, err := drafts.ParsePolicy(pc.policy)
					if err != nil {
						t.Fatal(err)
					}
					cfg.Policy = pol
				}
				tg := newTarget(t, target)
				drafted := 0
				for i, p := range prompts {
					tg.Clear()
					var events spec.Collect
					res, err := spec.Generate(context.Background(), tg, prop, tokenize(t, target, p), cfg, &events)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(res.Tokens, want[i]) {
						t.Fatalf("prompt %d: speculative output differs from plain greedy\n spec %v\nplain %v", i, res.Tokens, want[i])
					}
					checkEvents(t, res, &events)
					drafted += res.Stats.Drafted
				}
				draftedBy[pc.name] += drafted
			})
		}
	}
}

// checkEvents: the events add up to the statistics.
func checkEvents(t *testing.T, res *spec.Result, ev *spec.Collect) {
	t.Helper()
	st := res.Stats
	if len(ev.Steps) != st.Steps {
		t.Fatalf("%d step events for %d steps", len(ev.Steps), st.Steps)
	}
	drafted, accepted, emitted, empty := 0, 0, 1, 0
	for _, s := range ev.Steps {
		drafted += s.Drafted
		accepted += s.Accepted
		emitted += s.Emitted
		if s.Drafted == 0 {
			empty++
			if s.Reason == drafts.ReasonNone {
				t.Fatalf("step %d: empty draft without a reason", s.Step)
			}
		} else if s.Reason != drafts.ReasonNone {
			t.Fatalf("step %d: %d drafted but reason %q", s.Step, s.Drafted, s.Reason)
		}
	}
	tokAccepted := 0
	for _, te := range ev.Tokens {
		if te.Accepted {
			tokAccepted++
		}
	}
	if drafted != st.Drafted || accepted != st.Accepted || tokAccepted != accepted || emitted != len(res.Tokens) {
		t.Fatalf("events: drafted %d accepted %d (tokens %d) emitted %d; stats: drafted %d accepted %d, %d tokens",
			drafted, accepted, tokAccepted, emitted, st.Drafted, st.Accepted, len(res.Tokens))
	}
	// every drafted token has an event; verified ones are the accepted
	// prefix plus at most one rejection per step
	verified := 0
	for _, te := range ev.Tokens {
		if te.Verified {
			verified++
		} else if te.Accepted {
			t.Fatal("an unverified token was accepted")
		}
	}
	if len(ev.Tokens) != drafted || verified > accepted+st.DraftSteps {
		t.Fatalf("%d token events (%d verified) for %d drafted, %d accepted in %d draft steps",
			len(ev.Tokens), verified, drafted, accepted, st.DraftSteps)
	}
	n := 0
	for _, c := range st.Empty {
		n += c
	}
	if n != empty {
		t.Fatalf("empty-draft reasons count %d, steps with empty drafts %d", n, empty)
	}
}

// stepLog records the checkpoint of every step.
type stepLog struct {
	spec.Discard
	partial, whole, bytes []int
}

func (l *stepLog) OnStep(s *spec.Step) {
	switch {
	case s.Checkpoint && s.PartialState:
		l.partial = append(l.partial, s.Step)
		l.bytes = append(l.bytes, s.StateBytes)
	case s.Checkpoint:
		l.whole = append(l.whole, s.Step)
		l.bytes = append(l.bytes, s.StateBytes)
	}
}

// TestRecurrentTarget: a target whose memory cannot drop a tail is verified
// with state checkpoints and stays lossless; with Refuse, speculation is off
// and every step says why. The hybrid (qwen35) target's checkpoints hold
// only its recurrent part, of one size at every position; the mamba
// target's hold its whole state.
func TestRecurrentTarget(t *testing.T) {
	set := testenv.Models(t, gguf.TypeQ8_0)
	draft := load(t, set.Draft)
	for _, tt := range []struct {
		path     string
		rollback string
	}{
		{set.Recurrent, "checkpoint"},
		{set.Hybrid, "partial-checkpoint"},
	} {
		target := load(t, tt.path)
		ref := newCtx(t, target, 512)
		tg := newTarget(t, target)
		if tg.CanRemoveTail() || tg.Rollback() != tt.rollback {
			t.Fatalf("%s: CanRemoveTail %v, rollback %q; want false, %q", tt.path, tg.CanRemoveTail(), tg.Rollback(), tt.rollback)
		}
		props := map[string]func(t *testing.T) drafts.Proposer{
			"draft-simple": func(t *testing.T) drafts.Proposer { return draftModel(t, target, draft) },
			"ngram-simple": func(t *testing.T) drafts.Proposer {
				return ngram(t, "ngram-simple", map[string]int{"spec-ngram-simple-size-n": 2, "spec-ngram-simple-size-m": 4})
			},
		}
		for name, mk := range props {
			t.Run(target.Info.Architecture+"/"+name, func(t *testing.T) {
				prop := mk(t)
				rejected := 0
				var log stepLog
				for _, p := range prompts {
					toks := tokenize(t, target, p)
					want := plainGreedy(t, ref, toks, 48)
					tg.Clear()
					res, err := spec.Generate(context.Background(), tg, prop, toks, spec.Config{NPredict: 48}, &log)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(res.Tokens, want) {
						t.Fatalf("speculative output differs\n spec %v\nplain %v", res.Tokens, want)
					}
					rejected += res.Stats.Drafted - res.Stats.Accepted
					tg.Clear()
					res, err = spec.Generate(context.Background(), tg, prop, toks, spec.Config{NPredict: 48, Rollback: spec.Refuse}, nil)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(res.Tokens, want) || res.Stats.Drafted != 0 || res.Stats.Empty[drafts.TargetCannotRollbck] == 0 {
						t.Fatalf("refuse: drafted %d, reasons %v", res.Stats.Drafted, res.Stats.Empty)
					}
				}
				partial := tt.rollback == "partial-checkpoint"
				switch {
				case len(log.partial)+len(log.whole) == 0:
					t.Errorf("no checkpoint was ever taken")
				case partial && len(log.whole) > 0, !partial && len(log.partial) > 0:
					t.Errorf("%d partial and %d whole checkpoints; want only %s ones", len(log.partial), len(log.whole), tt.rollback)
				case slices.Min(log.bytes) != slices.Max(log.bytes):
					t.Errorf("checkpoint sizes vary from %d to %d bytes with the position", slices.Min(log.bytes), slices.Max(log.bytes))
				}
				if name == "draft-simple" && rejected == 0 {
					t.Errorf("no draft token was ever rejected: the restore path is untested")
				}
			})
		}
	}
}

// TestRecurrentDraft: drafts whose memory cannot drop a tail (mamba,
// qwen35) are checkpointed rather than re-decoded from position 0 after a
// rejection, and the output stays the target's.
func TestRecurrentDraft(t *testing.T) {
	set := testenv.Models(t, gguf.TypeQ8_0)
	target := load(t, set.Target)
	ref := newCtx(t, target, 512)
	tg := newTarget(t, target)
	for _, path := range []string{set.Recurrent, set.Hybrid} {
		draft := load(t, path)
		t.Run(draft.Info.Architecture, func(t *testing.T) {
			prop := draftModel(t, target, draft).(*drafts.DraftModel)
			rejected := 0
			for _, p := range prompts {
				toks := tokenize(t, target, p)
				want := plainGreedy(t, ref, toks, 48)
				tg.Clear()
				prop.Reset()
				res, err := spec.Generate(context.Background(), tg, prop, toks, spec.Config{NPredict: 48}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(res.Tokens, want) {
					t.Fatalf("speculative output differs\n spec %v\nplain %v", res.Tokens, want)
				}
				rejected += res.Stats.Drafted - res.Stats.Accepted
			}
			st := prop.Stats()
			if rejected == 0 || st.Restores == 0 {
				t.Fatalf("%d rejected tokens, %d draft restores: the checkpoint path is untested", rejected, st.Restores)
			}
			if st.Redecoded != 0 {
				t.Errorf("the draft re-decoded %d tokens from position 0 after rejections", st.Redecoded)
			}
		})
	}
}

// TestTargetAsDraft: a draft that is the target itself is always right.
func TestTargetAsDraft(t *testing.T) {
	set := testenv.Models(t, gguf.TypeQ8_0)
	target := load(t, set.Target)
	prop := draftModel(t, target, target)
	tg := newTarget(t, target)
	for _, p := range prompts {
		tg.Clear()
		res, err := spec.Generate(context.Background(), tg, prop, tokenize(t, target, p),
			spec.Config{NPredict: 40, Policy: drafts.Static{NMax: 4}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stats.Drafted == 0 || res.Stats.Accepted != res.Stats.Drafted {
			t.Fatalf("target as its own draft: %d of %d accepted", res.Stats.Accepted, res.Stats.Drafted)
		}
	}
}

// TestOtherVocabRefused: a draft with a different tokenizer is refused with
// the failing rule named.
func TestOtherVocabRefused(t *testing.T) {
	set := testenv.Models(t, gguf.TypeQ8_0)
	target, other := load(t, set.Target), load(t, set.OtherVocab)
	_, err := drafts.NewDraftModel(drafts.ModelVocab{M: target}, newCtx(t, other, 256), 1)
	var ie *drafts.IncompatibleError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v is not an IncompatibleError", err)
	}
	if ie.Rule == "" || ie.Detail == "" {
		t.Fatalf("refusal names no rule: %+v", ie)
	}
	t.Logf("refused: %v", err)
}

// TestEmptyDraftReasons: configured speculation that drafts nothing says
// why at every step.
func TestEmptyDraftReasons(t *testing.T) {
	set := testenv.Models(t, gguf.TypeQ8_0)
	target := load(t, set.Target)
	tg := newTarget(t, target)
	toks := tokenize(t, target, prompts[3]) // short: no n-gram history
	tests := []struct {
		name string
		prop drafts.Proposer
		want drafts.Reason
	}{
		{"no proposer", nil, drafts.Disabled},
		{"ngram-simple short history", ngram(t, "ngram-simple", nil), drafts.NoHistory},
		{"refused draft model", &drafts.Refused{Method: "draft-simple", Why: drafts.VocabRefused}, drafts.VocabRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg.Clear()
			var ev spec.Collect
			res, err := spec.Generate(context.Background(), tg, tt.prop, toks, spec.Config{NPredict: 20}, &ev)
			if err != nil {
				t.Fatal(err)
			}
			if res.Stats.Drafted != 0 || res.Stats.Applied() {
				t.Fatalf("drafted %d", res.Stats.Drafted)
			}
			for _, s := range ev.Steps[:len(ev.Steps)-1] { // the last step has no room
				if s.Reason != tt.want {
					t.Fatalf("step %d: reason %q, want %q", s.Step, s.Reason, tt.want)
				}
			}
			if last := ev.Steps[len(ev.Steps)-1]; last.Reason != drafts.NoRoom && last.Reason != tt.want {
				t.Errorf("last step reason %q", last.Reason)
			}
		})
	}
}

// TestSeededSampling: the same seed gives the same output in the sampling
// modes; another seed gives another.
func TestSeededSampling(t *testing.T) {
	set := testenv.Models(t, gguf.TypeQ8_0)
	target, draft := load(t, set.Target), load(t, set.Draft)
	tg := newTarget(t, target)
	toks := tokenize(t, target, prompts[0])
	for _, mode := range []spec.Verify{spec.Rejection, spec.Match} {
		t.Run(string(mode), func(t *testing.T) {
			gen := func(seed uint64) []engine.Token {
				tg.Clear()
				prop := draftModel(t, target, draft)
				res, err := spec.Generate(context.Background(), tg, prop, toks, spec.Config{
					NPredict: 40, Verify: mode, Seed: seed,
					Sampling: sample.Params{Temp: 1, TopK: 40, TopP: 0.95},
				}, nil)
				if err != nil {
					t.Fatal(err)
				}
				return res.Tokens
			}
			a, b, c := gen(1), gen(1), gen(2)
			if !slices.Equal(a, b) {
				t.Errorf("same seed, different outputs:\n%v\n%v", a, b)
			}
			if slices.Equal(a, c) {
				t.Errorf("seeds 1 and 2 gave the same 40 tokens: %v", a)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	set := testenv.Models(t, gguf.TypeQ8_0)
	target := load(t, set.Target)
	tg := newTarget(t, target)
	toks := tokenize(t, target, prompts[0])
	bad := []spec.Config{
		{NPredict: 0},
		{NPredict: 4, Verify: "exact"},
		{NPredict: 4, Rollback: "never"},
		{NPredict: 4, Verify: spec.Rejection, Sampling: sample.Params{Temp: 1, TopP: 2}},
	}
	for i, cfg := range bad {
		tg.Clear()
		if _, err := spec.Generate(context.Background(), tg, nil, toks, cfg, nil); err == nil {
			t.Errorf("config %d (%+v) accepted", i, cfg)
		}
	}
	tg.Clear()
	long := make([]engine.Token, 600)
	if _, err := spec.Generate(context.Background(), tg, nil, long, spec.Config{NPredict: 4}, nil); !errors.Is(err, engine.ErrContextFull) {
		t.Errorf("prompt over n_ctx: %v", err)
	}
	// generation stops cleanly at the end of the context
	small, err := spec.NewTarget(newCtx(t, target, 64))
	if err != nil {
		t.Fatal(err)
	}
	res, err := spec.Generate(context.Background(), small, ngram(t, "ngram-simple", nil), toks, spec.Config{NPredict: 500}, nil)
	if err != nil || res.Stats.Stop != spec.StopContextFull {
		t.Errorf("long generation in a small context: stop %q, err %v", res.Stats.Stop, err)
	}
}

// TestStatsNames: τ divides by the drafting steps, as llama-server's "mean
// len" (n_draft_verif_steps) and vLLM's mean acceptance length do; the
// all-steps figure has its own name.
func TestStatsNames(t *testing.T) {
	tests := []struct {
		st           spec.Stats
		tau, perStep float64
	}{
		{spec.Stats{Steps: 6, DraftSteps: 4, Accepted: 9}, 1 + 9.0/4, 1 + 9.0/6},
		{spec.Stats{Steps: 2}, 1, 1},
		{spec.Stats{}, 1, 0},
	}
	for _, tt := range tests {
		if got := tt.st.MeanAcceptLen(); got != tt.tau {
			t.Errorf("%+v: MeanAcceptLen %v, want %v", tt.st, got, tt.tau)
		}
		if got := tt.st.TokensPerStep(); got != tt.perStep {
			t.Errorf("%+v: TokensPerStep %v, want %v", tt.st, got, tt.perStep)
		}
	}
}
