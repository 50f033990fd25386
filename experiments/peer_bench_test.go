package experiments_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/internal/testenv"
	"github.com/speclab/speclab/spec"
)

// BenchmarkSideBySide runs speclab and llama.cpp's own tools of the same
// release (the built peer) on the shipped models, alternately within each
// iteration: plain decoding against llama-completion (both without
// polling, speclab's default, and both at poll 50, llama.cpp's), and
// draft-simple against llama-speculative-simple (no polling, as speclab
// runs a draft pair), at 1 and 2 threads. It reports both speeds and their
// ratio.
func BenchmarkSideBySide(b *testing.B) {
	lib := testenv.Lib(b)
	peer := testenv.Peer(b)
	models := filepath.Join(testenv.RepoRoot(), "models")
	target, draft := filepath.Join(models, "target.gguf"), filepath.Join(models, "draft.gguf")
	const n = 200
	for _, threads := range []int{1, 2} {
		for _, mode := range []string{"plain", "plain-poll50", "draft-simple"} {
			b.Run(fmt.Sprintf("%s/t=%d", mode, threads), func(b *testing.B) {
				poll := 0
				if mode == "plain-poll50" {
					poll = 50
				}
				m := experiments.Models{Target: target, Context: experiments.Context{CtxSize: 2048, Threads: threads, Poll: poll}}
				conf := experiments.Configuration{Name: mode}
				peerArgs := []string{"-m", target, "-p", diffPrompt, "-n", fmt.Sprint(n), "-t", fmt.Sprint(threads), "-c", "2048",
					"--temp", "0", "--ignore-eos", "-no-cnv", "--poll", fmt.Sprint(poll)}
				tool, speed := peer.Tool("llama-completion"), evalSpeed
				if mode == "draft-simple" {
					m.Draft, conf.SpecType = draft, "draft-simple"
					peerArgs = []string{"-m", target, "-md", draft, "-p", diffPrompt, "-n", fmt.Sprint(n), "-t", fmt.Sprint(threads),
						"-td", fmt.Sprint(threads), "-c", "2048", "--temp", "0", "--poll", "0", "--spec-draft-n-max", "3", "--spec-type", "draft-simple"}
					tool, speed = peer.Tool("llama-speculative-simple"), specSpeed
				}
				s, err := experiments.Open(lib, m)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				g, err := s.Generation(conf, experiments.Sampling{}, 1)
				if err != nil {
					b.Fatal(err)
				}
				g.Config.NPredict, g.Config.IgnoreEOG = n, true
				prompt, err := s.Prompt(diffPrompt, false, "")
				if err != nil {
					b.Fatal(err)
				}
				// llama-completion prints llama.cpp's eval speed: generation
				// decodes over the time inside llama_decode (its perf
				// counters), sampling excluded. llama-speculative-simple
				// prints wall time. speclab is measured the same way as
				// the tool it faces: its target context's perf counters
				// against llama-completion, wall time against
				// llama-speculative-simple; its wall-time speed is
				// reported too.
				var ours, wall, theirs float64
				for b.Loop() {
					s.Loop.Clear()
					s.Loop.Ctx.ResetPerf()
					res, err := spec.Generate(context.Background(), s.Loop, g.Proposer, prompt, g.Config, nil)
					if err != nil {
						b.Fatal(err)
					}
					wall += res.Stats.TokensPerSecond()
					if mode == "draft-simple" {
						ours += res.Stats.TokensPerSecond()
					} else {
						p := s.Loop.Ctx.Perf()
						ours += float64(p.NEval) / p.Eval.Seconds()
					}
					out, err := exec.Command(tool, peerArgs...).CombinedOutput()
					if err != nil {
						b.Fatalf("%s: %v\n%s", tool, err, tailOf(string(out), 2000))
					}
					v, err := speed(string(out))
					if err != nil {
						b.Fatalf("%s: %v\n%s", tool, err, tailOf(string(out), 2000))
					}
					theirs += v
				}
				k := float64(b.N)
				b.ReportMetric(ours/k, "speclab-tok/s")
				b.ReportMetric(wall/k, "speclab-wall-tok/s")
				b.ReportMetric(theirs/k, "llama.cpp-tok/s")
				b.ReportMetric(ours/theirs, "ratio")
			})
		}
	}
}

var (
	evalRE = regexp.MustCompile(`(?m)^.*\beval time =.*?([\d.]+) tokens per second\)`)
	specRE = regexp.MustCompile(`decoded\s+\d+\s+tokens in\s+[\d.]+ seconds, speed:\s+([\d.]+) t/s`)
)

// evalSpeed reads llama-completion's generation speed ("eval time = ...
// tokens per second"), the line after "prompt eval time".
func evalSpeed(out string) (float64, error) {
	for _, m := range evalRE.FindAllStringSubmatch(out, -1) {
		if regexp.MustCompile(`prompt eval time`).MatchString(m[0]) {
			continue
		}
		return strconv.ParseFloat(m[1], 64)
	}
	return 0, fmt.Errorf("no eval time in the output")
}

// specSpeed reads llama-speculative-simple's "decoded N tokens in S
// seconds, speed: V t/s".
func specSpeed(out string) (float64, error) {
	m := specRE.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no decoded speed in the output")
	}
	return strconv.ParseFloat(m[1], 64)
}
