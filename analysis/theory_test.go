package analysis

import (
	"math"
	"testing"
)

// Values computed by hand from Leviathan et al. 2023, eq. (1) and the
// speedup of section 3.3.
func TestLeviathan(t *testing.T) {
	tests := []struct {
		alpha, gamma, c float64
		tokens, speedup float64
	}{
		// (1 − 0.8^5) / 0.2 = 0.67232 / 0.2; ÷ (4·0.1 + 1)
		{0.8, 4, 0.1, 3.3616, 3.3616 / 1.4},
		// (1 − 0.5^4) / 0.5 = 1.875; ÷ 1.15
		{0.5, 3, 0.05, 1.875, 1.875 / 1.15},
		// α = 1: every token accepted, γ+1 per step; ÷ (4·0.25 + 1)
		{1, 4, 0.25, 5, 2.5},
		// α = 0: one token per step; ÷ 2
		{0, 4, 0.25, 1, 0.5},
		// γ = 0: plain decoding
		{0.7, 0, 0.3, 1, 1},
		// free drafts: E itself
		{0.6, 2, 0, 1.96, 1.96},
		// fractional γ (a mean draft length): (1 − 0.5^2.5)/0.5
		{0.5, 1.5, 0, 2 - 2*math.Pow(0.5, 2.5), 2 - 2*math.Pow(0.5, 2.5)},
		// out of range
		{1.2, 4, 0.1, nan, nan},
		{0.5, -1, 0.1, nan, nan},
		{0.5, 2, -0.1, 1.75, nan},
	}
	for _, tt := range tests {
		if got := ExpectedTokens(tt.alpha, tt.gamma); !near(got, tt.tokens) {
			t.Errorf("ExpectedTokens(%v, %v) = %v, want %v", tt.alpha, tt.gamma, got, tt.tokens)
		}
		if got := Leviathan(tt.alpha, tt.gamma, tt.c); !near(got, tt.speedup) {
			t.Errorf("Leviathan(%v, %v, %v) = %v, want %v", tt.alpha, tt.gamma, tt.c, got, tt.speedup)
		}
	}
}

func TestBreakEvenAlpha(t *testing.T) {
	tests := []struct {
		gamma, c, want float64
	}{
		{1, 0.3, 0.3},                    // (1 + α) / 1.3 = 1
		{2, 0.5, (math.Sqrt(5) - 1) / 2}, // 1 + α + α² = 2
		{3, 0, 0},                        // free drafts always pay
		{4, 1.2, nan},                    // 5 / 5.8 < 1 even at α = 1
		{1, 1, 1},                        // breaks even only at α = 1
		{0, 0.1, nan},
	}
	for _, tt := range tests {
		got := BreakEvenAlpha(tt.gamma, tt.c)
		if math.IsNaN(tt.want) != math.IsNaN(got) || !math.IsNaN(got) && math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("BreakEvenAlpha(%v, %v) = %v, want %v", tt.gamma, tt.c, got, tt.want)
		}
		if !math.IsNaN(got) && got > 0 && math.Abs(Leviathan(got, tt.gamma, tt.c)-1) > 1e-9 {
			t.Errorf("Leviathan at the break-even α %v = %v, want 1", got, Leviathan(got, tt.gamma, tt.c))
		}
	}
}

func TestOptimalGamma(t *testing.T) {
	// α 0.8, c 0.1: S(γ) = (1 − 0.8^(γ+1)) / (0.2 (0.1γ + 1)); by hand
	// S(3) = 2.952/1.3 = 2.2708, S(4) = 3.3616/1.4 = 2.4011,
	// S(5) = 3.6893/1.5 = 2.4595, S(6) = 3.9514/1.6 = 2.4696,
	// S(7) = 4.1611/1.7 = 2.4477
	g, s := OptimalGamma(0.8, 0.1, 16)
	if g != 6 || math.Abs(s-(1-math.Pow(0.8, 7))/0.2/1.6) > 1e-12 {
		t.Errorf("OptimalGamma(0.8, 0.1) = %d, %v; want 6, 2.4696", g, s)
	}
	if g, _ := OptimalGamma(0.8, 0.1, 0); g != 0 {
		t.Errorf("OptimalGamma with no γ allowed = %d", g)
	}
}

func TestMixtureSpeedup(t *testing.T) {
	tests := []struct {
		alpha, c float64
		steps    []int64
		want     float64
	}{
		// one step with k = 0 (1 token), one with k = 2 (1 + 0.5 + 0.25):
		// 1.375 tokens per step at a cost of 1 + 0.1·1
		{0.5, 0.1, []int64{1, 0, 1}, 1.375 / 1.1},
		// a single draft length is Leviathan's formula
		{0.8, 0.1, []int64{0, 0, 0, 0, 7}, Leviathan(0.8, 4, 0.1)},
		// nothing drafted: plain decoding
		{nan, nan, []int64{3}, 1},
		{0.5, 0.1, nil, nan},
	}
	for _, tt := range tests {
		if got := MixtureSpeedup(tt.alpha, tt.c, tt.steps); !near(got, tt.want) {
			t.Errorf("MixtureSpeedup(%v, %v, %v) = %v, want %v", tt.alpha, tt.c, tt.steps, got, tt.want)
		}
	}
}

// TestMeasuredVerifyCost: with v = 1 the measured-cost forms are
// Leviathan's; a cheaper verify lowers the break-even acceptance, a dearer
// one raises it, and a verify cheaper than a step pays even at α = 0.
func TestMeasuredVerifyCost(t *testing.T) {
	for _, g := range []float64{1, 3, 5} {
		for _, c := range []float64{0.05, 0.2, 0.5} {
			if a, b := SpeedupAt(0.7, g, c, 1), Leviathan(0.7, g, c); a != b {
				t.Errorf("SpeedupAt(v=1) %v != Leviathan %v", a, b)
			}
			if a, b := BreakEvenAlphaAt(g, c, 1), BreakEvenAlpha(g, c); math.Abs(a-b) > 1e-12 {
				t.Errorf("BreakEvenAlphaAt(v=1) %v != BreakEvenAlpha %v", a, b)
			}
			lo, mid, hi := BreakEvenAlphaAt(g, c, 0.8), BreakEvenAlphaAt(g, c, 1), BreakEvenAlphaAt(g, c, 1.5)
			if !(lo < mid) || !(mid < hi || math.IsNaN(hi)) {
				t.Errorf("γ=%v c=%v: break-even %v, %v, %v for v = 0.8, 1, 1.5", g, c, lo, mid, hi)
			}
		}
	}
	if got := BreakEvenAlphaAt(3, 0, 0.5); got != 0 {
		t.Errorf("free draft, verify at half a step: break-even %v, want 0", got)
	}
	// S(α) = 1 at the break-even α: 3 tokens drafted at c = 0.1, v = 1.4
	a := BreakEvenAlphaAt(3, 0.1, 1.4)
	if s := SpeedupAt(a, 3, 0.1, 1.4); math.Abs(s-1) > 1e-9 {
		t.Errorf("speedup at the break-even α %v is %v", a, s)
	}
}
