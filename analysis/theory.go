package analysis

import "math"

// The theory of speculative decoding that the report prints next to the
// measurements (Leviathan et al. 2023, arXiv 2211.17192). Tokens are
// accepted independently with probability alpha, a draft has gamma tokens,
// and drafting one token costs c times a target step (verifying a draft
// costs one target step).

// ExpectedTokens is the expected number of tokens a step emits, accepted
// draft tokens plus the target's own: (1 − α^(γ+1)) / (1 − α), and γ+1 at
// α = 1. Gamma may be fractional (a mean draft length).
func ExpectedTokens(alpha, gamma float64) float64 {
	switch {
	case alpha < 0 || alpha > 1 || gamma < 0 || math.IsNaN(alpha) || math.IsNaN(gamma):
		return math.NaN()
	case alpha == 1:
		return gamma + 1
	case alpha == 0:
		return 1
	}
	// −expm1((γ+1) ln α) is 1 − α^(γ+1) without cancellation near α = 1
	return -math.Expm1((gamma+1)*math.Log(alpha)) / (1 - alpha)
}

// Leviathan is the expected wall-time speedup over plain decoding:
// (1 − α^(γ+1)) / ((1 − α)(γc + 1)).
func Leviathan(alpha, gamma, c float64) float64 { return SpeedupAt(alpha, gamma, c, 1) }

// SpeedupAt is Leviathan's speedup with a measured verify cost v: the time
// of verifying γ+1 tokens over a plain target step (Leviathan et al. take
// v = 1; speclab bench measures it): E(α, γ) / (γc + v).
func SpeedupAt(alpha, gamma, c, v float64) float64 {
	if c < 0 || math.IsNaN(c) || !(v > 0) {
		return math.NaN()
	}
	return ExpectedTokens(alpha, gamma) / (gamma*c + v)
}

// BreakEvenAlpha is the acceptance α at which Leviathan(α, γ, c) = 1: below
// it speculation with draft length γ and cost ratio c is slower than plain
// decoding. It is 0 when drafting is free (c = 0) and NaN when no α breaks
// even (c ≥ 1: even a draft always accepted does not pay) or γ is not
// positive. With γ = 1 the break-even α equals c, and no γ does better.
func BreakEvenAlpha(gamma, c float64) float64 { return BreakEvenAlphaAt(gamma, c, 1) }

