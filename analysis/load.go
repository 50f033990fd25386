package analysis

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/speclab/speclab/experiments/runlog"
)

// PosBinWidth is the width, in tokens of context, of the bins in which
// StepStats.Pos counts drafts along the generation.
const PosBinWidth = 16

// Data is what the analysis knows of one or more run folders: one Cell per
// executed cell, with its steps and drafted tokens added up.
type Data struct {
	Dirs  []string
	Cells []*Cell
}

// Cell is one executed (task, configuration, repeat) cell: its runs row
// and what its steps and drafted tokens add up to.
type Cell struct {
	runlog.RunRow
	Model string // the target model's name (its file name without .gguf)
	S     StepStats
	T     TokenStats
}

// StepStats adds up verify steps.
type StepStats struct {
	Steps      int64 // verify steps
	DraftSteps int64 // steps with a non-empty draft
	Drafted    int64 // drafted tokens
	Accepted   int64 // accepted tokens
	Emitted    int64 // tokens emitted (accepted + the target's own)

	// ByK[k][j] counts the steps that drafted k tokens and accepted j.
	ByK [][]int64

	// Empty counts the steps with an empty draft, by reason ("no-history",
	// "no-match", ...; "unknown" when the log gives none).
	Empty map[string]int64

	ProposeNs      int64 // time in the proposer, every step
	DraftProposeNs int64 // time in the proposer, steps with a non-empty draft
	VerifyNs       int64 // time in the target's verify decode
	DraftVerifyNs  int64 // time in the target's verify decode, steps with a non-empty draft
	RollbackNs     int64
	OverheadNs     int64
	TranslateNs    int64 // the part of ProposeNs spent translating between vocabularies
	// PlainVerifyNs and DraftVerifyNs are the verify times of each step
	// without and with a draft, for medians: one stalled step (a GPU that
	// paused for seconds) moves a mean by orders of magnitude.
	PlainVerify, DraftVerify []int64

	// Pos[b] adds up the steps whose context position is in
	// [b*PosBinWidth, (b+1)*PosBinWidth).
	Pos []PosBin
}

// PosBin adds up the steps of one bin of context positions.
type PosBin struct {
	Steps, Drafted, Accepted int64
}

// TokenStats adds up drafted tokens by fate: accepted, rejected (the first
// rejected token of a step, the one the target judged) and unverified
// (drafted after a rejection, when the log has them).
type TokenStats struct {
	Tokens                         int64
	Accepted, Rejected, Unverified Confidence
}

// Confidence adds up the target's and the draft's probabilities of a set of
// drafted tokens. A probability the log does not have (NULL or NaN) is left
// out of its mean.
type Confidence struct {
	N              int64
	NP, NQ, NE     int64   // tokens with p_target, q_draft, draft_entropy
	SumP, SumQ, SE float64 // their sums
}

// MeanP is the mean of the target's probability (NaN when unknown).
func (c Confidence) MeanP() float64 { return ratio(c.SumP, c.NP) }

// MeanQ is the mean of the draft's probability (NaN when unknown).
func (c Confidence) MeanQ() float64 { return ratio(c.SumQ, c.NQ) }

// MeanEntropy is the mean entropy of the draft's distribution, nats.
func (c Confidence) MeanEntropy() float64 { return ratio(c.SE, c.NE) }

func (c *Confidence) add(o Confidence) {
	c.N += o.N
	c.NP += o.NP
	c.NQ += o.NQ
	c.NE += o.NE
	c.SumP += o.SumP
	c.SumQ += o.SumQ
	c.SE += o.SE
}

func (t *TokenStats) add(o *TokenStats) {
	t.Tokens += o.Tokens
	t.Accepted.add(o.Accepted)
	t.Rejected.add(o.Rejected)
	t.Unverified.add(o.Unverified)
}

