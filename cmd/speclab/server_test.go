package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/speclab/speclab/experiments/llamaserver"
	"github.com/speclab/speclab/experiments/runlog"
	"github.com/speclab/speclab/internal/testenv"
)

// TestReproduceServer: reproduce --server on the real llama-server writes
// a run folder of one runs row per task, marked llama-server, whose
// drafted counters sum to the server's own /metrics delta, and that report
// explains; steps are NULL (the server does not say).
func TestReproduceServer(t *testing.T) {
	target := filepath.Join(testenv.RepoRoot(), "models", "target.gguf")
	srv := testenv.StartServer(t, 0, "-m", target, "--spec-type", "ngram-simple", "--metrics")
	cl, _ := llamaserver.New(srv.URL)
	before, err := cl.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	code, out, errs := speclab(t, "reproduce", "--server", srv.URL, "--n-predict-scale", "0.25", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	after, _ := cl.Metrics(context.Background())
	rows, err := runlog.ReadRuns([]string{dir})
	if err != nil || len(rows) != 9 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	drafted, accepted := 0, 0
	for _, r := range rows {
		if r.Source != runlog.SourceServer || r.ServerURL != srv.URL || r.Steps != nil || r.DraftSteps == nil {
			t.Errorf("row %s: source %q, url %q, steps %v, draft steps %v", r.CellID, r.Source, r.ServerURL, r.Steps, r.DraftSteps)
		}
		drafted += int(r.Drafted)
		accepted += int(r.Accepted)
	}
	d := after.Sub(before)
	if drafted == 0 || drafted != int(d["spec_decode_num_draft_tokens_total"]) || accepted != int(d["spec_decode_num_accepted_tokens_total"]) {
		t.Errorf("run folder drafted/accepted %d/%d, the server's /metrics delta %v/%v", drafted, accepted,
			d["spec_decode_num_draft_tokens_total"], d["spec_decode_num_accepted_tokens_total"])
	}
	if !strings.Contains(out, "speculation runs on this server") {
		t.Errorf("no server diagnosis:\n%s", out)
	}
	if code, rep, errs := speclab(t, "report", dir); code != 0 || !strings.Contains(rep, "server") {
		t.Errorf("report: exit %d\n%s\n%s", code, rep, errs)
	}
	// Side by side with speclab in-process on the server's own model.
	code, out, errs = speclab(t, "reproduce", "--server", srv.URL, "--n-predict-scale", "0.25", "--side-by-side", "--out", dir+"2")
	if code != 0 || !strings.Contains(out, "== side by side") || !strings.Contains(out, "speclab in-process at") {
		t.Fatalf("side by side: exit %d\n%s\n%s", code, out, errs)
	}
	in, err := runlog.ReadRuns([]string{dir + "2-in-process"})
	if err != nil || len(in) != 9 || in[0].Source != runlog.SourceSpeclab {
		t.Errorf("in-process side: %d rows, %v", len(in), err)
	}
}

// TestReproduceServerDies: the server dies in the middle of a run; the
// cells done are kept, the run fails saying so, and --resume against a
// server on the same address finishes it.
func TestReproduceServerDies(t *testing.T) {
	target := filepath.Join(testenv.RepoRoot(), "models", "target.gguf")
	srv := testenv.StartServer(t, 0, "-m", target, "--spec-type", "ngram-simple")
	dir := filepath.Join(t.TempDir(), "run")
	args := []string{"reproduce", "--server", srv.URL, "--out", dir}
	type result struct {
		code      int
		out, errs string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := speclab(t, args...)
		done <- result{code, out, errs}
	}()
	for len(runlog.Parts([]string{dir}, runlog.RunsDir)) < 2 {
		select {
		case r := <-done:
			t.Fatalf("the run ended (exit %d) before two cells were done:\n%s", r.code, r.errs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	srv.Kill()
	r := <-done
	if r.code == 0 {
		t.Fatalf("a run whose server died exited 0:\n%s", r.errs)
	}
	kept, err := runlog.ReadRuns([]string{dir})
	if err != nil || len(kept) < 2 || len(kept) >= 9 {
		t.Fatalf("%d cells kept (%v); want at least the 2 done and not all", len(kept), err)
	}
	testenv.StartServer(t, srv.Port, "-m", target, "--spec-type", "ngram-simple")
	code, _, errs := speclab(t, append(args, "--resume")...)
	if code != 0 {
		t.Fatalf("--resume: exit %d\n%s", code, errs)
	}
	if rows, _ := runlog.ReadRuns([]string{dir}); len(rows) != 9 {
		t.Errorf("after --resume %d cells, want 9", len(rows))
	}
}
