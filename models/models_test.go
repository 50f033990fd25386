package models_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/bpe"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/testenv"
	"github.com/speclab/speclab/models"
	"github.com/speclab/speclab/models/corpus"
	"github.com/speclab/speclab/spec"
	"github.com/speclab/speclab/spec/sample"
)

// loaded holds the shipped models, loaded once per test process.
var (
	loadOnce sync.Once
	loadErr  error
	shipped  map[string]*engine.Model
)

func load(tb testing.TB) map[string]*engine.Model {
	tb.Helper()
	lib := testenv.Lib(tb)
	loadOnce.Do(func() {
		shipped = map[string]*engine.Model{}
		for _, name := range []string{models.Target, models.Draft, models.OtherVocabDraft, models.HybridTarget} {
			p, err := models.Path(name)
			if err != nil {
				loadErr = err
				return
			}
			m, err := lib.LoadModel(p, engine.ModelParams{})
			if err != nil {
				loadErr = err
				return
			}
			shipped[name] = m
		}
	})
	if loadErr != nil {
		tb.Fatal(loadErr)
	}
	return shipped
}

// heldOut returns the held-out files of the corpus of this machine's Go
// toolchain.
func heldOut(tb testing.TB) (texts []string, goVersion string) {
	tb.Helper()
	src, err := corpus.SrcDir()
	if err != nil {
		tb.Fatal(err)
	}
	files, err := corpus.List(src)
	if err != nil {
		tb.Fatal(err)
	}
	return corpus.Texts(files, corpus.Test), corpus.Version(src)
}

func TestDir(t *testing.T) {
	d, err := models.Dir()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{models.Target, models.Draft, models.OtherVocabDraft} {
		if _, err := os.Stat(filepath.Join(d, name)); err != nil {
			t.Errorf("shipped model missing: %v", err)
		}
	}
	t.Setenv(models.EnvDir, t.TempDir())
	if _, err := models.Dir(); err == nil || !strings.Contains(err.Error(), models.EnvDir) {
		t.Errorf("Dir with %s pointing at an empty folder: err = %v, want one naming the variable", models.EnvDir, err)
	}
}

func TestLoad(t *testing.T) {
	ms := load(t)
	var total int64
	for _, c := range []struct {
		name           string
		role           string
		minP, maxP     uint64
		layers, embd   int
		heads, headsKV int
	}{
		{models.Target, "target", 20e6, 30e6, 6, 512, 8, 2},
		{models.Draft, "draft", 2e6, 4e6, 4, 192, 3, 3},
		{models.OtherVocabDraft, "draft-othervocab", 2e6, 4e6, 4, 192, 3, 3},
	} {
		t.Run(c.role, func(t *testing.T) {
			m := ms[c.name]
			in := m.Info
			if in.Architecture != "llama" || in.CtxTrain != 1024 || in.VocabSize != corpus.MainVocab {
				t.Errorf("architecture %q, context %d, vocabulary %d; want llama, 1024, %d", in.Architecture, in.CtxTrain, in.VocabSize, corpus.MainVocab)
			}
			if in.Params < c.minP || in.Params > c.maxP {
				t.Errorf("%d parameters, want %d..%d", in.Params, c.minP, c.maxP)
			}
			if in.Layers != c.layers || in.Embd != c.embd || in.Heads != c.heads || in.HeadsKV != c.headsKV {
				t.Errorf("shape %d layers, embd %d, %d/%d heads; want %d, %d, %d/%d", in.Layers, in.Embd, in.Heads, in.HeadsKV, c.layers, c.embd, c.heads, c.headsKV)
			}
			if got := m.Meta(models.KeyRole); got != c.role {
				t.Errorf("%s = %q, want %q", models.KeyRole, got, c.role)
			}
			if m.Meta("general.license") == "" || m.Meta(models.KeyPPLTorch) == "" {
				t.Errorf("provenance keys missing")
			}
			st, err := os.Stat(in.Path)
			if err != nil {
				t.Fatal(err)
			}
			total += st.Size()
		})
	}
	// The target's block matrices are MXFP4, the drafts' Q8_0.
	for name, want := range map[string]string{models.Target: "MXFP4", models.Draft: "Q8_0", models.OtherVocabDraft: "Q8_0"} {
		ti, ok := ms[name].File.Tensor("blk.0.ffn_down.weight")
		if !ok || ti.Type.String() != want {
			t.Errorf("%s: blk.0.ffn_down.weight is %v, want %s", name, ti.Type, want)
		}
	}
	if st, err := os.Stat(ms[models.HybridTarget].Info.Path); err == nil {
		total += st.Size()
	}
	if total > 45e6 {
		t.Errorf("the shipped files hold %d bytes, more than 45 MB", total)
	}
}

