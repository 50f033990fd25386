package experiments_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/experiments/llamaserver"
	"github.com/speclab/speclab/internal/testenv"
	"github.com/speclab/speclab/spec"
)

// TestLlamaServerClient talks to the real llama-server built from the
// pinned source: with ngram-simple its drafts equal in-process speclab's
// on the same prompt, and its /metrics delta equals the request's
// timings; with the refused draft, speculation is reported not running,
// with the vocabulary among the causes; with none, not running either.
func TestLlamaServerClient(t *testing.T) {
	lib := testenv.Lib(t)
	models := filepath.Join(testenv.RepoRoot(), "models")
	target, other := filepath.Join(models, "target.gguf"), filepath.Join(models, "draft-othervocab.gguf")
	ctx := context.Background()
	req := llamaserver.Request{Prompt: diffPrompt, NPredict: 96, IgnoreEOS: true}

	t.Run("ngram-simple", func(t *testing.T) {
		srv := startServer(t, "-m", target, "--spec-type", "ngram-simple", "--metrics")
		cl, err := llamaserver.New(srv.url)
		if err != nil {
			t.Fatal(err)
		}
		props, err := cl.Props(ctx)
		if err != nil {
			t.Fatal(err)
		}
		before, err := cl.Metrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		comp, err := cl.Complete(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		after, err := cl.Metrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slots, err := cl.Slots(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s, err := experiments.Open(lib, experiments.Models{Target: target, Context: experiments.Context{CtxSize: 2048, Threads: 1}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		g, err := s.Generation(experiments.Configuration{Name: "x", SpecType: "ngram-simple"}, experiments.Sampling{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		g.Config.NPredict, g.Config.IgnoreEOG = 96, true
		prompt, _ := s.Prompt(diffPrompt, false, "")
		res, err := spec.Generate(ctx, s.Loop, g.Proposer, prompt, g.Config, nil)
		if err != nil {
			t.Fatal(err)
		}
		if comp.DraftN == nil || *comp.DraftN != res.Stats.Drafted || *comp.DraftAccepted != res.Stats.Accepted {
			t.Errorf("server drafted %v/%v, in-process speclab %d/%d", comp.DraftN, comp.DraftAccepted, res.Stats.Drafted, res.Stats.Accepted)
		}
		delta := after.Sub(before)
		if got := delta["spec_decode_num_draft_tokens_total"]; comp.DraftN == nil || int(got) != *comp.DraftN {
			t.Errorf("/metrics delta of draft tokens %v, timings.draft_n %v", got, comp.DraftN)
		}
		d := llamaserver.Diagnose(props, slots, []*llamaserver.Completion{comp})
		if !d.Running || len(slots) == 0 || !slots[0].Speculative {
			t.Errorf("running %v, slots %+v: %v", d.Running, slots, d.Lines)
		}
		if props.BuildInfo == "" || !strings.Contains(strings.Join(props.Speculative(), " "), "speculative") {
			t.Errorf("props: build %q, speculative settings %v", props.BuildInfo, props.Speculative())
		}
	})
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"refused draft", []string{"-m", target, "-md", other, "--spec-type", "draft-simple"}, "vocabulary"},
		{"no speculation", []string{"-m", target}, "NOT running"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, tt.args...)
			cl, _ := llamaserver.New(srv.url)
			props, err := cl.Props(ctx)
			if err != nil {
				t.Fatal(err)
			}
			comp, err := cl.Complete(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			slots, err := cl.Slots(ctx)
			if err != nil {
				t.Fatal(err)
			}
			d := llamaserver.Diagnose(props, slots, []*llamaserver.Completion{comp})
			text := strings.Join(d.Lines, "\n")
			if d.Running || !strings.Contains(text, "NOT running") || !strings.Contains(text, tt.want) {
				t.Errorf("running %v, slots %+v, draft_n %v: %s", d.Running, slots, comp.DraftN, text)
			}
		})
	}
}

// TestLlamaServerBadInput: an unreachable URL fails within 5 s, an HTTP
// server that is not llama-server is refused, a slow answer is a named
// time-out.
func TestLlamaServerBadInput(t *testing.T) {
	ctx := context.Background()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	cl, _ := llamaserver.New(dead)
	cl.Retries = 1
	t0 := time.Now()
	if err := cl.Health(ctx); !errors.Is(err, llamaserver.ErrUnreachable) || time.Since(t0) > 5*time.Second {
		t.Errorf("unreachable: %v after %s", err, time.Since(t0))
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/completion" {
			time.Sleep(2 * time.Second)
		}
		w.Write([]byte("<html>hello</html>"))
	}))
	defer other.Close()
	cl, _ = llamaserver.New(other.URL)
	if _, err := cl.Props(ctx); !errors.Is(err, llamaserver.ErrNotLlamaServer) {
		t.Errorf("a web server: %v", err)
	}
	cl.Timeout = 200 * time.Millisecond
	if _, err := cl.Complete(ctx, llamaserver.Request{Prompt: "x", NPredict: 1}); !errors.Is(err, llamaserver.ErrTimeout) || !strings.Contains(err.Error(), "200ms") {
		t.Errorf("a slow answer: %v", err)
	}
	if _, err := llamaserver.New("localhost:8080"); err == nil {
		t.Error("a URL without a scheme was accepted")
	}
}