func (s *StepStats) add(o *StepStats) {
	s.Steps += o.Steps
	s.DraftSteps += o.DraftSteps
	s.Drafted += o.Drafted
	s.Accepted += o.Accepted
	s.Emitted += o.Emitted
	s.ProposeNs += o.ProposeNs
	s.DraftProposeNs += o.DraftProposeNs
	s.DraftVerifyNs += o.DraftVerifyNs
	s.VerifyNs += o.VerifyNs
	s.RollbackNs += o.RollbackNs
	s.OverheadNs += o.OverheadNs
	s.TranslateNs += o.TranslateNs
	s.PlainVerify = append(s.PlainVerify, o.PlainVerify...)
	s.DraftVerify = append(s.DraftVerify, o.DraftVerify...)
	for k, row := range o.ByK {
		for j, n := range row {
			if n != 0 {
				s.countKJ(k, j, n)
			}
		}
	}
	for r, n := range o.Empty {
		if s.Empty == nil {
			s.Empty = map[string]int64{}
		}
		s.Empty[r] += n
	}
	if len(s.Pos) < len(o.Pos) {
		s.Pos = append(s.Pos, make([]PosBin, len(o.Pos)-len(s.Pos))...)
	}
	for i, b := range o.Pos {
		s.Pos[i].Steps += b.Steps
		s.Pos[i].Drafted += b.Drafted
		s.Pos[i].Accepted += b.Accepted
	}
}

func (s *StepStats) countKJ(k, j int, n int64) {
	for len(s.ByK) <= k {
		s.ByK = append(s.ByK, nil)
	}
	row := s.ByK[k]
	if len(row) <= j {
		row = append(row, make([]int64, j+1-len(row))...)
		s.ByK[k] = row
	}
	row[j] += n
}

