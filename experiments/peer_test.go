package experiments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/internal/testenv"
	"github.com/speclab/speclab/spec"
	"github.com/speclab/speclab/spec/sample"
)

// Differential tests against llama.cpp's own llama-server of the pinned
// release, built from its source (testenv.Peer), on the shipped models:
// what speclab runs must be what the server runs.

// server is a running llama-server (testenv.StartServer).
type server struct {
	url string
	*testenv.Server
}

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	s := testenv.StartServer(t, 0, args...)
	return &server{url: s.URL, Server: s}
}

func tailOf(s string, n int) string { return testenv.Tail(s, n) }

// completion is what /completion returns that the tests compare.
type completion struct {
	Tokens  []int32 `json:"tokens"`
	Timings struct {
		DraftN         int `json:"draft_n"`
		DraftNAccepted int `json:"draft_n_accepted"`
	} `json:"timings"`
	Probs []struct {
		ID       int32 `json:"id"`
		TopProbs []struct {
			ID   int32   `json:"id"`
			Prob float64 `json:"prob"`
		} `json:"top_probs"` // post_sampling_probs
		TopLogprobs []struct {
			ID      int32   `json:"id"`
			Logprob float64 `json:"logprob"`
		} `json:"top_logprobs"` // pre-sampling
	} `json:"completion_probabilities"`
}

