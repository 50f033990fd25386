package spec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/spec/sample"
)

// Verify is a verification mode.
type Verify string

// Verification modes.
const (
	// Greedy accepts a draft token when it equals the target's argmax.
	// Lossless: the output equals plain greedy decoding token for token.
	Greedy Verify = "greedy"
	// Rejection accepts a draft token x with probability min(1, p(x)/q(x))
	// and on rejection samples from normalise(max(0, p − q)): the output is
	// distributed exactly as the target's own sampling (Chen et al. 2023).
	Rejection Verify = "rejection"
	// Match samples the target at every position and keeps draft tokens
	// while they equal the sample: llama.cpp's server behaviour. Lossless,
	// but acceptance at temperature > 0 is only Σ p·q.
	Match Verify = "match"
)

// ParseVerify reads a verification mode's name.
func ParseVerify(s string) (Verify, error) {
	switch v := Verify(s); v {
	case Greedy, Rejection, Match:
		return v, nil
	}
	return "", fmt.Errorf("verification %q: want greedy, rejection or match", s)
}

// Rollback says what to do with a target whose memory cannot drop a tail.
type Rollback string

// Rollback strategies.
const (
	// Checkpoint saves the sequence state before each verify and restores
	// it, then replays the accepted tokens, after a partial accept
	// (llama.cpp since 2026-04-19). A hybrid target's checkpoint holds only
	// its recurrent part and its attention tail is dropped, as v0.5.0's
	// server does (engine.Checkpoint).
	Checkpoint Rollback = "checkpoint"
	// Refuse turns speculation off for such targets, as llama.cpp did from
	// 2026-02-06 to 2026-04-19; every step then reports
	// target-cannot-rollback.
	Refuse Rollback = "refuse"
)

// ParseRollback reads a rollback strategy's name.
func ParseRollback(s string) (Rollback, error) {
	switch r := Rollback(s); r {
	case Checkpoint, Refuse:
		return r, nil
	}
	return "", fmt.Errorf("rollback %q: want checkpoint or refuse", s)
}

// Config is one generation's settings.
type Config struct {
	NPredict int           // tokens to generate (> 0)
	Verify   Verify        // default Greedy
	Sampling sample.Params // the target's sampling (Rejection and Match); Greedy ignores it
	Seed     uint64        // seed of the sampling RNG: the same seed gives the same output
	Policy   drafts.Policy // draft limits per step; nil: drafts.Static{NMax: 3}
	NMin     int           // drafts shorter than this are thrown away
	Rollback Rollback      // default Checkpoint
	// TokenProbs records the target's probability of every drafted token
	// in greedy mode too (a softmax normaliser per verified position).
	TokenProbs bool
	// IgnoreEOG keeps generating past end-of-generation tokens.
	IgnoreEOG bool
}

// Stop says why a generation ended.
type Stop string

// Reasons a generation ends.
const (
	StopNPredict    Stop = "n-predict"
	StopEOG         Stop = "eog"
	StopContextFull Stop = "context-full"
	StopCanceled    Stop = "canceled"
)

// Stats sums up a generation.
type Stats struct {
	PromptTokens int
	Generated    int
	Steps        int // verify steps (the first token, sampled after the prompt, is not one)
	DraftSteps   int // steps with a non-empty draft
	Drafted      int
	Accepted     int
	Empty        map[drafts.Reason]int // empty drafts by reason
	Checkpoints  int
	Stop         Stop
	PromptTime   time.Duration
	GenTime      time.Duration // from the first generated token to the end
	Propose      time.Duration
	Translate    time.Duration // the part of Propose spent translating between vocabularies
	VerifyTime   time.Duration
	Rollback     time.Duration
	Overhead     time.Duration
}

// AcceptanceRate is accepted / drafted (NaN-free: 0 when nothing was drafted).
func (s Stats) AcceptanceRate() float64 {
	if s.Drafted == 0 {
		return 0
	}
	return float64(s.Accepted) / float64(s.Drafted)
}