// Load reads the run folders (as runlog.Find returns them): the runs table
// whole, the steps and tokens tables by column scans, in parallel over the
// part files. Steps and tokens of executions without a runs row (a killed
// execution) are left out, as are cells executed again (the latest wins).
// Folders whose tables disagree (runlog.Verify) are refused: their numbers
// would be false zeros.
func Load(dirs []string) (*Data, error) {
	if err := runlog.Verify(dirs); err != nil {
		return nil, err
	}
	runs, err := runlog.ReadRuns(dirs)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%w: no finished cell in %s", runlog.ErrNoRuns, strings.Join(dirs, ", "))
	}
	d := &Data{Dirs: slices.Clone(dirs)}
	index := make(map[string]int32, len(runs))
	for i, r := range runs {
		d.Cells = append(d.Cells, &Cell{RunRow: r, Model: modelName(r)})
		index[r.ExecID] = int32(i)
	}
	cellOf := func(b []byte) int32 {
		if i, ok := index[string(b)]; ok {
			return i
		}
		return -1
	}

	type job struct {
		path  string
		steps bool
	}
	var jobs []job
	for _, p := range runlog.Parts(dirs, runlog.StepsDir) {
		jobs = append(jobs, job{p, true})
	}
	for _, p := range runlog.Parts(dirs, runlog.TokensDir) {
		jobs = append(jobs, job{p, false})
	}
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	accs := make([]*accum, workers)
	errs := make([]error, workers)
	next := make(chan job)
	var wg sync.WaitGroup
	for w := range workers {
		accs[w] = newAccum(len(runs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				if errs[w] != nil {
					continue
				}
				if j.steps {
					errs[w] = accs[w].scanSteps(j.path, cellOf)
				} else {
					errs[w] = accs[w].scanTokens(j.path, cellOf)
				}
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	for _, a := range accs {
		for i, c := range d.Cells {
			if s := a.steps[i]; s != nil {
				c.S.add(s)
			}
			if t := a.tokens[i]; t != nil {
				c.T.add(t)
			}
		}
	}
	return d, nil
}

// modelName names a cell's target model.
func modelName(r runlog.RunRow) string {
	if r.TargetPath != "" {
		return strings.TrimSuffix(filepath.Base(r.TargetPath), ".gguf")
	}
	if len(r.TargetSHA256) >= 12 {
		return r.TargetSHA256[:12]
	}
	return "target"
}

// accum holds one worker's sums, by cell index.
type accum struct {
	steps  []*StepStats
	tokens []*TokenStats
	// column buffers, reused across row groups
	ids                   []int32
	pos, k, j, em         []int32
	reason                []int32
	prop, ver, rb, ov, tr []int64
	acc, verified         []bool
	pt, qd, ent           []float32
}

func newAccum(n int) *accum {
	return &accum{steps: make([]*StepStats, n), tokens: make([]*TokenStats, n)}
}

func (a *accum) step(i int32) *StepStats {
	s := a.steps[i]
	if s == nil {
		s = &StepStats{Empty: map[string]int64{}}
		a.steps[i] = s
	}
	return s
}

func (a *accum) token(i int32) *TokenStats {
	t := a.tokens[i]
	if t == nil {
		t = &TokenStats{}
		a.tokens[i] = t
	}
	return t
}

// The columns the scans read, by their fields in runlog's schema.
var (
	stepColumns = []string{
		runlog.Col[runlog.StepRow]("ExecID"), runlog.Col[runlog.StepRow]("Pos"), runlog.Col[runlog.StepRow]("Drafted"),
		runlog.Col[runlog.StepRow]("Accepted"), runlog.Col[runlog.StepRow]("Emitted"), runlog.Col[runlog.StepRow]("Reason"),
		runlog.Col[runlog.StepRow]("ProposeNs"), runlog.Col[runlog.StepRow]("VerifyNs"),
		runlog.Col[runlog.StepRow]("RollbackNs"), runlog.Col[runlog.StepRow]("OverheadNs"),
	}
	tokenColumns = []string{
		runlog.Col[runlog.TokenRow]("ExecID"), runlog.Col[runlog.TokenRow]("Verified"), runlog.Col[runlog.TokenRow]("Accepted"),
		runlog.Col[runlog.TokenRow]("PTarget"), runlog.Col[runlog.TokenRow]("QDraft"), runlog.Col[runlog.TokenRow]("DraftEntropy"),
	}
)

// columns finds the columns of a part.
func columns(p *runlog.Part, names []string) ([]int, error) {
	idx := make([]int, len(names))
	for i, n := range names {
		var err error
		if idx[i], err = p.Column(n); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// scanSteps adds up one part of the steps table.
func (a *accum) scanSteps(path string, cellOf func([]byte) int32) error {
	p, err := runlog.OpenPart(path, runlog.StepRow{})
	if err != nil {
		return err
	}
	defer p.Close()
	var reasons []string
	reasonID := func(b []byte) int32 {
		s := string(b)
		if s == "" {
			s = "unknown"
		}
		if i := slices.Index(reasons, s); i >= 0 {
			return int32(i)
		}
		reasons = append(reasons, s)
		return int32(len(reasons) - 1)
	}
	idx, err := columns(p, stepColumns)
	if err != nil {
		return err
	}
	// translate_ns came later: folders written before have none
	trIdx, trErr := p.Column(runlog.Col[runlog.StepRow]("TranslateNs"))
	for _, rg := range p.RowGroups() {
		cc := rg.ColumnChunks()
		a.ids, err = runlog.ReadIDs(cc[idx[0]], a.ids[:0], cellOf)
		if err == nil {
			a.pos, err = runlog.ReadInt32(cc[idx[1]], a.pos[:0])
		}
		if err == nil {
			a.k, err = runlog.ReadInt32(cc[idx[2]], a.k[:0])
		}
		if err == nil {
			a.j, err = runlog.ReadInt32(cc[idx[3]], a.j[:0])
		}
		if err == nil {
			a.em, err = runlog.ReadInt32(cc[idx[4]], a.em[:0])
		}
		if err == nil {
			a.reason, err = runlog.ReadIDs(cc[idx[5]], a.reason[:0], reasonID)
		}
		if err == nil {
			a.prop, err = runlog.ReadInt64(cc[idx[6]], a.prop[:0])
		}
		if err == nil {
			a.ver, err = runlog.ReadInt64(cc[idx[7]], a.ver[:0])
		}
		if err == nil {
			a.rb, err = runlog.ReadInt64(cc[idx[8]], a.rb[:0])
		}
		if err == nil {
			a.ov, err = runlog.ReadInt64(cc[idx[9]], a.ov[:0])
		}
		a.tr = a.tr[:0]
		if err == nil && trErr == nil {
			a.tr, err = runlog.ReadInt64(cc[trIdx], a.tr)
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		n := len(a.ids)
		for _, l := range []int{len(a.pos), len(a.k), len(a.j), len(a.em), len(a.reason), len(a.prop), len(a.ver), len(a.rb), len(a.ov)} {
			if l != n {
				return fmt.Errorf("read %s: columns of a row group differ in length (%d and %d rows)", path, n, l)
			}
		}
		empty := make([]int64, len(reasons))
		var cur int32 = -1
		var s *StepStats
		flush := func() {
			if s == nil {
				return
			}
			for r, c := range empty {
				if c != 0 {
					s.Empty[reasons[r]] += c
					empty[r] = 0
				}
			}
		}
		for i := range n {
			c := a.ids[i]
			if c < 0 {
				continue
			}
			if c != cur {
				flush()
				cur, s = c, a.step(c)
			}
			k, j := a.k[i], a.j[i]
			if k < 0 || j < 0 || j > k {
				return fmt.Errorf("read %s: step with %d drafted and %d accepted tokens", path, k, j)
			}
			s.Steps++
			s.Emitted += int64(a.em[i])
			s.ProposeNs += a.prop[i]
			s.VerifyNs += a.ver[i]
			s.RollbackNs += a.rb[i]
			s.OverheadNs += a.ov[i]
			if i < len(a.tr) {
				s.TranslateNs += a.tr[i]
			}
			if k == 0 {
				empty[a.reason[i]]++
				s.PlainVerify = append(s.PlainVerify, a.ver[i])
			} else {
				s.DraftVerify = append(s.DraftVerify, a.ver[i])
				s.DraftSteps++
				s.Drafted += int64(k)
				s.Accepted += int64(j)
				s.DraftProposeNs += a.prop[i]
				s.DraftVerifyNs += a.ver[i]
			}
			s.countKJ(int(k), int(j), 1)
			b := int(max(a.pos[i], 0)) / PosBinWidth
			if len(s.Pos) <= b {
				s.Pos = append(s.Pos, make([]PosBin, b+1-len(s.Pos))...)
			}
			s.Pos[b].Steps++
			s.Pos[b].Drafted += int64(k)
			s.Pos[b].Accepted += int64(j)
		}
		flush()
	}
	return nil
}

// scanTokens adds up one part of the tokens table.
func (a *accum) scanTokens(path string, cellOf func([]byte) int32) error {
	p, err := runlog.OpenPart(path, runlog.TokenRow{})
	if err != nil {
		return err
	}
	defer p.Close()
	idx, err := columns(p, tokenColumns)
	if err != nil {
		return err
	}
	for _, rg := range p.RowGroups() {
		cc := rg.ColumnChunks()
		a.ids, err = runlog.ReadIDs(cc[idx[0]], a.ids[:0], cellOf)
		if err == nil {
			a.verified, err = runlog.ReadBool(cc[idx[1]], a.verified[:0])
		}
		if err == nil {
			a.acc, err = runlog.ReadBool(cc[idx[2]], a.acc[:0])
		}
		if err == nil {
			a.pt, err = runlog.ReadOptFloat(cc[idx[3]], a.pt[:0])
		}
		if err == nil {
			a.qd, err = runlog.ReadOptFloat(cc[idx[4]], a.qd[:0])
		}
		if err == nil {
			a.ent, err = runlog.ReadOptFloat(cc[idx[5]], a.ent[:0])
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		n := len(a.ids)
		for _, l := range []int{len(a.verified), len(a.acc), len(a.pt), len(a.qd), len(a.ent)} {
			if l != n {
				return fmt.Errorf("read %s: columns of a row group differ in length (%d and %d rows)", path, n, l)
			}
		}
		var cur int32 = -1
		var t *TokenStats
		for i := range n {
			c := a.ids[i]
			if c < 0 {
				continue
			}
			if c != cur {
				cur, t = c, a.token(c)
			}
			t.Tokens++
			var conf *Confidence
			switch {
			case a.acc[i]:
				conf = &t.Accepted
			case !a.verified[i]: // drafted after the step's first rejection
				conf = &t.Unverified
			default:
				conf = &t.Rejected
			}
			conf.N++
			if v := a.pt[i]; v == v {
				conf.NP++
				conf.SumP += float64(v)
			}
			if v := a.qd[i]; v == v {
				conf.NQ++
				conf.SumQ += float64(v)
			}
			if v := a.ent[i]; v == v {
				conf.NE++
				conf.SE += float64(v)
			}
		}
	}
	return nil
}
