package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/speclab/speclab/analysis"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/experiments/runlog"
	"github.com/speclab/speclab/spec"
	"github.com/speclab/speclab/terms"
)

// benchReport is `speclab bench --json`.
type benchReport struct {
	Schema      string    `json:"schema"`
	Target      string    `json:"target"`
	Draft       string    `json:"draft,omitempty"`
	Threads     int       `json:"threads"`
	VerifyBatch []int     `json:"verify_batch"` // the batch sizes timed
	VerifyMs    []float64 `json:"verify_ms"`    // [i]: median time to decode a batch of VerifyBatch[i] tokens with logits for all
	VerifyCost  []float64 `json:"verify_cost"`  // VerifyMs[i] / VerifyMs[0]
	RollbackMs  float64   `json:"rollback_ms"`  // dropping a KV tail, or saving and restoring a state checkpoint
	Rollback    string    `json:"rollback"`     // "kv" or "checkpoint"
	// Costs are the loop's costs as it spends them (medians over the steps
	// of short generations: plain, n-gram and, with a draft, draft-simple
	// at two draft lengths); the predictions use them.
	Costs analysis.Costs `json:"costs"`
	// DraftIsolatedMs is one bare decode of the draft model (what bench
	// measured before it ran the loop); C is the loop's drafting cost per
	// token (at the longest draft timed) over a plain step, Leviathan's c.
	DraftIsolatedMs float64 `json:"draft_isolated_ms,omitempty"`
	// LoopScale is the plain loop's verify of one token over a bare
	// decode's: Costs.VerifyMs is VerifyMs scaled by it.
	LoopScale float64     `json:"loop_scale"`
	C         float64     `json:"c,omitempty"`
	BreakEven []*float64  `json:"break_even_alpha,omitempty"` // null: no acceptance rate breaks even
	Alphas    []float64   `json:"alphas,omitempty"`
	Predicted [][]float64 `json:"predicted_speedup,omitempty"` // [alpha][gamma-1]
	// Checks compare the prediction with the speedup each configuration of
	// a run folder measured (--run).
	Checks []benchCheck `json:"checks,omitempty"`
}

// benchCheck is a run's configuration: its measured α, γ and speedup, and
// what bench's costs predict from that α and γ.
type benchCheck struct {
	Config    string       `json:"config"`
	Alpha     analysis.Num `json:"alpha"`
	Gamma     analysis.Num `json:"gamma"`
	Drafting  analysis.Num `json:"drafting_share"` // steps with a draft / steps
	Measured  analysis.Num `json:"measured_speedup"`
	Predicted analysis.Num `json:"predicted_speedup"`
	Error     analysis.Num `json:"relative_error"` // predicted / measured − 1
}

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure what speculation can gain on this machine: verify cost by batch size, the loop's costs, predicted speedups",
		Description: `Speculative decoding pays when verifying γ+1 tokens costs about as much as
decoding one (decoding is memory-bound) and a draft step is cheap. bench
measures exactly that on your hardware and model: the time to decode a batch of
1..N tokens, the rollback cost (KV tail removal, or a state checkpoint for
recurrent/hybrid models), and the loop's costs as the loop itself spends them
(it runs short generations: plain, ngram-simple and, with a draft,
draft-simple; the draft's cost counts its catch-up decodes, sampling and
synchronisation). From them it predicts the speedup at each acceptance α and
draft length γ, every term a measured time (Leviathan et al.'s formula with
the measured verify cost instead of 1).

--run FOLDER checks the prediction: for every configuration of the run it
predicts from the α and γ the run measured and prints it beside the speedup
the run measured. Without --target it benchmarks the run's own models and
threads.

Examples:
   speclab bench --target models/target.gguf --draft models/draft.gguf
   speclab bench --run runs/demo
   speclab --llama-lib ~/llama.cpp/build/bin bench -m big.gguf -md small.gguf -ngl 999 --max-batch 8`,
		Flags: append(modelFlags(),
			&cli.IntFlag{Name: "max-batch", Usage: "largest verify batch measured (n_max + 1)", Value: 8},
			&cli.IntFlag{Name: "reps", Usage: "repetitions per measurement (the median is kept)", Value: 15},
			&cli.IntFlag{Name: "loop-tokens", Usage: "tokens of each timed generation", Value: 128},
			&cli.StringFlag{Name: "run", Usage: "a run folder: predict each of its configurations from its measured α and γ, beside its measured speedup"},
			&cli.BoolFlag{Name: "json", Usage: "print the measurements as JSON"},
		),
		Action: func(c *cli.Context) error {
			if err := noFlagsAfterArgs(c); err != nil {
				return err
			}
			maxB, reps, loopN := c.Int("max-batch"), c.Int("reps"), c.Int("loop-tokens")
			if maxB < 3 || maxB > 64 || reps < 1 || loopN < 16 {
				return usagef("--max-batch must be 3..64, --reps >= 1 and --loop-tokens >= 16")
			}
			var run *analysis.Data
			if dir := c.String("run"); dir != "" {
				dirs, err := runlog.Find(dir)
				if err != nil {
					return err
				}
				if run, err = analysis.Load(dirs); err != nil {
					return err
				}
			}
			m, err := modelsFromFlags(c, true)
			if err != nil {
				return err
			}
			if run != nil {
				runModels(c, run, &m)
			}
			lib, err := openLib(c)
			if err != nil {
				return err
			}
			progress := c.App.ErrWriter
			fmt.Fprintf(progress, "loading %s\n", m.Target)
			s, err := experiments.Open(lib, m)
			if err != nil {
				return err
			}
			defer s.Close()
			r := benchReport{Schema: SchemaVersion, Target: m.Target, Draft: m.Draft, Threads: s.Threads}
			if err := r.measure(c.Context, s, verifySizes(maxB, run), reps, loopN, progress); err != nil {
				return err
			}
			r.predict(maxB)
			if run != nil {
				r.check(run)
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, r)
			}
			r.print(c)
			return nil
		},
	}
}

