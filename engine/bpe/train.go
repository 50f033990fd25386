package bpe

import (
	"fmt"
	"slices"
	"strconv"
)

// Special tokens that Train appends after the learned tokens.
const (
	EndOfText = "<|endoftext|>" // BOS and EOS
	Pad       = "<|pad|>"       // PAD
)

// ExtraToken returns the text of the i-th padding token that Train adds
// when the corpus yields fewer tokens than asked for.
func ExtraToken(i int) string { return "<|extra_" + strconv.Itoa(i) + "|>" }

// MinVocab is the smallest vocabulary Train makes: the 256 byte tokens and
// the two special tokens.
const MinVocab = 256 + 2

// Train learns a byte-level BPE vocabulary of exactly vocabSize tokens from
// corpus, deterministically. Each corpus string is pre-tokenized on its own
// (words never span two strings).
//
// The vocabulary is laid out as follows: ids 0–255 are the single bytes in
// GPT-2's order ("!" is 0, "Ġ" (space) is 220, as in GPT-2), then one token
// per learned merge that made a new token, then EndOfText (BOS and EOS) and
// Pad as control tokens, then ExtraToken(0), ExtraToken(1), ... as control
// tokens if the corpus ran out of pairs to merge. Each step merges the most
// frequent adjacent pair; ties go to the pair whose left, then right text is
// smaller in byte order. AddBOS is set.
func Train(corpus []string, vocabSize int) (*Tokenizer, error) {
	if vocabSize < MinVocab {
		return nil, fmt.Errorf("bpe: vocabulary size %d is below the minimum of %d (256 bytes + 2 special tokens)", vocabSize, MinVocab)
	}
	if vocabSize > 1<<24 {
		return nil, fmt.Errorf("bpe: vocabulary size %d is too large (at most %d)", vocabSize, 1<<24)
	}

	tokens := make([]string, 0, vocabSize)
	have := make(map[string]bool, vocabSize)
	for _, b := range byteOrder {
		s := string(byteRune[b])
		tokens = append(tokens, s)
		have[s] = true
	}

	tr := newTrainer(corpus)
	var merges []string
	for len(tokens) < vocabSize-2 {
		p, ok := tr.best()
		if !ok {
			break
		}
		tr.merge(p)
		merges = append(merges, p[0]+" "+p[1])
		if s := p[0] + p[1]; !have[s] {
			have[s] = true
			tokens = append(tokens, s)
		}
	}

	types := make([]int32, len(tokens), vocabSize)
	for i := range types {
		types[i] = TypeNormal
	}
	eot := int32(len(tokens))
	tokens = append(tokens, EndOfText, Pad)
	types = append(types, TypeControl, TypeControl)
	for i := 0; len(tokens) < vocabSize; i++ {
		tokens = append(tokens, ExtraToken(i))
		types = append(types, TypeControl)
	}
	return New(tokens, types, merges, eot, eot, eot+1, true)
}

// pair is two adjacent symbols, in token form.
type pair [2]string

// trainer holds the corpus as distinct words split into symbols, with the
// count of every adjacent pair and the words each pair occurs in.
type trainer struct {
	words  [][]string // symbols of each distinct word, words sorted
	freq   []int      // occurrences of each word
	counts map[pair]int
	where  map[pair]map[int]bool
}

func newTrainer(corpus []string) *trainer {
	seen := make(map[string]int)
	for _, doc := range corpus {
		for _, w := range splitGPT2(doc) {
			seen[encodeBytes(w)]++
		}
	}
	keys := make([]string, 0, len(seen))
	for w := range seen {
		keys = append(keys, w)
	}
	slices.Sort(keys)

	tr := &trainer{counts: make(map[pair]int), where: make(map[pair]map[int]bool)}
	for i, w := range keys {
		var syms []string
		for _, r := range w {
			syms = append(syms, string(r))
		}
		tr.words = append(tr.words, syms)
		tr.freq = append(tr.freq, seen[w])
		tr.add(i, +1)
	}
	return tr
}

// add adds (sign +1) or removes (-1) the pairs of word i to the counts.
func (tr *trainer) add(i, sign int) {
	syms := tr.words[i]
	for j := 1; j < len(syms); j++ {
		p := pair{syms[j-1], syms[j]}
		tr.counts[p] += sign * tr.freq[i]
		if sign > 0 {
			if tr.where[p] == nil {
				tr.where[p] = make(map[int]bool)
			}
			tr.where[p][i] = true
		} else if tr.counts[p] == 0 {
			delete(tr.counts, p)
			delete(tr.where, p)
		}
	}
}

// best returns the most frequent pair, ties broken by text.
func (tr *trainer) best() (pair, bool) {
	var bp pair
	bc := 0
	for p, c := range tr.counts {
		if c > bc || c == bc && (p[0] < bp[0] || p[0] == bp[0] && p[1] < bp[1]) {
			bp, bc = p, c
		}
	}
	return bp, bc > 0
}

// merge replaces every occurrence of p, left to right, by one symbol.
func (tr *trainer) merge(p pair) {
	idx := make([]int, 0, len(tr.where[p]))
	for i := range tr.where[p] {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	joined := p[0] + p[1]
	for _, i := range idx {
		tr.add(i, -1)
		syms := tr.words[i]
		out := syms[:0]
		for j := 0; j < len(syms); j++ {
			if j+1 < len(syms) && syms[j] == p[0] && syms[j+1] == p[1] {
				out = append(out, joined)
				j++
				continue
			}
			out = append(out, syms[j])
		}
		tr.words[i] = out
		tr.add(i, +1)
	}
}
