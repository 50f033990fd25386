package drafts

import (
	"errors"
	"fmt"
	"time"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/terms"
)

// SLEM is draft-slem, string-level exact match (Timor et al. 2025): a
// draft model with a vocabulary of its own drafts in it, its tokens are
// turned into text and that text into the target's tokens, which the
// target verifies by exact match (greedy, or llama-server's match at
// temperature > 0), so the output is the target's own, token for token.
// Before each draft the target's history is turned into text and that
// into the draft's tokens, so the draft context holds exactly the accepted
// text, even when acceptance ended inside one of its tokens.
type SLEM struct{ crossDraft }

// NewSLEM makes draft-slem with the draft model in ctx for a target of
// vocabulary target. It refuses a draft whose vocabulary shares no token
// text with the target's (ErrNoSharedText).
func NewSLEM(target TextVocab, ctx *engine.Context, seed uint64) (*SLEM, error) {
	draft := ModelVocab{ctx.Model()}
	if _, err := Intersect(target, draft); err != nil {
		return nil, fmt.Errorf("%s with draft model %s: %w", terms.DraftSLEM, ctx.Model().Info.Path, err)
	}
	dm, err := newDraftModel(ctx, seed)
	if err != nil {
		return nil, err
	}
	return &SLEM{crossDraft{dm: dm, tr: translator{target: target, draft: draft}}}, nil
}

// Name is the method's --spec-type name.
func (s *SLEM) Name() string { return terms.DraftSLEM }

// Draft translates the history, drafts in the draft's vocabulary and
// translates the draft back; at most req.Room target tokens, and at least
// req.NMin (else BelowNMin).
func (s *SLEM) Draft(req Request) (Draft, error) {
	if req.Sample {
		return Draft{}, errors.New("draft-slem proposes text, not a distribution over the target's tokens: verify by greedy or match, not rejection")
	}
	d, tr, err := s.draft(req, req.NMax)
	if err != nil || len(d.Tokens) == 0 {
		d.Translate, d.Source = tr, terms.DraftSLEM
		return d, err
	}
	t1 := time.Now()
	text, err := s.tr.draft.Detokenize(d.Tokens)
	if err != nil {
		return Draft{}, fmt.Errorf("draft-slem: %w", err)
	}
	toks, err := s.tr.target.Tokenize(wholeRunes(text), false)
	timed(&tr, t1)
	if err != nil {
		return Draft{}, fmt.Errorf("draft-slem: %w", err)
	}
	toks = toks[:min(len(toks), req.Room)]
	out := Draft{Tokens: toks, Translate: tr, Source: terms.DraftSLEM}
	switch {
	case len(toks) == 0:
		out.Reason = BelowPMin // the draft's text was cut to nothing
	case len(toks) < req.NMin:
		out = Draft{Reason: BelowNMin, Translate: tr, Source: terms.DraftSLEM}
	}
	return out, nil
}
