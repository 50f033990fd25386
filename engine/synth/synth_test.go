package synth_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/bpe"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/engine/synth"
	"github.com/speclab/speclab/internal/testenv"
)

var weightTypes = []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeMXFP4}

func paths(s synth.Set) []string { return s.Paths() }

func readAll(t *testing.T, s synth.Set) [][]byte {
	t.Helper()
	var out [][]byte
	for _, p := range paths(s) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestDeterministic(t *testing.T) {
	for _, ty := range []gguf.Type{gguf.TypeF32, gguf.TypeMXFP4} {
		t.Run(ty.String(), func(t *testing.T) {
			a, err := synth.WriteSet(t.TempDir(), synth.Options{Seed: 7, Type: ty})
			if err != nil {
				t.Fatal(err)
			}
			b, err := synth.WriteSet(t.TempDir(), synth.Options{Seed: 7, Type: ty})
			if err != nil {
				t.Fatal(err)
			}
			c, err := synth.WriteSet(t.TempDir(), synth.Options{Seed: 8, Type: ty})
			if err != nil {
				t.Fatal(err)
			}
			fa, fb, fc := readAll(t, a), readAll(t, b), readAll(t, c)
			for i, p := range paths(a) {
				if !bytes.Equal(fa[i], fb[i]) {
					t.Errorf("%s: two writes with the same options differ", filepath.Base(p))
				}
				if bytes.Equal(fa[i], fc[i]) {
					t.Errorf("%s: seeds 7 and 8 give the same bytes", filepath.Base(p))
				}
				if len(fa[i]) != len(fc[i]) {
					t.Errorf("%s: the seed changed the file size (%d, %d)", filepath.Base(p), len(fa[i]), len(fc[i]))
				}
			}
		})
	}
}

func TestWriteSetIdempotent(t *testing.T) {
	dir := t.TempDir()
	s, err := synth.WriteSet(dir, synth.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var before []os.FileInfo
	for _, p := range paths(s) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, fi)
	}
	// Rewriting the same set leaves the files alone ...
	if _, err := synth.WriteSet(dir, synth.Options{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	for i, p := range paths(s) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(before[i], fi) {
			t.Errorf("%s was rewritten although its content was right", filepath.Base(p))
		}
	}
	// ... a damaged file is repaired ...
	if err := os.WriteFile(s.Draft, []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := synth.WriteSet(dir, synth.Options{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := gguf.Open(s.Draft); err != nil {
		t.Errorf("damaged draft not repaired: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != len(s.Paths()) {
		t.Errorf("%d entries in the folder, want the %d models only", len(entries), len(s.Paths()))
	}
	// ... and another seed's models are not overwritten without Overwrite.
	was, _ := os.ReadFile(s.Target)
	if _, err := synth.WriteSet(dir, synth.Options{Seed: 2}); !errors.Is(err, synth.ErrExists) {
		t.Fatalf("another seed over the set: %v, want ErrExists", err)
	}
	if after, _ := os.ReadFile(s.Target); !bytes.Equal(was, after) {
		t.Error("a refused WriteSet changed the target")
	}
	if _, err := synth.WriteSet(dir, synth.Options{Seed: 2, Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(s.Target); bytes.Equal(was, after) {
		t.Error("Overwrite did not replace the target")
	}
}

func TestFiles(t *testing.T) {
	for _, ty := range weightTypes {
		t.Run(ty.String(), func(t *testing.T) {
			s, err := synth.WriteSet(t.TempDir(), synth.Options{Seed: 3, Type: ty})
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				path, arch string
				vocab      int
				embd       uint64
			}{
				{s.Target, "llama", synth.DefaultVocab, 128},
				{s.Draft, "llama", synth.DefaultVocab, 64},
				{s.OtherVocab, "llama", synth.DefaultVocab + 256, 64},
				{s.Recurrent, "mamba", synth.DefaultVocab, 64},
				{s.Hybrid, "qwen35", synth.DefaultVocab, 64},
			}
			for _, tt := range tests {
				f, err := gguf.Open(tt.path)
				if err != nil {
					t.Fatal(err)
				}
				if f.FileSize > 4<<20 {
					t.Errorf("%s is %d bytes, more than 4 MiB", tt.path, f.FileSize)
				}
				if got := f.Architecture(); got != tt.arch {
					t.Errorf("%s: architecture %q, want %q", tt.path, got, tt.arch)
				}
				if toks, _ := f.Strings("tokenizer.ggml.tokens"); len(toks) != tt.vocab {
					t.Errorf("%s: %d tokens, want %d", tt.path, len(toks), tt.vocab)
				}
				if n, _ := f.Uint(tt.arch + ".embedding_length"); n != tt.embd {
					t.Errorf("%s: n_embd %d, want %d", tt.path, n, tt.embd)
				}
				emb, ok := f.Tensor("token_embd.weight")
				if !ok || emb.Type != ty || !slices.Equal(emb.Shape, []uint64{tt.embd, uint64(tt.vocab)}) {
					t.Errorf("%s: token_embd %+v, want %v of shape [%d %d]", tt.path, emb, ty, tt.embd, tt.vocab)
				}
				for _, ti := range f.Tensors {
					if len(ti.Shape) == 1 && ti.Type != gguf.TypeF32 {
						t.Errorf("%s: 1-D tensor %s is %v, want F32", tt.path, ti.Name, ti.Type)
					}
				}
			}
		})
	}
}

// compatible is llama.cpp's common_speculative_are_compatible for two
// tokenizers: same add_bos/BOS and add_eos/EOS, sizes at most 128 apart,
// and equal token texts from id 5 up to the smaller size.
func compatible(a, b *bpe.Tokenizer) error {
	if a.AddBOS != b.AddBOS || a.AddBOS && a.BOS != b.BOS {
		return fmt.Errorf("BOS differs")
	}
	if d := len(a.Tokens) - len(b.Tokens); d > 128 || d < -128 {
		return fmt.Errorf("sizes %d and %d are more than 128 apart", len(a.Tokens), len(b.Tokens))
	}
	for i := 5; i < min(len(a.Tokens), len(b.Tokens)); i++ {
		if a.Tokens[i] != b.Tokens[i] {
			return fmt.Errorf("token %d differs: %q, %q", i, a.Tokens[i], b.Tokens[i])
		}
	}
	return nil
}

func TestTokenizers(t *testing.T) {
	for _, size := range []int{synth.DefaultVocab, 1000, 32000} {
		tok, err := synth.Tokenizer(size)
		if err != nil {
			t.Fatal(err)
		}
		other, err := synth.OtherTokenizer(size)
		if err != nil {
			t.Fatal(err)
		}
		if len(tok.Tokens) != size || len(other.Tokens) != size+256 {
			t.Fatalf("sizes %d and %d, want %d and %d", len(tok.Tokens), len(other.Tokens), size, size+256)
		}
		if err := compatible(tok, tok); err != nil {
			t.Fatal(err)
		}
		if err := compatible(tok, other); err == nil {
			t.Errorf("size %d: the other vocabulary passes llama.cpp's compatibility check", size)
		}
		// Not only the size: the token texts differ too.
		trimmed := *other
		trimmed.Tokens = other.Tokens[:size]
		if err := compatible(tok, &trimmed); err == nil {
			t.Errorf("size %d: the other vocabulary has the same token texts", size)
		}
	}
	// The default tokenizer is learned from the corpus, not padding.
	tok, err := synth.Tokenizer(synth.DefaultVocab)
	if err != nil {
		t.Fatal(err)
	}
	if tok.BOS != synth.DefaultVocab-2 {
		t.Errorf("BOS at %d: the corpus gave fewer than %d tokens", tok.BOS, synth.DefaultVocab-2)
	}
	text := "The keeper climbed the steps.\nfunc (q *Queue) Len() int { return len(q.items) - q.head }\n"
	if ids := tok.Encode(text); len(ids) > len(text)/2 {
		t.Errorf("%d tokens for %d bytes of corpus-like text: merges do not compress", len(ids), len(text))
	}
}

func TestOptionErrors(t *testing.T) {
	for _, opt := range []synth.Options{
		{Type: gguf.TypeQ4_0},
		{Type: gguf.Type(9999)},
		{VocabSize: 100},
		{VocabSize: -1},
	} {
		if _, err := synth.WriteSet(t.TempDir(), opt); err == nil {
			t.Errorf("WriteSet(%+v) succeeded", opt)
		}
	}
	tok, err := synth.Tokenizer(300)
	if err != nil {
		t.Fatal(err)
	}
	good := synth.DraftConfig(gguf.TypeQ8_0)
	bad := []func(c *synth.LlamaConfig){
		func(c *synth.LlamaConfig) { c.Embd = 0 },
		func(c *synth.LlamaConfig) { c.Heads = 3 },
		func(c *synth.LlamaConfig) { c.HeadsKV = 3 },
		func(c *synth.LlamaConfig) { c.Embd, c.Heads, c.HeadsKV = 48, 2, 1 }, // 48 % 32 != 0 for Q8_0
		func(c *synth.LlamaConfig) { c.FF = 100 },
		func(c *synth.LlamaConfig) { c.CoreEmbd = 65 },
		func(c *synth.LlamaConfig) { c.Type = gguf.TypeBF16 },
	}
	for i, f := range bad {
		c := good
		f(&c)
		if err := synth.WriteLlama(filepath.Join(t.TempDir(), "x.gguf"), c, tok, 1); err == nil {
			t.Errorf("bad config %d (%+v) accepted", i, c)
		}
	}
	if err := synth.WriteLlama(filepath.Join(t.TempDir(), "x.gguf"), good, nil, 1); err == nil {
		t.Error("WriteLlama without a tokenizer succeeded")
	}
	rc := synth.RecurrentModelConfig(gguf.TypeMXFP4)
	rc.Embd = 40
	if err := synth.WriteRecurrent(filepath.Join(t.TempDir(), "x.gguf"), rc, tok, 1); err == nil {
		t.Error("mamba with n_embd 40 in MXFP4 accepted")
	}
	if err := synth.WriteLlama(filepath.Join(t.TempDir(), "no", "such", "dir", "x.gguf"), good, tok, 1); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
}

// logitStats returns the argmax, standard deviation and finiteness of logits.
func logitStats(l []float32) (best int32, sd float64, finite bool) {
	var sum, sq float64
	finite = true
	for i, x := range l {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			finite = false
		}
		if x > l[best] {
			best = int32(i)
		}
		sum += float64(x)
		sq += float64(x) * float64(x)
	}
	n := float64(len(l))
	return best, math.Sqrt(sq/n - (sum/n)*(sum/n)), finite
}

// generate decodes prompt and then n greedy tokens, checking every logit
// vector, and returns the greedy tokens.
func generate(t *testing.T, m *engine.Model, prompt []int32, n int) []int32 {
	t.Helper()
	ctx, err := m.NewContext(engine.ContextParams{NCtx: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	if err := ctx.Decode(prompt, 0, 0, engine.LogitsLast); err != nil {
		t.Fatal(err)
	}
	var out []int32
	for pos := len(prompt); len(out) < n; pos++ {
		id, sd, finite := logitStats(ctx.Logits(-1))
		if !finite || sd < 0.5 {
			t.Fatalf("%s: logits after %d tokens: finite %v, standard deviation %.3f", m.Info.Path, pos, finite, sd)
		}
		out = append(out, id)
		if err := ctx.Decode([]int32{id}, pos, 0, engine.LogitsLast); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func distinct(ids []int32) int {
	seen := map[int32]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	return len(seen)
}

func TestLibllama(t *testing.T) {
	lib := testenv.Lib(t)
	tok, err := synth.Tokenizer(synth.DefaultVocab)
	if err != nil {
		t.Fatal(err)
	}
	prompt := tok.Tokenize("The lighthouse stood at the end of a narrow spit of rock.", true, false)
	for _, ty := range weightTypes {
		t.Run(ty.String(), func(t *testing.T) {
			s, err := synth.WriteSet(t.TempDir(), synth.Options{Seed: 1, Type: ty})
			if err != nil {
				t.Fatal(err)
			}
			models := map[string]*engine.Model{}
			for _, p := range paths(s) {
				m, err := lib.LoadModel(p, engine.ModelParams{})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				models[p] = m
			}
			target, draft, other, rec, hyb := models[s.Target], models[s.Draft], models[s.OtherVocab], models[s.Recurrent], models[s.Hybrid]
			if !rec.Info.Recurrent || target.Info.Recurrent || draft.Info.Recurrent || hyb.Info.Recurrent {
				t.Errorf("recurrent: target %v, draft %v, mamba %v, qwen35 %v", target.Info.Recurrent, draft.Info.Recurrent, rec.Info.Recurrent, hyb.Info.Recurrent)
			}
			if !hyb.Info.Hybrid || rec.Info.Hybrid || target.Info.Hybrid {
				t.Errorf("hybrid: target %v, mamba %v, qwen35 %v", target.Info.Hybrid, rec.Info.Hybrid, hyb.Info.Hybrid)
			}
			for _, m := range []*engine.Model{target, draft, rec, hyb} {
				if m.Info.VocabSize != len(tok.Tokens) || m.Info.BOS != tok.BOS || m.Info.EOS != tok.EOS || m.Info.AddBOS != tok.AddBOS {
					t.Errorf("%s: vocabulary %d BOS %d EOS %d add_bos %v", m.Info.Path, m.Info.VocabSize, m.Info.BOS, m.Info.EOS, m.Info.AddBOS)
				}
			}
			if other.Info.VocabSize-target.Info.VocabSize <= 128 {
				t.Errorf("other vocabulary has %d tokens, target %d", other.Info.VocabSize, target.Info.VocabSize)
			}
			if ok, err := rec.CanRemoveTail(); ok || err != nil {
				t.Errorf("mamba CanRemoveTail = %v, %v; want false", ok, err)
			}
			if ok, err := hyb.CanRemoveTail(); ok || err != nil {
				t.Errorf("qwen35 CanRemoveTail = %v, %v; want false", ok, err)
			}
			if ok, err := target.CanRemoveTail(); !ok || err != nil {
				t.Errorf("target CanRemoveTail = %v, %v; want true", ok, err)
			}

			for _, m := range []*engine.Model{target, draft, other, rec, hyb} {
				out := generate(t, m, prompt, 24)
				if d := distinct(out); d < 6 {
					t.Errorf("%s: greedy output %v has only %d distinct tokens", m.Info.Path, out, d)
				}
				for _, id := range out {
					if m.IsControl(id) {
						t.Errorf("%s: greedy output %v contains control token %d", m.Info.Path, out, id)
					}
				}
			}
		})
	}
}

// TestDraftAgrees checks that the draft predicts most of the target's
// greedy tokens, so that speculative decoding with the set accepts drafts.
func TestDraftAgrees(t *testing.T) {
	lib := testenv.Lib(t)
	s, err := synth.WriteSet(t.TempDir(), synth.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := synth.Tokenizer(synth.DefaultVocab)
	if err != nil {
		t.Fatal(err)
	}
	target, err := lib.LoadModel(s.Target, engine.ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	draft, err := lib.LoadModel(s.Draft, engine.ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer draft.Close()

	prompt := tok.Tokenize("It's easy to forget", true, false)
	seq := append(prompt, generate(t, target, prompt, 64)...)
	ctx, err := draft.NewContext(engine.ContextParams{NCtx: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	if err := ctx.Decode(seq, 0, 0, engine.LogitsAll); err != nil {
		t.Fatal(err)
	}
	agree := 0
	for i := len(prompt) - 1; i < len(seq)-1; i++ {
		if best, _, _ := logitStats(ctx.Logits(i)); best == seq[i+1] {
			agree++
		}
	}
	if agree < 64/2 {
		t.Errorf("the draft predicts %d of the target's 64 greedy tokens, want at least half", agree)
	}
	t.Logf("draft agrees on %d of 64 target tokens", agree)
}

// TestLargeVocab makes a target with a 32k vocabulary cheaply (small dims)
// and loads it.
func TestLargeVocab(t *testing.T) {
	tok, err := synth.Tokenizer(32000)
	if err != nil {
		t.Fatal(err)
	}
	cfg := synth.LlamaConfig{Name: "big-vocab", Embd: 32, Layers: 1, Heads: 1, HeadsKV: 1, FF: 32, Context: 256, Type: gguf.TypeQ8_0}
	path := filepath.Join(t.TempDir(), "big.gguf")
	if err := synth.WriteLlama(path, cfg, tok, 1); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := f.Uint("llama.vocab_size"); n != 32000 {
		t.Errorf("vocab_size %d", n)
	}
	lib := testenv.Lib(t)
	m, err := lib.LoadModel(path, engine.ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out := generate(t, m, tok.Tokenize("Winter came early", true, false), 8)
	for _, id := range out {
		if int(id) >= int(tok.BOS) {
			t.Errorf("greedy output %v contains special or padding token %d", out, id)
		}
	}
}

func BenchmarkWriteSet(b *testing.B) {
	for _, ty := range []gguf.Type{gguf.TypeF32, gguf.TypeMXFP4} {
		b.Run(ty.String(), func(b *testing.B) {
			dir := b.TempDir()
			for i := 0; b.Loop(); i++ {
				// A new seed each time, so nothing is skipped as unchanged.
				if _, err := synth.WriteSet(dir, synth.Options{Seed: uint64(i), Type: ty}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
