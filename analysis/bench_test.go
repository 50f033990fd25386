package analysis

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/speclab/speclab/experiments/runlog"
)

// benchRun writes a run folder of about tokens drafted-token rows: cells
// of a draft-model configuration drafting 4 tokens per step (every drafted
// token logged, with p_target, q_draft and entropy), and their baselines.
// SPECLAB_BENCH_DIR keeps it between runs.
func benchRun(b *testing.B, tokens int) []string {
	b.Helper()
	dir := os.Getenv("SPECLAB_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	dir = filepath.Join(dir, fmt.Sprintf("bench-%d", tokens))
	if runlog.Exists(dir) {
		return []string{dir}
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	w, err := runlog.Create(tmp, "1of1", "bench")
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const perCell = 50_000 // drafted tokens per cell
	cells := tokens / perCell
	configs := []string{"draft-simple", "draft-dd"}
	for c := range cells {
		task := fmt.Sprintf("task-%02d", c%20)
		rep := int32(c / 20 / len(configs))
		cfg := configs[c/20%len(configs)]
		for _, base := range []bool{true, false} {
			name := cfg
			if base {
				name = "baseline"
			}
			r := runlog.RunRow{RunID: "bench", CellID: fmt.Sprintf("%s/%s/r%d", task, name, rep),
				ExecID: fmt.Sprintf("e%d-%v", c, base), Task: task, Config: name, Repeat: rep, Baseline: base,
				TargetPath: "/m/t.gguf", GenTPS: 10 + rng.Float64(), Applied: !base}
			if base {
				if c/20%len(configs) != 0 {
					continue // one baseline per task and repeat
				}
				for s := range 1000 {
					if err := w.Step(runlog.StepRow{ExecID: r.ExecID, Step: int32(s), Pos: int32(s), Reason: "disabled", VerifyNs: 70e6}); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				r.GenTPS *= 1.5
				for s := range perCell / 4 {
					j := 0
					for j < 4 && rng.Float64() < 0.7 {
						j++
					}
					st := runlog.StepRow{RunID: "bench", CellID: r.CellID, ExecID: r.ExecID, Step: int32(s), Pos: int32(30 + 3*s),
						NMax: 4, Drafted: 4, Accepted: int32(j), Emitted: int32(j + 1), Source: "draft-simple",
						ProposeNs: 4 * 8e6, VerifyNs: 72e6}
					if err := w.Step(st); err != nil {
						b.Fatal(err)
					}
					for x := range 4 {
						p, q, e := rng.Float32(), rng.Float32(), 2*rng.Float32()
						tr := runlog.TokenRow{RunID: "bench", CellID: r.CellID, ExecID: r.ExecID, Step: int32(s), Index: int32(x),
							Token: rng.Int32N(150000), Accepted: x < j, Verified: x <= j, PTarget: &p, QDraft: &q, TargetArgmax: 7, DraftEntropy: &e}
						if err := w.Token(tr); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			if err := w.EndCell(r); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		b.Fatal(err)
	}
	return []string{dir}
}

// BenchmarkMetrics10M is the full metric set over 10 million token rows
// (2.5 million steps): loading by column scans, the summaries by
// configuration and by configuration and task, and the diagnosis.
func BenchmarkMetrics10M(b *testing.B) {
	dirs := benchRun(b, 10_000_000)
	var tokens int64
	for b.Loop() {
		d, err := Load(dirs)
		if err != nil {
			b.Fatal(err)
		}
		Summarize(d, []Dim{ByConfig})
		Summarize(d, []Dim{ByConfig, ByTask})
		Diagnose(d)
		tokens = 0
		for _, c := range d.Cells {
			tokens += c.T.Tokens
		}
	}
	if tokens != 10_000_000 {
		b.Fatalf("%d token rows read, want 10,000,000", tokens)
	}
	b.ReportMetric(float64(tokens)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mtokens/s")
}

// BenchmarkLoadRows is the same data read by decoding whole rows
// (runlog.ReadSteps/ReadTokens), for comparison with the column scans.
func BenchmarkLoadRows10M(b *testing.B) {
	dirs := benchRun(b, 10_000_000)
	for b.Loop() {
		runs, err := runlog.ReadRuns(dirs)
		if err != nil {
			b.Fatal(err)
		}
		keep := runlog.Execs(runs)
		if _, err := runlog.ReadSteps(dirs, keep); err != nil {
			b.Fatal(err)
		}
		toks, err := runlog.ReadTokens(dirs, keep)
		if err != nil {
			b.Fatal(err)
		}
		if len(toks) != 10_000_000 {
			b.Fatalf("%d token rows", len(toks))
		}
	}
}