// runModels takes the run's target, draft and threads where the flags do
// not set them.
func runModels(c *cli.Context, run *analysis.Data, m *experiments.Models) {
	for _, cell := range run.Cells {
		if !c.IsSet("target") && cell.TargetPath != "" {
			m.Target = cell.TargetPath
		}
		if !c.IsSet("draft") && cell.DraftPath != "" {
			m.Draft = cell.DraftPath
		}
		if !c.IsSet("threads") && cell.Threads > 0 {
			m.Context.Threads = int(cell.Threads)
		}
	}
}

// verifySizes are the verify batches bench times: 1..maxB, and beyond,
// up to the longest draft of the run (+1), a coarser grid.
func verifySizes(maxB int, run *analysis.Data) []int {
	var sizes []int
	for b := 1; b <= maxB; b++ {
		sizes = append(sizes, b)
	}
	need := 0
	if run != nil {
		for _, c := range run.Cells {
			need = max(need, len(c.S.ByK)) // the longest draft + 1
		}
	}
	for b := maxB; b < min(need, 1024); {
		b = max(b+1, b*3/2)
		sizes = append(sizes, b)
	}
	return sizes
}

// measure fills the verify curve, the rollback and the loop's costs.
func (r *benchReport) measure(ctx context.Context, s *experiments.Session, sizes []int, reps, loopN int, progress io.Writer) error {
	room := s.TargetCtx.NCtx() - 64 - 1 // after measureTarget's prompt
	sizes = slices.DeleteFunc(sizes, func(b int) bool { return b > room })
	fmt.Fprintf(progress, "timing verify batches of %v tokens, %d times each\n", sizes, reps)
	s.TargetCtx.ClearMemory()
	var drop bool
	var err error
	r.VerifyMs, r.RollbackMs, drop, err = measureTarget(s.Target, s.TargetCtx, sizes, reps)
	if err != nil {
		return err
	}
	r.VerifyBatch = sizes
	r.Rollback = map[bool]string{true: "kv", false: "checkpoint"}[drop]
	for _, v := range r.VerifyMs {
		r.VerifyCost = append(r.VerifyCost, v/r.VerifyMs[0])
	}
	r.Costs.VerifyBatch = sizes
	r.Costs.RollbackMs, r.Costs.Replay = r.RollbackMs, !drop
	maxB := 0 // the largest of the dense sizes 1..maxB
	for i, b := range sizes {
		if b == i+1 {
			maxB = b
		}
	}
	s.Loop.Clear()
	prompt, err := s.Prompt(experiments.CodeBattery.Tasks[0].Prompt, false, "")
	if err != nil {
		return err
	}
	timed := func(cfg experiments.Configuration) ([]spec.Step, error) {
		fmt.Fprintf(progress, "timing the loop: %s, %d tokens\n", cfg.Name, loopN)
		return s.TimeLoop(ctx, cfg, prompt, loopN)
	}
	plain, err := timed(experiments.Configuration{Name: "plain"})
	if err != nil {
		return err
	}
	r.Costs.PlainMs = medianOf(plain, func(st spec.Step) float64 { return ms(st.Propose + st.Verify + st.Rollback + st.Overhead) })
	// Bare decodes run slower than the loop's (which reuses its graph and
	// finds its caches warm): the curve is scaled to the plain loop's
	// verify of one token.
	r.LoopScale = medianOf(plain, func(st spec.Step) float64 { return ms(st.Verify) }) / r.VerifyMs[0]
	r.Costs.VerifyMs = make([]float64, len(r.VerifyMs))
	for i, v := range r.VerifyMs {
		r.Costs.VerifyMs[i] = v * r.LoopScale
	}
	ngram, err := timed(experiments.Configuration{Name: "ngram-simple", SpecType: "ngram-simple"})
	if err != nil {
		return err
	}
	r.Costs.NgramMs = medianOf(ngram, func(st spec.Step) float64 { return ms(st.Propose) })
	var drafting []spec.Step
	pick := func(steps []spec.Step) {
		for _, st := range steps {
			if st.Drafted > 0 {
				drafting = append(drafting, st)
			}
		}
	}
	pick(ngram)
	defer func() {
		r.Costs.CheckFixedMs, r.Costs.CheckPerTokenMs = fitByK(drafting, func(st spec.Step) float64 { return ms(st.Overhead) })
	}()
	if s.Draft != nil {
		// Two draft lengths, full drafts (p_min 0): the proposer's time is
		// a fixed part (catching up) plus a part per drafted token.
		var ks, ps []float64
		var evict float64
		for _, n := range []int{2, max(3, maxB-1)} {
			steps, err := timed(experiments.Configuration{Name: fmt.Sprintf("draft-simple n_max %d", n), SpecType: "draft-simple", NMax: &n, PMin: new(0.0)})
			if err != nil {
				return err
			}
			var full []spec.Step
			for _, st := range steps {
				if st.Drafted == n {
					full = append(full, st)
				}
			}
			if len(full) == 0 {
				return fmt.Errorf("bench: draft-simple with n_max %d drafted no full draft", n)
			}
			ks = append(ks, float64(n))
			ps = append(ps, medianOf(full, func(st spec.Step) float64 { return ms(st.Propose) }))
			evict += medianOf(full, func(st spec.Step) float64 { return ms(st.Verify) }) - r.Costs.VerifyAt(float64(n+1))
			pick(steps)
		}
		r.Costs.DraftEvictMs = evict / 2
		r.Costs.DraftPerTokenMs = max(0, (ps[1]-ps[0])/(ks[1]-ks[0]))
		r.Costs.DraftFixedMs = max(0, ps[0]-ks[0]*r.Costs.DraftPerTokenMs)
		// Leviathan's c: the proposer's time per drafted token at the
		// longest draft timed, over a plain step.
		r.C = ps[1] / ks[1] / r.Costs.PlainMs
		s.DraftCtx.ClearMemory()
		dm, _, _, err := measureTarget(s.Draft, s.DraftCtx, []int{1}, reps)
		if err != nil {
			return err
		}
		r.DraftIsolatedMs = dm[0]
		s.DraftCtx.ClearMemory()
	}
	s.Loop.Clear()
	return nil
}

