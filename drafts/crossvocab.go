package drafts

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// This file holds what drafting across vocabularies needs (Timor et al.,
// "Accelerating LLM Inference with Lossless Speculative Decoding
// Algorithms for Heterogeneous Vocabularies", ICML 2025): the tokens two
// vocabularies share by the text they stand for, how alike they are
// (speclab compat), and the translation of a target's history into the
// draft's tokens, which draft-slem and draft-tli both keep their draft
// context in step with.

// TextVocab is a vocabulary with its tokenizer.
type TextVocab interface {
	Vocab
	// Piece is the text the token stands for ("" for control tokens).
	Piece(id Token) string
	// Tokenize splits text into tokens, with the vocabulary's BOS when
	// addSpecial; special-token texts in it are parsed as such.
	Tokenize(text string, addSpecial bool) ([]Token, error)
	// Detokenize is the text of tokens, a leading BOS left out and other
	// special tokens written as their text.
	Detokenize(toks []Token) (string, error)
}

// ErrNoSharedText refuses a draft whose vocabulary shares no token text
// with the target's: nothing it proposes could be verified.
var ErrNoSharedText = errors.New("the draft's vocabulary shares no token text with the target's")

// Intersection is the tokens two vocabularies share by text: TLI's
// vocabulary.
type Intersection struct {
	// DraftToTarget[d] is the target token with draft token d's text, -1
	// when the target has none. Where several target tokens have the text,
	// it is the one the target's tokenizer gives for that text alone.
	DraftToTarget []Token
	// Allowed[d]: DraftToTarget[d] >= 0.
	Allowed []bool
	Shared  int // draft tokens with a target token
}

// Intersect maps the draft's tokens to the target's of the same text.
func Intersect(target, draft TextVocab) (*Intersection, error) {
	byPiece := map[string][]Token{}
	for i := range target.VocabSize() {
		if p := target.Piece(Token(i)); p != "" {
			byPiece[p] = append(byPiece[p], Token(i))
		}
	}
	canonical := func(p string) Token {
		ids := byPiece[p]
		if len(ids) == 1 {
			return ids[0]
		}
		if toks, err := target.Tokenize(p, false); err == nil && len(toks) == 1 && slices.Contains(ids, toks[0]) {
			return toks[0]
		}
		return ids[0]
	}
	in := &Intersection{DraftToTarget: make([]Token, draft.VocabSize()), Allowed: make([]bool, draft.VocabSize())}
	for d := range draft.VocabSize() {
		in.DraftToTarget[d] = -1
		p := draft.Piece(Token(d))
		if p == "" || len(byPiece[p]) == 0 {
			continue
		}
		in.DraftToTarget[d] = canonical(p)
		in.Allowed[d] = true
		in.Shared++
	}
	if in.Shared == 0 {
		return nil, ErrNoSharedText
	}
	return in, nil
}

// Overlap is how alike two vocabularies are (speclab compat).
type Overlap struct {
	TargetSize int `json:"target_size"`
	DraftSize  int `json:"draft_size"`
	// Verdict is llama.cpp's: nil when it accepts the draft, else the
	// *IncompatibleError naming the rule.
	Verdict error `json:"-"`
	// SharedTexts counts the distinct token texts (what a token stands
	// for) both have; TargetShare and DraftShare are it over each side's
	// distinct texts.
	SharedTexts int     `json:"shared_texts"`
	TargetShare float64 `json:"target_share"`
	DraftShare  float64 `json:"draft_share"`
	// SameID counts the ids below both sizes whose stored text is equal
	// (llama.cpp's token-text rule compares these from id 5 on), and
	// SameIDShare is it over the smaller size.
	SameID      int     `json:"same_id"`
	SameIDShare float64 `json:"same_id_share"`
	// FirstDifferentID is the first id from llama.cpp's start id whose
	// text differs (-1: none).
	FirstDifferentID Token `json:"first_different_id"`
}

