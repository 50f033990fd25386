package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/speclab/speclab/experiments/runlog"
)

// synthStudy writes a run folder shaped like the seed study (five
// configurations, nine tasks, repeats) from a simple random model of
// speculation, and returns the number of token rows written. Tokens per
// cell scale with scale (1: a few hundred).
func synthStudy(t testing.TB, dir string, repeats int, scale float64) int {
	t.Helper()
	w, err := runlog.Create(dir, "1of1", "synth")
	if err != nil {
		t.Fatal(err)
	}
	tasks := []struct {
		name   string
		cap    int
		prompt int
		alpha  float64 // the draft model's per-token acceptance on this task
		repeat float64 // chance that an n-gram finds a match
	}{
		{"code", 512, 40, 0.78, 0.45}, {"haiku", 256, 20, 0.45, 0.05}, {"translate-fr", 128, 30, 0.55, 0.1},
		{"sky-is-blue", 64, 12, 0.6, 0.02}, {"logic", 256, 40, 0.62, 0.15}, {"number-sequence", 512, 20, 0.85, 0.6},
		{"country-list", 512, 15, 0.7, 0.35}, {"short-story", 1024, 25, 0.5, 0.08}, {"relativity", 2048, 30, 0.58, 0.12},
	}
	configs := []string{"baseline", "ngram-simple", "ngram-map-k4v", "draft-simple", "draft-simple+dd-policy"}
	rng := rand.New(rand.NewPCG(1, 2))
	tokens := 0
	var started int64
	const verifyNs = 70_000_000 // one target step, 70 ms (14 t/s)
	for ti, task := range tasks {
		for rep := range repeats {
			noise := 1 + 0.03*rng.NormFloat64()
			for _, cfg := range configs {
				started++
				r := runlog.RunRow{
					RunID: "synth", CellID: fmt.Sprintf("%s/%s/r%d", task.name, cfg, rep),
					ExecID: fmt.Sprintf("x%d-%s-%d", ti, cfg, rep), Task: task.name, Config: cfg,
					Repeat: int32(rep), Baseline: cfg == "baseline", TargetPath: "/m/qwen-27b.gguf",
					PromptTokens: int32(task.prompt), StartedAt: started, FinishedAt: started,
					Applied: cfg != "baseline", Host: "strix", Device: "gpu",
				}
				if cfg != "baseline" {
					r.SpecTypes = cfg
					if cfg == "draft-simple+dd-policy" {
						r.SpecTypes = "draft-simple"
					}
				}
				n := max(8, int(float64(task.cap)*scale))
				pos := task.prompt
				var steps int
				var timeNs int64
				for gen := 0; gen < n; steps++ {
					s := runlog.StepRow{RunID: r.RunID, CellID: r.CellID, ExecID: r.ExecID, Step: int32(steps), Pos: int32(pos)}
					var k, j int
					var q float64
					switch cfg {
					case "baseline":
						s.Reason = "disabled"
					case "ngram-simple", "ngram-map-k4v":
						need := 61
						if cfg == "ngram-map-k4v" {
							need = 72
						}
						switch {
						case pos <= need:
							s.Reason = "no-history"
						case rng.Float64() > task.repeat:
							s.Reason = "no-match"
						default:
							k = 1 + rng.IntN(min(48, n-gen))
						}
						s.ProposeNs = 20_000
					default:
						k = min(4, n-gen)
						if cfg == "draft-simple+dd-policy" && rng.Float64() < 0.25 {
							k = 1 + rng.IntN(k)
						}
						s.ProposeNs = int64(k) * verifyNs / 8
						q = 0.6
					}
					alpha := task.alpha
					if cfg == "ngram-simple" || cfg == "ngram-map-k4v" {
						alpha = 0.5 + task.repeat/2
					}
					for j < k && rng.Float64() < alpha*(1-0.1*float64(pos)/4096) {
						j++
					}
					s.Drafted, s.Accepted, s.Emitted = int32(k), int32(j), int32(j+1)
					s.VerifyNs = verifyNs + int64(k)*verifyNs/50
					timeNs += s.ProposeNs + s.VerifyNs
					if err := w.Step(s); err != nil {
						t.Fatal(err)
					}
					for x := range k {
						acc := x < j
						p := float32(0.2 + 0.7*rng.Float64())
						if acc {
							p = float32(0.7 + 0.3*rng.Float64())
						}
						tr := runlog.TokenRow{RunID: r.RunID, CellID: r.CellID, ExecID: r.ExecID, Step: s.Step,
							Index: int32(x), Token: int32(rng.IntN(32000)), Accepted: acc, Verified: x <= j, PTarget: &p}
						if q > 0 {
							qq := float32(math.Min(1, q+0.3*rng.Float64()))
							e := float32(rng.Float64() * 2)
							tr.QDraft, tr.DraftEntropy = &qq, &e
						}
						if err := w.Token(tr); err != nil {
							t.Fatal(err)
						}
						tokens++
					}
					r.Steps = new(r.StepCount() + 1)
					r.Drafted += int32(k)
					r.Accepted += int32(j)
					if k > 0 {
						r.DraftSteps = new(deref(r.DraftSteps) + 1)
					}
					gen += j + 1
					pos += j + 1
				}
				r.Generated = int32(n)
				r.GenTPS = float64(n) / (float64(timeNs) / 1e9) * noise
				if err := w.EndCell(r); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return tokens
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
