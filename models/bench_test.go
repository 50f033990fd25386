package models_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/models"
	"github.com/speclab/speclab/spec"
)

// threadSettings are the (generation, batch) thread counts the benchmarks
// compare: one thread, two threads, and one thread for single tokens with
// two for batches (verify steps, prompts).
var threadSettings = [][2]int{{1, 1}, {2, 2}, {1, 2}}

// BenchmarkDecode measures single-token decoding of each shipped model
// after a 128-token prompt, in tokens per second.
func BenchmarkDecode(b *testing.B) {
	ms := load(b)
	for _, name := range []string{models.Target, models.Draft} {
		for _, th := range threadSettings[:2] {
			b.Run(fmt.Sprintf("%s/threads=%d", name, th[0]), func(b *testing.B) {
				m := ms[name]
				c, err := m.NewContext(engine.ContextParams{NCtx: 1024, Threads: th[0], ThreadsBatch: th[1]})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				p := prompts(b, ms[models.Target], 1, 128)[0]
				if err := c.Decode(p, 0, 0, engine.LogitsLast); err != nil {
					b.Fatal(err)
				}
				pos := len(p)
				tok := []engine.Token{p[len(p)-1]}
				b.ResetTimer()
				for range b.N {
					if pos == 1024 {
						b.StopTimer()
						c.RemoveTail(0, len(p))
						pos = len(p)
						b.StartTimer()
					}
					if err := c.Decode(tok, pos, 0, engine.LogitsLast); err != nil {
						b.Fatal(err)
					}
					pos++
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
			})
		}
	}
}

// BenchmarkGenerate measures plain greedy decoding of the target against
// greedy speculative decoding with the matched draft (draft-simple, n_max
// 4): 128 new tokens after each of 4 held-out prompts of 128 tokens, in
// generated tokens per second (prompt processing excluded).
func BenchmarkGenerate(b *testing.B) {
	ms := load(b)
	ps := prompts(b, ms[models.Target], 4, 128)
	for _, th := range threadSettings {
		for _, mode := range []string{"plain", "spec"} {
			b.Run(fmt.Sprintf("%s/threads=%d,%d", mode, th[0], th[1]), func(b *testing.B) {
				tc, err := ms[models.Target].NewContext(engine.ContextParams{NCtx: 1024, Threads: th[0], ThreadsBatch: th[1]})
				if err != nil {
					b.Fatal(err)
				}
				defer tc.Close()
				tgt, err := spec.NewTarget(tc)
				if err != nil {
					b.Fatal(err)
				}
				var prop drafts.Proposer
				if mode == "spec" {
					dc, err := ms[models.Draft].NewContext(engine.ContextParams{NCtx: 1024, Threads: th[0], ThreadsBatch: th[1]})
					if err != nil {
						b.Fatal(err)
					}
					defer dc.Close()
					dm, err := drafts.NewDraftModel(drafts.ModelVocab{M: ms[models.Target]}, dc, 1)
					if err != nil {
						b.Fatal(err)
					}
					prop = dm
				}
				var gen, acc, drafted, steps int
				var secs, propose, verify float64
				b.ResetTimer()
				for i := range b.N {
					tc.ClearMemory()
					res, err := spec.Generate(context.Background(), tgt, prop, ps[i%len(ps)],
						spec.Config{NPredict: 128, Policy: drafts.Static{NMax: 4}, IgnoreEOG: true}, nil)
					if err != nil {
						b.Fatal(err)
					}
					gen += res.Stats.Generated
					secs += res.Stats.GenTime.Seconds()
					acc += res.Stats.Accepted
					drafted += res.Stats.Drafted
					steps += res.Stats.Steps
					propose += res.Stats.Propose.Seconds()
					verify += res.Stats.VerifyTime.Seconds()
				}
				b.ReportMetric(float64(gen)/secs, "tok/s")
				if drafted > 0 {
					b.ReportMetric(float64(acc)/float64(drafted), "accept")
					b.ReportMetric(1+float64(acc)/float64(steps), "tau")
					b.ReportMetric(1e3*propose/float64(steps), "propose-ms/step")
					b.ReportMetric(1e3*verify/float64(steps), "verify-ms/step")
				}
			})
		}
	}
}

// BenchmarkTargetBatch measures one decode of n tokens by the target (all
// logits, as a verify step of n-1 drafted tokens needs) at position 128:
// the cost that speculative decoding must amortise.
func BenchmarkTargetBatch(b *testing.B) {
	ms := load(b)
	m := ms[models.Target]
	p := prompts(b, m, 1, 128)[0]
	for _, th := range threadSettings[:2] {
		for n := 1; n <= 5; n++ {
			b.Run(fmt.Sprintf("threads=%d/n=%d", th[0], n), func(b *testing.B) {
				c, err := m.NewContext(engine.ContextParams{NCtx: 1024, Threads: th[0], ThreadsBatch: th[1]})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				if err := c.Decode(p, 0, 0, engine.LogitsLast); err != nil {
					b.Fatal(err)
				}
				batch := p[:n]
				b.ResetTimer()
				for range b.N {
					if err := c.Decode(batch, len(p), 0, engine.LogitsAll); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					c.RemoveTail(0, len(p))
					b.StartTimer()
				}
			})
		}
	}
}
