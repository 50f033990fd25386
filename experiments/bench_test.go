package experiments_test

import (
	"context"
	"testing"
	"time"

	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/experiments/runlog"
	"github.com/speclab/speclab/internal/testenv"
	"github.com/speclab/speclab/spec"
)

// BenchmarkLoggingOverhead runs the same generation (synthetic target and
// draft, draft-simple, 256 tokens) with the Parquet log sink and with a
// discarding sink, alternately in one run, and reports the log's share of
// the wall time and the rows written per second.
func BenchmarkLoggingOverhead(b *testing.B) {
	lib := testenv.Lib(b)
	set := testenv.Models(b, gguf.TypeQ8_0)
	target, err := lib.LoadModel(set.Target, engine.ModelParams{})
	if err != nil {
		b.Fatal(err)
	}
	defer target.Close()
	draft, err := lib.LoadModel(set.Draft, engine.ModelParams{})
	if err != nil {
		b.Fatal(err)
	}
	defer draft.Close()
	tctx, _ := target.NewContext(engine.ContextParams{NCtx: 512})
	defer tctx.Close()
	dctx, _ := draft.NewContext(engine.ContextParams{NCtx: 512})
	defer dctx.Close()
	tg, err := spec.NewTarget(tctx)
	if err != nil {
		b.Fatal(err)
	}
	prop, err := drafts.NewDraftModel(drafts.ModelVocab{M: target}, dctx, 1)
	if err != nil {
		b.Fatal(err)
	}
	prompt, _ := target.Tokenize(experiments.SeedBattery.Tasks[7].Prompt, true, false)
	cfg := spec.Config{NPredict: 256, IgnoreEOG: true, TokenProbs: true, Policy: drafts.Static{NMax: 4}}
	w, err := runlog.Create(b.TempDir(), "1of1", "bench")
	if err != nil {
		b.Fatal(err)
	}
	var logged, discarded time.Duration
	rows := 0
	for i := 0; i < b.N; i++ {
		tg.Clear()
		t0 := time.Now()
		if _, err := spec.Generate(context.Background(), tg, prop, prompt, cfg, spec.Discard{}); err != nil {
			b.Fatal(err)
		}
		discarded += time.Since(t0)
		tg.Clear()
		sink := experiments.NewLogSink(w, "run", "cell", "exec")
		t0 = time.Now()
		res, err := spec.Generate(context.Background(), tg, prop, prompt, cfg, sink)
		if err != nil {
			b.Fatal(err)
		}
		logged += time.Since(t0)
		rows += res.Stats.Steps + res.Stats.Drafted
	}
	t0 := time.Now()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	logged += time.Since(t0) // closing the parts is part of logging
	b.ReportMetric(100*(logged.Seconds()-discarded.Seconds())/discarded.Seconds(), "log-overhead-%")
	b.ReportMetric(float64(rows)/logged.Seconds(), "rows/s-in-run")
}