// MeanAcceptLen is the mean acceptance length τ = 1 + accepted / drafting
// steps (the steps whose draft was not empty), as llama-server's "mean len"
// (n_draft_verif_steps) and vLLM's mean acceptance length (num_drafts)
// define it; 1 when nothing was drafted.
func (s Stats) MeanAcceptLen() float64 {
	if s.DraftSteps == 0 {
		return 1
	}
	return 1 + float64(s.Accepted)/float64(s.DraftSteps)
}

// TokensPerStep is 1 + accepted / steps: the tokens emitted per verify
// step, empty drafts included (the figure speclab called τ before it
// followed llama.cpp's and vLLM's definition); 0 without steps.
func (s Stats) TokensPerStep() float64 {
	if s.Steps == 0 {
		return 0
	}
	return 1 + float64(s.Accepted)/float64(s.Steps)
}

// TokensPerSecond is the generation speed (prompt excluded).
func (s Stats) TokensPerSecond() float64 {
	if s.GenTime <= 0 {
		return 0
	}
	return float64(s.Generated) / s.GenTime.Seconds()
}

// Applied reports whether any draft was verified.
func (s Stats) Applied() bool { return s.DraftSteps > 0 }

// Result is a generation's output and statistics.
type Result struct {
	Tokens []Token // generated tokens, prompt excluded
	Stats  Stats
}

// ErrNonFinite: the target's logits are NaN or infinite, so every token it
// would choose is garbage.
var ErrNonFinite = errors.New("the target computes non-finite logits")

// Generate runs the speculative loop: it decodes prompt, then generates up
// to cfg.NPredict tokens with prop drafting (nil: plain decoding, every step
// reporting the reason "disabled"), delivering events to sink (nil: none).
// The target's memory must be empty; it holds the sequence afterwards.
// On cancellation the tokens so far are returned with ctx's error.
func Generate(ctx context.Context, t Target, prop drafts.Proposer, prompt []Token, cfg Config, sink Sink) (*Result, error) {
	if err := cfg.normalise(); err != nil {
		return nil, err
	}
	if len(prompt) == 0 {
		return nil, errors.New("generate: empty prompt")
	}
	if sink == nil {
		sink = Discard{}
	}
	if len(prompt)+1 > t.NCtx() {
		return nil, fmt.Errorf("generate: prompt of %d tokens: %w (n_ctx %d)", len(prompt), engine.ErrContextFull, t.NCtx())
	}
	l := &loop{t: t, prop: prop, cfg: cfg, sink: sink,
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed5eed5eed5eed))}
	l.res.Stats.Empty = map[drafts.Reason]int{}
	l.res.Stats.PromptTokens = len(prompt)
	if prop != nil {
		prop.Reset()
	}
	if r, ok := cfg.Policy.(interface{ Reset() }); ok {
		r.Reset() // stateful policies (hf, staircase) start afresh
	}
	return l.run(ctx, prompt)
}

func (c *Config) normalise() error {
	if c.NPredict <= 0 {
		return fmt.Errorf("generate: n_predict %d: want > 0", c.NPredict)
	}
	if c.Verify == "" {
		c.Verify = Greedy
	}
	if _, err := ParseVerify(string(c.Verify)); err != nil {
		return err
	}
	if c.Rollback == "" {
		c.Rollback = Checkpoint
	}
	if _, err := ParseRollback(string(c.Rollback)); err != nil {
		return err
	}
	if c.Policy == nil {
		c.Policy = drafts.Static{NMax: drafts.DefaultNMax, PMin: drafts.DefaultPMin}
	}
	if c.Verify == Greedy {
		c.Sampling = sample.Params{}
	}
	return c.Sampling.Validate()
}

// loop holds one generation's state; its buffers are reused across steps
// so that a step allocates nothing of its own.
type loop struct {
	t    Target
	prop drafts.Proposer
	cfg  Config
	sink Sink
	rng  *rand.Rand
	res  Result

	history []Token // prompt + generated
	batch   []Token
	ckpt    engine.Checkpoint
	out     []Token // tokens a step emits
	p, r    sample.Dist
	point   sample.Dist
	step    Step
	tok     TokenEvent
}

