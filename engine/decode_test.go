package engine_test

import (
	"errors"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const prompt = "func main() {\n\tfmt.Println(\"hello, world\")\n}\n// The quick brown fox"

func load(t testing.TB, path string) *engine.Model { return testenv.Load(t, path) }

func newCtx(t testing.TB, m *engine.Model, n int) *engine.Context { return testenv.Context(t, m, n) }

func tokens(t testing.TB, m *engine.Model, s string) []engine.Token {
	t.Helper()
	toks := testenv.Tokenize(t, m, s)
	if len(toks) < 8 {
		t.Fatalf("prompt tokenized to only %d tokens", len(toks))
	}
	return toks
}

func argmax(l []float32) engine.Token {
	best := 0
	for i, v := range l {
		if v > l[best] {
			best = i
		}
	}
	return engine.Token(best)
}

// allLogits decodes toks from position 0 with logits for every token and
// returns copies.
func allLogits(t testing.TB, c *engine.Context, toks []engine.Token, pos int) [][]float32 {
	t.Helper()
	if err := c.Decode(toks, pos, 0, engine.LogitsAll); err != nil {
		t.Fatal(err)
	}
	out := make([][]float32, len(toks))
	for i := range toks {
		l := c.Logits(i)
		if l == nil {
			t.Fatalf("no logits for token %d", i)
		}
		out[i] = slices.Clone(l)
	}
	return out
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// greedy generates n tokens after the prompt with plain argmax decoding.
func greedy(t testing.TB, c *engine.Context, toks []engine.Token, n int) []engine.Token {
	t.Helper()
	c.ClearMemory()
	if err := c.Decode(toks, 0, 0, engine.LogitsLast); err != nil {
		t.Fatal(err)
	}
	var out []engine.Token
	pos := len(toks)
	for range n {
		next := argmax(c.Logits(-1))
		out = append(out, next)
		if err := c.Decode([]engine.Token{next}, pos, 0, engine.LogitsLast); err != nil {
			t.Fatal(err)
		}
		pos++
	}
	return out
}

var weightTypes = []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeMXFP4}

func TestModelInfoMatchesGGUF(t *testing.T) {
	for _, wt := range weightTypes {
		t.Run(wt.String(), func(t *testing.T) {
			set := testenv.Models(t, wt)
			m := load(t, set.Target)
			s := m.File.Summarize()
			if m.Info.Architecture != s.Architecture || m.Info.Architecture != "llama" {
				t.Errorf("architecture %q, GGUF says %q", m.Info.Architecture, s.Architecture)
			}
			if uint64(m.Info.VocabSize) != s.VocabSize || m.Info.VocabType != 2 {
				t.Errorf("vocab %d (%v), GGUF says %d", m.Info.VocabSize, m.Info.VocabType, s.VocabSize)
			}
			if uint64(m.Info.Layers) != s.BlockCount || uint64(m.Info.Embd) != s.EmbeddingLength {
				t.Errorf("layers/embd %d/%d, GGUF says %d/%d", m.Info.Layers, m.Info.Embd, s.BlockCount, s.EmbeddingLength)
			}
			if m.Info.Params != s.Params {
				t.Errorf("params %d, GGUF says %d", m.Info.Params, s.Params)
			}
			if m.Info.Recurrent || m.Info.Hybrid {
				t.Error("llama model reported recurrent/hybrid")
			}
		})
	}
}

// TestDecodeDeterministic: the same tokens give bit-identical logits in a
// fresh pass, and the random models do not collapse to one token.
func TestDecodeDeterministic(t *testing.T) {
	for _, wt := range weightTypes {
		t.Run(wt.String(), func(t *testing.T) {
			m := load(t, testenv.Models(t, wt).Target)
			c := newCtx(t, m, 256)
			toks := tokens(t, m, prompt)
			first := allLogits(t, c, toks, 0)
			c.ClearMemory()
			second := allLogits(t, c, toks, 0)
			for i := range first {
				for j, v := range first[i] {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("logit %d of token %d is %v", j, i, v)
					}
				}
				if d := maxDiff(first[i], second[i]); d != 0 {
					t.Errorf("token %d: logits differ by %g between two passes", i, d)
				}
			}
			g1 := greedy(t, c, toks, 16)
			g2 := greedy(t, c, toks, 16)
			if !slices.Equal(g1, g2) {
				t.Errorf("greedy runs differ: %v vs %v", g1, g2)
			}
			distinct := map[engine.Token]bool{}
			for _, tok := range g1 {
				distinct[tok] = true
			}
			if len(distinct) < 2 {
				t.Errorf("greedy output is one token repeated: %v", g1)
			}
		})
	}
}

