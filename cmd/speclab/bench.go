package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/speclab/speclab/analysis"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/experiments/runlog"
	"github.com/speclab/speclab/spec"
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
	// decode's (Costs.VerifyMs takes the loop's for one token).
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
	Drafting  analysis.Num `json:"drafting_share"`   // steps with a draft / steps
	Measured  analysis.Num `json:"measured_speedup"` // geometric mean over the tasks that are not too short to time
	Predicted analysis.Num `json:"predicted_speedup"`
	Error     analysis.Num `json:"relative_error"` // predicted / measured − 1
	Tasks     []taskCheck  `json:"tasks"`
	// ShortTasks are left out of Predicted and Measured: their baseline
	// cells are too short to time. (A configuration's cell may be short
	// because it is fast; leaving those out would bias the check.)
	ShortTasks int `json:"short_tasks_left_out"`
	// NoiseFloor is the run's own noise floor for this configuration's
	// speedup (analysis.Noise): an error within it is below what the run
	// can resolve.
	NoiseFloor analysis.Num `json:"noise_floor"`
}

// taskCheck is one task's share of a check.
type taskCheck struct {
	Task      string       `json:"task"`
	Alpha     analysis.Num `json:"alpha"`
	Predicted analysis.Num `json:"predicted_speedup"`
	Measured  analysis.Num `json:"measured_speedup"`
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
			&cli.IntFlag{Name: "loop-tokens", Usage: "tokens of each timed generation", Value: 256},
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
			if run != nil {
				if err := runModels(c, run); err != nil {
					return err
				}
			}
			m, err := modelsFromFlags(c, true)
			if err != nil {
				return err
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

// runModels sets --target, --draft and --threads to the run's where the
// command line does not give them: the draft of a cell whose draft model
// drafted (not one llama.cpp refused).
func runModels(c *cli.Context, run *analysis.Data) error {
	set := func(flag, v string) error {
		if v == "" || v == "0" || c.IsSet(flag) {
			return nil
		}
		return c.Set(flag, v)
	}
	for _, cell := range run.Cells {
		if err := set("target", cell.TargetPath); err != nil {
			return err
		}
		if err := set("threads", strconv.Itoa(int(cell.Threads))); err != nil {
			return err
		}
		if cell.S.Drafted > 0 && strings.Contains(cell.SpecTypes, "draft-") {
			if err := set("draft", cell.DraftPath); err != nil {
				return err
			}
		}
	}
	return nil
}

// verifySizes are the verify batches bench times: 1..maxB, and beyond,
// the batches the run verified most (its drafts' lengths + 1, up to 24 of
// them: kernels change at some sizes, so a coarse grid misses steps), or a
// coarse grid up to its longest draft.
func verifySizes(maxB int, run *analysis.Data) []int {
	var sizes []int
	for b := 1; b <= maxB; b++ {
		sizes = append(sizes, b)
	}
	if run == nil {
		return sizes
	}
	counts := map[int]int64{}
	for _, c := range run.Cells {
		for k, row := range c.S.ByK {
			for _, n := range row {
				if k+1 > maxB && k+1 <= 1024 {
					counts[k+1] += n
				}
			}
		}
	}
	var more []int
	for b := range counts {
		more = append(more, b)
	}
	slices.SortFunc(more, func(a, b int) int { return cmp.Compare(counts[b], counts[a]) })
	more = more[:min(len(more), 24)]
	slices.Sort(more)
	return append(sizes, more...)
}

// measure fills the verify curve, the rollback and the loop's costs.
func (r *benchReport) measure(ctx context.Context, s *experiments.Session, sizes []int, reps, loopN int, progress io.Writer) (err error) {
	room := s.TargetCtx.NCtx() - 64 - 1 // after measureTarget's prompt
	sizes = slices.DeleteFunc(sizes, func(b int) bool { return b > room })
	fmt.Fprintf(progress, "timing verify batches of %v tokens, %d times each\n", sizes, reps)
	s.TargetCtx.ClearMemory()
	var drop bool
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
	r.Costs.VerifyPos = 64 // measureTarget's prompt
	if pos1 := min(64+1024, s.TargetCtx.NCtx()-maxDense(sizes)-2); pos1 > 64+128 {
		fmt.Fprintf(progress, "timing verify batches at context position %d\n", pos1)
		mb := maxDense(sizes)
		if r.Costs.PosSlopeMs, err = measureSlope(s.TargetCtx, 64, pos1, mb, reps, drop, r.VerifyMs[0], r.VerifyMs[mb-1]); err != nil {
			return err
		}
	}
	maxB := maxDense(sizes)
	s.Loop.Clear()
	prompt, err := s.Prompt(experiments.CodeBattery.Tasks[0].Prompt, false, "")
	if err != nil {
		return err
	}
	// A prompt that repeats itself, so that the n-gram method drafts long
	// (what its checking and sampling cost per token is fitted on).
	echo, err := s.Prompt(strings.Repeat(experiments.CodeBattery.Tasks[0].Prompt, 4), false, "")
	if err != nil {
		return err
	}
	timedOn := func(cfg experiments.Configuration, prompt []engine.Token, n int) ([]spec.Step, error) {
		fmt.Fprintf(progress, "timing the loop: %s, %d tokens\n", cfg.Name, n)
		return s.TimeLoop(ctx, cfg, prompt, n)
	}
	timed := func(cfg experiments.Configuration) ([]spec.Step, error) { return timedOn(cfg, prompt, loopN) }
	// The plain loops run longer: their steps also give the cost of a
	// position further into the context.
	plainN := min(2*loopN, s.TargetCtx.NCtx()-len(prompt)-1)
	timedPlain := func(name string) ([]spec.Step, error) {
		return timedOn(experiments.Configuration{Name: name}, prompt, plainN)
	}
	// The plain loop runs first and last: its step is the unit of every
	// prediction, so a drift between the two halves shows in neither.
	plain, err := timedPlain("plain")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			return
		}
		var again []spec.Step
		if again, err = timedPlain("plain, again"); err != nil {
			return
		}
		both := append(plain, again...)
		stepMs := func(st spec.Step) float64 { return ms(st.Propose + st.Verify + st.Rollback + st.Overhead) }
		r.Costs.PlainMs = medianOf(both, stepMs)
		r.Costs.PlainPos = mean(positions(both))
		// the loop's first steps are cold, and a lever on the fit: bins of
		// 32 positions with at least 8 steps
		_, r.Costs.PlainSlopeMs = fitMedians(both, func(st spec.Step) float64 { return float64(st.Pos/32*32 + 16) }, 8, stepMs)

		s.Loop.Clear()
	}()
	r.Costs.PlainMs = medianOf(plain, func(st spec.Step) float64 { return ms(st.Propose + st.Verify + st.Rollback + st.Overhead) })
	// A bare decode of one token does not run as the loop's does (the
	// loop reuses its graph and finds its caches warm, and one token is
	// quick enough for either to show): the curve takes the plain loop's
	// verify for one token, and the bare decodes for batches, which are
	// bound by arithmetic.
	loopOne := medianOf(plain, func(st spec.Step) float64 { return ms(st.Verify) })
	r.LoopScale = loopOne / r.VerifyMs[0]
	r.Costs.PlainPos = mean(positions(plain))
	r.Costs.VerifyMs = slices.Clone(r.VerifyMs)
	r.Costs.VerifyMs[0] = loopOne
	ngram, err := timedOn(experiments.Configuration{Name: "ngram-simple on a prompt that repeats itself", SpecType: "ngram-simple"}, echo, loopN)
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
		r.Costs.CheckFixedMs, r.Costs.CheckPerTokenMs = fitMedians(drafting, func(st spec.Step) float64 { return float64(st.Drafted) }, 1,
			func(st spec.Step) float64 { return ms(st.Overhead) })
	}()
	if s.Draft != nil {
		// Two draft lengths, full drafts (p_min 0): the proposer's time is
		// a fixed part, a part per token it catches up with (the previous
		// step's accepted tokens and the target's own) and a part per
		// drafted token, fitted over the steps.
		var pts []catchUp
		var ks, ps []float64
		for _, n := range []int{2, max(3, maxB-1)} {
			steps, err := timed(experiments.Configuration{Name: fmt.Sprintf("draft-simple n_max %d", n), SpecType: "draft-simple", NMax: &n, PMin: new(0.0)})
			if err != nil {
				return err
			}
			var full []spec.Step
			for i, st := range steps {
				if st.Drafted == n && i > 0 {
					full = append(full, st)
					pts = append(pts, catchUp{k: n, caught: steps[i-1].Accepted + 1, ms: ms(st.Propose)})
				}
			}
			if len(full) == 0 {
				return fmt.Errorf("bench: draft-simple with n_max %d drafted no full draft", n)
			}
			ks = append(ks, float64(n))
			ps = append(ps, medianOf(full, func(st spec.Step) float64 { return ms(st.Propose) }))
			r.Costs.DraftVerifyK = append(r.Costs.DraftVerifyK, n)
			r.Costs.DraftVerifyMs = append(r.Costs.DraftVerifyMs, medianOf(full, func(st spec.Step) float64 { return ms(st.Verify) })-r.Costs.PosSlopeMs*float64(n+1)*(mean(positions(full))-r.Costs.VerifyPos))
			pick(steps)
		}
		r.Costs.DraftFixedMs, r.Costs.DraftCatchUpMs, r.Costs.DraftPerTokenMs = fitCatchUp(pts)
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

// catchUp is one drafting step of draft-simple: k tokens drafted after
// catching up with caught tokens, in ms.
type catchUp struct {
	k, caught int
	ms        float64
}

// fitCatchUp fits ms = a + b·caught + c·k by least squares over the
// medians of each (k, caught), weighted by their counts, with a, b, c ≥ 0
// (a coefficient that comes out negative is dropped and the rest refitted).
func fitCatchUp(pts []catchUp) (a, b, c float64) {
	type key struct{ k, caught int }
	groups := map[key][]float64{}
	for _, p := range pts {
		groups[key{p.k, p.caught}] = append(groups[key{p.k, p.caught}], p.ms)
	}
	var rows [][3]float64
	var ys, ws []float64
	for g, v := range groups {
		rows = append(rows, [3]float64{1, float64(g.caught), float64(g.k)})
		ys = append(ys, median(v))
		ws = append(ws, float64(len(v)))
	}
	use := [3]bool{true, true, true}
	for range 3 {
		coef, ok := leastSquares(rows, ys, ws, use)
		if !ok {
			break
		}
		neg := -1
		for i := range coef {
			if use[i] && coef[i] < 0 {
				neg = i
			}
		}
		if neg < 0 {
			return coef[0], coef[1], coef[2]
		}
		use[neg] = false
	}
	// too little variation: the time per drafted token alone
	var sum, n float64
	for _, p := range pts {
		sum += p.ms
		n += float64(p.k)
	}
	if n == 0 {
		return 0, 0, 0
	}
	return 0, 0, sum / n
}

// leastSquares solves the weighted normal equations for the columns in
// use (the others are 0); ok is false when they are singular.
func leastSquares(rows [][3]float64, ys, ws []float64, use [3]bool) (coef [3]float64, ok bool) {
	var idx []int
	for i, u := range use {
		if u {
			idx = append(idx, i)
		}
	}
	n := len(idx)
	ata := mat.NewDense(n, n, nil)
	aty := mat.NewVecDense(n, nil)
	for r, row := range rows {
		for i, ci := range idx {
			aty.SetVec(i, aty.AtVec(i)+ws[r]*row[ci]*ys[r])
			for j, cj := range idx {
				ata.Set(i, j, ata.At(i, j)+ws[r]*row[ci]*row[cj])
			}
		}
	}
	var x mat.VecDense
	if err := x.SolveVec(ata, aty); err != nil {
		return coef, false
	}
	if c := mat.Cond(ata, 2); math.IsInf(c, 0) || c > 1e12 {
		return coef, false
	}
	for i, ci := range idx {
		coef[ci] = x.AtVec(i)
	}
	return coef, true
}

// fitMedians fits f ≈ a + b·x(step) by least squares over the medians of
// f in each group of steps with the same x (groups of fewer than minSteps
// left out), with a, b ≥ 0; with one group, b is 0.
func fitMedians(steps []spec.Step, x func(spec.Step) float64, minSteps int, f func(spec.Step) float64) (a, b float64) {
	groups := map[float64][]spec.Step{}
	for _, st := range steps {
		groups[x(st)] = append(groups[x(st)], st)
	}
	var xs, ys []float64
	for v, g := range groups {
		if len(g) >= minSteps {
			xs = append(xs, v)
			ys = append(ys, medianOf(g, f))
		}
	}
	switch len(xs) {
	case 0:
		return 0, 0
	case 1:
		return max(0, ys[0]), 0
	}
	a, b = stat.LinearRegression(xs, ys, nil, false)
	if b < 0 {
		return max(0, mean(ys)), 0
	}
	return max(0, a), b
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// maxDense is the largest b such that sizes begins 1, 2, …, b.
func maxDense(sizes []int) int {
	b := 0
	for i, n := range sizes {
		if n != i+1 {
			break
		}
		b = n
	}
	return b
}

// positions are the steps' context positions.
func positions(steps []spec.Step) []float64 {
	out := make([]float64, len(steps))
	for i, st := range steps {
		out[i] = float64(st.Pos)
	}
	return out
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
	batch := make([]engine.Token, maxB)
	for i := range batch {
		batch[i] = prompt[(i+1)%len(prompt)]
	}
	ts, rollback, err := timeSizes(ctx, batch, pos, sizes, reps, drop)
	if err != nil {
		return nil, 0, false, err
	}
	out := make([]float64, len(sizes))
	for b := range out {
		out[b] = median(ts[b])
	}
	return out, median(rollback), drop, nil
}

// timeSizes times decodes of batch[:b] at pos for each size b, each after
// two untimed decodes of one token, undoing each (tail removal, or a
// checkpoint's save and restore when drop is false), and returns the times
// by size and the rollbacks, in ms.
func timeSizes(ctx *engine.Context, batch []engine.Token, pos int, sizes []int, reps int, drop bool) ([][]float64, []float64, error) {
	var ck engine.Checkpoint
	var rollback []float64
	ts := make([][]float64, len(sizes))
	undo := func() error {
		if drop {
			ctx.RemoveTail(0, pos)
			return nil
		}
		return ctx.Restore(&ck, 0)
	}
	// decode decodes batch[:b] at pos, and undoes it, returning both times.
	decode := func(b int) (took, back float64, err error) {
		var save time.Duration
		if !drop {
			t := time.Now()
			if err := ctx.Save(&ck, 0); err != nil {
				return 0, 0, err
			}
			save = time.Since(t)
		}
		t0 := time.Now()
		if err := ctx.Decode(batch[:b], pos, 0, engine.LogitsAll); err != nil {
			return 0, 0, err
		}
		took = ms(time.Since(t0))
		t1 := time.Now()
		if err := undo(); err != nil {
			return 0, 0, err
		}
		return took, ms(save + time.Since(t1)), nil
	}
	// As in the loop, a batch comes after single-token steps (a draft
	// after steps that drafted nothing, the next draft after the target's
	// own token): each timed decode of b > 1 follows a few untimed decodes
	// of one token, so that it pays what switching shapes costs (buffers
	// the backend resizes, caches the last step left cold). The sizes take
	// turns over a few rounds, so that a GPU's clock ramping up (or a
	// neighbour's load) affects every size alike.
	rounds := min(reps, 3)
	for round := range rounds {
		for i, b := range sizes {
			for range (reps + rounds - 1 - round) / rounds {
				for range 2 {
					if _, _, err := decode(1); err != nil {
						return nil, nil, err
					}
				}
				took, back, err := decode(b)
				if err != nil {
					return nil, nil, err
				}
				ts[i] = append(ts[i], took)
				rollback = append(rollback, back)
			}
		}
	}
	return ts, rollback, nil
}

// measureSlope is what a verify costs more per batch token and context
// position (attention reads every earlier position): after measureTarget,
// it fills ctx up to pos1 and times a batch of maxB there against its
// time vMax at pos0. (A single token's slope is measured in the loop, see
// Costs.PlainSlopeMs: too small for bare decodes to show.)
func measureSlope(ctx *engine.Context, pos0, pos1, maxB, reps int, drop bool, v1, vMax float64) (float64, error) {
	filler := make([]engine.Token, pos1-pos0)
	batch := make([]engine.Token, maxB)
	if err := ctx.Decode(filler, pos0, 0, engine.LogitsLast); err != nil {
		return 0, err
	}
	ts, _, err := timeSizes(ctx, batch, pos1, []int{1, maxB}, reps, drop) // the caller clears the memory afterwards
	_ = v1
	if err != nil {
		return 0, err
	}
	d := float64(pos1 - pos0)
	slope := (median(ts[1]) - vMax) / float64(maxB) / d
	return max(0, slope), nil
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
			row = append(row, r.Costs.Predict(a, only(g), model, r.Costs.PlainPos, r.Costs.PlainPos))
		}
		r.Predicted = append(r.Predicted, row)
	}
	for g := 1; g < maxB; g++ {
		// the α where Predict crosses 1: Predict rises with α
		lo, hi := 0.0, 1.0
		if r.Costs.Predict(hi, only(g), model, r.Costs.PlainPos, r.Costs.PlainPos) < 1 {
			r.BreakEven = append(r.BreakEven, nil)
			continue
		}
		for range 50 {
			mid := (lo + hi) / 2
			if r.Costs.Predict(mid, only(g), model, r.Costs.PlainPos, r.Costs.PlainPos) < 1 {
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
	basePos := map[string]float64{} // by task
	baseShort := map[string]bool{}
	for _, t := range byTask {
		if t.Baseline {
			basePos[t.Task] = meanPos(t)
			baseShort[t.Task] = t.ShortCells > 0
		}
	}
	for _, s := range analysis.Summarize(run, []analysis.Dim{analysis.ByConfig}) {
		if s.Baseline || s.AA || s.Drafted == 0 || s.Steps == 0 {
			continue
		}
		model := false
		for _, c := range run.Cells {
			if c.Config == s.Config && strings.Contains(c.SpecTypes, "draft-") { // a draft model's method
				model = true
			}
		}
		if model && r.Draft == "" {
			continue // no draft model measured
		}
		share := float64(s.DraftSteps) / float64(s.Steps)
		ch := benchCheck{Config: s.Config, Alpha: s.Alpha, Gamma: s.Gamma, Drafting: analysis.Num(share), Measured: s.Speedup.Mean, NoiseFloor: s.Noise.Floor}
		var logSum, logMeas float64
		var n, short int
		for _, t := range byTask {
			if t.Config != s.Config || !t.Speedup.Mean.OK() {
				continue
			}
			if baseShort[t.Task] {
				short++ // the task is too short to time: its speeds are noise
				continue
			}
			alpha := float64(t.Alpha)
			if !t.Alpha.OK() {
				alpha = 0 // nothing drafted: α does not enter
			}
			p := r.Costs.Predict(alpha, histogram(t.AcceptHist), model, meanPos(t), basePos[t.Task])
			ch.Tasks = append(ch.Tasks, taskCheck{Task: t.Task, Alpha: t.Alpha, Predicted: analysis.Num(p), Measured: t.Speedup.Mean})
			if p > 0 {
				logSum += math.Log(p)
				logMeas += math.Log(float64(t.Speedup.Mean))
				n++
			}
		}
		ch.Predicted, ch.Measured = analysis.Num(math.NaN()), analysis.Num(math.NaN())
		ch.ShortTasks = short
		if n > 0 {
			ch.Predicted = analysis.Num(math.Exp(logSum / float64(n)))
			ch.Measured = analysis.Num(math.Exp(logMeas / float64(n)))
		}
		ch.Error = analysis.Num(float64(ch.Predicted)/float64(ch.Measured) - 1)
		r.Checks = append(r.Checks, ch)
	}
}

// meanPos is the mean context position of a group's steps.
func meanPos(s *analysis.Summary) float64 {
	var sum, n float64
	for b, bin := range s.S.Pos {
		sum += (float64(b) + 0.5) * analysis.PosBinWidth * float64(bin.Steps)
		n += float64(bin.Steps)
	}
	if n == 0 {
		return 0
	}
	return sum / n
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
	fmt.Fprintf(w, "loop      verifies one token in %.2f× a bare decode's time; the predictions take the loop's for one token\n", r.LoopScale)
	k := r.Costs
	fmt.Fprintf(w, "loop      a plain step %.3g ms; an n-gram lookup %.3g ms; sampling and checking a draft of k tokens %.3g + %.3g·k ms\n", k.PlainMs, k.NgramMs, k.CheckFixedMs, k.CheckPerTokenMs)
	if r.Draft != "" {
		fmt.Fprintf(w, "draft     %s: %.3g ms a step + %.3g ms a token caught up with + %.3g ms a drafted token, as the loop spends it (one bare decode: %.3g ms); c = %.3f of a plain step\n",
			r.Draft, k.DraftFixedMs, k.DraftCatchUpMs, k.DraftPerTokenMs, r.DraftIsolatedMs, r.C)
		var vs []string
		for i, n := range k.DraftVerifyK {
			vs = append(vs, fmt.Sprintf("%d tokens %.3g ms", n, k.DraftVerifyMs[i]))
		}
		fmt.Fprintf(w, "          the target's verify after the draft ran (its caches taken): %s\n", strings.Join(vs, ", "))
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
	fmt.Fprintln(w, "\nprediction against the run: task by task from the task's α and draft lengths, geometric mean over the tasks, as the run's speedup is measured;\n"+
		"tasks whose baseline cells are too short to time are left out of both (α, γ, drafting: the configuration's):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "config\tα\tγ\tdrafting\tpredicted\tmeasured\terror\trun's noise floor\tshort tasks left out\t")
	for _, ch := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s×\t%s×\t%s\t%s\t%d\t\n", ch.Config, ch.Alpha.Format("%.3f"), ch.Gamma.Format("%.2f"),
			analysis.Num(100*float64(ch.Drafting)).Format("%.0f%%"), ch.Predicted.Format("%.2f"), ch.Measured.Format("%.2f"),
			analysis.Num(100*float64(ch.Error)).Format("%+.1f%%"), analysis.Num(100*(float64(ch.NoiseFloor)-1)).Format("±%.1f%%"), ch.ShortTasks)
	}
	tw.Flush()
}
