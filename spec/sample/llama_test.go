package sample_test

import (
	"math/rand/v2"
	"testing"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/internal/testenv"
	"github.com/speclab/speclab/spec/sample"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestDistributionIsLlamaCpps: at T > 0 the distribution speclab samples
// from is the one llama.cpp's own samplers give (top-k, top-p, min-p,
// temperature, in its default chain's order, then dist's softmax), run in
// the real libllama on the same logits: total variation under 1e-4 for
// several settings, llama-server's defaults among them.
func TestDistributionIsLlamaCpps(t *testing.T) {
	lib := testenv.Lib(t)
	settings := []sample.Params{
		{Temp: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05}, // llama-server's defaults
		{Temp: 1.5, TopK: 0, TopP: 0.9, MinP: 0},
		{Temp: 0.5, TopK: 10, TopP: 1, MinP: 0.1},
		{Temp: 1, TopK: 100, TopP: 0.5, MinP: 0.02},
		{Temp: 2, TopK: 0, TopP: 1, MinP: 0},
		{Temp: 0.3, TopK: 5, TopP: 0.8, MinP: 0.2},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 40 {
		logits := make([]float32, 3000)
		scale := 0.5 + 3*rng.Float64()
		for i := range logits {
			logits[i] = float32(rng.NormFloat64() * scale)
		}
		for i := range 1 + rng.IntN(8) { // a few strong candidates, as real logits have
			logits[rng.IntN(len(logits))] += float32(4 + 2*float64(i)*rng.Float64())
		}
		for _, p := range settings {
			ids, probs := lib.LlamaDistribution(logits, engine.SamplerChain{TopK: p.TopK, TopP: p.TopP, MinP: p.MinP, Temp: p.Temp})
			var d sample.Dist
			p.Fill(logits, &d)
			ps := make([]float64, len(probs))
			for i, q := range probs {
				ps[i] = float64(q)
			}
			tv := d.TotalVariation(ids, ps)
			if tv >= 1e-4 {
				t.Errorf("trial %d, %v: total variation %.3g from llama.cpp's samplers (speclab keeps %d candidates, llama.cpp %d)",
					trial, p, tv, d.Len(), len(ids))
			}
		}
	}
}