// CompareVocabs measures the overlap of two vocabularies.
func CompareVocabs(target, draft TextVocab) Overlap {
	o := Overlap{TargetSize: target.VocabSize(), DraftSize: draft.VocabSize(), Verdict: CheckCompatible(target, draft), FirstDifferentID: -1}
	pieces := func(v TextVocab) map[string]bool {
		m := map[string]bool{}
		for i := range v.VocabSize() {
			if p := v.Piece(Token(i)); p != "" {
				m[p] = true
			}
		}
		return m
	}
	pt, pd := pieces(target), pieces(draft)
	for p := range pd {
		if pt[p] {
			o.SharedTexts++
		}
	}
	o.TargetShare = ratio(o.SharedTexts, len(pt))
	o.DraftShare = ratio(o.SharedTexts, len(pd))
	n := min(o.TargetSize, o.DraftSize)
	for i := range n {
		if cString(target.TokenText(Token(i))) == cString(draft.TokenText(Token(i))) {
			o.SameID++
		} else if o.FirstDifferentID < 0 && i >= VocabCheckStartTokenID {
			o.FirstDifferentID = Token(i)
		}
	}
	o.SameIDShare = ratio(o.SameID, n)
	return o
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Agreement is how two tokenizers split a text.
type Agreement struct {
	Name string `json:"name"`
	// Same: both split it into the same texts, token for token.
	Same         bool `json:"same"`
	TargetTokens int  `json:"target_tokens"`
	DraftTokens  int  `json:"draft_tokens"`
	// Where they first split differently: the byte offset and each side's
	// token there (-1 when Same).
	DiffByte    int    `json:"diff_byte"`
	TargetPiece string `json:"target_piece,omitempty"`
	DraftPiece  string `json:"draft_piece,omitempty"`
	// Shared: the draft's tokens of the text that have a target token of
	// the same text (what TLI keeps of the draft's own choices).
	Shared int `json:"draft_tokens_shared"`
}

// Agree tokenizes text with both and compares the splits; in (nil: no
// TLI figure) gives the shared draft tokens.
func Agree(name, text string, target, draft TextVocab, in *Intersection) (Agreement, error) {
	a := Agreement{Name: name, DiffByte: -1}
	tt, err := target.Tokenize(text, false)
	if err != nil {
		return a, fmt.Errorf("target: %w", err)
	}
	dt, err := draft.Tokenize(text, false)
	if err != nil {
		return a, fmt.Errorf("draft: %w", err)
	}
	a.TargetTokens, a.DraftTokens = len(tt), len(dt)
	if in != nil {
		for _, d := range dt {
			if int(d) < len(in.Allowed) && in.Allowed[d] {
				a.Shared++
			}
		}
	}
	at := 0
	for i := 0; ; i++ {
		switch {
		case i == len(tt) && i == len(dt):
			a.Same = true
			return a, nil
		case i == len(tt) || i == len(dt):
			a.DiffByte = at
			if i < len(tt) {
				a.TargetPiece = target.Piece(tt[i])
			}
			if i < len(dt) {
				a.DraftPiece = draft.Piece(dt[i])
			}
			return a, nil
		}
		pt, pd := target.Piece(tt[i]), draft.Piece(dt[i])
		if pt != pd {
			a.DiffByte, a.TargetPiece, a.DraftPiece = at, pt, pd
			return a, nil
		}
		at += len(pt)
	}
}

// translator keeps a target history's text and its draft tokens, for a
// draft model that works in its own vocabulary.
type translator struct {
	target, draft TextVocab
	hist          []Token // the target history the text is of
	text          strings.Builder
	draftHist     []Token
	// ends[i] is the byte offset in the text where draftHist[i] ends (its
	// pieces laid end to end); nil when they do not spell the text (then
	// the next translation tokenizes the whole text again)
	ends []int
}

// retokenizeTokens is how many of the draft's last tokens are tokenized
// again when the text grows (more text can change how the end is split):
// the cut is then moved back to the start of a word.
const retokenizeTokens = 8

// toDraft returns history's draft tokens: the text of the target tokens,
// tokenized by the draft (with its BOS). When history extends the last
// one, the text grows by the new tokens' pieces and only its end is
// tokenized again, from the start of a word at least retokenizeTokens
// draft tokens back; otherwise the whole text is.
func (t *translator) toDraft(history []Token) ([]Token, error) {
	n := len(t.hist)
	extends := n > 0 && len(history) >= n && slices.Equal(history[:n], t.hist)
	if extends {
		for _, tok := range history[n:] {
			t.text.WriteString(t.target.Piece(tok))
		}
	} else {
		s, err := t.target.Detokenize(history)
		if err != nil {
			return nil, fmt.Errorf("translate the history: %w", err)
		}
		t.text.Reset()
		t.text.WriteString(s)
	}
	t.hist = append(t.hist[:0], history...)
	full := t.text.String()
	if cut := t.cut(); extends && cut > 0 {
		tail, err := t.draft.Tokenize(full[t.ends[cut-1]:], false)
		if err != nil {
			return nil, fmt.Errorf("translate the history: %w", err)
		}
		t.draftHist = append(t.draftHist[:cut], tail...)
		t.ends = t.ends[:cut]
		t.extendEnds(full, cut)
		return t.draftHist, nil
	}
	d, err := t.draft.Tokenize(full, true)
	if err != nil {
		return nil, fmt.Errorf("translate the history: %w", err)
	}
	t.draftHist, t.ends = d, t.ends[:0]
	t.extendEnds(full, 0)
	return d, nil
}

// cut is how many of the draft tokens to keep: all but the last
// retokenizeTokens, and back to a token that starts a word; 0 when the
// pieces do not spell the text.
func (t *translator) cut() int {
	if t.ends == nil || len(t.ends) != len(t.draftHist) {
		return 0
	}
	for i := len(t.draftHist) - retokenizeTokens; i > 0; i-- {
		if p := t.draft.Piece(t.draftHist[i]); p != "" && (p[0] == ' ' || p[0] == '\n') {
			return i
		}
	}
	return 0
}

// extendEnds fills ends from draftHist[from:], or sets it nil when the
// pieces stop spelling text.
func (t *translator) extendEnds(text string, from int) {
	at := 0
	if from > 0 {
		at = t.ends[from-1]
	}
	for _, d := range t.draftHist[from:] {
		p := t.draft.Piece(d)
		if !strings.HasPrefix(text[at:], p) {
			t.ends = nil
			return
		}
		at += len(p)
		t.ends = append(t.ends, at)
	}
	if at != len(text) {
		t.ends = nil
	}
}

func (t *translator) reset() {
	t.hist = t.hist[:0]
	t.text.Reset()
	t.draftHist, t.ends = nil, nil
}

// wholeRunes cuts an incomplete UTF-8 character off the end of s (a draft
// token may end inside one).
func wholeRunes(s string) string {
	for range utf8.UTFMax - 1 {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// timed adds the time since t0 to *d.
func timed(d *time.Duration, t0 time.Time) { *d += time.Since(t0) }

// TranslationCost is the time of one step's history translation, as
// draft-slem and draft-tli pay it before each draft: text turned into the
// target's tokens, the history of all but its last 4 tokens translated,
// then the step that adds those 4 timed (best of reps).
func TranslationCost(target, draft TextVocab, text string, reps int) (time.Duration, int, error) {
	h, err := target.Tokenize(text, true)
	if err != nil {
		return 0, 0, err
	}
	best := time.Duration(1<<63 - 1)
	for range max(reps, 1) {
		tr := translator{target: target, draft: draft}
		if _, err := tr.toDraft(h[:max(1, len(h)-4)]); err != nil {
			return 0, 0, err
		}
		t0 := time.Now()
		if _, err := tr.toDraft(h); err != nil {
			return 0, 0, err
		}
		best = min(best, time.Since(t0))
	}
	return best, len(h), nil
}

// crossDraft is the draft model of draft-slem and draft-tli, kept in step
// with the target's history through its text.
type crossDraft struct {
	dm *DraftModel
	tr translator
}

// Reset empties the draft context.
func (c *crossDraft) Reset() { c.dm.Reset(); c.tr.reset() }

// Accepted needs no bookkeeping: the next draft translates the history.
func (c *crossDraft) Accepted(int) {}

// Stats are the draft context's counts (see DraftModel.Stats).
func (c *crossDraft) Stats() DraftStats { return c.dm.Stats() }

// draft translates req's history into the draft's tokens and drafts from
// it with dreq's other settings, returning the translation's time too.
func (c *crossDraft) draft(req Request, nmax int) (Draft, time.Duration, error) {
	t0 := time.Now()
	h, err := c.tr.toDraft(req.History)
	tr := time.Since(t0)
	if err != nil {
		return Draft{}, tr, err
	}
	dreq := req
	dreq.History, dreq.NMax, dreq.NMin = h, nmax, 0
	d, err := c.dm.Draft(dreq)
	return d, tr, err
}