func (l *loop) run(ctx context.Context, prompt []Token) (*Result, error) {
	st := &l.res.Stats
	t0 := time.Now()
	if err := l.t.Decode(prompt, 0, engine.LogitsLast); err != nil {
		return nil, fmt.Errorf("generate: prompt: %w", err)
	}
	st.PromptTime = time.Since(t0)
	logits := l.t.Logits(-1)
	for i, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("generate: %w: logit %d after the prompt is %v (the model's weights hold NaN or Inf, or its hyperparameters overflow)", ErrNonFinite, i, v)
		}
	}
	t1 := time.Now()
	cur := l.choose(logits)
	l.history = append(append(l.history[:0], prompt...), cur)
	l.res.Tokens = append(l.res.Tokens, cur)
	nPast := len(prompt)
	st.Stop = StopNPredict
	if l.isEOG(cur) {
		st.Stop = StopEOG
	}
	for st.Stop == StopNPredict && len(l.res.Tokens) < l.cfg.NPredict {
		if err := ctx.Err(); err != nil {
			st.Stop = StopCanceled
			st.Generated = len(l.res.Tokens)
			st.GenTime = time.Since(t1)
			return &l.res, err
		}
		if nPast+1 > l.t.NCtx() {
			st.Stop = StopContextFull
			break
		}
		var err error
		nPast, err = l.verifyStep(nPast)
		if err != nil {
			return &l.res, err
		}
	}
	st.Generated = len(l.res.Tokens)
	st.GenTime = time.Since(t1)
	return &l.res, nil
}

func (l *loop) isEOG(t Token) bool { return !l.cfg.IgnoreEOG && l.t.IsEOG(t) }

// choose picks the target's token from logits: argmax or a sample.
func (l *loop) choose(logits []float32) Token {
	if l.cfg.Verify == Greedy {
		return sample.Argmax(logits)
	}
	l.cfg.Sampling.Fill(logits, &l.p)
	return l.p.Sample(l.rng.Float64())
}