// TestHybridTarget: the hybrid default target is a qwen35 model with the
// target's tokenizer, libllama sees it hybrid, its memory cannot drop a
// tail, and its block matrices are MXFP4.
func TestHybridTarget(t *testing.T) {
	ms := load(t)
	h, target := ms[models.HybridTarget], ms[models.Target]
	in := h.Info
	if in.Architecture != "qwen35" || !in.Hybrid || in.Recurrent || in.CtxTrain != 1024 {
		t.Errorf("architecture %q, hybrid %v, recurrent %v, context %d; want qwen35, true, false, 1024", in.Architecture, in.Hybrid, in.Recurrent, in.CtxTrain)
	}
	if in.Params < 10e6 || in.Params > 16e6 || in.Layers != 4 || in.Embd != 384 {
		t.Errorf("%d parameters, %d layers, embd %d; want about 13M, 4, 384", in.Params, in.Layers, in.Embd)
	}
	if got := h.Meta(models.KeyRole); got != "target-hybrid" {
		t.Errorf("%s = %q", models.KeyRole, got)
	}
	for i := range in.VocabSize {
		if h.TokenText(engine.Token(i)) != target.TokenText(engine.Token(i)) {
			t.Fatalf("token %d: %q in the hybrid target, %q in the target", i, h.TokenText(engine.Token(i)), target.TokenText(engine.Token(i)))
		}
	}
	if ok, err := h.CanRemoveTail(); ok || err != nil {
		t.Errorf("CanRemoveTail = %v, %v; want false (hybrid memory)", ok, err)
	}
	for _, name := range []string{"blk.0.attn_qkv.weight", "blk.3.attn_q.weight", "blk.0.ffn_down.weight"} {
		if ti, ok := h.File.Tensor(name); !ok || ti.Type != gguf.TypeMXFP4 {
			t.Errorf("%s: %v, want MXFP4", name, ti.Type)
		}
	}
}

// TestTokenizerHeldOut: Go's tokenization of every held-out file, by the
// tokenizer stored in each shipped file, is exactly libllama's.
func TestTokenizerHeldOut(t *testing.T) {
	ms := load(t)
	texts, _ := heldOut(t)
	for _, name := range []string{models.Target, models.OtherVocabDraft} {
		m := ms[name]
		tok, err := bpe.FromGGUF(m.File)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i, text := range texts {
			want, err := m.Tokenize(text, true, false)
			if err != nil {
				t.Fatal(err)
			}
			got := tok.Tokenize(text, true, false)
			if d := corpus.FirstDiff(got, want); d >= 0 {
				t.Fatalf("%s: held-out file %d: Go and libllama differ first at token %d of %d/%d", name, i, d, len(got), len(want))
			}
			n += len(got)
		}
		if n < 100_000 {
			t.Errorf("%s: only %d held-out tokens compared", name, n)
		}
		t.Logf("%s: %d held-out files, %d tokens, identical", name, len(texts), n)
	}
}

// perplexity computes, through libllama, the perplexity of m over the
// first n held-out windows of 1024 tokens, each decoded from an empty
// context (1023 predictions a window), as train.py does.
func perplexity(tb testing.TB, m *engine.Model, texts []string, n int) float64 {
	tb.Helper()
	tok, err := bpe.FromGGUF(m.File)
	if err != nil {
		tb.Fatal(err)
	}
	wins := corpus.Windows(corpus.Stream(tok, texts), 1024, n)
	if len(wins) != n {
		tb.Fatalf("only %d held-out windows, want %d", len(wins), n)
	}
	c, err := m.NewContext(engine.ContextParams{NCtx: 1024, NBatch: 1024, Threads: 2})
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	var nll float64
	var count int
	for _, w := range wins {
		c.ClearMemory()
		if err := c.Decode(w, 0, 0, engine.LogitsAll); err != nil {
			tb.Fatal(err)
		}
		for i := 0; i+1 < len(w); i++ {
			lg := c.Logits(i)
			nll += float64(sample.LogSumExp(lg) - lg[w[i+1]])
			count++
		}
	}
	return math.Exp(nll / float64(count))
}

