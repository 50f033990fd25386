package bpe_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/speclab/speclab/engine/bpe"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/testenv"
)

// readVectors reads llama.cpp's tokenizer test vectors for a vocabulary, in
// the format of tests/test-tokenizer-0.cpp.
func readVectors(t *testing.T, base string) (inputs []string, want [][]int32) {
	t.Helper()
	inp, err := os.ReadFile(base + ".inp")
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(base + ".out")
	if err != nil {
		t.Fatal(err)
	}
	// As test-tokenizer-0 does: a separator at the very end starts no input.
	const sep = "\n__ggml_vocab_test__\n"
	inputs = strings.Split(strings.TrimSuffix(string(inp), sep), sep)
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(inputs) {
		t.Fatalf("%s: %d inputs but %d outputs", base, len(inputs), len(lines))
	}
	for _, l := range lines {
		var ids []int32
		for _, f := range strings.Fields(l) {
			n, err := strconv.ParseInt(f, 10, 32)
			if err != nil {
				t.Fatalf("%s.out: %v", base, err)
			}
			ids = append(ids, int32(n))
		}
		want = append(want, ids)
	}
	return inputs, want
}

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
			inputs, want := readVectors(t, base)
			for i, in := range inputs {
				if got := tok.Encode(in); !slices.Equal(got, want[i]) {
					t.Errorf("Encode(%q) = %v, want %v", in, got, want[i])
				}
			}
		})
	}
}
