package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/speclab/speclab/analysis"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/experiments"
)

// benchReport is `speclab bench --json`.
type benchReport struct {
	Target     string      `json:"target"`
	Draft      string      `json:"draft,omitempty"`
	Threads    int         `json:"threads"`
	VerifyMs   []float64   `json:"verify_ms"`   // [b-1]: median time to decode a batch of b tokens with logits for all
	VerifyCost []float64   `json:"verify_cost"` // VerifyMs[b-1] / VerifyMs[0]
	RollbackMs float64     `json:"rollback_ms"` // dropping a KV tail, or saving and restoring a state checkpoint
	Rollback   string      `json:"rollback"`    // "kv" or "checkpoint"
	DraftMs    float64     `json:"draft_ms,omitempty"`
	C          float64     `json:"c,omitempty"`                // draft step / target step
	BreakEven  []*float64  `json:"break_even_alpha,omitempty"` // null: no acceptance rate breaks even
	Alphas     []float64   `json:"alphas,omitempty"`
	Predicted  [][]float64 `json:"predicted_speedup,omitempty"` // [alpha][gamma-1]
}

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure what speculation can gain on this machine: verify cost by batch size, draft cost, break-even acceptance",
		Description: `Speculative decoding pays when verifying γ+1 tokens costs about as much as
decoding one (decoding is memory-bound) and a draft step is cheap. bench
measures exactly that on your hardware and model: the time to decode a batch of
1..N tokens, the rollback cost (KV tail removal, or a state checkpoint for
recurrent/hybrid models), the draft model's step, and from them the speedup
Leviathan et al.'s model predicts for each acceptance rate and draft length —
with the measured verify cost instead of the model's assumption that it is free.

Examples:
   speclab bench --target models/target.gguf --draft models/draft.gguf
   speclab --llama-lib ~/llama.cpp/build/bin bench -m big.gguf -md small.gguf -ngl 999 --max-batch 8`,
		Flags: append(modelFlags(),
			&cli.IntFlag{Name: "max-batch", Usage: "largest verify batch measured (n_max + 1)", Value: 8},
			&cli.IntFlag{Name: "reps", Usage: "repetitions per measurement (the median is kept)", Value: 15},
			&cli.BoolFlag{Name: "json", Usage: "print the measurements as JSON"},
		),
		Action: func(c *cli.Context) error {
			if err := noFlagsAfterArgs(c); err != nil {
				return err
			}
			maxB, reps := c.Int("max-batch"), c.Int("reps")
			if maxB < 2 || maxB > 64 || reps < 1 {
				return usagef("--max-batch must be 2..64 and --reps >= 1")
			}
			m, err := modelsFromFlags(c, true)
			if err != nil {
				return err
			}
			cp, err := m.Context.Params()
			if err != nil {
				return usagef("%v", err)
			}
			lib, err := openLib(c)
			if err != nil {
				return err
			}
			r := benchReport{Target: m.Target, Draft: m.Draft}
			target, draft, err := experiments.LoadModels(lib, m)
			if err != nil {
				return err
			}
			defer target.Close()
			if draft != nil {
				defer draft.Close()
			}
			if cp.NCtx == 0 {
				cp.NCtx = min(max(target.Info.CtxTrain, 256), 4096)
			}
			r.Threads = cp.Threads
			if r.Threads == 0 {
				r.Threads = engine.DefaultThreads(target)
			}
			var drop bool
			r.VerifyMs, r.RollbackMs, drop, err = measureTarget(target, cp, maxB, reps)
			if err != nil {
				return err
			}
			r.Rollback = map[bool]string{true: "kv", false: "checkpoint"}[drop]
			for _, v := range r.VerifyMs {
				r.VerifyCost = append(r.VerifyCost, v/r.VerifyMs[0])
			}
			if draft != nil {
				dm, _, _, err := measureTarget(draft, cp, 1, reps)
				if err != nil {
					return err
				}
				r.DraftMs = dm[0]
				r.C = r.DraftMs / r.VerifyMs[0]
				r.predict(maxB)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			r.print(c)
			return nil
		},
	}
}

