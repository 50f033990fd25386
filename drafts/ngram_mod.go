package drafts

import (
	"fmt"
	"slices"

	"github.com/speclab/speclab/terms"
)

// Constants of common/ngram-mod.cpp and its use in common/speculative.cpp.
const (
	modPoolSize  = 4 * 1024 * 1024     // entries of the pool (4 bytes each)
	modMul       = 6364136223846793005 // the pool's hash multiplier
	modChunk     = 32                  // new n-grams are added once i_last+32 < cur_len
	modLowAccept = 5                   // rounds in a row under 25% acceptance that reset the pool
)

// NgramMod is llama.cpp's ngram-mod (common_ngram_mod and
// common_speculative_impl_ngram_mod): a pool of 4·2^20 entries maps the hash
// of NMatch tokens (multiplier 6364136223846793005, modulo the pool size) to
// the token that followed them; a lookup returns whatever token the slot
// holds, with no check that the n-gram is the one stored (colliding n-grams
// share a slot, the latest write wins).
//
// The prompt's n-grams are added when the sequence begins; later ones only
// when i_last+32 < cur_len, i_last being where adding stopped (cur_len-NMatch
// after the last add), i.e. in chunks of more than 32-NMatch new n-grams.
// Drafting starts from the last NMatch tokens of History and chains lookups,
// each drafted token extending the pattern, up to NMax tokens; when the chain
// breaks before NMin tokens nothing is drafted.
//
// The pool is emptied when more than 25% of it is used after a prompt is
// added, and after 5 verified drafts in a row with accepted/drafted under
// 0.25 (drafted counting the chain before Request.Room cut it, as in
// llama.cpp); the latter also sets i_last to 0, so the next draft with
// cur_len > 32 adds the whole history again.
//
// Empty drafts: NoRoom when Request.Room <= 0; NoHistory while cur_len <
// NMatch, i.e. len(History) <= NMatch; Disabled when NMax is 0; NoMatch when
// the first lookup finds nothing; BelowNMin when the chain breaks after 1 to
// NMin-1 tokens.
//
// In llama.cpp one pool serves every sequence and survives requests; here
// each NgramMod has its own (16 MiB), emptied by Reset, while Begin keeps
// it. Changing a field between calls resets the proposer.
//
// Emptying the pool after low acceptance and adding the whole history back
// costs llama.cpp time in proportion to the history. When the pool holds
// exactly the history's n-grams added in order (the usual case), this port
// keeps it and adds only the n-grams it lacks when llama.cpp would add them
// all back, which leaves the pool in the same state.
type NgramMod struct {
	NMatch, NMin, NMax int

	cfg   [3]int
	track seqTrack
	begun bool

	pool []uint32 // token+1; 0 is empty (llama.cpp's EMPTY)
	used int
	pow  uint64 // modMul^(NMatch-1)
	// poolEnd >= 0: the pool holds exactly the n-grams starting at
	// [0, poolEnd) of this sequence, added in order since it was empty; -1:
	// anything else. lazy: llama.cpp's pool is empty but the pool here
	// still holds those n-grams, which llama.cpp will add back.
	poolEnd int
	lazy    bool

	iLast      int // i_last
	nDraftLast int // n_draft_last
	nLow       int // n_low
	lastLen    int // tokens returned by the last Draft
	buf        []Token
}

// Name returns "ngram-mod".
func (p *NgramMod) Name() string { return terms.NgramMod }

func (p *NgramMod) check() error {
	switch {
	case p.NMatch < 1 || p.NMatch > 1024:
		return fmt.Errorf("ngram-mod: n-match = %d: ngram size N must be between 1 and 1024 inclusive (--spec-ngram-mod-n-match)", p.NMatch)
	case p.NMin < 0 || p.NMin > 1024:
		return fmt.Errorf("ngram-mod: n-min = %d: ngram n-min must be between 0 and 1024 inclusive (--spec-ngram-mod-n-min)", p.NMin)
	case p.NMax < 0 || p.NMax > 1024:
		return fmt.Errorf("ngram-mod: n-max = %d: ngram n-max must be between 0 and 1024 inclusive (--spec-ngram-mod-n-max)", p.NMax)
	}
	return nil
}

func (p *NgramMod) config() [3]int { return [3]int{p.NMatch, p.NMin, p.NMax} }

// Reset empties the pool and forgets the sequence.
func (p *NgramMod) Reset() {
	p.resetPool()
	p.pow = 1
	for range p.NMatch - 1 {
		p.pow *= modMul
	}
	p.iLast, p.nDraftLast, p.nLow, p.lastLen = 0, 0, 0, 0
	p.track = seqTrack{}
	p.begun = false
	p.cfg = p.config()
}

func (p *NgramMod) resetPool() {
	if p.pool == nil {
		p.pool = make([]uint32, modPoolSize)
	} else {
		clear(p.pool)
	}
	p.used = 0
	p.poolEnd, p.lazy = 0, false
}