// TestRemoveTailRedecode: after dropping a tail of the KV cache and decoding
// it again, the logits are exactly those of a fresh context that never saw
// the tail — the basis of draft rollback. (They also equal the first pass
// whenever the batch shape is the same; ggml takes other kernels for other
// batch sizes, so the first pass is matched within a tolerance.)
func TestRemoveTailRedecode(t *testing.T) {
	for _, wt := range weightTypes {
		t.Run(wt.String(), func(t *testing.T) {
			m := load(t, testenv.Models(t, wt).Target)
			c := newCtx(t, m, 256)
			fresh := newCtx(t, m, 256)
			pinned := testenv.Lib(t).Version == "0.5.0-dev"
			toks := tokens(t, m, prompt)
			first := allLogits(t, c, toks, 0)
			n := len(toks)
			for _, k := range []int{1, 3, n / 2} {
				if !c.RemoveTail(0, n-k) {
					t.Fatalf("RemoveTail(%d) refused on a KV-cache model", n-k)
				}
				if got := c.PosMax(0); got != n-k-1 {
					t.Fatalf("after removing from %d, PosMax = %d", n-k, got)
				}
				again := allLogits(t, c, toks[n-k:], n-k)
				fresh.ClearMemory()
				allLogits(t, fresh, toks[:n-k], 0)
				want := allLogits(t, fresh, toks[n-k:], n-k)
				var maxFresh, maxFirst float64
				for i := range again {
					maxFresh = max(maxFresh, maxDiff(want[i], again[i]))
					maxFirst = max(maxFirst, maxDiff(first[n-k+i], again[i]))
				}
				// Against the first pass the batch shape differs, and ggml
				// picks kernels by batch size, so within 1e-2; against the
				// fresh context exactly. That holds on the pinned release.
				// Older ones (b7836) pick kernels by batch size for more
				// shapes: their KV cells depend on how the prompt was
				// batched, by up to 0.1 in the logits of a Q8_0 model. That
				// is the library's numerics, not rollback, so there it is
				// measured and logged, not asserted.
				switch {
				case !pinned:
					t.Logf("k=%d: after rollback the logits differ by %.3g from a fresh context and %.3g from the first pass", k, maxFresh, maxFirst)
				case maxFresh != 0:
					t.Errorf("k=%d: logits after rollback differ by %g from a fresh context", k, maxFresh)
				case maxFirst > 1e-2:
					t.Errorf("k=%d: re-decoded logits differ by %g from the first pass", k, maxFirst)
				}
			}
		})
	}
}

