package bpe_test

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/bpe"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/testenv"
)

// corpus is a small training text with prose, code, digits and non-ASCII.
var corpus = []string{
	`The quick brown fox jumps over the lazy dog. It's a sentence that we've all
seen; they'll see it again, and I'd say you're tired of it. Isn't it?`,
	`func main() {
	for i := 0; i < 10; i++ {
		fmt.Println("hello, world", i*i)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
}`,
	`Prices rose 3.5% in 2024, from $1,299.00 to $1,344.47 — about 45 dollars.
Numbers: 0 1 12 123 1234 12345 123456 3.14159 2.71828 1e10 0x1F.`,
	`Ünïcödé façade naïve café — Grüße aus München! Здравствуй, мир. こんにちは世界。
Emoji: 🚀🦙 ✅ ... "quoted" 'single' (parens) [brackets] {braces} <tags/>`,
	`    indented line
		tabbed line
trailing spaces   
multiple


blank lines`,
}

// probes are texts whose tokenization must match libllama's.
var probes = []string{
	"", " ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", "\t\n", " \n", "\n ", "a  b", "a   b\n",
	"Hello world", " Hello world", "Hello World!", "Hello, world!", "  Hello", "    Hello\n    Hello",
	"It's", "it's we've they'll I'd you're I'M 'RE 'Ve 'x '", "don't'll've",
	"3", "33", "333", "3333", "3.14159", "1,299.00", "$5", "x=12345678901234567890",
	"func f(a, b int) (int, error) { return a+b, nil }\n",
	"if err != nil {\n\treturn err\n}\n",
	"a\u00a0b\u2003c\u3000d", "tab\tsep\u000bvt\u000cff\r\ncrlf",
	"Grüße, naïve façade", "нещо на Български", "こんにちは世界", "我想在apple工作1314151天～",
	"🚀 (normal) 😶\u200d🌫️ (multiple emojis) ✅", "🦙🦙🦙", "①②③ ⅫⅧ ²³ ¼½",
	"\u2ebf0\U0002EBF0\U0002EE5D x", // CJK Extension I counts as letters in llama.cpp
	"ab\u0301c e\u0308", "\u0085next line", "\x00nul\x01ctl\x7fdel",
	"<|endoftext|>", "text <|endoftext|> more <|pad|>",
	"\xff", "\xc3", "a\xc3(b", "\xe2\x82", "\xed\xa0\x80", "\xc0\x80", "ok\x80\x80ok",
	"----======......!!!!!!??????''''''```````\"\"\"\"",
	strings.Repeat("x", 300), strings.Repeat(" ", 40) + "end", strings.Repeat("ab ", 100),
}

// randomText builds a text from pieces chosen to hit the pre-tokenizer's
// edge cases.
func randomText(r *rand.Rand) string {
	pieces := []string{
		" ", "  ", "\t", "\n", "\r\n", "'", "'s", "'ll", "'re", "a", "b", "the", "The", " the",
		"0", "7", "42", ".", ",", "!", "(", ")", "{", "}", ":=", "==", "->", "é", "ü", "ß",
		"ж", "中", "文", "😀", "🦙", "\u200d", "\u0301", "\u00a0", "\u2028", "٣", "Ⅻ", "\xff", "\xc3",
		"func", "return", "err", "nil", "<|endoftext|>",
	}
	var b strings.Builder
	for n := r.IntN(24); n >= 0; n-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// writeVocab writes a vocabulary-only GGUF of tok and loads it.
func loadVocab(t *testing.T, lib *engine.Lib, tok *bpe.Tokenizer) *engine.Model {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vocab.gguf")
	kv := append([]gguf.KV{{Key: "general.architecture", Value: "llama"}}, tok.GGUFKV()...)
	if err := gguf.WriteFile(path, kv, nil); err != nil {
		t.Fatal(err)
	}
	m, err := lib.LoadModel(path, engine.ModelParams{VocabOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// TestSanitize checks that text libllama would abort on tokenizes, once
// sanitized, as Encode tokenizes the original.
func TestSanitize(t *testing.T) {
	lib := testenv.Lib(t)
	tok, err := bpe.Train(corpus, 700)
	if err != nil {
		t.Fatal(err)
	}
	m := loadVocab(t, lib, tok)
	for _, s := range []string{"\xf4\x8f\xbf\xbf", "a\xf4\x90\x80\x80b", "\xf5\x80\x80\x80", "\xf7\xbf\xbf\xbf\xf7", "x\xf6\x80\x80"} {
		want, err := m.Tokenize(bpe.Sanitize(s), false, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Encode(s); !slices.Equal(got, want) {
			t.Errorf("Encode(%q) = %v, libllama tokenizes Sanitize(%[1]q) = %q to %v", s, got, bpe.Sanitize(s), want)
		}
	}
}

// TestMatchesLibllama is the acid test: a trained vocabulary written to
// GGUF tokenizes every probe in libllama exactly as Encode does, and
// libllama reports the same vocabulary and special tokens.
func TestMatchesLibllama(t *testing.T) {
	lib := testenv.Lib(t)
	// Texts that start with BOS make libllama warn about a double BOS.
	engine.SetLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	t.Cleanup(func() { engine.SetLogger(nil) })
	for _, size := range []int{300, 700, 1200} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			tok, err := bpe.Train(corpus, size)
			if err != nil {
				t.Fatal(err)
			}
			m := loadVocab(t, lib, tok)
			if m.Info.VocabSize != len(tok.Tokens) {
				t.Fatalf("libllama vocabulary has %d tokens, want %d", m.Info.VocabSize, len(tok.Tokens))
			}
			if m.Info.VocabType.String() != "BPE" || m.Info.BOS != tok.BOS || m.Info.EOS != tok.EOS || m.Info.AddBOS != tok.AddBOS {
				t.Errorf("libllama: type %v BOS %d EOS %d add_bos %v; want BPE %d %d %v",
					m.Info.VocabType, m.Info.BOS, m.Info.EOS, m.Info.AddBOS, tok.BOS, tok.EOS, tok.AddBOS)
			}
			for id, text := range tok.Tokens {
				if got := m.TokenText(int32(id)); got != text {
					t.Fatalf("token %d: libllama has %q, want %q", id, got, text)
				}
			}

			texts := slices.Clone(probes)
			texts = append(texts, corpus...)
			r := rand.New(rand.NewPCG(uint64(size), 7))
			for range 300 {
				texts = append(texts, randomText(r))
			}
			for _, text := range texts {
				for _, mode := range []struct{ addSpecial, parseSpecial bool }{{false, false}, {true, false}, {true, true}} {
					want, err := m.Tokenize(text, mode.addSpecial, mode.parseSpecial)
					if err != nil {
						t.Fatal(err)
					}
					got := tok.Tokenize(text, mode.addSpecial, mode.parseSpecial)
					if !slices.Equal(got, want) {
						t.Errorf("Tokenize(%q, %v, %v):\n go       %v\n libllama %v", text, mode.addSpecial, mode.parseSpecial, got, want)
					}
				}
				ids := tok.Encode(text)
				var pieces []byte
				for _, id := range ids {
					pieces = m.Piece(pieces, id, false)
				}
				if got := tok.Decode(ids); got != string(pieces) {
					t.Errorf("Decode(Encode(%q)) = %q, libllama's pieces make %q", text, got, pieces)
				}
			}
		})
	}
}
