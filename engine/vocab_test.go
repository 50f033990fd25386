package engine_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/testenv"
)

// TestVocabVectors tokenizes llama.cpp's own test vectors of real
// vocabularies through the engine and compares ids exactly.
func TestVocabVectors(t *testing.T) {
	lib := testenv.Lib(t)
	dir := testenv.SharedDir(t, "vocabs")
	inps, _ := filepath.Glob(filepath.Join(dir, "*.gguf.inp"))
	if len(inps) == 0 {
		t.Skip("no test vectors in " + dir)
	}
	for _, inp := range inps {
		base := strings.TrimSuffix(inp, ".inp")
		t.Run(filepath.Base(base), func(t *testing.T) {
			m, err := lib.LoadModel(base, engine.ModelParams{VocabOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			inputs, want := testenv.VocabVectors(t, base)
			for i, in := range inputs {
				got, err := m.Tokenize(in, false, false)
				if err != nil {
					t.Fatalf("tokenize %q: %v", in, err)
				}
				if !slices.Equal(got, want[i]) {
					t.Errorf("tokenize %q\n got %v\nwant %v", in, got, want[i])
				}
			}
		})
	}
}

// TestTokenizeRoundTrip checks detokenize(tokenize(s)) == s on byte-level
// BPE vocabularies, where the round trip is exact for any text.
func TestTokenizeRoundTrip(t *testing.T) {
	lib := testenv.Lib(t)
	dir := testenv.SharedDir(t, "vocabs")
	texts := []string{
		"Hello world",
		" leading space and  two spaces",
		"func main() {\n\tfmt.Println(\"hi\")\n}\n",
		"naïve café — 東京 🚀 ½",
		"numbers 1234567890 and 3.14159",
		"\n\n\t \r\n",
		"",
	}
	for _, name := range []string{"ggml-vocab-gpt-2.gguf", "ggml-vocab-starcoder.gguf", "ggml-vocab-deepseek-coder.gguf"} {
		t.Run(name, func(t *testing.T) {
			m, err := lib.LoadModel(filepath.Join(dir, name), engine.ModelParams{VocabOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Info.VocabType != 2 {
				t.Fatalf("vocab type %v, want BPE", m.Info.VocabType)
			}
			for _, s := range texts {
				toks, err := m.Tokenize(s, false, false)
				if err != nil {
					t.Fatal(err)
				}
				back, err := m.Detokenize(toks, false, false)
				if err != nil {
					t.Fatal(err)
				}
				if back != s {
					t.Errorf("round trip %q -> %v -> %q", s, toks, back)
				}
				var pieces []byte
				for _, tok := range toks {
					pieces = m.Piece(pieces, tok, false)
				}
				if string(pieces) != s {
					t.Errorf("pieces of %q join to %q", s, pieces)
				}
			}
		})
	}
}

// TestTokenizeInvalidUTF8 feeds byte sequences that make llama_tokenize
// throw (and abort the process) when passed through unchanged.
func TestTokenizeInvalidUTF8(t *testing.T) {
	lib := testenv.Lib(t)
	m, err := lib.LoadModel(testenv.Models(t, gguf.TypeF32).Target, engine.ModelParams{VocabOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, s := range []string{"\xf5\x80\x80\x80", "a\xf4\x90\x80\x80b", "\xff\xfe", "ok"} {
		toks, err := m.Tokenize(s, false, false)
		if err != nil || len(toks) == 0 {
			t.Errorf("tokenize %q: %v %v", s, toks, err)
		}
	}
}