func TestCanRemoveTail(t *testing.T) {
	set := testenv.Models(t, gguf.TypeQ8_0)
	tests := []struct {
		path string
		want bool
	}{
		{set.Target, true},
		{set.Draft, true},
		{set.Recurrent, false},
	}
	for _, tt := range tests {
		m := load(t, tt.path)
		got, err := m.CanRemoveTail()
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s: CanRemoveTail = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// TestStateSaveRestore: state save → decode → restore → decode gives
// identical logits, on the recurrent model (where it is the only way back)
// and on the transformer.
func TestStateSaveRestore(t *testing.T) {
	set := testenv.Models(t, gguf.TypeQ8_0)
	for _, path := range []string{set.Recurrent, set.Target} {
		t.Run(path, func(t *testing.T) {
			m := load(t, path)
			if path == set.Recurrent && !(m.Info.Recurrent || m.Info.Hybrid) {
				t.Fatalf("%s is not recurrent or hybrid", path)
			}
			c := newCtx(t, m, 256)
			toks := tokens(t, m, prompt)
			if err := c.Decode(toks, 0, 0, engine.LogitsLast); err != nil {
				t.Fatal(err)
			}
			state, err := c.SaveState(nil, 0)
			if err != nil || len(state) == 0 {
				t.Fatalf("save state: %d bytes, %v", len(state), err)
			}
			pos := len(toks)
			draft := []engine.Token{toks[1], toks[2], toks[3]}
			first := allLogits(t, c, draft, pos)
			// Restore, then decode something else: logits must differ
			// (the test could fail), then restore and repeat the draft.
			if err := c.LoadState(0, state); err != nil {
				t.Fatal(err)
			}
			other := allLogits(t, c, []engine.Token{toks[4], toks[5], toks[6]}, pos)
			if maxDiff(first[2], other[2]) == 0 {
				t.Fatal("different tokens gave identical logits")
			}
			c.RemoveSeq(0)
			if err := c.LoadState(0, state); err != nil {
				t.Fatal(err)
			}
			if got := c.PosMax(0); got != pos-1 {
				t.Errorf("after restore PosMax = %d, want %d", got, pos-1)
			}
			again := allLogits(t, c, draft, pos)
			for i := range first {
				if d := maxDiff(first[i], again[i]); d != 0 {
					t.Errorf("token %d: logits after restore differ by %g", i, d)
				}
			}
		})
	}
}

// TestCheckpoint: Save → decode a draft → Restore → decode gives the
// logits of the first decode, for the hybrid model (partial: recurrent part
// only, attention tail dropped), the mamba model (whole state) and the
// transformer; a partial checkpoint's size does not grow with the context
// while the whole hybrid state does.
func TestCheckpoint(t *testing.T) {
	set := testenv.Models(t, gguf.TypeQ8_0)
	tests := []struct {
		path    string
		partial bool
	}{
		{set.Hybrid, true},
		{set.Recurrent, false},
		{set.Target, false},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			m := load(t, tt.path)
			c := newCtx(t, m, 256)
			if got := c.PartialCheckpoints(); got != tt.partial {
				t.Fatalf("PartialCheckpoints = %v, want %v", got, tt.partial)
			}
			toks := tokens(t, m, prompt)
			if err := c.Decode(toks, 0, 0, engine.LogitsLast); err != nil {
				t.Fatal(err)
			}
			pos := len(toks)
			var ck engine.Checkpoint
			if err := c.Save(&ck, 0); err != nil {
				t.Fatal(err)
			}
			if ck.Pos() != pos || ck.Partial() != tt.partial || ck.Bytes() == 0 {
				t.Fatalf("checkpoint pos %d partial %v bytes %d; want pos %d partial %v", ck.Pos(), ck.Partial(), ck.Bytes(), pos, tt.partial)
			}
			full := c.StateSize(0)
			if tt.partial && ck.Bytes() >= full {
				t.Errorf("partial checkpoint %d bytes, the whole state %d", ck.Bytes(), full)
			}
			draft := []engine.Token{toks[1], toks[2], toks[3]}
			first := allLogits(t, c, draft, pos)
			for range 2 {
				if err := c.Restore(&ck, 0); err != nil {
					t.Fatal(err)
				}
				if got := c.PosMax(0); got != pos-1 {
					t.Fatalf("after restore PosMax = %d, want %d", got, pos-1)
				}
				again := allLogits(t, c, draft, pos)
				for i := range first {
					if d := maxDiff(first[i], again[i]); d != 0 {
						t.Errorf("token %d: logits after restore differ by %g", i, d)
					}
				}
			}
			// 64 more tokens: a partial checkpoint keeps its size, the
			// whole state grows with the attention cells.
			more := make([]engine.Token, 64)
			for i := range more {
				more[i] = toks[i%len(toks)]
			}
			if err := c.Decode(more, pos+len(draft), 0, engine.LogitsLast); err != nil {
				t.Fatal(err)
			}
			was := ck.Bytes()
			if err := c.Save(&ck, 0); err != nil {
				t.Fatal(err)
			}
			grown := c.StateSize(0) > full
			switch {
			case tt.partial && ck.Bytes() != was:
				t.Errorf("partial checkpoint grew from %d to %d bytes over 64 tokens", was, ck.Bytes())
			case m.Info.Hybrid && !grown:
				t.Errorf("whole hybrid state did not grow over 64 tokens (%d bytes)", full)
			}
		})
	}
}

func TestRecurrentRefusesTailRemoval(t *testing.T) {
	m := load(t, testenv.Models(t, gguf.TypeQ8_0).Recurrent)
	c := newCtx(t, m, 128)
	toks := tokens(t, m, prompt)
	if err := c.Decode(toks, 0, 0, engine.LogitsLast); err != nil {
		t.Fatal(err)
	}
	if c.RemoveTail(0, len(toks)-2) {
		t.Fatal("recurrent memory accepted a partial removal")
	}
	if got := c.PosMax(0); got != len(toks)-1 {
		t.Errorf("refused removal changed memory: PosMax %d, want %d", got, len(toks)-1)
	}
}

