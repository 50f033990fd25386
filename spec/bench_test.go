package spec_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/engine/synth"
	"github.com/speclab/speclab/internal/testenv"
	"github.com/speclab/speclab/spec"
)

var benchPrompt = strings.Repeat("if err != nil {\n\treturn fmt.Errorf(\"read %s: %w\", path, err)\n}\n", 4)

// overheadSink sums the per-step times.
type overheadSink struct {
	steps                         int
	overhead, verify, propose, rb time.Duration
}

func (o *overheadSink) OnStep(s *spec.Step) {
	o.steps++
	o.overhead += s.Overhead
	o.verify += s.Verify
	o.propose += s.Propose
	o.rb += s.Rollback
}
func (o *overheadSink) OnToken(*spec.TokenEvent) {}

// BenchmarkStepOverhead measures the Go side of a verify step — the loop's
// own work outside llama_decode and the proposer: verification (argmax over
// the vocabulary per verified position), rollback bookkeeping, events — at
// vocabularies of 32k and 150k, with and without the target probability of
// each drafted token. One op is one generation of 64 tokens with
// ngram-simple (n 2, m 4) drafting.
func BenchmarkStepOverhead(b *testing.B) {
	dir := b.TempDir()
	for _, vocab := range []int{32000, 150000} {
		tok, err := synth.Tokenizer(vocab)
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("v%d.gguf", vocab))
		if err := synth.WriteLlama(path, synth.DraftConfig(gguf.TypeQ8_0), tok, 1); err != nil {
			b.Fatal(err)
		}
		m := load(b, path)
		tg := newTarget(b, m)
		prompt := tokenize(b, m, benchPrompt)
		for _, probs := range []bool{false, true} {
			b.Run(fmt.Sprintf("vocab=%dk/probs=%v", vocab/1000, probs), func(b *testing.B) {
				prop, err := drafts.NewNgram("ngram-simple", map[string]int{"spec-ngram-simple-size-n": 2, "spec-ngram-simple-size-m": 4})
				if err != nil {
					b.Fatal(err)
				}
				var o overheadSink
				for i := 0; i < b.N; i++ {
					tg.Clear()
					if _, err := spec.Generate(context.Background(), tg, prop, prompt,
						spec.Config{NPredict: 64, TokenProbs: probs, IgnoreEOG: true}, &o); err != nil {
						b.Fatal(err)
					}
				}
				step := o.overhead + o.verify + o.propose + o.rb
				b.ReportMetric(float64(o.overhead.Nanoseconds())/float64(o.steps)/1e3, "overhead-µs/step")
				b.ReportMetric(100*float64(o.overhead)/float64(step), "overhead-%")
				b.ReportMetric(float64(o.propose.Nanoseconds())/float64(o.steps)/1e3, "propose-µs/step")
			})
		}
	}
}

// BenchmarkSpeedup runs plain decoding and draft-simple side by side on the
// synthetic target/draft pair and reports the measured speedup next to
// Leviathan et al.'s prediction S = (1 − α^(γ+1)) / ((1 − α)(γc + 1)) from
// the measured acceptance α, the draft length γ and the measured cost ratio
// c of a draft step to a target step.
func BenchmarkSpeedup(b *testing.B) {
	for _, wt := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeMXFP4} {
		b.Run(wt.String(), func(b *testing.B) {
			set := testenv.Models(b, wt)
			target, draft := load(b, set.Target), load(b, set.Draft)
			tg := newTarget(b, target)
			prop, err := drafts.NewDraftModel(drafts.ModelVocab{M: target}, newCtx(b, draft, 512), 1)
			if err != nil {
				b.Fatal(err)
			}
			const gamma = 3
			prompt := tokenize(b, target, benchPrompt)
			cfg := spec.Config{NPredict: 128, Policy: drafts.Static{NMax: gamma}, IgnoreEOG: true}
			var plainT, specT time.Duration
			var drafted, accepted int
			for i := 0; i < b.N; i++ {
				tg.Clear()
				p, err := spec.Generate(context.Background(), tg, nil, prompt, cfg, nil)
				if err != nil {
					b.Fatal(err)
				}
				plainT += p.Stats.GenTime
				tg.Clear()
				s, err := spec.Generate(context.Background(), tg, prop, prompt, cfg, nil)
				if err != nil {
					b.Fatal(err)
				}
				specT += s.Stats.GenTime
				drafted += s.Stats.Drafted
				accepted += s.Stats.Accepted
			}
			alpha := float64(accepted) / float64(drafted)
			c := stepCost(b, draft) / stepCost(b, target)
			pred := (1 - math.Pow(alpha, gamma+1)) / ((1 - alpha) * (gamma*c + 1))
			b.ReportMetric(float64(plainT)/float64(specT), "speedup")
			b.ReportMetric(pred, "leviathan")
			b.ReportMetric(alpha, "alpha")
			b.ReportMetric(c, "c")
		})
	}
}

// stepCost is the time of one single-token decode of m, median of 31.
func stepCost(b *testing.B, m *engine.Model) float64 {
	c := newCtx(b, m, 128)
	toks := tokenize(b, m, "cost of one step")
	if err := c.Decode(toks, 0, 0, engine.LogitsLast); err != nil {
		b.Fatal(err)
	}
	var ts []float64
	for range 31 {
		t0 := time.Now()
		if err := c.Decode(toks[:1], len(toks), 0, engine.LogitsLast); err != nil {
			b.Fatal(err)
		}
		ts = append(ts, float64(time.Since(t0)))
		c.RemoveTail(0, len(toks))
	}
	slices.Sort(ts)
	return ts[len(ts)/2]
}
