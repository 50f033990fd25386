package bpe

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Token types of tokenizer.ggml.token_type (llama_token_type in llama.h).
const (
	TypeNormal  int32 = 1
	TypeUnknown int32 = 2
	TypeControl int32 = 3
	TypeUser    int32 = 4
	TypeUnused  int32 = 5
	TypeByte    int32 = 6
)

// NoToken marks an absent special token id.
const NoToken int32 = -1

// Tokenizer is a byte-level BPE vocabulary. Make one with [Train] or [New];
// do not modify its fields afterwards. Its methods are safe for concurrent
// use.
type Tokenizer struct {
	// Tokens holds each token's text in GPT-2's byte-to-unicode encoding
	// (the form of tokenizer.ggml.tokens); the index is the token id.
	Tokens []string
	// Types holds each token's type (TypeNormal, TypeControl, ...).
	Types []int32
	// Merges holds the merge rules, "left right", highest priority first.
	Merges []string
	// BOS, EOS and PAD are special token ids, or NoToken.
	BOS, EOS, PAD int32
	// AddBOS tells libllama to put BOS in front of a text tokenized with
	// add_special (tokenizer.ggml.add_bos_token).
	AddBOS bool

	ids     map[string]int32
	ranks   map[[2]string]int
	special []int32 // control, user-defined and unknown tokens, longest first
}

// New checks a vocabulary and returns a Tokenizer for it. Every token text
// must be unique and non-empty, and every merge must be two non-empty halves
// separated by one space. The special ids must be NoToken or valid ids.
func New(tokens []string, types []int32, merges []string, bos, eos, pad int32, addBOS bool) (*Tokenizer, error) {
	if len(types) != len(tokens) {
		return nil, fmt.Errorf("bpe: %d token types for %d tokens", len(types), len(tokens))
	}
	if len(tokens) > 1<<31-1 {
		return nil, fmt.Errorf("bpe: %d tokens is too many", len(tokens))
	}
	t := &Tokenizer{
		Tokens: tokens, Types: types, Merges: merges,
		BOS: bos, EOS: eos, PAD: pad, AddBOS: addBOS,
		ids:   make(map[string]int32, len(tokens)),
		ranks: make(map[[2]string]int, len(merges)),
	}
	for i, s := range tokens {
		if s == "" {
			return nil, fmt.Errorf("bpe: token %d is empty", i)
		}
		if j, dup := t.ids[s]; dup {
			return nil, fmt.Errorf("bpe: tokens %d and %d are both %q", j, i, s)
		}
		t.ids[s] = int32(i)
		switch types[i] {
		case TypeControl, TypeUser, TypeUnknown:
			t.special = append(t.special, int32(i))
		}
	}
	slices.SortStableFunc(t.special, func(a, b int32) int {
		return len(tokens[b]) - len(tokens[a])
	})
	for i, m := range merges {
		// libllama splits at the first space after the first byte.
		k := strings.IndexByte(m[min(1, len(m)):], ' ') + 1
		if k <= 0 || k == len(m)-1 {
			return nil, fmt.Errorf("bpe: merge %d (%q) is not \"left right\"", i, m)
		}
		p := [2]string{m[:k], m[k+1:]}
		if _, dup := t.ranks[p]; !dup { // libllama keeps the first rank
			t.ranks[p] = i
		}
	}
	for _, s := range []struct {
		name string
		id   int32
	}{{"BOS", bos}, {"EOS", eos}, {"PAD", pad}} {
		if s.id != NoToken && (s.id < 0 || int(s.id) >= len(tokens)) {
			return nil, fmt.Errorf("bpe: %s id %d is outside the vocabulary of %d tokens", s.name, s.id, len(tokens))
		}
	}
	if addBOS && bos == NoToken {
		return nil, errors.New("bpe: AddBOS is set but there is no BOS token")
	}
	return t, nil
}

// TokenID returns the id of the token whose text (in token form) is s.
func (t *Tokenizer) TokenID(s string) (int32, bool) {
	id, ok := t.ids[s]
	return id, ok
}

// Encode tokenizes text as llama_tokenize(text, add_special=false,
// parse_special=false) does: no BOS is added and control tokens are not
// recognized in the text. Bytes that are not valid UTF-8 are tokenized as
// U+FFFD, as libllama does.
func (t *Tokenizer) Encode(text string) []int32 {
	return t.Tokenize(text, false, false)
}

// Tokenize tokenizes text as llama_tokenize(text, addSpecial, parseSpecial)
// does. With addSpecial, BOS comes first if AddBOS is set. User-defined
// tokens are always matched in the text before anything else; with
// parseSpecial, control tokens too (longest token text first).
func (t *Tokenizer) Tokenize(text string, addSpecial, parseSpecial bool) []int32 {
	var out []int32
	if addSpecial && t.AddBOS {
		out = append(out, t.BOS)
	}
	for _, f := range t.partition(text, parseSpecial) {
		if f.id >= 0 {
			out = append(out, f.id)
			continue
		}
		for _, w := range splitGPT2(f.text) {
			out = t.appendWord(out, encodeBytes(w))
		}
	}
	return out
}

