package drafts_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/speclab/speclab/drafts"
)

// textVocab is a vocabulary of words: each token stands for one, and a text
// is split greedily, longest word first (a tokenizer that needs no
// library).
type textVocab struct {
	words []string
	ids   map[string]drafts.Token
}

func newTextVocab(words ...string) *textVocab {
	v := &textVocab{words: words, ids: map[string]drafts.Token{}}
	for i, w := range words {
		v.ids[w] = drafts.Token(i)
	}
	return v
}

func (v *textVocab) VocabType() int                   { return 2 }
func (v *textVocab) VocabSize() int                   { return len(v.words) }
func (v *textVocab) AddBOS() bool                     { return false }
func (v *textVocab) AddEOS() bool                     { return false }
func (v *textVocab) BOS() drafts.Token                { return -1 }
func (v *textVocab) EOS() drafts.Token                { return -1 }
func (v *textVocab) TokenText(id drafts.Token) string { return v.words[id] }
func (v *textVocab) Piece(id drafts.Token) string     { return v.words[id] }
func (v *textVocab) Tokenize(text string, _ bool) ([]drafts.Token, error) {
	var out []drafts.Token
	for text != "" {
		best := -1
		for i, w := range v.words {
			if strings.HasPrefix(text, w) && (best < 0 || len(w) > len(v.words[best])) {
				best = i
			}
		}
		if best < 0 {
			return nil, errors.New("no token for " + text)
		}
		out = append(out, drafts.Token(best))
		text = text[len(v.words[best]):]
	}
	return out, nil
}
func (v *textVocab) Detokenize(toks []drafts.Token) (string, error) {
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(v.words[t])
	}
	return b.String(), nil
}

func TestIntersect(t *testing.T) {
	target := newTextVocab("a ", "b ", "c ", "d ")
	for _, tc := range []struct {
		name   string
		draft  *textVocab
		shared int
		want   []drafts.Token // DraftToTarget
		err    error
	}{
		{"same", newTextVocab("a ", "b ", "c ", "d "), 4, []drafts.Token{0, 1, 2, 3}, nil},
		{"permuted, partly", newTextVocab("d ", "x ", "a "), 2, []drafts.Token{3, -1, 0}, nil},
		{"no shared text", newTextVocab("x ", "y "), 0, nil, drafts.ErrNoSharedText},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := drafts.Intersect(target, tc.draft)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if in.Shared != tc.shared || !equal(in.DraftToTarget, tc.want) {
				t.Errorf("shared %d, map %v; want %d, %v", in.Shared, in.DraftToTarget, tc.shared, tc.want)
			}
			o := drafts.CompareVocabs(target, tc.draft)
			if o.SharedTexts != tc.shared {
				t.Errorf("overlap: %d shared texts, want %d", o.SharedTexts, tc.shared)
			}
		})
	}
}

func equal(a, b []drafts.Token) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAgree(t *testing.T) {
	target := newTextVocab("the ", "cat ", "sat ")
	draft := newTextVocab("sat ", "the ", "cat ")
	a, err := drafts.Agree("t", "the cat sat ", target, draft, nil)
	if err != nil || !a.Same || a.TargetTokens != 3 || a.DraftTokens != 3 {
		t.Errorf("alike texts: %+v, %v", a, err)
	}
	split := newTextVocab("the ", "cat sat ")
	b, err := drafts.Agree("t", "the cat sat ", target, split, nil)
	if err != nil || b.Same || b.DiffByte != 4 || b.TargetPiece != "cat " || b.DraftPiece != "cat sat " {
		t.Errorf("split differently: %+v, %v", b, err)
	}
}
