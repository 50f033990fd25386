package analysis

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/speclab/speclab/terms"
)

// Status says whether a configuration's speculation ran.
type Status string

// The statuses of a configuration.
const (
	StatusBaseline       Status = "baseline"        // not configured: drafts nothing by design
	StatusRefused        Status = "refused"         // the method was refused (e.g. the vocabulary rule)
	StatusCannotRollback Status = "cannot-rollback" // the target's memory cannot drop a tail and checkpoints were refused
	StatusNeverDrafted   Status = "never-drafted"   // configured and running, but every draft was empty
	StatusApplied        Status = "applied"         // drafted on at least one task
	StatusNoiseFloor     Status = "noise-floor"     // the A/A cells: the baseline timed again
)

// Diagnosis explains, configuration by configuration, what speculation did.
type Diagnosis struct {
	Configs []*ConfigDiagnosis `json:"configs"`
}

// ConfigDiagnosis is the diagnosis of one configuration (on one model).
type ConfigDiagnosis struct {
	Config       string         `json:"config"`
	Model        string         `json:"model,omitempty"` // set when the logs hold several models
	Status       Status         `json:"status"`
	Why          string         `json:"why,omitempty"` // why it was not applied
	Tasks        int            `json:"tasks"`
	TasksDrafted int            `json:"tasks_drafted"` // tasks on which something was drafted
	Steps        int64          `json:"steps"`
	Empty        []EmptyFinding `json:"empty_drafts,omitempty"`
	// Idle are the tasks on which nothing was drafted, grouped by each
	// task's own most frequent empty-draft reason.
	Idle       []IdleFinding  `json:"idle,omitempty"`
	Rejections *RejectFinding `json:"rejections,omitempty"`
	Lines      []string       `json:"lines"` // the diagnosis in words
	Summary    *Summary       `json:"-"`
}

// EmptyFinding counts the empty drafts of one reason.
type EmptyFinding struct {
	Reason  string `json:"reason"`
	Steps   int64  `json:"steps"`
	Tasks   int    `json:"tasks"`   // tasks on which it happened
	Meaning string `json:"meaning"` // the reason, for a human
}

// IdleFinding describes the tasks on which a configuration drafted nothing.
type IdleFinding struct {
	Tasks      []string `json:"tasks"`
	Reason     string   `json:"reason"` // the most frequent empty-draft reason on each of those tasks
	Steps      int64    `json:"steps"`  // steps with that reason on those tasks
	MaxContext int32    `json:"max_context"`
	Meaning    string   `json:"meaning"`
}

// RejectFinding says where drafts were rejected and how confident target
// and draft were.
type RejectFinding struct {
	Rejected        int64   `json:"rejected_drafts"` // drafting steps that ended in a rejection
	RejectedAt      []int64 `json:"rejected_at"`     // by position of the first rejection
	PosUncond       []Num   `json:"per_position_unconditional"`
	PosCond         []Num   `json:"per_position_conditional"`
	PTargetAccepted Num     `json:"p_target_accepted"`
	QDraftAccepted  Num     `json:"q_draft_accepted"`
	PTargetRejected Num     `json:"p_target_rejected"`
	QDraftRejected  Num     `json:"q_draft_rejected"`
}

// Diagnose explains each configuration of the data: applied or not and why
// not, its empty drafts by reason, and where and how confidently its drafts
// were rejected.
func Diagnose(d *Data) *Diagnosis {
	by := []Dim{ByConfig}
	models := map[string]bool{}
	for _, c := range d.Cells {
		models[c.Model] = true
	}
	if len(models) > 1 {
		by = append(by, ByModel)
	}
	diag := &Diagnosis{}
	for _, s := range Summarize(d, by) {
		diag.Configs = append(diag.Configs, diagnoseConfig(s))
	}
	return diag
}