// verifyStep drafts, verifies and rolls back once; it returns the new
// number of tokens in the target's memory.
func (l *loop) verifyStep(nPast int) (int, error) {
	st := &l.res.Stats
	tStep := time.Now()
	s := &l.step
	*s = Step{Step: st.Steps, Pos: nPast}
	cur := l.history[len(l.history)-1]

	// 1. Draft.
	remaining := l.cfg.NPredict - len(l.res.Tokens) // tokens still to emit
	lim := l.cfg.Policy.Limits(nPast)
	room := min(remaining-1, l.t.NCtx()-nPast-1)
	s.NMax = min(lim.NMax, room)
	var d drafts.Draft
	switch {
	case l.prop == nil:
		d.Reason = drafts.Disabled
	case !l.t.CanRemoveTail() && l.cfg.Rollback == Refuse:
		d.Reason = drafts.TargetCannotRollbck
	case room <= 0:
		d.Reason = drafts.NoRoom
	default:
		tp := time.Now()
		var err error
		d, err = l.prop.Draft(drafts.Request{
			History: l.history, NMax: s.NMax, Room: room, NMin: l.cfg.NMin, PMin: lim.PMin,
			MaxEntropy: lim.MaxEntropy, Sample: l.cfg.Verify == Rejection, Sampling: l.cfg.Sampling,
			Rand: l.rng,
		})
		s.Propose = time.Since(tp)
		s.Translate = d.Translate
		if err != nil {
			return nPast, fmt.Errorf("step %d: draft: %w", s.Step, err)
		}
		if len(d.Tokens) > room {
			return nPast, fmt.Errorf("step %d: %s drafted %d tokens, more than the %d the target can take", s.Step, d.Source, len(d.Tokens), room)
		}
		for _, x := range d.Tokens {
			if x < 0 || int(x) >= l.t.NVocab() {
				return nPast, fmt.Errorf("step %d: %s drafted token %d outside the target's vocabulary", s.Step, d.Source, x)
			}
		}
		if len(d.Tokens) == 0 && d.Reason == drafts.ReasonNone {
			d.Reason = drafts.NoMatch
		}
		if l.prop != nil && d.Source == "" {
			d.Source = l.prop.Name()
		}
	}
	k := len(d.Tokens)
	s.Drafted, s.Source, s.Reason = k, d.Source, d.Reason
	if k == 0 {
		st.Empty[d.Reason]++
	}

	// 2. Checkpoint a target that cannot drop a tail.
	if k > 0 && !l.t.CanRemoveTail() {
		tr := time.Now()
		if err := l.t.Save(&l.ckpt); err != nil {
			return nPast, fmt.Errorf("step %d: %w", s.Step, err)
		}
		s.Checkpoint, s.StateBytes, s.PartialState = true, l.ckpt.Bytes(), l.ckpt.Partial()
		st.Checkpoints++
		s.Rollback += time.Since(tr)
	}

	// 3. Verify: one batch of [cur + draft], logits everywhere.
	l.batch = append(append(l.batch[:0], cur), d.Tokens...)
	tv := time.Now()
	if err := l.t.Decode(l.batch, nPast, engine.LogitsAll); err != nil {
		return nPast, fmt.Errorf("step %d: verify: %w", s.Step, err)
	}
	s.Verify = time.Since(tv)
	j, next := l.accept(d)

	// 4. Roll back to [cur + accepted draft].
	l.out = append(append(l.out[:0], d.Tokens[:j]...), next)
	if j < k {
		tr := time.Now()
		var err error
		if j, err = l.rollback(nPast, cur, j); err != nil {
			return nPast, fmt.Errorf("step %d: %w", s.Step, err)
		}
		s.Rollback += time.Since(tr)
	}
	if k > 0 {
		l.prop.Accepted(j)
		st.DraftSteps++
	}
	l.cfg.Policy.Observe(k, j)
	nPast += len(l.out)

	// 5. Emit accepted tokens and the target's own, up to EOG / n_predict.
	emitted := 0
	for _, tok := range l.out {
		if len(l.res.Tokens) >= l.cfg.NPredict {
			break
		}
		l.res.Tokens = append(l.res.Tokens, tok)
		l.history = append(l.history, tok)
		emitted++
		if l.isEOG(tok) {
			st.Stop = StopEOG
			break
		}
	}
	s.Emitted, s.Accepted = emitted, j
	st.Steps++
	st.Drafted += k
	st.Accepted += j
	s.Overhead = time.Since(tStep) - s.Propose - s.Verify - s.Rollback
	st.Propose += s.Propose
	st.Translate += s.Translate
	st.VerifyTime += s.Verify
	st.Rollback += s.Rollback
	st.Overhead += s.Overhead
	l.sink.OnStep(s)
	return nPast, nil
}

