package engine_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/engine/synth"
	"github.com/speclab/speclab/internal/testenv"
)

// BenchmarkDecodeStep measures one single-token Decode (plus the tail
// removal that keeps the position fixed) on the synthetic models, and in the
// same run the Go side of that call (checks, batch fill, one purego call).
// The metric go-side-% is the share of the Go layer in a decode step.
func BenchmarkDecodeStep(b *testing.B) {
	set := testenv.Models(b, gguf.TypeQ8_0)
	for _, tc := range []struct{ name, path string }{{"draft", set.Draft}, {"target", set.Target}} {
		b.Run(tc.name, func(b *testing.B) {
			m := load(b, tc.path)
			c := newCtx(b, m, 256)
			toks := tokens(b, m, prompt)
			if err := c.Decode(toks, 0, 0, engine.LogitsLast); err != nil {
				b.Fatal(err)
			}
			pos := len(toks)
			var goSide time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.Decode(toks[:1], pos, 0, engine.LogitsLast); err != nil {
					b.Fatal(err)
				}
				c.RemoveTail(0, pos)
				if i%16 == 0 { // sample the Go side without doubling the run
					t0 := time.Now()
					for range 16 {
						engine.GoSideOfDecode(c, toks[0], pos)
					}
					goSide += time.Since(t0)
				}
			}
			b.StopTimer()
			perOp := float64(b.Elapsed().Nanoseconds()-goSide.Nanoseconds()) / float64(b.N)
			goNs := float64(goSide.Nanoseconds()) / float64(16*((b.N+15)/16))
			b.ReportMetric(goNs, "go-side-ns")
			b.ReportMetric(100*goNs/perOp, "go-side-%")
		})
	}
}

// BenchmarkLogits measures reading the logits of one position: a zero-copy
// view, so its cost must not grow with the vocabulary.
func BenchmarkLogits(b *testing.B) {
	dir := b.TempDir()
	for _, vocab := range []int{32000, 150000} {
		b.Run(fmt.Sprintf("vocab=%dk", vocab/1000), func(b *testing.B) {
			tok, err := synth.Tokenizer(vocab)
			if err != nil {
				b.Fatal(err)
			}
			path := filepath.Join(dir, fmt.Sprintf("v%d.gguf", vocab))
			if err := synth.WriteLlama(path, synth.DraftConfig(gguf.TypeQ8_0), tok, 1); err != nil {
				b.Fatal(err)
			}
			m := load(b, path)
			c := newCtx(b, m, 64)
			toks := tokens(b, m, prompt)
			if err := c.Decode(toks, 0, 0, engine.LogitsLast); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var sink float32
			for i := 0; i < b.N; i++ {
				l := c.Logits(-1)
				sink += l[i%len(l)]
			}
			_ = sink
		})
	}
}

// BenchmarkThreads measures a single-token decode step of the shipped
// target and draft at 1 and 2 threads, with ggml's per-call threads (as speclab ran
// before it attached threadpools) and with a persistent threadpool,
// polling (ggml's default 50) or not.
func BenchmarkThreads(b *testing.B) {
	for _, model := range []string{"target", "draft"} {
		b.Run(model, func(b *testing.B) { benchThreads(b, model) })
	}
}

func benchThreads(b *testing.B, model string) {
	m := load(b, filepath.Join(testenv.RepoRoot(), "models", model+".gguf"))
	for _, threads := range []int{1, 2} {
		for _, pc := range []struct {
			name string
			p    engine.ContextParams
		}{
			{"per-call", engine.ContextParams{NoThreadpool: true}},
			{"pool-poll50", engine.ContextParams{Poll: 50}},
			{"pool-nopoll", engine.ContextParams{}},
		} {
			b.Run(fmt.Sprintf("t=%d/%s", threads, pc.name), func(b *testing.B) {
				p := pc.p
				p.NCtx, p.Threads = 256, threads
				c, err := m.NewContext(p)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				toks := tokens(b, m, prompt)
				if err := c.Decode(toks, 0, 0, engine.LogitsLast); err != nil {
					b.Fatal(err)
				}
				pos := len(toks)
				b.ResetTimer()
				for b.Loop() {
					if err := c.Decode(toks[:1], pos, 0, engine.LogitsLast); err != nil {
						b.Fatal(err)
					}
					c.RemoveTail(0, pos)
				}
			})
		}
	}
}

// BenchmarkCheckpoint times a checkpoint save + restore of the hybrid
// (qwen35) model at several context lengths: partial (the recurrent part,
// what speclab and llama-server v0.5.0 do) against the whole sequence
// state (what speclab did before). The partial cost should be flat in the
// context; the whole state grows with the attention cells.
func BenchmarkCheckpoint(b *testing.B) {
	for _, tc := range []struct{ name, path string }{
		{"synthetic", testenv.Models(b, gguf.TypeQ8_0).Hybrid},
		{"shipped", filepath.Join(testenv.RepoRoot(), "models", "target-hybrid.gguf")},
	} {
		b.Run(tc.name, func(b *testing.B) { benchCheckpoint(b, tc.path) })
	}
}

func benchCheckpoint(b *testing.B, path string) {
	m := load(b, path)
	c := newCtx(b, m, 512)
	toks := tokens(b, m, prompt)
	for _, n := range []int{64, 256, 448} {
		c.ClearMemory()
		fill := make([]engine.Token, n)
		for i := range fill {
			fill[i] = toks[i%len(toks)]
		}
		if err := c.Decode(fill, 0, 0, engine.LogitsLast); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("partial/pos=%d", n), func(b *testing.B) {
			var ck engine.Checkpoint
			for b.Loop() {
				if err := c.Save(&ck, 0); err != nil {
					b.Fatal(err)
				}
				if err := c.Restore(&ck, 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(ck.Bytes()), "state-bytes")
		})
		b.Run(fmt.Sprintf("whole/pos=%d", n), func(b *testing.B) {
			var state []byte
			for b.Loop() {
				var err error
				if state, err = c.SaveState(state, 0); err != nil {
					b.Fatal(err)
				}
				if err := c.LoadState(0, state); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(state)), "state-bytes")
		})
	}
}
