package analysis

import (
	"cmp"
	"encoding/json"
	"fmt"
	"gonum.org/v1/gonum/stat/distuv"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Num is a measurement that may be missing: NaN (or ±Inf) prints as "–"
// and encodes in JSON as null.
type Num float64

// OK reports whether n is a finite number.
func (n Num) OK() bool { return !math.IsNaN(float64(n)) && !math.IsInf(float64(n), 0) }

// MarshalJSON encodes a missing number as null.
func (n Num) MarshalJSON() ([]byte, error) {
	if !n.OK() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(n), 'g', -1, 64), nil
}

// UnmarshalJSON decodes null as NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

// Format prints n with format (e.g. "%.2f"), or "–" when missing.
func (n Num) Format(format string) string {
	if !n.OK() {
		return "–"
	}
	return fmt.Sprintf(format, float64(n))
}

// Interval is a mean over repeats with its 95% confidence interval
// (Student's t; Lo and Hi are missing with fewer than two repeats). Speeds
// and speedups use PositiveCI: a geometric mean with an interval on the
// log scale.
type Interval struct {
	Mean Num `json:"mean"`
	Lo   Num `json:"lo"`
	Hi   Num `json:"hi"`
	N    int `json:"n"` // repeats
}

// Format prints "mean [lo, hi]" with format for each number.
func (iv Interval) Format(format string) string { return iv.FormatUnit(format, "") }

// FormatUnit prints "mean<unit> [lo, hi]" (e.g. "1.32× [1.20, 1.44]").
func (iv Interval) FormatUnit(format, unit string) string {
	s := iv.Mean.Format(format)
	if iv.Mean.OK() {
		s += unit
	}
	if iv.Lo.OK() && iv.Hi.OK() {
		s += " [" + iv.Lo.Format(format) + ", " + iv.Hi.Format(format) + "]"
	}
	return s
}

// MeanCI is the mean of xs with the 95% confidence interval of Student's t
// (NaN values are left out).
func MeanCI(xs []float64) Interval {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			v = append(v, x)
		}
	}
	nan := Num(math.NaN())
	iv := Interval{Mean: nan, Lo: nan, Hi: nan, N: len(v)}
	if len(v) == 0 {
		return iv
	}
	var sum float64
	for _, x := range v {
		sum += x
	}
	mean := sum / float64(len(v))
	iv.Mean = Num(mean)
	if len(v) < 2 {
		return iv
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	half := TQuantile975(len(v)-1) * math.Sqrt(ss/float64(len(v)-1)/float64(len(v)))
	iv.Lo, iv.Hi = Num(mean-half), Num(mean+half)
	return iv
}