func modTok(t Token) uint64 { return uint64(int64(t)) }

// add stores, for each start i in [from, to), the token after the n-gram at
// i; tokens[to+NMatch-1] must exist.
func (p *NgramMod) add(tokens []Token, from, to int) {
	if from >= to {
		return
	}
	if p.poolEnd == from {
		p.poolEnd = to
	} else {
		p.poolEnd = -1
	}
	n := p.NMatch
	var h uint64
	for i := from; i < to; i++ {
		if i == from {
			h = 0
			for _, t := range tokens[i : i+n] {
				h = h*modMul + modTok(t)
			}
		} else {
			h = (h-modTok(tokens[i-1])*p.pow)*modMul + modTok(tokens[i+n-1])
		}
		s := h % modPoolSize
		if p.pool[s] == 0 {
			p.used++
		}
		p.pool[s] = uint32(tokens[i+n]) + 1
	}
}

// Begin starts a request whose prompt is prompt, as llama.cpp's begin: the
// prompt's n-grams are added to the pool, which is not emptied first (it is
// emptied when more than 25% of it is used afterwards). Draft calls it by
// itself on the first call after Reset, so Begin is only needed to keep the
// pool across requests.
func (p *NgramMod) Begin(prompt []Token) error {
	if err := p.check(); err != nil {
		return err
	}
	if p.cfg != p.config() || p.pool == nil {
		p.Reset()
	}
	var t seqTrack
	if _, err := t.advance(prompt); err != nil {
		return fmt.Errorf("%s: prompt: %w", p.Name(), err)
	}
	p.begin(prompt)
	p.track = t
	return nil
}

func (p *NgramMod) begin(prompt []Token) {
	if p.lazy {
		p.resetPool()
	}
	p.begun = true
	p.iLast, p.nDraftLast = 0, 0
	n := p.NMatch
	if len(prompt) < n {
		return
	}
	p.add(prompt, 0, len(prompt)-n)
	p.iLast = len(prompt) - n
	if 4*p.used > len(p.pool) {
		p.resetPool()
	}
}

// Draft chains pool lookups from the last NMatch tokens of req.History.
func (p *NgramMod) Draft(req Request) (Draft, error) {
	h := req.History
	if err := p.check(); err != nil {
		return Draft{}, err
	}
	if p.cfg != p.config() || p.pool == nil {
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
	if !p.begun && len(h) > 0 {
		p.begin(h[:len(h)-1])
	}
	p.lastLen = 0
	if req.Room <= 0 {
		return noDraft(p.Name(), NoRoom), nil
	}
	p.nDraftLast = 0
	n := p.NMatch
	cur := len(h) - 1 // cur_len
	if cur < n {
		return noDraft(p.Name(), NoHistory), nil
	}
	switch {
	case p.lazy && modChunk < cur:
		// llama.cpp adds [0, cur-n) to its empty pool; [0, poolEnd) are here.
		p.add(h[:cur], p.poolEnd, cur-n)
		p.iLast = cur - n
		p.lazy = false
	case p.lazy:
		p.resetPool() // llama.cpp's pool stays empty for now
	case p.iLast+modChunk < cur:
		p.add(h[:cur], p.iLast, cur-n)
		p.iLast = cur - n
	}
	if p.NMax == 0 {
		return noDraft(p.Name(), Disabled), nil
	}
	pat := h[len(h)-n:]
	var hh uint64
	for _, t := range pat {
		hh = hh*modMul + modTok(t)
	}
	res := p.buf[:0]
	for i := 0; i < p.NMax; i++ {
		e := p.pool[hh%modPoolSize]
		if e == 0 {
			if i == 0 {
				return noDraft(p.Name(), NoMatch), nil
			}
			if i < p.NMin {
				return noDraft(p.Name(), BelowNMin), nil
			}
			break
		}
		t := Token(e - 1)
		res = append(res, t)
		var out Token
		if i < n {
			out = pat[i]
		} else {
			out = res[i-n]
		}
		hh = (hh-modTok(out)*p.pow)*modMul + modTok(t)
	}
	p.buf = res
	p.nDraftLast = len(res)
	k := min(len(res), req.Room)
	p.lastLen = k
	return Draft{Tokens: slices.Clone(res[:k]), Source: p.Name()}, nil
}

// Accepted counts a round under 25% acceptance, or ends the streak; the
// fifth such round in a row empties the pool.
func (p *NgramMod) Accepted(n int) {
	if p.lastLen == 0 || p.nDraftLast == 0 {
		return
	}
	a := clampAccepted(n, p.lastLen)
	if 4*a >= p.nDraftLast {
		p.nLow = 0
		return
	}
	p.nLow++
	if p.nLow >= modLowAccept {
		if p.poolEnd >= 0 {
			p.lazy = true // see the type's doc
		} else {
			p.resetPool()
		}
		p.nLow = 0
		p.iLast = 0
	}
}
