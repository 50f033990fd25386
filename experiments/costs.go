package experiments

import (
	"context"
	"fmt"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/spec"
)

// TimeLoop runs configuration c in the session for n tokens of prompt at
// temperature 0 and returns every step's events: what `speclab bench`
// measures the loop's costs from, as the loop itself spends them.
func (s *Session) TimeLoop(ctx context.Context, c Configuration, prompt []engine.Token, n int) ([]spec.Step, error) {
	g, err := s.Generation(c, Sampling{}, 1)
	if err != nil {
		return nil, err
	}
	if g.Refusal != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, g.Refusal)
	}
	cfg := g.Built.Config
	cfg.NPredict = n
	cfg.IgnoreEOG = true
	var rec stepRecorder
	s.Loop.Clear()
	if _, err := spec.Generate(ctx, s.Loop, g.Proposer, prompt, cfg, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	return rec.steps, nil
}

type stepRecorder struct{ steps []spec.Step }

func (r *stepRecorder) OnStep(st *spec.Step)     { r.steps = append(r.steps, *st) }
func (r *stepRecorder) OnToken(*spec.TokenEvent) {}