func diagnoseConfig(s *Summary) *ConfigDiagnosis {
	cd := &ConfigDiagnosis{Config: s.Config, Model: s.Model, Tasks: s.Tasks, Steps: s.Steps, Summary: s}
	// per task
	type taskAcc struct {
		drafted int64
		empty   map[string]int64
		maxCtx  int32
	}
	tasks := map[string]*taskAcc{}
	var specTypes, raw string
	for _, c := range s.cells {
		t := tasks[c.Task]
		if t == nil {
			t = &taskAcc{empty: map[string]int64{}}
			tasks[c.Task] = t
		}
		t.drafted += c.S.Drafted
		for r, n := range c.S.Empty {
			t.empty[r] += n
		}
		t.maxCtx = max(t.maxCtx, c.PromptTokens+c.Generated)
		if specTypes == "" {
			specTypes, raw = c.SpecTypes, c.ConfigRaw
		}
	}
	for _, t := range tasks {
		if t.drafted > 0 {
			cd.TasksDrafted++
		}
	}
	for r, n := range s.Empty {
		if n == 0 {
			continue
		}
		f := EmptyFinding{Reason: r, Steps: n, Meaning: reasonMeaning(r, specTypes, raw)}
		for _, t := range tasks {
			if t.empty[r] > 0 {
				f.Tasks++
			}
		}
		cd.Empty = append(cd.Empty, f)
	}
	sort.Slice(cd.Empty, func(i, j int) bool {
		if cd.Empty[i].Steps != cd.Empty[j].Steps {
			return cd.Empty[i].Steps > cd.Empty[j].Steps
		}
		return cd.Empty[i].Reason < cd.Empty[j].Reason
	})

	name := s.Config
	if s.Model != "" {
		name += " on " + s.Model
	}
	say := func(format string, args ...any) { cd.Lines = append(cd.Lines, fmt.Sprintf(format, args...)) }
	switch {
	case s.Baseline:
		cd.Status = StatusBaseline
		cd.Why = "not configured: the baseline drafts nothing by design"
		say("%s: %s; %s, %s tokens/s", name, cd.Why, plural(s.Tasks, "task"), s.TPS.Format("%.1f"))
		return cd
	case s.AA:
		cd.Status = StatusNoiseFloor
		cd.Why = "the A/A comparison: the baseline run a second time in each block, so its \"speedup\" is pure noise"
		say("%s: %s; it came out %s, and a speedup of one cell within %s of 1 is noise", name, cd.Why,
			s.Speedup.FormatUnit("%.3f", "×"), floorPct(s.Noise))
		return cd
	case s.Drafted == 0 && len(s.Refusals) > 0:
		cd.Status = StatusRefused
		cd.Why = "refused: " + strings.Join(s.Refusals, "; ")
		if strings.Contains(cd.Why, "draft vocabulary refused") {
			cd.Why += " (speclab compat says how far apart the vocabularies are; --spec-type draft-tli or draft-slem drafts with this model across them, losslessly)"
		}
	case s.Drafted == 0 && s.Empty[string(terms.TargetCannotRollback)] > 0:
		cd.Status = StatusCannotRollback
		cd.Why = fmt.Sprintf("the target's memory cannot roll back a rejected draft (recurrent or hybrid model) and state checkpoints were not allowed (%s on %d steps)", terms.TargetCannotRollback, s.Empty[string(terms.TargetCannotRollback)])
	case s.Drafted == 0:
		cd.Status = StatusNeverDrafted
		cd.Why = "every draft was empty"
	default:
		cd.Status = StatusApplied
	}
	if cd.Status != StatusApplied {
		say("%s: NOT APPLIED on any of %s: %s", name, plural(s.Tasks, "task"), cd.Why)
	} else {
		theory := ""
		if s.SpeedupModel.OK() {
			// Two numbers, each named: the mixture over the measured draft
			// lengths (empty drafts included), and the formula at the mean
			// draft length alone.
			theory = fmt.Sprintf(" (Leviathan et al.'s model predicts %s× over the measured draft lengths, empty drafts included, and %s× at α %s, mean γ %s, c %s alone; with the measured verify cost %s, %s×)",
				s.SpeedupModel.Format("%.2f"), s.SpeedupLeviathan.Format("%.2f"),
				s.Alpha.Format("%.2f"), s.Gamma.Format("%.1f"), s.CostRatio.Format("%.3g"), s.VerifyCost.Format("%.2f×"), s.SpeedupMeasuredCost.Format("%.2f"))
		}
		verdict := ""
		if v := s.Noise.String(); v != "" {
			verdict = ", " + v
		}
		say("%s: applied, drafted on %d of %s (%d of %d steps drafted); accepted %s of %d drafted tokens, mean acceptance length %s; speedup %s%s%s",
			name, cd.TasksDrafted, plural(s.Tasks, "task"), s.DraftSteps, s.Steps,
			pct(s.AcceptanceRate), s.Drafted, s.MeanAcceptLen.Format("%.2f"),
			s.Speedup.FormatUnit("%.2f", "×"), verdict, theory)
		if len(s.Refusals) > 0 {
			say("  refused in part: %s", strings.Join(s.Refusals, "; "))
		}
		if s.RollbackUs > 0 {
			say("  rollback: %s µs per verify step undoing rejected drafts (%s)", s.RollbackUs.Format("%.1f"), rollbackHow(s))
		}
		if s.TranslateUs.OK() {
			say("  translation between the vocabularies: %s µs per drafting step, %s of the proposer's time (the history's text into the draft's tokens, and the draft back)",
				s.TranslateUs.Format("%.1f"), pct(s.TranslateShare))
		}
		if s.VerifyCost.OK() && s.VerifyCost >= 1.25 && s.Speedup.Mean.OK() && s.SpeedupModel.OK() && s.Speedup.Mean < s.SpeedupModel {
			say("  cost: verifying a draft took %.2f× the time of a plain decoding step (the model assumes 1×: decoding is not memory-bound here, so every drafted token costs target compute)",
				float64(s.VerifyCost))
		}
	}

	// tasks on which nothing was drafted, by each task's own main reason
	if cd.Status != StatusRefused && cd.Status != StatusCannotRollback {
		groups := map[string]*IdleFinding{}
		others := map[string]map[string]int64{}
		for name, t := range tasks {
			if t.drafted > 0 {
				continue
			}
			main, n := "", int64(0)
			for r, k := range t.empty {
				if k > n || k == n && r < main {
					main, n = r, k
				}
			}
			g := groups[main]
			if g == nil {
				g = &IdleFinding{Reason: main}
				groups[main] = g
				others[main] = map[string]int64{}
			}
			g.Tasks = append(g.Tasks, name)
			g.Steps += n
			g.MaxContext = max(g.MaxContext, t.maxCtx)
			for r, k := range t.empty {
				if r != main {
					others[main][r] += k
				}
			}
		}
		for _, r := range sortedKeys(groups) {
			g := groups[r]
			slices.Sort(g.Tasks)
			g.Meaning = reasonMeaning(g.Reason, specTypes, raw)
			if g.Reason == "" {
				g.Meaning = "no verify step was logged"
			}
			cd.Idle = append(cd.Idle, *g)
		}
		slices.SortStableFunc(cd.Idle, func(a, b IdleFinding) int { return len(b.Tasks) - len(a.Tasks) })
		for _, g := range cd.Idle {
			detail := fmt.Sprintf("%s %d steps", g.Reason, g.Steps)
			for _, r := range sortedKeys(others[g.Reason]) {
				if n := others[g.Reason][r]; n > 0 {
					detail += fmt.Sprintf(", %s %d", r, n)
				}
			}
			ctx := ""
			if g.Reason == string(terms.NoHistory) {
				ctx = fmt.Sprintf("; prompt + output reach at most %d tokens there", g.MaxContext)
			}
			say("  %s drafted nothing on %d of %s (%s): %s (%s%s)", s.Config, len(g.Tasks), plural(s.Tasks, "task"),
				strings.Join(g.Tasks, ", "), g.Meaning, detail, ctx)
		}
	}
	if len(cd.Empty) > 0 && (cd.Status == StatusApplied || cd.Status == StatusNeverDrafted) {
		var parts []string
		var total int64
		for _, f := range cd.Empty {
			parts = append(parts, fmt.Sprintf("%s %d (%s)", f.Reason, f.Steps, plural(f.Tasks, "task")))
			total += f.Steps
		}
		say("  empty drafts on %d of %d steps: %s", total, s.Steps, strings.Join(parts, ", "))
		for _, f := range cd.Empty {
			if !slices.ContainsFunc(cd.Idle, func(g IdleFinding) bool { return g.Reason == f.Reason }) {
				say("    %s: %s", f.Reason, f.Meaning)
			}
		}
	}

	// rejected drafts
	if s.Drafted > 0 {
		rf := &RejectFinding{PosUncond: s.PosUncond, PosCond: s.PosCond,
			PTargetAccepted: s.PTargetAccepted, QDraftAccepted: s.QDraftAccepted,
			PTargetRejected: s.PTargetRejected, QDraftRejected: s.QDraftRejected}
		for k := 1; k < len(s.AcceptHist); k++ {
			for j, n := range s.AcceptHist[k] {
				if j < k && n > 0 {
					for len(rf.RejectedAt) <= j {
						rf.RejectedAt = append(rf.RejectedAt, 0)
					}
					rf.RejectedAt[j] += n
					rf.Rejected += n
				}
			}
		}
		cd.Rejections = rf
		if rf.Rejected > 0 {
			type at struct {
				pos int
				n   int64
			}
			var ats []at
			for i, n := range rf.RejectedAt {
				if n > 0 {
					ats = append(ats, at{i, n})
				}
			}
			sort.SliceStable(ats, func(i, j int) bool { return ats[i].n > ats[j].n })
			var where []string
			for _, a := range ats[:min(3, len(ats))] {
				where = append(where, fmt.Sprintf("%s at position %d", pct(Num(float64(a.n)/float64(rf.Rejected))), a.pos+1))
			}
			say("  where drafts were rejected: %d of %d drafts; %s", rf.Rejected, s.DraftSteps, strings.Join(where, ", "))
			var cond []string
			for _, v := range rf.PosCond[:min(8, len(rf.PosCond))] {
				cond = append(cond, pct(v))
			}
			say("  acceptance by position (given the earlier ones accepted): %s", strings.Join(cond, ", "))
			say("  %s", confidenceSentence(rf))
		} else {
			say("  no draft was rejected")
		}
	}
	return cd
}

