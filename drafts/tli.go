package drafts

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/spec/sample"
	"github.com/speclab/speclab/terms"
)

// TLI is draft-tli, token-level intersection (Timor et al. 2025): the
// draft model's distribution is restricted to the tokens whose text the
// target's vocabulary has too, renormalised, and each drafted token is
// mapped to that target token. Its distribution is a proper one over
// target tokens, so ordinary verification (greedy, match, or rejection
// sampling at temperature > 0) stays lossless. The draft context follows
// the target's history through its text, as draft-slem's does.
type TLI struct {
	crossDraft
	in *Intersection
}

// NewTLI makes draft-tli with the draft model in ctx for a target of
// vocabulary target. It refuses a draft whose vocabulary shares no token
// text with the target's (ErrNoSharedText).
func NewTLI(target TextVocab, ctx *engine.Context, seed uint64) (*TLI, error) {
	draft := ModelVocab{ctx.Model()}
	in, err := Intersect(target, draft)
	if err != nil {
		return nil, fmt.Errorf("%s with draft model %s: %w", terms.DraftTLI, ctx.Model().Info.Path, err)
	}
	dm, err := newDraftModel(ctx, seed)
	if err != nil {
		return nil, err
	}
	dm.allow = in.Allowed
	return &TLI{crossDraft: crossDraft{dm: dm, tr: translator{target: target, draft: draft}}, in: in}, nil
}

// Name is the method's --spec-type name.
func (t *TLI) Name() string { return terms.DraftTLI }

// Intersection is the shared vocabulary.
func (t *TLI) Intersection() *Intersection { return t.in }

// Draft translates the history, drafts from the restricted distribution
// and maps the tokens (and, for rejection sampling, the distributions) to
// the target's ids.
func (t *TLI) Draft(req Request) (Draft, error) {
	d, tr, err := t.draft(req, min(req.NMax, req.Room))
	if err != nil {
		return Draft{}, err
	}
	if len(d.Tokens) > 0 && len(d.Tokens) < req.NMin {
		return Draft{Reason: BelowNMin, Translate: tr, Source: terms.DraftTLI}, nil
	}
	t1 := time.Now()
	for i, tok := range d.Tokens {
		d.Tokens[i] = t.in.DraftToTarget[tok]
	}
	for i := range d.Dist {
		d.Dist[i] = t.mapDist(d.Dist[i])
		d.Q[i] = d.Dist[i].Prob(d.Tokens[i]) // draft tokens of the same text add up
	}
	timed(&tr, t1)
	d.Translate, d.Source = tr, terms.DraftTLI
	return d, nil
}

// mapDist maps a draft distribution (zero outside the intersection) to
// target ids, adding up draft tokens of the same text, most likely first.
func (t *TLI) mapDist(d sample.Dist) sample.Dist {
	at := map[int32]int{}
	var out sample.Dist
	for i, id := range d.IDs {
		if d.P[i] <= 0 || !t.in.Allowed[id] {
			continue
		}
		tid := t.in.DraftToTarget[id]
		if j, ok := at[tid]; ok {
			out.P[j] += d.P[i]
			continue
		}
		at[tid] = len(out.IDs)
		out.IDs = append(out.IDs, tid)
		out.P = append(out.P, d.P[i])
	}
	idx := make([]int, len(out.IDs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(out.P[b], out.P[a]) })
	sorted := sample.Dist{IDs: make([]int32, len(idx)), P: make([]float32, len(idx))}
	for i, j := range idx {
		sorted.IDs[i], sorted.P[i] = out.IDs[j], out.P[j]
	}
	return sorted
}