// rollback undoes the rejected tail of a verify of [cur + draft] at nPast
// whose first j draft tokens were accepted; l.out holds them and the
// target's own token. It returns the number of accepted draft tokens.
//
// A target that can drop a tail drops it. One that cannot is restored
// from the checkpoint taken before the verify, then, as llama-server does
// (spec_is_replay), [cur + accepted + the target's token] is decoded again
// and verified again: the target's choice after it comes out of the same
// decode, so l.out gains it (a token without a draft step of its own), and
// the accepted count is the replay's less that token. A replay that
// disagrees with the first verify (a near-tie between batch shapes, or a
// fresh draw at T > 0) is restored and replayed again, as the server's
// loop does. With --verify rejection the accepted tokens are replayed
// without logits instead: their acceptance is final.
func (l *loop) rollback(nPast int, cur Token, j int) (int, error) {
	if l.t.CanRemoveTail() {
		if !l.t.RemoveTail(nPast + j + 1) {
			return j, fmt.Errorf("the target refused to drop its tail")
		}
		return j, nil
	}
	for {
		if err := l.t.Restore(&l.ckpt); err != nil {
			return j, err
		}
		l.batch = append(append(l.batch[:0], cur), l.out...)
		if l.cfg.Verify == Rejection {
			if err := l.t.Decode(l.batch[:len(l.out)], nPast, engine.LogitsNone); err != nil {
				return j, fmt.Errorf("replay after restore: %w", err)
			}
			return j, nil
		}
		if err := l.t.Decode(l.batch, nPast, engine.LogitsAll); err != nil {
			return j, fmt.Errorf("replay after restore: %w", err)
		}
		n := len(l.out)
		i := 0
		var next Token
		for ; i <= n; i++ {
			next = l.choose(l.t.Logits(i))
			if i == n || next != l.out[i] {
				break
			}
		}
		if i == n { // the replay agrees: keep it and its bonus token
			l.out = append(l.out, next)
			return n - 1, nil
		}
		l.out = append(l.out[:i], next)
		j = i
	}
}

// accept verifies the draft against the logits of the last decode and
// returns the number of accepted draft tokens and the target's own token.
func (l *loop) accept(d drafts.Draft) (int, Token) {
	k := len(d.Tokens)
	te := &l.tok
	for i := 0; i <= k; i++ {
		logits := l.t.Logits(i)
		if i == k { // every draft token accepted: the bonus token
			return k, l.choose(logits)
		}
		x := d.Tokens[i]
		*te = TokenEvent{Step: l.step.Step, Index: i, Token: x, PTarget: NaN, QDraft: NaN, DraftEntropy: NaN}
		if d.Q != nil {
			te.QDraft = d.Q[i]
		}
		if d.Entropy != nil {
			te.DraftEntropy = d.Entropy[i]
		}
		te.TargetArgmax = sample.Argmax(logits)
		var accepted bool
		var next Token
		switch l.cfg.Verify {
		case Greedy:
			next = te.TargetArgmax
			accepted = x == next
			if l.cfg.TokenProbs {
				te.PTarget = sample.Softmax1(logits, sample.LogSumExpMax(logits, logits[next]), x)
			}
		case Match:
			l.cfg.Sampling.Fill(logits, &l.p)
			te.PTarget = l.p.Prob(x)
			next = l.p.Sample(l.rng.Float64())
			accepted = x == next
		case Rejection:
			l.cfg.Sampling.Fill(logits, &l.p)
			px := l.p.Prob(x)
			te.PTarget = px
			q := l.pointMass(x)
			if d.Dist != nil {
				q = &d.Dist[i]
			}
			qx := q.Prob(x)
			// accept with probability min(1, p(x)/q(x))
			accepted = qx > 0 && l.rng.Float64()*float64(qx) < float64(px)
			if !accepted {
				sample.Residual(&l.p, q, &l.r)
				next = l.r.Sample(l.rng.Float64())
			}
		}
		te.Accepted, te.Verified = accepted, true
		l.sink.OnToken(te)
		if !accepted {
			// The rest of the draft is discarded unverified: log its fate too.
			for r := i + 1; r < k; r++ {
				*te = TokenEvent{Step: l.step.Step, Index: r, Token: d.Tokens[r], PTarget: NaN, QDraft: NaN,
					TargetArgmax: -1, DraftEntropy: NaN}
				if d.Q != nil {
					te.QDraft = d.Q[r]
				}
				if d.Entropy != nil {
					te.DraftEntropy = d.Entropy[r]
				}
				l.sink.OnToken(te)
			}
			return i, next
		}
	}
	panic("unreachable")
}

// pointMass is the distribution of a proposer without one: x with
// certainty.
func (l *loop) pointMass(x Token) *sample.Dist {
	l.point.IDs = append(l.point.IDs[:0], x)
	l.point.P = append(l.point.P[:0], 1)
	return &l.point
}