// TestPerplexity: libllama's held-out perplexity of each model agrees with
// PyTorch's (stored in the file) within 2%, and the target's is clearly
// better than the matched draft's.
func TestPerplexity(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 16k tokens per model")
	}
	ms := load(t)
	texts, goVersion := heldOut(t)
	ppl := map[string]float64{}
	for _, name := range []string{models.Target, models.Draft, models.OtherVocabDraft, models.HybridTarget} {
		m := ms[name]
		if v := m.Meta(models.KeyGoVersion); v != goVersion {
			t.Skipf("the models were evaluated on the source of %s, this toolchain is %s: the held-out windows differ", v, goVersion)
		}
		n := 16
		want, err := parseFloat(m.Meta(models.KeyPPLTorch))
		if err != nil {
			t.Fatal(err)
		}
		got := perplexity(t, m, texts, n)
		ppl[name] = got
		t.Logf("%s: perplexity over %d held-out windows: libllama %.4f, PyTorch %.4f (%+.2f%%)", name, n, got, want, 100*(got/want-1))
		if math.Abs(got/want-1) > 0.02 {
			t.Errorf("%s: libllama perplexity %.4f differs from PyTorch's %.4f by more than 2%%", name, got, want)
		}
	}
	if r := ppl[models.Draft] / ppl[models.Target]; r < 1.05 {
		t.Errorf("draft perplexity %.3f is not clearly above the target's %.3f (ratio %.3f, want >= 1.05)", ppl[models.Draft], ppl[models.Target], r)
	}
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

// prompts are the beginnings of held-out files: Go code the models never
// saw, each cut to at most n tokens of the target's tokenizer.
func prompts(tb testing.TB, m *engine.Model, k, n int) [][]engine.Token {
	tb.Helper()
	texts, _ := heldOut(tb)
	var out [][]engine.Token
	for i := 0; i < len(texts) && len(out) < k; i += len(texts) / k {
		toks, err := m.Tokenize(texts[i], true, false)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, toks[:min(n, len(toks))])
	}
	return out
}