func (s *server) complete(t *testing.T, req map[string]any) completion {
	t.Helper()
	body, _ := json.Marshal(req)
	resp, err := http.Post(s.url+"/completion", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%v; llama-server said:\n%s", err, tailOf(s.Log(), 3000))
	}
	defer resp.Body.Close()
	var c completion
	if resp.StatusCode != 200 {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("/completion: %s: %s", resp.Status, b.String())
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// diffPrompt repeats itself, so that every n-gram method finds matches.
const diffPrompt = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfor i := 0; i < 10; i++ {\n\t\tfmt.Println(i)\n\t}\n\tfor i := 0; i < 10; i++ {\n\t\tfmt.Println(i)\n\t}\n"

// TestAgainstLlamaServerGreedy: for every n-gram method, draft-simple and a
// mixed list, greedy, the output tokens and the drafted and accepted
// counters equal llama-server's; with the draft whose vocabulary is refused
// both run no speculation. The synthetic hybrid (qwen35) target, whose
// rejected drafts are undone from partial checkpoints, and a hybrid draft,
// which is checkpointed, give the server's tokens and counters too.
func TestAgainstLlamaServerGreedy(t *testing.T) {
	lib := testenv.Lib(t)
	models := filepath.Join(testenv.RepoRoot(), "models")
	target, draft, other := filepath.Join(models, "target.gguf"), filepath.Join(models, "draft.gguf"), filepath.Join(models, "draft-othervocab.gguf")
	synth := testenv.Models(t, gguf.TypeF32)
	const n = 96
	tests := []struct {
		target, specType, draft string
	}{
		{target, "ngram-simple", ""}, {target, "ngram-map-k", ""}, {target, "ngram-map-k4v", ""}, {target, "ngram-mod", ""},
		{target, "draft-simple", draft}, {target, "ngram-simple,draft-simple", draft}, {target, "draft-simple", other},
		{synth.Hybrid, "ngram-simple", ""}, {synth.Hybrid, "ngram-map-k4v", ""}, {synth.Hybrid, "draft-simple", synth.Draft},
		{synth.Recurrent, "draft-simple", synth.Draft},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.target)+"/"+tt.specType+"/"+filepath.Base(tt.draft), func(t *testing.T) {
			target := tt.target
			args := []string{"-m", target, "--spec-type", tt.specType}
			if tt.draft != "" {
				args = append(args, "-md", tt.draft)
			}
			srv := startServer(t, args...)
			got := srv.complete(t, map[string]any{"prompt": diffPrompt, "n_predict": n, "temperature": 0,
				"ignore_eos": true, "cache_prompt": false, "return_tokens": true})

			s, err := experiments.Open(lib, experiments.Models{Target: target, Draft: tt.draft,
				Context: experiments.Context{CtxSize: 2048, Threads: 1}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			g, err := s.Generation(experiments.Configuration{Name: "diff", SpecType: tt.specType}, experiments.Sampling{}, 1)
			if err != nil {
				t.Fatal(err)
			}
			g.Config.NPredict, g.Config.IgnoreEOG = n, true
			prompt, err := s.Prompt(diffPrompt, false, "")
			if err != nil {
				t.Fatal(err)
			}
			res, err := spec.Generate(context.Background(), s.Loop, g.Proposer, prompt, g.Config, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Tokens, got.Tokens) {
				i := 0
				for i < len(res.Tokens) && i < len(got.Tokens) && res.Tokens[i] == got.Tokens[i] {
					i++
				}
				t.Errorf("tokens differ from llama-server's at %d (speclab %d tokens, server %d)", i, len(res.Tokens), len(got.Tokens))
			}
			st := res.Stats
			if st.Drafted != got.Timings.DraftN || st.Accepted != got.Timings.DraftNAccepted {
				t.Errorf("drafted/accepted %d/%d, llama-server %d/%d", st.Drafted, st.Accepted, got.Timings.DraftN, got.Timings.DraftNAccepted)
			}
			t.Logf("%s: drafted %d, accepted %d (llama-server %d, %d)", tt.specType, st.Drafted, st.Accepted, got.Timings.DraftN, got.Timings.DraftNAccepted)
		})
	}
}

// TestLlamaServerHybridDraft records where no comparison is possible:
// llama-server v0.5.0 aborts when a draft whose memory cannot drop a tail
// (here the hybrid qwen35) serves a target that can. After a partial
// acceptance it restores the draft's checkpoint but then removes the
// rejected tail from both contexts (common_memory::seq_rm), which the
// draft's recurrent memory refuses: GGML_ABORT "failed to remove
// sequence". speclab checkpoints such drafts and stays lossless
// (spec.TestRecurrentDraft). If this test fails, the server was fixed:
// move the case into TestAgainstLlamaServerGreedy.
func TestLlamaServerHybridDraft(t *testing.T) {
	synth := testenv.Models(t, gguf.TypeF32)
	srv := startServer(t, "-m", synth.Target, "-md", synth.Hybrid, "--spec-type", "draft-simple")
	body, _ := json.Marshal(map[string]any{"prompt": diffPrompt, "n_predict": 96, "temperature": 0,
		"ignore_eos": true, "cache_prompt": false})
	resp, err := http.Post(srv.url+"/completion", "application/json", bytes.NewReader(body))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("llama-server ran a hybrid draft without aborting; compare it in TestAgainstLlamaServerGreedy")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(srv.Log(), "failed to remove sequence") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(srv.Log(), "failed to remove sequence") {
		t.Fatalf("llama-server failed otherwise (%v):\n%s", err, tailOf(srv.Log(), 3000))
	}
}

// TestAgainstLlamaServerSampling: at T > 0 speclab's sampler gives the
// first token the distribution llama-server samples from (its
// post_sampling_probs), to a total variation under 1e-4, for several
// settings, on the server's own logits: they are read back from its
// pre-sampling log-probabilities of the whole vocabulary (each the logit up
// to a constant).
// The logits of the runtime and of the peer build differ in their last
// digits on long prompts (other CPU kernels: the peer is built for this
// machine, the runtime picks one of its prebuilt CPU variants), which is
// logged, not asserted.
func TestAgainstLlamaServerSampling(t *testing.T) {
	lib := testenv.Lib(t)
	target := filepath.Join(testenv.RepoRoot(), "models", "target.gguf")
	srv := startServer(t, "-m", target)
	m, err := lib.LoadModel(target, engine.ModelParams{LoadMode: engine.LoadAuto})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := m.NewContext(engine.ContextParams{NCtx: 2048, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	top := m.Info.VocabSize
	for _, prompt := range []string{"func ", diffPrompt, "package main\n\nimport (\n\t\""} {
		name := strings.TrimSpace(prompt[:min(len(prompt), 12)])
		pre := srv.complete(t, map[string]any{"prompt": prompt, "n_predict": 1, "n_probs": top, "post_sampling_probs": false,
			"cache_prompt": false, "temperature": 0})
		if len(pre.Probs) != 1 || len(pre.Probs[0].TopLogprobs) != top {
			t.Fatalf("%q: pre-sampling probabilities: %+v", name, pre.Probs)
		}
		logits := make([]float32, m.Info.VocabSize)
		for i := range logits {
			logits[i] = float32(math.Inf(-1))
		}
		for _, tp := range pre.Probs[0].TopLogprobs {
			logits[tp.ID] = float32(tp.Logprob)
		}
		// the runtime's own logits, for the record
		toks, err := m.Tokenize(prompt, true, false)
		if err != nil {
			t.Fatal(err)
		}
		c.ClearMemory()
		if err := c.Decode(toks, 0, 0, engine.LogitsLast); err != nil {
			t.Fatal(err)
		}
		own := c.Logits(-1)
		lse := sample.LogSumExp(own)
		drift := 0.0
		for _, tp := range pre.Probs[0].TopLogprobs {
			drift += math.Abs(math.Exp(tp.Logprob) - float64(sample.Softmax1(own, lse, tp.ID)))
		}
		t.Logf("%q: runtime and peer logits: total variation %.2g of the temperature-1 distributions", name, drift/2)
		for _, p := range []sample.Params{
			{Temp: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05}, // llama-server's defaults
			{Temp: 1.2, TopK: 100, TopP: 0.9, MinP: 0},
			{Temp: 0.5, TopK: 0, TopP: 1, MinP: 0.1},
			{Temp: 1.5, TopK: 0, TopP: 0.8, MinP: 0},
		} {
			got := srv.complete(t, map[string]any{"prompt": prompt, "n_predict": 1, "temperature": p.Temp, "top_k": p.TopK,
				"top_p": p.TopP, "min_p": p.MinP, "n_probs": top, "post_sampling_probs": true, "cache_prompt": false, "seed": 1})
			if len(got.Probs) != 1 {
				t.Fatalf("%q %v: %d completion_probabilities", name, p, len(got.Probs))
			}
			var ids []int32
			var ps []float64
			for _, tp := range got.Probs[0].TopProbs {
				ids, ps = append(ids, tp.ID), append(ps, tp.Prob)
			}
			var d sample.Dist
			p.Fill(logits, &d)
			tv := d.TotalVariation(ids, ps)
			if tv >= 1e-4 {
				t.Errorf("%q, %v: total variation %.3g from llama-server's post_sampling_probs (%d candidates here, %d there)",
					name, p, tv, d.Len(), len(got.Probs[0].TopProbs))
			}
		}
	}
}