// BreakEvenAlphaAt is BreakEvenAlpha with a measured verify cost v (see
// SpeedupAt): NaN when no α breaks even, 0 when even α = 0 does.
func BreakEvenAlphaAt(gamma, c, v float64) float64 {
	if !(gamma > 0) || c < 0 || math.IsNaN(c) || math.IsInf(gamma, 0) || !(v > 0) {
		return math.NaN()
	}
	if SpeedupAt(0, gamma, c, v) >= 1 {
		return 0
	}
	if SpeedupAt(1, gamma, c, v) < 1 {
		return math.NaN()
	}
	lo, hi := 0.0, 1.0 // the speedup is increasing in α
	for range 100 {
		mid := (lo + hi) / 2
		if SpeedupAt(mid, gamma, c, v) < 1 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// OptimalGamma is the integer draft length in [1, maxGamma] that maximises
// Leviathan(α, γ, c), and that speedup.
func OptimalGamma(alpha, c float64, maxGamma int) (gamma int, speedup float64) {
	speedup = math.Inf(-1)
	for g := 1; g <= maxGamma; g++ {
		if s := Leviathan(alpha, float64(g), c); s > speedup {
			gamma, speedup = g, s
		}
	}
	if gamma == 0 {
		return 0, math.NaN()
	}
	return gamma, speedup
}

// MixtureSpeedup is Leviathan's model applied step by step to a measured
// distribution of draft lengths: steps[k] is the number of steps that
// drafted k tokens (k = 0 included: such a step emits one token at the cost
// of one target step). Expected tokens per step Σ P(k)·E(α, k) divided by
// the expected cost 1 + c·Σ P(k)·k; with a single draft length it is
// Leviathan's formula.
func MixtureSpeedup(alpha, c float64, steps []int64) float64 {
	var n, tokens, drafted float64
	for k, m := range steps {
		if m == 0 {
			continue
		}
		f := float64(m)
		n += f
		tokens += f * ExpectedTokens(alpha, float64(k))
		drafted += f * float64(k)
	}
	if n == 0 || c < 0 || math.IsNaN(c) && drafted > 0 {
		return math.NaN()
	}
	if drafted == 0 {
		return 1
	}
	return (tokens / n) / (1 + c*drafted/n)
}

func ratio(a float64, b int64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / float64(b)
}

// Costs are what the parts of the loop cost on a machine, in ms, as
// speclab bench measures them by running the loop (medians over steps, so
// that a stalled step does not move them).
type Costs struct {
	// PlainMs is a step of plain decoding: one token, with sampling and
	// the loop's own work.
	PlainMs float64 `json:"plain_ms"`
	// VerifyMs[i] is the time to decode a batch of VerifyBatch[i] tokens
	// with logits for all (the verify of a draft of VerifyBatch[i]−1).
	VerifyBatch []int     `json:"verify_batch"`
	VerifyMs    []float64 `json:"verify_ms"`
	// DraftFixedMs + DraftCatchUpMs·caught + DraftPerTokenMs·k is a draft
	// model's proposer on a step that drafts k tokens after catching up
	// with caught tokens, as the loop spends it: the catch-up decode, one
	// decode and one sample per drafted token, synchronisation (0 without
	// a draft model).
	DraftFixedMs    float64 `json:"draft_fixed_ms"`
	DraftPerTokenMs float64 `json:"draft_per_token_ms"`
	// DraftCatchUpMs is the draft's time per token it catches up with at
	// the start of a step (the previous step's accepted tokens and the
	// target's own).
	DraftCatchUpMs float64 `json:"draft_catch_up_ms"`
	// DraftVerifyMs[i] is the target's verify of a draft of
	// DraftVerifyK[i] tokens when a draft model ran before it, as the loop
	// spends it (the draft's weights and activations took the caches):
	// with a draft model, verify times come from these, linear in k.
	DraftVerifyK  []int     `json:"draft_verify_k"`
	DraftVerifyMs []float64 `json:"draft_verify_ms"`
	// NgramMs is an n-gram proposer's time per step.
	NgramMs float64 `json:"ngram_ms"`
	// CheckFixedMs + CheckPerTokenMs·k is the rest of a drafting step of k
	// tokens: sampling the k+1 rows, checking the draft, the events.
	CheckFixedMs    float64 `json:"check_fixed_ms"`
	CheckPerTokenMs float64 `json:"check_per_token_ms"`
	// RollbackMs undoes a rejected draft: dropping the KV tail, or, with
	// Replay, saving a checkpoint before the verify and restoring it (a
	// target that cannot drop a tail), after which the accepted tokens are
	// decoded again.
	RollbackMs float64 `json:"rollback_ms"`
	Replay     bool    `json:"replay"`
	// The cost of context: VerifyMs was timed at context position
	// VerifyPos and PlainMs over steps at PlainPos on average; every batch
	// token costs PosSlopeMs more per position further (attention reads
	// every earlier position).
	VerifyPos  float64 `json:"verify_pos"`
	PlainPos   float64 `json:"plain_pos"`
	PosSlopeMs float64 `json:"pos_slope_ms"`
	// PlainSlopeMs is what a one-token step costs more per position
	// further (fitted over the plain loop's steps).
	PlainSlopeMs float64 `json:"plain_slope_ms"`
}

// verifyAtPos is VerifyAt(b) at context position pos.
func (c Costs) verifyAtPos(b, pos float64) float64 {
	return c.VerifyAt(b) + c.PosSlopeMs*b*(pos-c.VerifyPos)
}

// draftVerifyAtPos is a verify of b tokens after the draft model ran, at
// pos: the line through DraftVerifyMs (one point: shifted VerifyAt), else
// VerifyAt.
func (c Costs) draftVerifyAtPos(b, pos float64) float64 {
	k, v := c.DraftVerifyK, c.DraftVerifyMs
	at := c.PosSlopeMs * b * (pos - c.VerifyPos)
	switch {
	case len(k) >= 2 && len(k) == len(v) && k[1] != k[0]:
		return v[0] + (b-1-float64(k[0]))*(v[1]-v[0])/float64(k[1]-k[0]) + at
	case len(k) == 1 && len(v) == 1:
		return c.VerifyAt(b) + v[0] - c.VerifyAt(float64(k[0]+1)) + at
	}
	return c.verifyAtPos(b, pos)
}

// plainAt is a plain step at context position pos.
func (c Costs) plainAt(pos float64) float64 {
	return c.PlainMs + c.PlainSlopeMs*(pos-c.PlainPos)
}

// VerifyAt is the verify time of a batch of b tokens: linear between the
// measured sizes, and beyond the largest along the last two.
func (c Costs) VerifyAt(b float64) float64 {
	v, n := c.VerifyMs, c.VerifyBatch
	switch {
	case len(v) == 0 || len(v) != len(n):
		return math.NaN()
	case len(v) == 1 || b <= float64(n[0]):
		return v[0]
	}
	i := len(n) - 2
	for k := 1; k < len(n); k++ {
		if b <= float64(n[k]) {
			i = k - 1
			break
		}
	}
	return v[i] + (b-float64(n[i]))*(v[i+1]-v[i])/float64(n[i+1]-n[i])
}

// Predict is the speedup over plain decoding of a configuration whose
// steps drafted k tokens steps[k] times (steps[0]: empty drafts), each
// draft accepted token by token with Leviathan's α until the first
// rejection, the proposer being a draft model (model) or an n-gram method.
// A step that drafts k tokens emits E(α, k) tokens in
//
//	propose(k) + verify(k+1) + check(k) + P(reject)·(rollback + replay)
//
// where P(reject) = 1 − α^k and the replay (targets that cannot drop a
// tail) decodes [the step's first token + the accepted ones + the target's
// own] again and keeps the bonus token that decode gives (one token more
// on a rejected step); an empty draft emits one token in about a plain
// step. Unlike Leviathan's formula every term is a
// measured time, the verify cost included.
//
// The configuration's steps run at context position pos on average, its
// baseline's at basePos (a configuration with a longer prompt verifies
// further into the context than the baseline it is compared with).
func (c Costs) Predict(alpha float64, steps []int64, model bool, pos, basePos float64) float64 {
	if !(c.PlainMs > 0) || math.IsNaN(alpha) {
		return math.NaN()
	}
	var tokens, time float64
	for k, n := range steps {
		if n == 0 {
			continue
		}
		w := float64(n)
		if k == 0 {
			tokens += w
			empty := c.plainAt(pos)
			if !model {
				empty += c.NgramMs // an n-gram method looks up even when it finds nothing
			}
			time += w * empty
			continue
		}
		kf := float64(k)
		propose := c.NgramMs
		if model {
			// it catches up with the previous step's accepted tokens and
			// the target's own: E(α, k) on average
			propose = c.DraftFixedMs + c.DraftCatchUpMs*ExpectedTokens(alpha, kf) + kf*c.DraftPerTokenMs
		}
		reject := 1 - math.Pow(alpha, kf)
		undo := c.RollbackMs
		tokens += w * ExpectedTokens(alpha, kf)
		if c.Replay {
			// as llama-server's replay: [cur + accepted + own] decoded
			// again after the restore, and its bonus token kept
			undo += c.verifyAtPos(expectedAcceptedGivenReject(alpha, k)+2, pos)
			tokens += w * reject
		}
		verify := c.verifyAtPos(kf+1, pos)
		if model {
			verify = c.draftVerifyAtPos(kf+1, pos)
		}
		time += w * (propose + verify + c.CheckFixedMs + kf*c.CheckPerTokenMs + reject*undo)
	}
	if time == 0 {
		return math.NaN()
	}
	return tokens * c.plainAt(basePos) / time
}

// expectedAcceptedGivenReject is E[j | j < k] when each of k tokens is
// accepted with α until the first rejection: P(j) ∝ α^j (1 − α).
func expectedAcceptedGivenReject(alpha float64, k int) float64 {
	var num, den float64
	for j := 0; j < k; j++ {
		p := math.Pow(alpha, float64(j)) * (1 - alpha)
		num += float64(j) * p
		den += p
	}
	if den == 0 {
		return 0
	}
	return num / den
}