// fitByK fits a + b·k to f over the steps by least squares on the median
// of f at each draft length k (a ≥ 0, b ≥ 0).
func fitByK(steps []spec.Step, f func(spec.Step) float64) (a, b float64) {
	byK := map[int][]spec.Step{}
	for _, st := range steps {
		byK[st.Drafted] = append(byK[st.Drafted], st)
	}
	var xs, ys []float64
	for k, group := range byK {
		xs = append(xs, float64(k))
		ys = append(ys, medianOf(group, f))
	}
	if len(xs) == 0 {
		return 0, 0
	}
	mx, my := mean(xs), mean(ys)
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx > 0 {
		b = max(0, sxy/sxx)
	}
	return max(0, my-b*mx), b
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// medianOf is the median of f over the steps (NaN for none).
func medianOf(steps []spec.Step, f func(spec.Step) float64) float64 {
	if len(steps) == 0 {
		return math.NaN()
	}
	v := make([]float64, len(steps))
	for i, st := range steps {
		v[i] = f(st)
	}
	return median(v)
}

// measureTarget times decodes of 1..maxB tokens after a short prompt (median
// of reps) in ctx, a context of m, rolling back after each, and the
// rollback itself. It leaves the prompt in ctx's memory.
func measureTarget(m *engine.Model, ctx *engine.Context, sizes []int, reps int) ([]float64, float64, bool, error) {
	maxB := slices.Max(sizes)
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
	ts := make([][]float64, len(sizes))
	// Each size is decoded several times in a row, the first one untimed,
	// so that the caches are as warm as in a loop that repeats the same
	// step; the sizes take turns over a few rounds, so that a GPU's clock
	// ramping up (or a neighbour's load) affects every size alike.
	rounds := min(reps, 3)
	for round := range rounds {
		for i, b := range sizes {
			for rep := range 1 + (reps+rounds-1-round)/rounds {
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
				took := ms(time.Since(t0))
				t1 := time.Now()
				if drop {
					ctx.RemoveTail(0, pos)
				} else if err := ctx.Restore(&ck, 0); err != nil {
					return nil, 0, false, err
				}
				if rep > 0 {
					ts[i] = append(ts[i], took)
					rollback = append(rollback, ms(save+time.Since(t1)))
				}
			}
		}
	}
	out := make([]float64, len(sizes))
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

// predict fills the speedup grid from the loop's costs: a drafting step of
// γ tokens on every step (analysis.Costs.Predict).
func (r *benchReport) predict(maxB int) {
	model := r.Draft != ""
	r.Alphas = []float64{0.3, 0.5, 0.6, 0.7, 0.8, 0.9}
	r.Predicted, r.BreakEven = nil, nil
	for _, a := range r.Alphas {
		var row []float64
		for g := 1; g < maxB; g++ {
			row = append(row, r.Costs.Predict(a, only(g), model))
		}
		r.Predicted = append(r.Predicted, row)
	}
	for g := 1; g < maxB; g++ {
		// the α where Predict crosses 1: Predict rises with α
		lo, hi := 0.0, 1.0
		if r.Costs.Predict(hi, only(g), model) < 1 {
			r.BreakEven = append(r.BreakEven, nil)
			continue
		}
		for range 50 {
			mid := (lo + hi) / 2
			if r.Costs.Predict(mid, only(g), model) < 1 {
				lo = mid
			} else {
				hi = mid
			}
		}
		a := hi
		r.BreakEven = append(r.BreakEven, &a)
	}
}

// only is a histogram of draft lengths with every step drafting g tokens.
func only(g int) []int64 {
	h := make([]int64, g+1)
	h[g] = 1
	return h
}

// check predicts each drafting configuration of the run as the run
// measures its speedup: task by task (from the task's α and draft-length
// histogram), then the geometric mean over tasks.
func (r *benchReport) check(run *analysis.Data) {
	byTask := analysis.Summarize(run, []analysis.Dim{analysis.ByConfig, analysis.ByTask})
	for _, s := range analysis.Summarize(run, []analysis.Dim{analysis.ByConfig}) {
		if s.Baseline || s.AA || s.Drafted == 0 || s.Steps == 0 {
			continue
		}
		model := false
		for _, c := range run.Cells {
			if c.Config == s.Config && strings.Contains(c.SpecTypes, terms.DraftSimple) {
				model = true
			}
		}
		if model && r.Draft == "" {
			continue // no draft model measured
		}
		share := float64(s.DraftSteps) / float64(s.Steps)
		ch := benchCheck{Config: s.Config, Alpha: s.Alpha, Gamma: s.Gamma, Drafting: analysis.Num(share), Measured: s.Speedup.Mean}
		var logSum float64
		var n int
		for _, t := range byTask {
			if t.Config != s.Config || !t.Speedup.Mean.OK() {
				continue
			}
			alpha := float64(t.Alpha)
			if !t.Alpha.OK() {
				alpha = 0 // nothing drafted: α does not enter
			}
			if p := r.Costs.Predict(alpha, histogram(t.AcceptHist), model); p > 0 {
				logSum += math.Log(p)
				n++
			}
		}
		ch.Predicted = analysis.Num(math.NaN())
		if n > 0 {
			ch.Predicted = analysis.Num(math.Exp(logSum / float64(n)))
		}
		ch.Error = analysis.Num(float64(ch.Predicted)/float64(ch.Measured) - 1)
		r.Checks = append(r.Checks, ch)
	}
}

// histogram counts the steps by draft length from counts[k][j].
func histogram(counts [][]int64) []int64 {
	hist := make([]int64, len(counts))
	for k, row := range counts {
		for _, n := range row {
			hist[k] += n
		}
	}
	return hist
}

func (r *benchReport) print(c *cli.Context) {
	w := c.App.Writer
	fmt.Fprintf(w, "target    %s (%d threads)\n", r.Target, r.Threads)
	var parts []string
	for i, v := range r.VerifyMs {
		parts = append(parts, fmt.Sprintf("%d: %.3g ms (%.2f×)", r.VerifyBatch[i], v, r.VerifyCost[i]))
	}
	fmt.Fprintf(w, "verify    batch of %s\n", strings.Join(parts, ", "))
	what := "dropping the KV tail"
	if r.Rollback == "checkpoint" {
		what = "saving and restoring a state checkpoint (recurrent/hybrid memory cannot drop a tail)"
	}
	fmt.Fprintf(w, "rollback  %.3g ms, %s\n", r.RollbackMs, what)
	fmt.Fprintf(w, "scale     the loop verifies one token in %.2f× a bare decode's time; the predictions use the curve scaled so\n", r.LoopScale)
	k := r.Costs
	fmt.Fprintf(w, "loop      a plain step %.3g ms; an n-gram lookup %.3g ms; sampling and checking a draft of k tokens %.3g + %.3g·k ms\n", k.PlainMs, k.NgramMs, k.CheckFixedMs, k.CheckPerTokenMs)
	if r.Draft != "" {
		fmt.Fprintf(w, "draft     %s: %.3g ms a step + %.3g ms a drafted token as the loop spends it (one bare decode: %.3g ms); c = %.3f of a plain step; the target's verify takes %+.3g ms more after the draft ran\n",
			r.Draft, k.DraftFixedMs, k.DraftPerTokenMs, r.DraftIsolatedMs, r.C, k.DraftEvictMs)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	method := "ngram-simple"
	if r.Draft != "" {
		method = "draft-simple"
	}
	hdr := "predicted speedup, " + method + "  α \\ γ\t"
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
	line := "break-even α (measured costs)\t"
	for _, b := range r.BreakEven {
		if b == nil {
			line += "never\t"
		} else {
			line += fmt.Sprintf("%.2f\t", *b)
		}
	}
	fmt.Fprintln(tw, line)
	tw.Flush()
	fmt.Fprintln(w, "\nS = E(α,γ)·plain / (propose(γ) + verify(γ+1) + check(γ) + (1 − α^γ)·undo), E = (1 − α^(γ+1)) / (1 − α), every term measured here "+
		"(Leviathan et al. 2023 take verify = plain, check = undo = 0); undo: the rollback, and for a checkpointed target the replay of the accepted tokens; break-even α (measured costs): where S = 1")
	if len(r.Checks) == 0 {
		return
	}
	fmt.Fprintln(w, "\nprediction against the run: task by task from the task's α and draft lengths, geometric mean over tasks, as the run's speedup is measured (α, γ, drafting: the configuration's):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "config\tα\tγ\tdrafting\tpredicted\tmeasured\terror\t")
	for _, ch := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s×\t%s×\t%s\t\n", ch.Config, ch.Alpha.Format("%.3f"), ch.Gamma.Format("%.2f"),
			analysis.Num(100*float64(ch.Drafting)).Format("%.0f%%"), ch.Predicted.Format("%.2f"), ch.Measured.Format("%.2f"),
			analysis.Num(100*float64(ch.Error)).Format("%+.1f%%"))
	}
	tw.Flush()
}