func greedy(tb testing.TB, m *engine.Model, prompt []engine.Token, n int) []engine.Token {
	tb.Helper()
	c, err := m.NewContext(engine.ContextParams{NCtx: 1024})
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	tgt, err := spec.NewTarget(c)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := spec.Generate(context.Background(), tgt, nil, prompt, spec.Config{NPredict: n, IgnoreEOG: true}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return res.Tokens
}

// TestGreedyStable: a short greedy generation of the target is the same on
// every run, and is Go-like text (not one token repeated).
func TestGreedyStable(t *testing.T) {
	ms := load(t)
	m := ms[models.Target]
	p := prompts(t, m, 1, 64)[0]
	a := greedy(t, m, p, 48)
	b := greedy(t, m, p, 48)
	if d := corpus.FirstDiff(a, b); d >= 0 {
		t.Fatalf("two greedy runs differ at token %d", d)
	}
	distinct := map[engine.Token]bool{}
	for _, x := range a {
		distinct[x] = true
	}
	text, err := m.Detokenize(a, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(distinct) < 8 {
		t.Errorf("greedy output has only %d distinct tokens: %q", len(distinct), text)
	}
	t.Logf("greedy continuation: %q", text)
}

// TestMismatchedRefused: llama.cpp's vocabulary rules accept the matched
// draft and refuse the other-vocabulary draft, naming the token-text rule.
func TestMismatchedRefused(t *testing.T) {
	ms := load(t)
	target := drafts.ModelVocab{M: ms[models.Target]}
	if err := drafts.CheckCompatible(target, drafts.ModelVocab{M: ms[models.Draft]}); err != nil {
		t.Errorf("matched draft refused: %v", err)
	}
	err := drafts.CheckCompatible(target, drafts.ModelVocab{M: ms[models.OtherVocabDraft]})
	var ie *drafts.IncompatibleError
	if !errors.As(err, &ie) || ie.Rule != drafts.RuleTokenText {
		t.Fatalf("other-vocabulary draft: err = %v, want an *IncompatibleError of rule %q", err, drafts.RuleTokenText)
	}
	t.Logf("refused: %v", err)
	c, err := ms[models.OtherVocabDraft].NewContext(engine.ContextParams{NCtx: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := drafts.NewDraftModel(target, c, 1); !errors.As(err, &ie) {
		t.Errorf("NewDraftModel with the other-vocabulary draft: err = %v, want a refusal", err)
	}
}

// speculate runs greedy speculative decoding of the target with the
// matched draft (draft-simple, n_max 4) on prompt.
func speculate(tb testing.TB, ms map[string]*engine.Model, prompt []engine.Token, n int, threads int) *spec.Result {
	tb.Helper()
	tc, err := ms[models.Target].NewContext(engine.ContextParams{NCtx: 1024, Threads: threads})
	if err != nil {
		tb.Fatal(err)
	}
	defer tc.Close()
	dc, err := ms[models.Draft].NewContext(engine.ContextParams{NCtx: 1024, Threads: threads})
	if err != nil {
		tb.Fatal(err)
	}
	defer dc.Close()
	tgt, err := spec.NewTarget(tc)
	if err != nil {
		tb.Fatal(err)
	}
	dm, err := drafts.NewDraftModel(drafts.ModelVocab{M: ms[models.Target]}, dc, 1)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := spec.Generate(context.Background(), tgt, dm, prompt,
		spec.Config{NPredict: n, Policy: drafts.Static{NMax: 4}, IgnoreEOG: true}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// TestSpeculativeAcceptance: on held-out Go code, greedy, n_max 4, the
// matched draft's acceptance rate is at least 0.5 and the mean acceptance
// length at least 2, and the output is the target's own greedy output.
func TestSpeculativeAcceptance(t *testing.T) {
	ms := load(t)
	var drafted, accepted, steps int
	for i, p := range prompts(t, ms[models.Target], 8, 128) {
		res := speculate(t, ms, p, 128, 1)
		plain := greedy(t, ms[models.Target], p, 128)
		if d := corpus.FirstDiff(res.Tokens, plain); d >= 0 {
			t.Errorf("prompt %d: speculative output differs from plain greedy decoding at token %d", i, d)
		}
		s := res.Stats
		drafted += s.Drafted
		accepted += s.Accepted
		steps += s.Steps
		t.Logf("prompt %d: acceptance %.3f, mean acceptance length %.2f", i, s.AcceptanceRate(), s.MeanAcceptLen())
	}
	rate := float64(accepted) / float64(drafted)
	tau := 1 + float64(accepted)/float64(steps)
	t.Logf("all prompts: acceptance %.3f, mean acceptance length %.2f (%d drafted, %d steps)", rate, tau, drafted, steps)
	if rate < 0.5 || tau < 2 {
		t.Errorf("acceptance %.3f and mean acceptance length %.2f; want >= 0.5 and >= 2", rate, tau)
	}
}

// TestHybridLossless: on the hybrid target every proposer, through partial
// checkpoints, gives the target's plain greedy output, rejections included;
// and its greedy output is the same on every run.
func TestHybridLossless(t *testing.T) {
	ms := load(t)
	h := ms[models.HybridTarget]
	ps := prompts(t, h, 3, 128)
	if a, b := greedy(t, h, ps[0], 48), greedy(t, h, ps[0], 48); corpus.FirstDiff(a, b) >= 0 {
		t.Fatalf("two greedy runs of the hybrid target differ at token %d", corpus.FirstDiff(a, b))
	}
	small := func(typ string) map[string]int {
		return map[string]int{"spec-" + typ + "-size-n": 3, "spec-" + typ + "-size-m": 8}
	}
	for _, typ := range []string{"ngram-simple", "ngram-map-k", "ngram-map-k4v", "ngram-mod", "draft-simple"} {
		t.Run(typ, func(t *testing.T) {
			var rejected, checkpoints int
			for i, p := range ps {
				tc, err := h.NewContext(engine.ContextParams{NCtx: 1024})
				if err != nil {
					t.Fatal(err)
				}
				defer tc.Close()
				tgt, err := spec.NewTarget(tc)
				if err != nil {
					t.Fatal(err)
				}
				var prop drafts.Proposer
				if typ == "draft-simple" {
					dc, err := ms[models.Draft].NewContext(engine.ContextParams{NCtx: 1024})
					if err != nil {
						t.Fatal(err)
					}
					defer dc.Close()
					if prop, err = drafts.NewDraftModel(drafts.ModelVocab{M: h}, dc, 1); err != nil {
						t.Fatal(err)
					}
				} else {
					opts := small(typ)
					if typ == "ngram-mod" {
						opts = map[string]int{}
					}
					if prop, err = drafts.NewNgram(typ, opts); err != nil {
						t.Fatal(err)
					}
				}
				res, err := spec.Generate(context.Background(), tgt, prop, p, spec.Config{NPredict: 96, IgnoreEOG: true}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if d := corpus.FirstDiff(res.Tokens, greedy(t, h, p, 96)); d >= 0 {
					t.Fatalf("prompt %d: speculative output differs from plain greedy at token %d", i, d)
				}
				rejected += res.Stats.Drafted - res.Stats.Accepted
				checkpoints += res.Stats.Checkpoints
			}
			if checkpoints == 0 {
				t.Errorf("no checkpoint taken: nothing was drafted")
			}
			t.Logf("%s: %d checkpoints, %d rejected draft tokens", typ, checkpoints, rejected)
		})
	}
}