// fragment is a piece of text still to tokenize (id < 0) or a special token
// found in the text.
type fragment struct {
	text string
	id   int32
}

// partition splits text at the special tokens it contains, as
// tokenizer_st_partition does: each special token in turn, longest text
// first, is cut out of every text fragment left by the ones before.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	if text == "" {
		return nil
	}
	frags := []fragment{{text: text, id: -1}}
	for _, id := range t.special {
		if !parseSpecial && t.Types[id] != TypeUser { // special holds only ids New checked
			continue
		}
		tok := t.Tokens[id]
		var next []fragment
		for _, f := range frags {
			if f.id >= 0 || !strings.Contains(f.text, tok) {
				next = append(next, f)
				continue
			}
			rest := f.text
			for {
				i := strings.Index(rest, tok)
				if i < 0 {
					break
				}
				if i > 0 {
					next = append(next, fragment{text: rest[:i], id: -1})
				}
				next = append(next, fragment{id: id})
				rest = rest[i+len(tok):]
			}
			if rest != "" {
				next = append(next, fragment{text: rest, id: -1})
			}
		}
		frags = next
	}
	return frags
}

// Decode returns the text of ids: the concatenation of what
// llama_token_to_piece gives for each id without special rendering, so
// control tokens contribute nothing. Decode(Encode(s)) == s for every valid
// UTF-8 s. Note that llama_detokenize goes further for a "gpt-2"
// vocabulary: it drops a space before some punctuation (" ." becomes ".")
// as Hugging Face's clean_up_tokenization_spaces does. An id outside the
// vocabulary decodes to U+FFFD.
func (t *Tokenizer) Decode(ids []int32) string {
	var buf []byte
	for _, id := range ids {
		if id < 0 || int(id) >= len(t.Tokens) {
			buf = utf8.AppendRune(buf, utf8.RuneError)
			continue
		}
		ty := TypeNormal
		if int(id) < len(t.Types) {
			ty = t.Types[id]
		}
		switch ty {
		case TypeNormal, TypeByte:
			buf = appendDecoded(buf, t.Tokens[id])
		case TypeUser:
			buf = append(buf, t.Tokens[id]...)
		}
	}
	return string(buf)
}

// symbol is a piece of a word during merging, a span of its text linked to
// its neighbours (llm_symbol).
type symbol struct {
	start, end int // byte span in the word
	prev, next int // indices of the neighbours, -1 at the ends
}

// bigram is a candidate merge of two adjacent symbols (llm_bigram_bpe).
// end is where the right symbol ended when the bigram was queued: a bigram
// is stale when either symbol has changed since.
type bigram struct {
	left, right int
	rank        int
	end         int
}

// less orders bigrams as libllama's priority queue pops them: the lowest
// rank first, the leftmost among equal ranks.
func (a bigram) less(b bigram) bool {
	return a.rank < b.rank || a.rank == b.rank && a.left < b.left
}

// bigramQueue is a binary min-heap of bigrams.
type bigramQueue []bigram

func (q *bigramQueue) push(b bigram) {
	h := append(*q, b)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	*q = h
}

func (q *bigramQueue) pop() bigram {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h[l].less(h[m]) {
			m = l
		}
		if r < n && h[r].less(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

// appendWord merges one pre-tokenized word (in token form) and appends the
// resulting ids, following llm_tokenizer_bpe_session::tokenize.
func (t *Tokenizer) appendWord(out []int32, word string) []int32 {
	syms := make([]symbol, 0, len(word)/2+1)
	for off := 0; off < len(word); {
		_, n := utf8.DecodeRuneInString(word[off:])
		syms = append(syms, symbol{start: off, end: off + n, prev: len(syms) - 1, next: len(syms) + 1})
		off += n
	}
	if len(syms) == 0 {
		return out
	}
	syms[len(syms)-1].next = -1
	text := func(i int) string { return word[syms[i].start:syms[i].end] }

	var q bigramQueue
	push := func(l, r int) {
		if l < 0 || r < 0 {
			return
		}
		rank, ok := t.ranks[[2]string{text(l), text(r)}]
		if !ok {
			return
		}
		q.push(bigram{left: l, right: r, rank: rank, end: syms[r].end})
	}
	for i := 1; i < len(syms); i++ {
		push(i-1, i)
	}
	for len(q) > 0 {
		b := q.pop()
		l, r := &syms[b.left], &syms[b.right]
		if l.start == l.end || r.start == r.end {
			continue
		}
		// libllama compares the symbols' texts with the bigram's; within
		// one word that is the same as checking that they are still
		// adjacent and the right one has not grown.
		if l.end != r.start || r.end != b.end {
			continue // stale
		}
		l.end = r.end
		r.start = r.end
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		push(l.prev, b.left)
		push(b.left, l.next)
	}

	for i := 0; i != -1; i = syms[i].next {
		s := text(i)
		if s == "" {
			continue
		}
		if id, ok := t.ids[s]; ok {
			out = append(out, id)
			continue
		}
		// Not a token: libllama falls back to looking up each byte.
		for j := 0; j < len(s); j++ {
			if id, ok := t.ids[s[j:j+1]]; ok {
				out = append(out, id)
			}
		}
	}
	return out
}
