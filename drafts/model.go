package drafts

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/spec/sample"

	"github.com/speclab/speclab/terms"
)

// ModelVocab adapts an engine.Model's vocabulary to Vocab and TextVocab.
type ModelVocab struct{ M *engine.Model }

func (v ModelVocab) Piece(id Token) string { return string(v.M.Piece(nil, id, false)) }
func (v ModelVocab) Tokenize(text string, addSpecial bool) ([]Token, error) {
	return v.M.Tokenize(text, addSpecial, true)
}
func (v ModelVocab) Detokenize(toks []Token) (string, error) { return v.M.Detokenize(toks, true, true) }

func (v ModelVocab) VocabType() int            { return int(v.M.Info.VocabType) }
func (v ModelVocab) VocabSize() int            { return v.M.Info.VocabSize }
func (v ModelVocab) AddBOS() bool              { return v.M.Info.AddBOS }
func (v ModelVocab) AddEOS() bool              { return v.M.Info.AddEOS }
func (v ModelVocab) BOS() Token                { return v.M.Info.BOS }
func (v ModelVocab) EOS() Token                { return v.M.Info.EOS }
func (v ModelVocab) TokenText(id Token) string { return v.M.TokenText(id) }

// draftTopK is llama.cpp's draft-simple candidate count: the draft's
// distribution is its top 10 tokens, renormalised.
const draftTopK = 10

// DraftModel is llama.cpp's draft-simple: a second, small model in its own
// context mirrors the target's accepted tokens and drafts greedily from its
// top-10 renormalised distribution, stopping below p_min or at n_max, and
// throwing away drafts shorter than n_min. With Request.Sample it samples
// instead, with the target's sampling settings, and reports its
// distributions for rejection sampling.
type DraftModel struct {
	ctx     *engine.Context
	canDrop bool
	past    []Token // tokens in the draft context's memory, positions 0..len-1
	// A draft whose memory cannot drop a tail (recurrent, hybrid) is
	// checkpointed before it decodes its own tokens, and restored at the
	// next sync, as llama-server does (use_ckpt_dft).
	ckpt    engine.Checkpoint
	hasCkpt bool
	stats   DraftStats
	// allow, when set, restricts the draft's distribution to these of its
	// tokens (draft-tli: those the target has too), renormalised.
	allow  []bool
	masked []float32
	rng    *rand.Rand
	seed   uint64
	greedy sample.Params
	d      sample.Dist

	// buffers reused across Draft calls
	toks, one []Token
	q, ent    []float32
}

// NewDraftModel checks llama.cpp's vocabulary rules between target and the
// draft context's model and returns the proposer, or an error wrapping
// *IncompatibleError that names the failing rule. seed drives the draft's
// own sampling (rejection mode).
func NewDraftModel(target Vocab, ctx *engine.Context, seed uint64) (*DraftModel, error) {
	if err := CheckCompatible(target, ModelVocab{ctx.Model()}); err != nil {
		return nil, fmt.Errorf("draft model %s: %w", ctx.Model().Info.Path, err)
	}
	return newDraftModel(ctx, seed)
}

// newDraftModel is the draft model in ctx without llama.cpp's vocabulary
// check (draft-slem and draft-tli translate instead).
func newDraftModel(ctx *engine.Context, seed uint64) (*DraftModel, error) {
	ok, err := ctx.Model().CanRemoveTail()
	if err != nil {
		return nil, fmt.Errorf("draft model: %w", err)
	}
	m := &DraftModel{ctx: ctx, canDrop: ok, seed: seed,
		greedy: sample.Params{Temp: 1, TopK: draftTopK}, one: make([]Token, 1)}
	m.Reset()
	return m, nil
}

// Name is llama.cpp's --spec-type name.
func (m *DraftModel) Name() string { return terms.DraftSimple }

// DraftStats counts how a draft context that cannot drop a tail was
// brought back to the history.
type DraftStats struct {
	Checkpoints int // checkpoints taken before drafting
	Restores    int // syncs that restored a checkpoint
	Redecoded   int // tokens decoded again after the memory was cleared
}

// Stats are the counts since the proposer was made.
func (m *DraftModel) Stats() DraftStats { return m.stats }

// Reset empties the draft context.
func (m *DraftModel) Reset() {
	m.ctx.ClearMemory()
	m.past = m.past[:0]
	m.hasCkpt = false
	m.rng = rand.New(rand.NewPCG(m.seed, 0xd4af7d4af7))
}

