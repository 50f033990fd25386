package drafts

import (
	"fmt"
	"slices"

	"github.com/speclab/speclab/terms"
)

// NgramSimple is llama.cpp's ngram-simple (common_ngram_simple_draft): the
// pattern is the last N tokens of History (the last N-1 of llama.cpp's
// prompt plus the token just sampled). Its most recent earlier occurrence
// that starts at a position from 1 to cur_len-N-1 is taken (position 0 never
// matches); if at least N tokens follow it in the prompt, up to M of them are
// drafted, else nothing is (even when an older occurrence would have had
// enough). MinHits is parsed and checked but, as in llama.cpp, unused.
//
// Empty drafts: NoRoom when Request.Room <= 0; NoHistory while cur_len <=
// N+M+1, i.e. len(History) <= N+M+2 (62 tokens with the defaults 12/48: the
// first draft may come at 63); NoMatch when the pattern has no earlier
// occurrence or the latest one has fewer than N tokens after it.
//
// llama.cpp scans the whole history backwards at every call; this port finds
// the same occurrence through an index of every n-gram, built incrementally.
// Changing N, M or MinHits between calls resets the proposer.
type NgramSimple struct {
	N, M, MinHits int

	cfg   [3]int
	track seqTrack
	idx   chainIndex
}

// Name returns "ngram-simple".
func (p *NgramSimple) Name() string { return terms.NgramSimple }

func (p *NgramSimple) check() error { return checkMap(p.Name(), p.N, p.M, p.MinHits) }

// Reset forgets the indexed history.
func (p *NgramSimple) Reset() {
	p.track = seqTrack{}
	p.idx.reset(p.N)
	p.cfg = [3]int{p.N, p.M, p.MinHits}
}

// Accepted does nothing: ngram-simple keeps no feedback.
func (p *NgramSimple) Accepted(int) {}

// Draft proposes the tokens that followed the latest earlier occurrence of
// the last N tokens of req.History.
func (p *NgramSimple) Draft(req Request) (Draft, error) {
	if err := p.check(); err != nil {
		return Draft{}, err
	}
	h := req.History
	if p.cfg != [3]int{p.N, p.M, p.MinHits} || p.idx.n != p.N {
		p.Reset()
	}
	shrunk, err := p.track.advance(h)
	if shrunk {
		p.Reset()
		_, err = p.track.advance(h)
	}
	if err != nil {
		return Draft{}, fmt.Errorf("%s: %w", p.Name(), err)
	}
	if req.Room <= 0 {
		return noDraft(p.Name(), NoRoom), nil
	}
	n, m := p.N, p.M
	cur := len(h) - 1 // llama.cpp's cur_len
	if cur <= n+m+1 {
		return noDraft(p.Name(), NoHistory), nil
	}
	p.idx.extend(h)
	pat := len(h) - n // the pattern is h[pat:]
	last := cur - n - 1
	match := 0
	for j := int(p.idx.prev[pat]); j >= 1; j = int(p.idx.prev[j]) {
		if j <= last && equalAt(h, j, h[pat:]) {
			match = j
			break
		}
	}
	if match == 0 {
		return noDraft(p.Name(), NoMatch), nil
	}
	copyMax := min(m, cur-(match+n))
	if copyMax < n {
		return noDraft(p.Name(), NoMatch), nil
	}
	k := min(copyMax, req.Room)
	return Draft{Tokens: slices.Clone(h[match+n : match+n+k]), Source: p.Name()}, nil
}
