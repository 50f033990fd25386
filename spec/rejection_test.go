package spec_test

import (
	"context"
	"math"
	"testing"

	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/testenv"
	"github.com/speclab/speclab/spec"
	"github.com/speclab/speclab/spec/sample"
)

// chiSquareCritical is the upper α quantile of χ² with df degrees of
// freedom (Wilson–Hilferty), for z the standard normal quantile of α.
func chiSquareCritical(df int, z float64) float64 {
	k := float64(df)
	return k * math.Pow(1-2/(9*k)+z*math.Sqrt(2/(9*k)), 3)
}

// chiSquare compares observed counts with expected probabilities, pooling
// cells whose expected count is under 5; it returns the statistic and the
// degrees of freedom.
func chiSquare(obs map[[2]engine.Token]int, exp map[[2]engine.Token]float64, n int) (float64, int) {
	stat, cells := 0.0, 0
	poolO, poolE := 0.0, 0.0
	for k, p := range exp {
		e := p * float64(n)
		o := float64(obs[k])
		if e < 5 {
			poolO += o
			poolE += e
			continue
		}
		stat += (o - e) * (o - e) / e
		cells++
	}
	for k, o := range obs { // outcomes the target gives probability 0
		if _, ok := exp[k]; !ok {
			poolO += float64(o)
		}
	}
	if poolE > 0 {
		stat += (poolO - poolE) * (poolO - poolE) / poolE
		cells++
	} else if poolO > 0 {
		return math.Inf(1), cells
	}
	return stat, cells - 1
}

// TestRejectionSamplingPreservesDistribution: over thousands of seeded
// generations of two tokens, the second one drafted and verified by
// rejection sampling, the joint distribution of emitted tokens matches the
// target's own (χ² at α = 0.001), while the draft's proposals alone do not
// — so the test can tell a broken verifier. The drafts come from
// draft-simple (a draft with the target's vocabulary) and from draft-tli
// (a draft with another vocabulary, its distribution restricted to the
// tokens both share).
func TestRejectionSamplingPreservesDistribution(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of generations")
	}
	set := testenv.Models(t, gguf.TypeQ8_0)
	for _, tc := range []struct {
		name  string
		draft string
		make  func(target *engine.Model, ctx *engine.Context) (drafts.Proposer, error)
	}{
		{"draft-simple", set.Draft, func(target *engine.Model, ctx *engine.Context) (drafts.Proposer, error) {
			return drafts.NewDraftModel(drafts.ModelVocab{M: target}, ctx, 99)
		}},
		{"draft-tli", set.OtherVocab, func(target *engine.Model, ctx *engine.Context) (drafts.Proposer, error) {
			return drafts.NewTLI(drafts.ModelVocab{M: target}, ctx, 99)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := load(t, set.Target)
			prop, err := tc.make(target, newCtx(t, load(t, tc.draft), 128))
			if err != nil {
				t.Fatal(err)
			}
			rejectionTrials(t, target, prop)
		})
	}
}

func rejectionTrials(t *testing.T, target *engine.Model, prop drafts.Proposer) {
	sp := sample.Params{Temp: 1.5, TopK: 5}
	toks := tokenize(t, target, "The quick brown")

	// The target's exact joint distribution of (t1, t2).
	ref := newCtx(t, target, 128)
	if err := ref.Decode(toks, 0, 0, engine.LogitsLast); err != nil {
		t.Fatal(err)
	}
	var p1, p2 sample.Dist
	sp.Fill(ref.Logits(-1), &p1)
	p1 = p1.Clone()
	exp := map[[2]engine.Token]float64{}
	for i, t1 := range p1.IDs {
		ref.RemoveTail(0, len(toks))
		if err := ref.Decode([]engine.Token{t1}, len(toks), 0, engine.LogitsLast); err != nil {
			t.Fatal(err)
		}
		sp.Fill(ref.Logits(-1), &p2)
		for j, t2 := range p2.IDs {
			exp[[2]engine.Token{t1, t2}] = float64(p1.P[i]) * float64(p2.P[j])
		}
	}

	tg := newTarget(t, target)
	const trials = 3000
	obs := map[[2]engine.Token]int{}
	proposed := map[[2]engine.Token]int{}
	accepted := 0
	for seed := range uint64(trials) {
		tg.Clear()
		var ev spec.Collect
		res, err := spec.Generate(context.Background(), tg, prop, toks, spec.Config{
			NPredict: 3, Verify: spec.Rejection, Sampling: sp, Seed: seed, Policy: drafts.Static{NMax: 1},
		}, &ev)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Tokens) != 3 || len(ev.Tokens) != 1 {
			t.Fatalf("trial %d: %d tokens, %d drafted", seed, len(res.Tokens), len(ev.Tokens))
		}
		obs[[2]engine.Token{res.Tokens[0], res.Tokens[1]}]++
		proposed[[2]engine.Token{res.Tokens[0], ev.Tokens[0].Token}]++
		if ev.Tokens[0].Accepted {
			accepted++
		}
	}
	stat, df := chiSquare(obs, exp, trials)
	crit := chiSquareCritical(df, 3.0902) // α = 0.001
	t.Logf("emitted: χ² = %.1f, df %d, critical %.1f; %d of %d drafts accepted", stat, df, crit, accepted, trials)
	if stat > crit {
		t.Errorf("emitted tokens do not follow the target's distribution: χ² = %.1f > %.1f (df %d)", stat, crit, df)
	}
	if accepted == 0 || accepted == trials {
		t.Errorf("%d of %d drafts accepted: both branches of the verifier must be exercised", accepted, trials)
	}
	pstat, pdf := chiSquare(proposed, exp, trials)
	if pcrit := chiSquareCritical(pdf, 3.0902); pstat <= pcrit {
		t.Errorf("the draft's own proposals also pass (χ² = %.1f <= %.1f): the test has no power here", pstat, pcrit)
	}
}
