package rocm

import "math"

// Roofline is the memory-bandwidth ceiling of decoding: every generated
// token reads the weights once (and the KV cache or recurrent state), so
// tokens/s ≤ bandwidth ÷ bytes per token.
type Roofline struct {
	BandwidthGBs  float64 `json:"bandwidth_gb_s"`  // measured
	BytesPerToken float64 `json:"bytes_per_token"` // weights read per token plus KV/state at the context
	// CeilingTPS is the decode ceiling, tokens/s.
	CeilingTPS float64 `json:"ceiling_tokens_per_second"`
}

// NewRoofline is the ceiling of bytes per token at bandwidth GB/s.
func NewRoofline(bandwidthGBs, bytesPerToken float64) Roofline {
	r := Roofline{BandwidthGBs: bandwidthGBs, BytesPerToken: bytesPerToken, CeilingTPS: math.NaN()}
	if bytesPerToken > 0 && bandwidthGBs > 0 {
		r.CeilingTPS = bandwidthGBs * 1e9 / bytesPerToken
	}
	return r
}

// Utilisation is the share of the bandwidth a measured speed uses:
// tokens/s × bytes per token ÷ bandwidth. Near 1 decoding is memory-bound
// (and verifying several tokens per read of the weights is what
// speculation buys); well below, something else limits it (compute,
// kernel launches, the CPU).
func (r Roofline) Utilisation(tps float64) float64 {
	if !(r.BandwidthGBs > 0) {
		return math.NaN()
	}
	return tps * r.BytesPerToken / (r.BandwidthGBs * 1e9)
}

// SpeculativeCeiling is the tokens/s ceiling of speculative decoding on a
// memory-bound device: a step reads the target's weights once to verify
// γ+1 tokens (at verify cost v, the time of that verify over a one-token
// step: 1 when memory-bound, bench measures it) and the draft's γ times,
// and emits (1 − α^(γ+1)) / (1 − α) tokens.
func (r Roofline) SpeculativeCeiling(alpha, gamma, verifyCost, draftBytesPerToken float64) float64 {
	if !(r.BandwidthGBs > 0) || !(r.BytesPerToken > 0) {
		return math.NaN()
	}
	e := gamma + 1
	if alpha < 1 {
		e = (1 - math.Pow(alpha, gamma+1)) / (1 - alpha)
	}
	stepBytes := verifyCost*r.BytesPerToken + gamma*draftBytesPerToken
	return e * r.BandwidthGBs * 1e9 / stepBytes
}

// KVBytesPerToken is what reading the KV cache costs per generated token
// at context length ctx: every layer's K and V for every earlier position,
// layers × 2 × kvHeads × headDim × bytesPerElem × ctx (an upper bound for
// hybrid models, whose recurrent layers keep a fixed-size state instead).
func KVBytesPerToken(layers, kvHeads, headDim, bytesPerElem, ctx int) float64 {
	return float64(layers) * 2 * float64(kvHeads) * float64(headDim) * float64(bytesPerElem) * float64(ctx)
}