// TQuantile975 is the 97.5% quantile of Student's t with df degrees of
// freedom (the half-width factor of a 95% interval), from gonum's
// distuv.StudentsT.
func TQuantile975(df int) float64 {
	if df < 1 {
		return math.NaN()
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.Quantile(0.975)
}

// PositiveCI is the geometric mean of the positive xs with the 95%
// interval of Student's t on their logarithms, transformed back: for
// speeds and ratios, it can never go below 0 and it is as wide, by factor,
// on both sides (NaN, infinite and non-positive values are left out).
func PositiveCI(xs []float64) Interval {
	var logs []float64
	for _, x := range xs {
		if x > 0 && !math.IsInf(x, 0) {
			logs = append(logs, math.Log(x))
		}
	}
	iv := MeanCI(logs)
	for _, p := range []*Num{&iv.Mean, &iv.Lo, &iv.Hi} {
		if p.OK() {
			*p = Num(math.Exp(float64(*p)))
		}
	}
	return iv
}

// Dim is a dimension the cells are grouped by.
type Dim string

// The dimensions.
const (
	ByConfig Dim = "config"
	ByTask   Dim = "task"
	ByModel  Dim = "model"
	ByRun    Dim = "run"
	// ByCategory groups by the task's category (Spec-Bench's names).
	ByCategory Dim = "category"
)

// Dims are the known dimensions.
var Dims = []Dim{ByConfig, ByTask, ByModel, ByRun, ByCategory}

// ParseDims parses a comma list of dimensions ("config,task").
func ParseDims(s string) ([]Dim, error) {
	var out []Dim
	for _, f := range strings.Split(s, ",") {
		d := Dim(strings.TrimSpace(f))
		if d == "" {
			continue
		}
		if !slices.Contains(Dims, d) {
			return nil, fmt.Errorf("unknown grouping %q (known: config, task, model, run, category)", d)
		}
		if slices.Contains(out, d) {
			return nil, fmt.Errorf("grouping %q given twice", d)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty grouping (give e.g. config,task)")
	}
	return out, nil
}

// Key names a group; a dimension the cells are not grouped by is empty.
type Key struct {
	Config string `json:"config,omitempty"`
	Task   string `json:"task,omitempty"`
	Model  string `json:"model,omitempty"`
	Run    string `json:"run,omitempty"`
	// Category is the task's category; "(none)" for tasks without one.
	Category string `json:"category,omitempty"`
}

func keyOf(c *Cell, by []Dim) Key {
	var k Key
	for _, d := range by {
		switch d {
		case ByConfig:
			k.Config = c.Config
		case ByTask:
			k.Task = c.Task
		case ByModel:
			k.Model = c.Model
		case ByRun:
			k.Run = c.RunID
		case ByCategory:
			k.Category = c.Category
			if k.Category == "" {
				k.Category = "(none)"
			}
		}
	}
	return k
}

// Get returns the key's value for a dimension.
func (k Key) Get(d Dim) string {
	switch d {
	case ByConfig:
		return k.Config
	case ByTask:
		return k.Task
	case ByModel:
		return k.Model
	case ByRun:
		return k.Run
	case ByCategory:
		return k.Category
	}
	return ""
}

// Summary is the metric set of a group of cells.
type Summary struct {
	Key
	Baseline     bool     `json:"baseline"` // every cell is a baseline (drafts nothing by design)
	AA           bool     `json:"aa"`       // every cell is an A/A cell (the baseline timed again: the noise floor)
	Cells        int      `json:"cells"`
	Tasks        int      `json:"tasks"`
	Repeats      int      `json:"repeats"`
	AppliedCells int      `json:"applied_cells"` // cells where speculation was active
	DraftedCells int      `json:"drafted_cells"` // cells with at least one non-empty draft
	Refusals     []string `json:"refusals,omitempty"`

	Generated  int64 `json:"tokens_generated"`
	Steps      int64 `json:"steps"`
	DraftSteps int64 `json:"draft_steps"`
	Drafted    int64 `json:"drafted"`
	Accepted   int64 `json:"accepted"`

	AcceptanceRate Num `json:"acceptance_rate"`        // accepted / drafted
	MeanAcceptLen  Num `json:"mean_acceptance_length"` // τ = 1 + accepted / drafting steps
	TokensPerStep  Num `json:"tokens_per_verify_step"` // 1 + accepted / steps, empty drafts included
	// RollbackUs is the mean time per verify step spent undoing rejected
	// drafts: dropping the KV tail, or restoring a checkpoint and replaying
	// (targets that cannot drop a tail), with the checkpoint's save.
	RollbackUs Num `json:"rollback_us_per_step"`
	// TranslateUs is the mean time per drafting step spent translating
	// between the target's and the draft's vocabularies (draft-slem,
	// draft-tli), part of the proposer's time; TranslateShare is it over
	// the proposer's time of those steps.
	TranslateUs    Num `json:"translate_us_per_drafting_step"`
	TranslateShare Num `json:"translate_share_of_propose"`
	// Counters under vLLM's and llama-server's names (spec_decode_*_total).
	Counters  Counters `json:"counters"`
	PosUncond []Num    `json:"per_position_unconditional"`
	PosCond   []Num    `json:"per_position_conditional"`
	// AcceptHist[k][j] counts the steps that drafted k tokens and accepted j.
	AcceptHist [][]int64        `json:"accepted_by_draft_length"`
	Empty      map[string]int64 `json:"empty_drafts"`

	TPS         Interval `json:"tokens_per_second"`
	BaselineTPS Interval `json:"baseline_tokens_per_second"`
	Speedup     Interval `json:"speedup"` // tokens/s over the matching baseline's: geometric mean of the cells' ratios
	// SpeedupSpecBench is Spec-Bench's speedup (evaluation/speed.py): the
	// mean tokens/s over tasks ÷ the baselines' mean, per repeat, averaged
	// over repeats; its interval is a bootstrap over tasks.
	SpeedupSpecBench Interval `json:"speedup_spec_bench"`
	// Noise says whether noise can explain Speedup (from the run's A/A
	// cells).
	Noise Noise `json:"noise"`
	// ShortCells counts the cells too short to time (fewer than
	// ShortCellTokens tokens or ShortCellS seconds).
	ShortCells int `json:"short_cells"`

	// Theory: Alpha is the per-token acceptance of Leviathan's model,
	// estimated as accepted / (accepted + rejections) over the drafting steps
	// (a step's draft stops at its first rejection); Gamma the mean draft
	// length of the drafting steps; CostRatio the proposer's time per drafted
	// token over the time of a plain target step (the matching baselines'
	// verify time per step; see CostRatio).
	Alpha            Num `json:"alpha"`
	Gamma            Num `json:"gamma"`
	CostRatio        Num `json:"cost_ratio"`
	ExpectedTokens   Num `json:"expected_tokens_per_drafting_step"`
	SpeedupLeviathan Num `json:"speedup_leviathan"` // Leviathan(Alpha, Gamma, CostRatio)
	SpeedupModel     Num `json:"speedup_model"`     // MixtureSpeedup over the measured draft lengths, empty drafts included
	BreakEvenAlpha   Num `json:"break_even_alpha"`  // Leviathan's (verify cost 1), at Gamma and CostRatio
	// SpeedupMeasuredCost is Leviathan's model with the measured verify
	// cost, over the measured share of drafting steps: tokens E(α, γ) in
	// γc + VerifyCost plain steps on a drafting step, one token in one
	// plain step otherwise.
	SpeedupMeasuredCost Num `json:"speedup_measured_verify_cost"`
	// VerifyCost is the verify time of a step with a draft over the
	// verify time of a step of the matching baselines: Leviathan's model
	// assumes 1 (verifying γ+1 tokens costs one plain decoding step, true
	// when decoding is memory-bound).
	VerifyCost Num `json:"verify_cost"`

	PTargetAccepted Num `json:"p_target_accepted"`
	QDraftAccepted  Num `json:"q_draft_accepted"`
	PTargetRejected Num `json:"p_target_rejected"`
	QDraftRejected  Num `json:"q_draft_rejected"`

	S     StepStats  `json:"-"`
	T     TokenStats `json:"-"`
	cells []*Cell
}

// Name is the key's values joined by " / " (or "all").
func (s *Summary) Name(by []Dim) string {
	var parts []string
	for _, d := range by {
		parts = append(parts, s.Get(d))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " / ")
}

// baselines finds, for each cell, the baseline cell it is compared with:
// same target model, task and repeat, in the same run if there is one,
// else on the same host and device.
type baselines struct {
	byRun  map[[4]string]*Cell
	byHost map[[5]string]*Cell
}

func newBaselines(cells []*Cell) *baselines {
	b := &baselines{byRun: map[[4]string]*Cell{}, byHost: map[[5]string]*Cell{}}
	for _, c := range cells {
		if !c.Baseline || !(c.GenTPS > 0) {
			continue
		}
		rep := strconv.Itoa(int(c.Repeat))
		k1 := [4]string{c.RunID, c.Model, c.Task, rep}
		if _, ok := b.byRun[k1]; !ok {
			b.byRun[k1] = c
		}
		k2 := [5]string{c.Model, c.Task, rep, c.Host, c.Device}
		if _, ok := b.byHost[k2]; !ok {
			b.byHost[k2] = c
		}
	}
	return b
}

func (b *baselines) of(c *Cell) *Cell {
	rep := strconv.Itoa(int(c.Repeat))
	if m := b.byRun[[4]string{c.RunID, c.Model, c.Task, rep}]; m != nil {
		return m
	}
	return b.byHost[[5]string{c.Model, c.Task, rep, c.Host, c.Device}]
}

// CellSpeedups returns each non-baseline cell's speedup: its tokens/s over
// that of its baseline cell (same target, task and repeat, in the same run,
// else on the same host and device), whichever folder or shard holds it.
// Cells without a baseline are left out. It is the per-cell form of
// Summary.Speedup.
func (d *Data) CellSpeedups() map[*Cell]float64 {
	base := newBaselines(d.Cells)
	out := map[*Cell]float64{}
	for _, c := range d.Cells {
		if c.Baseline {
			continue
		}
		if b := base.of(c); b != nil && b.GenTPS > 0 {
			out[c] = c.GenTPS / b.GenTPS
		}
	}
	return out
}

// Summarize groups the cells by the dimensions and computes each group's
// metrics. Groups come in order: baseline configurations first, then along
// each dimension in the order of first execution (ties by name).
//
// Tokens/s and speedup are averaged per repeat first (tokens/s: the mean
// over the group's cells of that repeat; speedup: the geometric mean of the
// cells' speedups over their baselines), then over repeats: the
// geometric mean with a 95% Student t interval on the log scale
// (PositiveCI), so that the interval reflects run-to-run variation, not the
// spread between tasks, and never goes below 0.
func Summarize(d *Data, by []Dim) []*Summary {
	base := newBaselines(d.Cells)
	noise := newNoiseModel(d.Cells, base)
	groups := map[Key]*Summary{}
	var order []*Summary
	for _, c := range d.Cells {
		k := keyOf(c, by)
		g := groups[k]
		if g == nil {
			g = &Summary{Key: k, Baseline: true}
			groups[k] = g
			order = append(order, g)
		}
		g.cells = append(g.cells, c)
	}
	for _, g := range order {
		m := g.compute(base)
		g.Noise = noise.verdict(g, m)
	}
	// a value comes at its first execution (the experiment's order of
	// tasks and configurations), ties by name
	first := map[Dim]map[string]int64{}
	for _, dm := range by {
		first[dm] = map[string]int64{}
		for _, c := range d.Cells {
			v := keyOf(c, []Dim{dm}).Get(dm)
			if t, ok := first[dm][v]; !ok || c.StartedAt < t {
				first[dm][v] = c.StartedAt
			}
		}
	}
	slices.SortStableFunc(order, func(a, b *Summary) int {
		if a.Baseline != b.Baseline {
			if a.Baseline {
				return -1
			}
			return 1
		}
		for _, dm := range by {
			va, vb := a.Get(dm), b.Get(dm)
			if c := cmp.Compare(first[dm][va], first[dm][vb]); c != 0 {
				return c
			}
			if c := cmp.Compare(va, vb); c != 0 {
				return c
			}
		}
		return 0
	})
	return order
}

// compute fills the group's metrics and returns how many of its cells have
// a speedup.
func (g *Summary) compute(base *baselines) int {
	tasks := map[string]bool{}
	pairs := map[int32][][2]float64{} // (tokens/s, baseline's) per repeat
	speedups := 0
	g.AA = len(g.cells) > 0
	tps := map[int32][]float64{}
	btps := map[int32][]float64{}
	logSp := map[int32][]float64{}
	var baseVerify []int64 // step verify times of the baselines of the cells that drafted
	for _, c := range g.cells {
		g.Cells++
		tasks[c.Task] = true
		g.Baseline = g.Baseline && c.Baseline
		g.AA = g.AA && c.AA
		if isShort(c) {
			g.ShortCells++
		}
		if c.Applied {
			g.AppliedCells++
		}
		if c.S.Drafted > 0 {
			g.DraftedCells++
		}
		if c.Refusal != "" && !slices.Contains(g.Refusals, c.Refusal) {
			g.Refusals = append(g.Refusals, c.Refusal)
		}
		g.Generated += int64(c.Generated)
		g.S.add(&c.S)
		g.T.add(&c.T)
		if c.GenTPS > 0 {
			tps[c.Repeat] = append(tps[c.Repeat], c.GenTPS)
		}
		if b := base.of(c); b != nil && c.GenTPS > 0 {
			btps[c.Repeat] = append(btps[c.Repeat], b.GenTPS)
			logSp[c.Repeat] = append(logSp[c.Repeat], math.Log(c.GenTPS/b.GenTPS))
			pairs[c.Repeat] = append(pairs[c.Repeat], [2]float64{c.GenTPS, b.GenTPS})
			speedups++
			if c.S.DraftSteps > 0 {
				baseVerify = append(baseVerify, b.S.PlainVerify...)
			}
		}
	}
	g.Tasks = len(tasks)
	reps := map[int32]bool{}
	for _, c := range g.cells {
		reps[c.Repeat] = true
	}
	g.Repeats = len(reps)
	// Geometric means over repeats, intervals on the log scale: a speed or
	// a speedup interval never goes below 0.
	g.TPS = PositiveCI(perRepeat(tps, mean))
	g.BaselineTPS = PositiveCI(perRepeat(btps, mean))
	g.Speedup = PositiveCI(perRepeat(logSp, func(v []float64) float64 { return math.Exp(mean(v)) }))
	g.SpeedupSpecBench = specBench(pairs)

	s := &g.S
	g.Steps, g.DraftSteps, g.Drafted, g.Accepted = s.Steps, s.DraftSteps, s.Drafted, s.Accepted
	g.AcceptanceRate = Num(ratio(float64(s.Accepted), s.Drafted))
	g.MeanAcceptLen = Num(MeanAcceptLen(s))
	g.TokensPerStep = Num(TokensPerStep(s))
	g.RollbackUs = Num(ratio(float64(s.RollbackNs), s.Steps) / 1e3)
	g.TranslateUs, g.TranslateShare = Num(math.NaN()), Num(math.NaN())
	if s.TranslateNs > 0 {
		g.TranslateUs = Num(ratio(float64(s.TranslateNs), s.DraftSteps) / 1e3)
		g.TranslateShare = Num(ratio(float64(s.TranslateNs), s.ProposeNs))
	}
	g.Counters = countersOf(s)
	g.PosUncond, g.PosCond = nums(PositionAcceptance(s.ByK, false)), nums(PositionAcceptance(s.ByK, true))
	g.AcceptHist = make([][]int64, len(s.ByK))
	for k, row := range s.ByK {
		g.AcceptHist[k] = append([]int64{}, row...) // no nil rows in JSON
	}
	g.Empty = s.Empty
	if g.Empty == nil {
		g.Empty = map[string]int64{}
	}

	plain := medianNs(baseVerify) // a plain target step, ns
	alpha := LeviathanAlpha(s.ByK)
	gamma := ratio(float64(s.Drafted), s.DraftSteps)
	c := CostRatio(s, plain)
	g.Alpha, g.Gamma, g.CostRatio = Num(alpha), Num(gamma), Num(c)
	g.ExpectedTokens = Num(ExpectedTokens(alpha, gamma))
	g.SpeedupLeviathan = Num(Leviathan(alpha, gamma, c))
	g.BreakEvenAlpha = Num(BreakEvenAlpha(gamma, c))
	if plain > 0 && len(s.DraftVerify) > 0 {
		g.VerifyCost = Num(medianNs(s.DraftVerify) / plain)
	} else {
		g.VerifyCost = Num(math.NaN())
	}
	var hist []int64
	for k, row := range s.ByK {
		for _, n := range row {
			for len(hist) <= k {
				hist = append(hist, 0)
			}
			hist[k] += n
		}
	}
	if f := ratio(float64(s.DraftSteps), s.Steps); s.DraftSteps > 0 && g.VerifyCost.OK() {
		g.SpeedupMeasuredCost = Num((f*ExpectedTokens(alpha, gamma) + 1 - f) / (f*(gamma*c+float64(g.VerifyCost)) + 1 - f))
	} else {
		g.SpeedupMeasuredCost = Num(math.NaN())
	}
	if s.Drafted > 0 {
		g.SpeedupModel = Num(MixtureSpeedup(alpha, c, hist))
	} else {
		g.SpeedupModel = Num(math.NaN())
	}
	g.PTargetAccepted, g.QDraftAccepted = Num(g.T.Accepted.MeanP()), Num(g.T.Accepted.MeanQ())
	g.PTargetRejected, g.QDraftRejected = Num(g.T.Rejected.MeanP()), Num(g.T.Rejected.MeanQ())
	return speedups
}

// medianNs is the median of times in ns (NaN for none).
func medianNs(v []int64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (float64(s[n/2-1]) + float64(s[n/2])) / 2
	}
	return float64(s[len(s)/2])
}

func perRepeat(m map[int32][]float64, f func([]float64) float64) []float64 {
	reps := make([]int32, 0, len(m))
	for r := range m {
		reps = append(reps, r)
	}
	slices.Sort(reps)
	out := make([]float64, 0, len(reps))
	for _, r := range reps {
		out = append(out, f(m[r]))
	}
	return out
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func nums(v []float64) []Num {
	out := make([]Num, len(v))
	for i, x := range v {
		out[i] = Num(x)
	}
	return out
}

// MeanAcceptLen is τ = 1 + accepted / drafting steps (steps whose draft
// had k > 0), as llama-server's "mean len" (n_draft_verif_steps) and vLLM's
// mean acceptance length (num_drafts) define it. 1 with steps but no draft
// (as llama-server reports), NaN without steps.
func MeanAcceptLen(s *StepStats) float64 {
	switch {
	case s.Steps == 0:
		return math.NaN()
	case s.DraftSteps == 0:
		return 1
	}
	return 1 + float64(s.Accepted)/float64(s.DraftSteps)
}

// Counters are the drafting counters as vLLM and llama-server name them.
type Counters struct {
	// NumDrafts: verify steps whose draft was not empty (llama-server's
	// n_draft_verif_steps, vLLM's num_drafts).
	NumDrafts int64 `json:"num_drafts"`
	// NumDraftTokens: drafted tokens (llama-server's draft_n).
	NumDraftTokens int64 `json:"num_draft_tokens"`
	// NumAcceptedTokens: accepted draft tokens (draft_n_accepted).
	NumAcceptedTokens int64 `json:"num_accepted_tokens"`
	// NumAcceptedTokensPerPos[i]: drafting steps that accepted at least
	// i+1 tokens (llama-server's n_accepted_per_pos, vLLM's
	// num_accepted_tokens_per_pos); over NumDrafts it is the per-position
	// acceptance rate.
	NumAcceptedTokensPerPos []int64 `json:"num_accepted_tokens_per_pos"`
}

func countersOf(s *StepStats) Counters {
	c := Counters{NumDrafts: s.DraftSteps, NumDraftTokens: s.Drafted, NumAcceptedTokens: s.Accepted, NumAcceptedTokensPerPos: []int64{}}
	for _, row := range s.ByK {
		for j, n := range row {
			for i := 0; i < j; i++ {
				for len(c.NumAcceptedTokensPerPos) <= i {
					c.NumAcceptedTokensPerPos = append(c.NumAcceptedTokensPerPos, 0)
				}
				c.NumAcceptedTokensPerPos[i] += n
			}
		}
	}
	return c
}

// TokensPerStep is 1 + accepted / steps over every verify step, empty
// drafts included: the tokens a target step emits. NaN without steps.
func TokensPerStep(s *StepStats) float64 {
	if s.Steps == 0 {
		return math.NaN()
	}
	return 1 + float64(s.Accepted)/float64(s.Steps)
}

// PositionAcceptance is the acceptance at each draft position i, from the
// counts byK[k][j] of steps that drafted k tokens and accepted j.
//
// Unconditional (vLLM's): the fraction of drafting steps (k > 0) that
// accepted at least i+1 tokens. Conditional: among the steps that drafted
// position i and accepted positions 0..i−1 (k > i, j ≥ i), the fraction
// that accepted position i too (j > i); NaN where no step qualifies.
func PositionAcceptance(byK [][]int64, conditional bool) []float64 {
	maxK := 0
	var drafting int64
	for k, row := range byK {
		for _, n := range row {
			if n > 0 && k > 0 {
				maxK = max(maxK, k)
				drafting += n
			}
		}
	}
	out := make([]float64, maxK)
	for i := range maxK {
		var reach, pass int64 // steps with k > i and j ≥ i; with j > i
		for k := i + 1; k < len(byK); k++ {
			for j, n := range byK[k] {
				if j > i {
					pass += n
				}
				if j >= i {
					reach += n
				}
			}
		}
		if conditional {
			out[i] = ratio(float64(pass), reach)
		} else {
			out[i] = ratio(float64(pass), drafting)
		}
	}
	return out
}

// LeviathanAlpha estimates the per-token acceptance of Leviathan's model
// (tokens accepted independently with one probability α) from the counts
// byK[k][j]: every drafting step tries positions until the first rejection,
// so α = Σ j / Σ (j + [j < k]), the maximum-likelihood estimate. The plain
// acceptance rate Σ j / Σ k underestimates α, since the positions after a
// rejection count as drafted but were never tried. NaN without drafts.
func LeviathanAlpha(byK [][]int64) float64 {
	var acc, tried int64
	for k := 1; k < len(byK); k++ {
		for j, n := range byK[k] {
			acc += int64(j) * n
			tried += int64(j) * n
			if j < k {
				tried += n
			}
		}
	}
	return ratio(float64(acc), tried)
}

// CostRatio estimates Leviathan's c, the cost of drafting one token in
// units of a target step: the proposer's time per drafted token (over the
// steps with a non-empty draft) divided by targetStepNs, the time of one
// plain target decoding step. Summarize passes the median verify time of a
// step of the matching baseline cells (a median, so that one stalled step
// does not blow it up); when there are none, targetStepNs <= 0 and the
// configuration's own median verify time (every step) stands in.
// NaN when nothing was drafted or no verify time was logged.
func CostRatio(s *StepStats, targetStepNs float64) float64 {
	perToken := ratio(float64(s.DraftProposeNs), s.Drafted)
	if !(targetStepNs > 0) {
		targetStepNs = medianNs(append(slices.Clone(s.PlainVerify), s.DraftVerify...))
	}
	if !(targetStepNs > 0) {
		return math.NaN()
	}
	return perToken / targetStepNs
}
