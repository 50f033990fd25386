package bpe_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/speclab/speclab/engine/bpe"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/testenv"
)

// TestRealVocabularies checks Encode against llama.cpp's own expected
// tokenizations for real GPT-2-regex vocabularies.
func TestRealVocabularies(t *testing.T) {
	for _, name := range []string{"gpt-2", "mpt"} {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join(testenv.SharedDir(t, "vocabs"), "ggml-vocab-"+name+".gguf")
			f, err := gguf.Open(base)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := bpe.FromGGUF(f)
			if err != nil {
				t.Fatal(err)
			}
			inputs, want := testenv.VocabVectors(t, base)
			for i, in := range inputs {
				if got := tok.Encode(in); !slices.Equal(got, want[i]) {
					t.Errorf("Encode(%q) = %v, want %v", in, got, want[i])
				}
			}
		})
	}
}
