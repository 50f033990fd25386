package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/speclab/speclab/experiments/llamaserver"
)

// serverRun is `speclab run --server URL`: the prompt goes to the user's
// running llama-server, and the summary comes from what the server says
// about speculation (its props, slots, metrics and the request's timings).
func serverRun(c *cli.Context, text string) error {
	cl, err := llamaserver.New(c.String("server"))
	if err != nil {
		return usageError{err.Error()}
	}
	cl.Timeout = c.Duration("server-timeout")
	cl.Log = func(s string) { fmt.Fprintln(c.App.ErrWriter, "server: "+s) }
	ctx, stop := interruptible()
	defer stop()
	// Reachability first, briefly: a wrong URL is an error within seconds.
	probe, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = cl.Health(probe)
	cancel()
	if err != nil {
		return fmt.Errorf("run --server: %w", err)
	}
	props, err := cl.Props(ctx)
	if err != nil {
		return fmt.Errorf("run --server: %w", err)
	}
	before, merr := cl.Metrics(ctx)
	comp, err := cl.Complete(ctx, llamaserver.Request{Prompt: text, NPredict: c.Int("n-predict"), Temperature: c.Float64("temp"),
		Seed: c.Uint64("seed"), IgnoreEOS: c.Bool("ignore-eos")})
	if err != nil {
		return fmt.Errorf("run --server: %w", err)
	}
	slots, serr := cl.Slots(ctx)
	var delta llamaserver.Metrics
	if merr == nil {
		if after, err := cl.Metrics(ctx); err == nil {
			delta = after.Sub(before)
		}
	}
	d := llamaserver.Diagnose(props, slots, []*llamaserver.Completion{comp})
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"schema": SchemaVersion, "server": cl.URL(), "build_info": props.BuildInfo, "model_path": props.ModelPath,
			"speculative_settings": llamaserver.SpeculativeSettings(props, slots), "slots": slots, "completion": comp, "metrics_delta": delta,
			"running": d.Running, "diagnosis": d.Lines})
	}
	w := c.App.Writer
	fmt.Fprintln(w, comp.Content)
	fmt.Fprintf(w, "\n--- llama-server %s (%s), model %s\n", cl.URL(), props.BuildInfo, props.ModelPath)
	fmt.Fprintf(w, "settings    %v\n", llamaserver.SpeculativeSettings(props, slots))
	fmt.Fprintf(w, "generated   %d tokens at %.1f tokens/s; prompt %d tokens\n", comp.PredictedN, comp.PredictedPerSecond, comp.PromptN)
	if comp.DraftN != nil {
		fmt.Fprintf(w, "timings     draft_n %d, draft_n_accepted %d\n", *comp.DraftN, deref(comp.DraftAccepted))
	} else {
		fmt.Fprintln(w, "timings     no draft_n: the server reported no drafting for this request")
	}
	switch {
	case serr != nil && errors.Is(serr, llamaserver.ErrDisabled):
		fmt.Fprintln(w, "slots       /slots is disabled on this server")
	case serr == nil:
		for _, s := range slots {
			fmt.Fprintf(w, "slot %d      speculative %v\n", s.ID, s.Speculative)
		}
	}
	if delta != nil {
		fmt.Fprintf(w, "metrics     this request: num_drafts %.0f, num_draft_tokens %.0f, num_accepted_tokens %.0f (llamacpp:spec_decode_*)\n",
			delta["spec_decode_num_drafts_total"], delta["spec_decode_num_draft_tokens_total"], delta["spec_decode_num_accepted_tokens_total"])
	} else {
		fmt.Fprintln(w, "metrics     /metrics is disabled on this server (start it with --metrics)")
	}
	for _, l := range d.Lines {
		fmt.Fprintln(w, l)
	}
	return nil
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