// measureTarget times decodes of 1..maxB tokens after a short prompt (median
// of reps), rolling back after each, and the rollback itself.
func measureTarget(m *engine.Model, cp engine.ContextParams, maxB, reps int) ([]float64, float64, bool, error) {
	ctx, err := m.NewContext(cp)
	if err != nil {
		return nil, 0, false, err
	}
	defer ctx.Close()
	if err := ctx.Warmup(maxB); err != nil {
		return nil, 0, false, err
	}
	drop, err := m.CanRemoveTail()
	if err != nil {
		return nil, 0, false, err
	}
	prompt, err := m.Tokenize(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 8), true, false)
	if err != nil {
		return nil, 0, false, err
	}
	prompt = prompt[:min(len(prompt), 64)]
	if err := ctx.Decode(prompt, 0, 0, engine.LogitsLast); err != nil {
		return nil, 0, false, err
	}
	pos := len(prompt)
	var ck engine.Checkpoint
	batch := make([]engine.Token, maxB)
	for i := range batch {
		batch[i] = prompt[(i+1)%len(prompt)]
	}
	var rollback []float64
	ts := make([][]float64, maxB)
	// Sizes are interleaved within each repetition, so that a GPU's clock
	// ramping up (or a neighbour's load) affects every size alike.
	for range reps {
		for b := 1; b <= maxB; b++ {
			var save time.Duration
			if !drop {
				ts := time.Now()
				if err = ctx.Save(&ck, 0); err != nil {
					return nil, 0, false, err
				}
				save = time.Since(ts)
			}
			t0 := time.Now()
			if err := ctx.Decode(batch[:b], pos, 0, engine.LogitsAll); err != nil {
				return nil, 0, false, err
			}
			ts[b-1] = append(ts[b-1], ms(time.Since(t0)))
			t1 := time.Now()
			if drop {
				ctx.RemoveTail(0, pos)
			} else if err := ctx.Restore(&ck, 0); err != nil {
				return nil, 0, false, err
			}
			rollback = append(rollback, ms(save+time.Since(t1)))
		}
	}
	out := make([]float64, maxB)
	for b := range out {
		out[b] = median(ts[b])
	}
	return out, median(rollback), drop, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s[len(s)/2]
}

// predict fills the speedup grid: S = E(α,γ) / (γc + v(γ)), v the measured
// cost of verifying γ+1 tokens relative to one.
func (r *benchReport) predict(maxB int) {
	r.Alphas = []float64{0.3, 0.5, 0.6, 0.7, 0.8, 0.9}
	for _, a := range r.Alphas {
		var row []float64
		for g := 1; g < maxB; g++ {
			row = append(row, analysis.SpeedupAt(a, float64(g), r.C, r.VerifyCost[g]))
		}
		r.Predicted = append(r.Predicted, row)
	}
	for g := 1; g < maxB; g++ {
		if a := analysis.BreakEvenAlphaAt(float64(g), r.C, r.VerifyCost[g]); math.IsNaN(a) {
			r.BreakEven = append(r.BreakEven, nil)
		} else {
			r.BreakEven = append(r.BreakEven, &a)
		}
	}
}

func (r *benchReport) print(c *cli.Context) {
	w := c.App.Writer
	fmt.Fprintf(w, "target    %s (%d threads)\n", r.Target, r.Threads)
	var parts []string
	for b, v := range r.VerifyMs {
		parts = append(parts, fmt.Sprintf("%d: %.3g ms (%.2f×)", b+1, v, r.VerifyCost[b]))
	}
	fmt.Fprintf(w, "verify    batch of %s\n", strings.Join(parts, ", "))
	what := "dropping the KV tail"
	if r.Rollback == "checkpoint" {
		what = "saving and restoring a state checkpoint (recurrent/hybrid memory cannot drop a tail)"
	}
	fmt.Fprintf(w, "rollback  %.3g ms, %s\n", r.RollbackMs, what)
	if r.Draft == "" {
		fmt.Fprintln(w, "\nverify cost near 1× for small batches means decoding is memory-bound and speculation can pay; give --draft for predictions")
		return
	}
	fmt.Fprintf(w, "draft     %s: %.3g ms a token, c = %.3f of a target step\n\n", r.Draft, r.DraftMs, r.C)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := "predicted speedup  α \\ γ\t"
	for g := 1; g <= len(r.Predicted[0]); g++ {
		hdr += fmt.Sprintf("%d\t", g)
	}
	fmt.Fprintln(tw, hdr)
	for i, a := range r.Alphas {
		line := fmt.Sprintf("%.1f\t", a)
		for _, s := range r.Predicted[i] {
			line += fmt.Sprintf("%.2f×\t", s)
		}
		fmt.Fprintln(tw, line)
	}
	line := "break-even α\t"
	for _, b := range r.BreakEven {
		if b == nil {
			line += "never\t"
		} else {
			line += fmt.Sprintf("%.2f\t", *b)
		}
	}
	fmt.Fprintln(tw, line)
	tw.Flush()
	fmt.Fprintln(w, "\nS = E(α,γ) / (γ·c + v(γ)), E = (1 − α^(γ+1)) / (1 − α), v(γ) the measured cost of verifying γ+1 tokens (Leviathan et al. 2023 take v = 1)")
}