// Accepted needs no bookkeeping: the next Draft call finds the common
// prefix of its memory and the history.
func (m *DraftModel) Accepted(int) {}

// Draft syncs the draft context with the history and drafts.
func (m *DraftModel) Draft(req Request) (Draft, error) {
	h := req.History
	switch {
	case req.Room <= 0:
		return Draft{Reason: NoRoom}, nil
	case req.NMax <= 0: // the policy's n_max is 0 here
		return Draft{Reason: Disabled}, nil
	}
	if len(h)+req.NMax > m.ctx.NCtx() {
		return Draft{Reason: NoRoom}, nil
	}
	if err := m.sync(h); err != nil {
		return Draft{}, err
	}
	if !m.canDrop && req.NMax > 1 { // the draft will decode its own tokens
		if err := m.ctx.Save(&m.ckpt, 0); err != nil {
			return Draft{}, fmt.Errorf("draft-simple: %w", err)
		}
		m.hasCkpt = true
		m.stats.Checkpoints++
	}
	// The draft's slices reuse the proposer's buffers (valid until the next
	// Draft call): no allocation per step.
	d := Draft{Tokens: m.toks[:0], Q: m.q[:0], Entropy: m.ent[:0]}
	defer func() { m.toks, m.q, m.ent = d.Tokens, d.Q, d.Entropy }()
	params, rng := m.greedy, m.rng
	if req.Sample {
		params = req.Sampling
	}
	if req.Rand != nil {
		rng = req.Rand
	}
	for i := 0; i < req.NMax; i++ {
		params.Fill(m.logits(), &m.d)
		var tok Token
		var q float32
		if req.Sample {
			tok = m.d.Sample(rng.Float64())
			q = m.d.Prob(tok)
		} else {
			tok, q = m.d.Top()
		}
		h := m.d.Entropy()
		if q < req.PMin || (req.MaxEntropy > 0 && h > req.MaxEntropy) {
			if i == 0 {
				d.Reason = BelowPMin
			}
			break
		}
		d.Tokens = append(d.Tokens, tok)
		d.Q = append(d.Q, q)
		d.Entropy = append(d.Entropy, h)
		if req.Sample {
			d.Dist = append(d.Dist, m.d.Clone())
		}
		if i+1 == req.NMax {
			break
		}
		m.one[0] = tok
		if err := m.ctx.Decode(m.one[:], len(m.past), 0, engine.LogitsLast); err != nil {
			return Draft{}, fmt.Errorf("draft-simple: %w", err)
		}
		m.past = append(m.past, tok)
	}
	if len(d.Tokens) > 0 && len(d.Tokens) < req.NMin {
		return Draft{Reason: BelowNMin}, nil
	}
	return d, nil
}

// logits are the draft's last logits, restricted to allow when set.
func (m *DraftModel) logits() []float32 {
	l := m.ctx.Logits(-1)
	if m.allow == nil {
		return l
	}
	m.masked = append(m.masked[:0], l...)
	for i := range m.masked {
		if i >= len(m.allow) || !m.allow[i] {
			m.masked[i] = float32(math.Inf(-1))
		}
	}
	return m.masked
}

// sync makes the draft context hold history, with the logits of its last
// token ready.
func (m *DraftModel) sync(h []Token) error {
	c := 0
	for c < len(m.past) && c < len(h) && m.past[c] == h[c] {
		c++
	}
	if c == len(h) { // everything decoded: redo the last token for its logits
		c--
	}
	if c < len(m.past) {
		switch {
		case m.canDrop && m.ctx.RemoveTail(0, c):
		case m.hasCkpt && m.ckpt.Pos() <= c && m.ckpt.Pos() < len(h):
			if err := m.ctx.Restore(&m.ckpt, 0); err != nil {
				return fmt.Errorf("draft-simple: %w", err)
			}
			c = m.ckpt.Pos()
			m.stats.Restores++
		default:
			m.ctx.ClearMemory()
			m.hasCkpt = false
			m.stats.Redecoded += c
			c = 0
		}
		m.past = m.past[:c]
	}
	if err := m.ctx.Decode(h[c:], c, 0, engine.LogitsLast); err != nil {
		return fmt.Errorf("draft-simple: %w", err)
	}
	m.past = append(m.past, h[c:]...)
	return nil
}