func confidenceSentence(rf *RejectFinding) string {
	var b strings.Builder
	b.WriteString("confidence: ")
	if rf.PTargetRejected.OK() {
		fmt.Fprintf(&b, "the target gave rejected tokens p = %.2f on average (accepted ones %s)",
			float64(rf.PTargetRejected), rf.PTargetAccepted.Format("%.2f"))
	} else {
		b.WriteString("the target's probabilities were not logged")
	}
	if rf.QDraftRejected.OK() {
		fmt.Fprintf(&b, "; the draft gave them q = %.2f (accepted ones %s)", float64(rf.QDraftRejected), rf.QDraftAccepted.Format("%.2f"))
		switch {
		case rf.QDraftRejected >= 0.5:
			b.WriteString(": the draft was confidently wrong")
		case rf.QDraftAccepted.OK() && rf.QDraftRejected < rf.QDraftAccepted/2:
			b.WriteString(": the draft was unsure of the tokens that failed (a p_min or entropy stop would cut them)")
		}
	} else {
		b.WriteString("; the proposer has no probabilities (n-gram methods copy tokens)")
	}
	return b.String()
}

// Text is the diagnosis in words, one configuration after another.
func (d *Diagnosis) Text() string {
	var b strings.Builder
	for _, c := range d.Configs {
		for _, l := range c.Lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// String is Text.
func (d *Diagnosis) String() string { return d.Text() }

// reasonMeaning says what an empty-draft reason means for the
// configuration's methods.
func reasonMeaning(reason, specTypes, raw string) string {
	if terms.Reason(reason) != terms.NoHistory {
		return terms.Reason(reason).Meaning()
	}
	var needs []string
	for _, t := range strings.Split(specTypes, ",") {
		t = strings.TrimSpace(t)
		switch t {
		case terms.NgramSimple:
			n, m := ngramParam(raw, t, "size-n", terms.NgramSizeN), ngramParam(raw, t, "size-m", terms.NgramSizeM)
			needs = append(needs, fmt.Sprintf("%s needs more than %d tokens of history (n+m+1, n=%d m=%d)", t, n+m+1, n, m))
		case terms.NgramMapK, terms.NgramMapK4V:
			n, m := ngramParam(raw, t, "size-n", terms.NgramSizeN), ngramParam(raw, t, "size-m", terms.NgramSizeM)
			needs = append(needs, fmt.Sprintf("%s needs at least %d tokens of history (2n+m, n=%d m=%d)", t, 2*n+m, n, m))
		case terms.NgramMod:
			nm := ngramParam(raw, terms.NgramMod, "n-match", terms.NgramModNMatch)
			needs = append(needs, fmt.Sprintf("ngram-mod needs at least %d tokens of history (n_match)", nm))
		}
	}
	if len(needs) == 0 {
		return terms.NoHistory.Meaning()
	}
	return "too little history: " + strings.Join(needs, "; ")
}

// ngramParam finds a size of an n-gram method in the configuration JSON: a
// key, at any depth, named like llama.cpp's flag (--spec-ngram-simple-size-n,
// spec_ngram_simple_size_n, ngram-simple-size-n, ...), else def.
func ngramParam(raw, method, param string, def int) int {
	if raw == "" {
		return def
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return def
	}
	var want string
	if method == terms.NgramMod {
		want = "ngram-mod-" + param
	} else {
		want = method + "-" + param
	}
	found := def
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				key := strings.ToLower(strings.ReplaceAll(strings.TrimLeft(k, "-"), "_", "-"))
				if f, ok := e.(float64); ok && (key == want || strings.HasSuffix(key, "-"+want)) && f == math.Trunc(f) && f > 0 {
					found = int(f)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return found
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// rollbackHow says what a group's rollback did: drop a KV tail, or save,
// restore and replay a checkpoint.
func rollbackHow(s *Summary) string {
	for _, c := range s.cells {
		if c.TargetRollback != "" && c.TargetRollback != "kv" {
			return "the target cannot drop a tail: a " + c.TargetRollback + " saved before each verify, restored and replayed after a rejection"
		}
	}
	return "dropping the KV tail"
}

// floorPct is a noise floor as "±x%" ("an unknown factor" when missing).
func floorPct(n Noise) string {
	if !n.Floor.OK() {
		return "an unknown factor"
	}
	return fmt.Sprintf("±%.1f%%", 100*(float64(n.Floor)-1))
}

func pct(n Num) string {
	if !n.OK() {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(n))
}