func TestDecodeErrors(t *testing.T) {
	m := load(t, testenv.Models(t, gguf.TypeQ8_0).Target)
	c := newCtx(t, m, 32)
	if c.NCtx() < 32 {
		t.Fatalf("n_ctx %d", c.NCtx())
	}
	long := make([]engine.Token, c.NCtx()+1)
	err := c.Decode(long, 0, 0, engine.LogitsLast)
	if !errors.Is(err, engine.ErrContextFull) {
		t.Errorf("overflowing decode: %v, want ErrContextFull", err)
	}
	if err := c.Decode([]engine.Token{engine.Token(m.Info.VocabSize)}, 0, 0, engine.LogitsLast); err == nil {
		t.Error("out-of-vocabulary token accepted")
	}
	if err := c.Decode(nil, 0, 0, engine.LogitsLast); err == nil {
		t.Error("empty decode accepted")
	}
}

// TestDecodeSelect: logits exist exactly where they were asked for, and
// equal those of a full pass.
func TestDecodeSelect(t *testing.T) {
	m := load(t, testenv.Models(t, gguf.TypeF32).Target)
	c := newCtx(t, m, 128)
	toks := tokens(t, m, prompt)
	full := allLogits(t, c, toks, 0)
	c.ClearMemory()
	want := make([]bool, len(toks))
	want[2], want[5], want[len(toks)-1] = true, true, true
	if err := c.DecodeSelect(toks, 0, 0, want); err != nil {
		t.Fatal(err)
	}
	for i := range toks {
		l := c.Logits(i)
		if (l != nil) != want[i] {
			t.Fatalf("token %d: logits present %v, asked %v", i, l != nil, want[i])
		}
		if l != nil && maxDiff(l, full[i]) > 1e-4 {
			t.Errorf("token %d: selected logits differ from full pass by %g", i, maxDiff(l, full[i]))
		}
	}
}

// TestLongPromptSplits: a prompt longer than the batch is decoded in pieces.
func TestLongPromptSplits(t *testing.T) {
	m := load(t, testenv.Models(t, gguf.TypeQ8_0).Draft)
	c, err := m.NewContext(engine.ContextParams{NCtx: 256, NBatch: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var toks []engine.Token
	for len(toks) < 100 {
		toks = append(toks, tokens(t, m, prompt)...)
	}
	if err := c.Decode(toks, 0, 0, engine.LogitsLast); err != nil {
		t.Fatal(err)
	}
	if c.Logits(-1) == nil || c.PosMax(0) != len(toks)-1 {
		t.Fatalf("after split decode: logits %v, PosMax %d", c.Logits(-1) != nil, c.PosMax(0))
	}
	p := c.Perf()
	if p.NPromptEval+p.NEval == 0 {
		t.Errorf("perf counters read zero: %+v", p)
	}
}

func TestWarmupLeavesMemoryEmpty(t *testing.T) {
	set := testenv.Models(t, gguf.TypeQ8_0)
	for _, tc := range []struct {
		name, model string
		every       bool
	}{
		{"sparse", set.Target, false},
		{"every shape", set.Target, true},         // what a GPU session does
		{"every shape, hybrid", set.Hybrid, true}, // no tail to drop: the filled context is cleared whole
		{"every shape, recurrent", set.Recurrent, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, tc.model)
			c := newCtx(t, m, 256)
			warm := c.Warmup
			if tc.every {
				warm = c.WarmupEvery
			}
			if err := warm(65); err != nil {
				t.Fatal(err)
			}
			if got := c.PosMax(0); got != -1 {
				t.Fatalf("after warm-up PosMax = %d, want -1 (empty)", got)
			}
			toks := tokens(t, m, prompt)
			if err := c.Decode(toks[:8], 0, 0, engine.LogitsLast); err != nil {
				t.Fatalf("decode after warm-up: %v", err)
			}
		})
	}
}

// TestThreadpool: a context gets a persistent threadpool (unless told not
// to), and the logits are those of ggml's per-call threads, bit for bit.
func TestThreadpool(t *testing.T) {
	m := load(t, testenv.Models(t, gguf.TypeQ8_0).Target)
	toks := tokens(t, m, prompt)
	var rows [][]float32
	for _, p := range []engine.ContextParams{
		{NCtx: 128, Threads: 2, NoThreadpool: true},
		{NCtx: 128, Threads: 2},
		{NCtx: 128, Threads: 2, Poll: 50},
	} {
		c, err := m.NewContext(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := engine.HasThreadpool(c); got == p.NoThreadpool {
			t.Errorf("%+v: threadpool %v", p, got)
		}
		if err := c.Decode(toks, 0, 0, engine.LogitsLast); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, slices.Clone(c.Logits(-1)))
		c.Close()
	}
	for i := 1; i < len(rows); i++ {
		if d := maxDiff(rows[0], rows[i]); d != 0 {
			t.Errorf("logits with threadpool %d differ by %g from per-call threads", i, d)
		}
	}
}
