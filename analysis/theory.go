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
