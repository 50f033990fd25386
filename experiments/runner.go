package experiments

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/experiments/llamaserver"
	"github.com/speclab/speclab/experiments/runlog"
	"github.com/speclab/speclab/rocm"
	"github.com/speclab/speclab/spec"
)

// ErrInterrupted: the run was cancelled; the finished cells are on disk and
// --resume continues.
var ErrInterrupted = errors.New("interrupted")

// Runner executes an experiment's cells into a run folder.
type Runner struct {
	Exp      *Experiment
	Dir      string      // the run folder
	Shard    Shard       // zero: all cells
	Resume   bool        // continue a run folder, skipping finished cells
	Lib      *engine.Lib // the loaded libllama
	Progress Progress    // hears of every cell and its tokens; nil: silent
	Version  string      // speclab's version, logged with every cell
	RollRows int         // step+token rows per part (0: runlog.DefaultRollRows)
	// Server, when set, sends every cell to a running llama-server instead
	// of running it in-process (Lib is then unused): runs rows only, with
	// what the server reports.
	Server *llamaserver.Client

	Before          func(c Cell) // called before each cell (tests)
	bandwidth       float64      // measured at the start
	bandwidthSource string
}

// Progress hears how a run goes: the cells of the shard, each cell's
// start, its tokens as they come, and its end (cmd/speclab draws a bar on
// a terminal and prints lines otherwise).
type Progress interface {
	// Start: total cells in the shard, done of them finished before
	// (resumed).
	Start(total, done int)
	CellStart(c Cell)
	// Tokens: the running cell has generated n of its cap.
	Tokens(n, cap int)
	CellEnd(c Cell, row runlog.RunRow)
	// Finish: the run is over (normally or not).
	Finish()
}

// LinePrinter is the plain Progress: a line per finished cell with tokens/s,
// acceptance and the ETA, and a line every Every within a long cell, for
// logs that are no terminal (batch jobs, Slurm).
type LinePrinter struct {
	W     io.Writer
	Every time.Duration // 0: 30 s

	total, done, startN int
	started, last       time.Time
	cell                Cell
}

func (p *LinePrinter) Start(total, done int) {
	p.total, p.done, p.startN, p.started = total, done, done, time.Now()
}

func (p *LinePrinter) CellStart(c Cell) { p.cell, p.last = c, time.Now() }

func (p *LinePrinter) Tokens(n, cap int) {
	every := p.Every
	if every == 0 {
		every = 30 * time.Second
	}
	if time.Since(p.last) >= every {
		p.last = time.Now()
		fmt.Fprintf(p.W, "[%d/%d] %s: %d of %d tokens%s\n", p.done+1, p.total, p.cell.ID(), n, cap, p.eta())
	}
}

func (p *LinePrinter) CellEnd(c Cell, row runlog.RunRow) {
	p.done++
	acc := "—"
	if row.AcceptRate != nil {
		acc = fmt.Sprintf("%.0f%%", 100**row.AcceptRate)
	}
	fmt.Fprintf(p.W, "[%d/%d] %-40s %4d tok %7.1f tok/s, accepted %s%s\n",
		p.done, p.total, c.ID(), row.Generated, row.GenTPS, acc, p.eta())
}

func (p *LinePrinter) Finish() {}

// eta is ", ETA 1m20s" from the cells done in this run (resumed ones cost
// nothing), or "" before the first or after the last.
func (p *LinePrinter) eta() string {
	d := p.done - p.startN
	if d <= 0 || p.done >= p.total {
		return ""
	}
	per := time.Since(p.started) / time.Duration(d)
	return fmt.Sprintf(", ETA %s", (per * time.Duration(p.total-p.done)).Round(time.Second))
}

// Summary is what a run did.
type Summary struct {
	RunID    string
	Dir      string
	Cells    int // cells of this shard
	Done     int // executed now
	Skipped  int // finished before (resume)
	Failed   int
	Duration time.Duration
}

// runMeta is run.json: what a run folder holds, for --resume.
type runMeta struct {
	RunID      string      `json:"run_id"`
	Hash       string      `json:"experiment_hash"`
	Experiment *Experiment `json:"experiment"`
	Created    time.Time   `json:"created"`
}

const metaFile = "run.json"

// Run executes the cells of r.Shard that are not finished yet.
func (r *Runner) Run(ctx context.Context) (*Summary, error) {
	t0 := time.Now()
	if r.Shard.N == 0 {
		r.Shard = Shard{1, 1}
	}
	bat, err := LoadBattery(r.Exp.Battery)
	if err != nil {
		return nil, err
	}
	cells, err := r.Exp.Cells(bat)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Dir: r.Dir}
	var mine []Cell
	for _, c := range cells {
		if r.Shard.Has(c) {
			mine = append(mine, c)
		}
	}
	if len(mine) == 0 {
		// More shards than cells: nothing to do, and no folder to make.
		return sum, nil
	}
	if r.Resume {
		if _, err := os.Stat(r.Dir); err != nil {
			return nil, fmt.Errorf("--resume: run folder %s: %w", r.Dir, err)
		}
	}
	meta, created, err := r.openFolder()
	if err != nil {
		return nil, err
	}
	sum.RunID = meta.RunID
	done, err := r.finished(meta.RunID)
	if err != nil {
		return nil, err
	}
	var todo []Cell
	for _, c := range mine {
		sum.Cells++
		if done[c.ID()] {
			sum.Skipped++
			continue
		}
		todo = append(todo, c)
	}
	if sum.Skipped > 0 && !r.Resume {
		return nil, fmt.Errorf("run folder %s already holds %d finished cells of this shard: pass --resume to continue it, or choose another folder", r.Dir, sum.Skipped)
	}
	if len(todo) == 0 {
		sum.Duration = time.Since(t0)
		return sum, nil
	}
	var srv *serverRun
	if r.Server != nil {
		if srv, err = r.probeServer(ctx); err != nil {
			r.unmake(created)
			return nil, err
		}
	}
	// Cells come grouped by model pair: each pair is loaded once.
	var loaded *env
	defer func() {
		if loaded != nil {
			loaded.close()
		}
	}()
	w, err := runlog.Create(r.Dir, r.Shard.String(), t0.UTC().Format("20060102T150405.000Z"))
	if err != nil {
		r.unmake(created)
		return nil, err
	}
	if r.RollRows > 0 {
		w.RollRows = r.RollRows
	}
	if srv == nil {
		r.bandwidth, r.bandwidthSource = measureBandwidth(r.Lib, r.Exp.Context.GPULayers)
	}
	var runErr error
	prog := r.Progress
	if prog == nil {
		prog = silent{}
	}
	prog.Start(sum.Cells, sum.Skipped)
	defer prog.Finish()
	for _, c := range todo {
		if ctx.Err() != nil {
			runErr = ErrInterrupted
			break
		}
		if r.Before != nil {
			r.Before(c)
		}
		prog.CellStart(c)
		var row runlog.RunRow
		if srv != nil {
			row, err = srv.cell(ctx, meta.RunID, r.Shard.String(), c, r.Exp)
		} else {
			if loaded == nil || loaded.Models.Target != c.Models.Target || loaded.Models.Draft != c.Models.Draft {
				if loaded != nil {
					loaded.close()
					loaded = nil
				}
				if loaded, err = r.load(c.Models); err != nil {
					runErr = fmt.Errorf("cell %s: %w", c.ID(), err)
					sum.Failed++
					break
				}
			}
			row, err = loaded.cell(ctx, w, meta.RunID, r.Shard.String(), c, r.Exp, prog)
		}
		if errors.Is(err, context.Canceled) || ctx.Err() != nil {
			runErr = ErrInterrupted
			break
		}
		if err != nil {
			runErr = fmt.Errorf("cell %s: %w", c.ID(), err)
			sum.Failed++
			break
		}
		row.Speclab = r.Version
		r.design(&row, c)
		if err := w.EndCell(row); err != nil {
			runErr = err
			break
		}
		sum.Done++
		prog.CellEnd(c, row)
	}
	if err := w.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil && sum.Done == 0 && sum.Skipped == 0 {
		r.unmake(created)
	}
	sum.Duration = time.Since(t0)
	return sum, runErr
}

// unmake removes what a run that finished no cell made of a folder it
// created (run.json, the empty tables, the lock files), so that a start
// that failed (a wrong model path) does not leave a folder that holds an
// experiment and no result.
func (r *Runner) unmake(created bool) {
	if !created {
		return
	}
	for _, sub := range []string{runlog.RunsDir, runlog.StepsDir, runlog.TokensDir} {
		if entries, _ := os.ReadDir(filepath.Join(r.Dir, sub)); len(entries) > 0 {
			return // another shard has written here meanwhile
		}
	}
	os.Remove(filepath.Join(r.Dir, metaFile))
	os.Remove(filepath.Join(r.Dir, ".lock-"+r.Shard.String()))
	for _, sub := range []string{runlog.RunsDir, runlog.StepsDir, runlog.TokensDir} {
		os.Remove(filepath.Join(r.Dir, sub)) // only if empty
	}
	os.Remove(r.Dir) // only if empty
}

// design logs the cell's place in the run's design.
func (r *Runner) design(row *runlog.RunRow, c Cell) {
	if c.Config.AA {
		row.Baseline, row.AA = false, true
	}
	row.Category = c.Task.Category
	row.Block, row.ExecOrder = int32(c.Block), int32(c.Slot)
	row.Order, row.OrderSeed = r.Exp.CellOrder(), int64(r.Exp.CellOrderSeed())
	row.BandwidthGBs, row.BandwidthSource = r.bandwidth, r.bandwidthSource
}

// measureBandwidth is the memory bandwidth the target decodes from: a
// GPU's through CUDA or HIP when it is offloaded to one that answers, else
// the CPU's (GB/s, and where).
func measureBandwidth(lib *engine.Lib, ngl int) (float64, string) {
	if onGPU(lib, ngl) {
		for name, open := range map[string]func(string) (rocm.GPU, error){"cuda": rocm.OpenCUDA, "hip": rocm.OpenHIP} {
			g, err := open("")
			if err != nil {
				continue
			}
			if ds, err := g.Devices(); err == nil {
				bw, err := g.Bandwidth(ds[0].Index, 256<<20, 5)
				g.Close()
				if err == nil {
					return bw, name
				}
				continue
			}
			g.Close()
		}
		return 0, "" // a GPU speclab cannot reach (Vulkan alone): no figure rather than the CPU's
	}
	return rocm.CPUBandwidth(128<<20, 0, 3), "cpu"
}

// openFolder creates the run folder with its run.json, or checks that an
// existing one holds the same experiment. created says it wrote run.json.
func (r *Runner) openFolder() (runMeta, bool, error) {
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return runMeta{}, false, fmt.Errorf("run folder: %w", err)
	}
	path := filepath.Join(r.Dir, metaFile)
	data, err := os.ReadFile(path)
	if err == nil {
		var m runMeta
		if err := json.Unmarshal(data, &m); err != nil {
			return runMeta{}, false, fmt.Errorf("%s: %w", path, err)
		}
		if m.Hash != r.Exp.Hash() {
			return runMeta{}, false, fmt.Errorf("run folder %s holds another experiment (%s, hash %s; this one has %s): choose another folder", r.Dir, m.Experiment.Name, m.Hash, r.Exp.Hash())
		}
		return m, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return runMeta{}, false, err
	}
	if r.Resume {
		return runMeta{}, false, fmt.Errorf("--resume: %s is not a run folder (no %s)", r.Dir, metaFile)
	}
	var b [4]byte
	rand.Read(b[:])
	m := runMeta{
		RunID:      fmt.Sprintf("%s-%s-%s", r.Exp.Name, time.Now().UTC().Format("20060102T150405Z"), hex.EncodeToString(b[:])),
		Hash:       r.Exp.Hash(),
		Experiment: r.Exp,
		Created:    time.Now().UTC(),
	}
	data, _ = json.MarshalIndent(m, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return runMeta{}, false, err
	}
	// Another shard may have written it first: keep theirs if it matches.
	if err := os.Link(tmp, path); err != nil {
		os.Remove(tmp)
		if errors.Is(err, os.ErrExist) {
			return r.openFolder()
		}
		return runMeta{}, false, err
	}
	os.Remove(tmp)
	return m, true, nil
}

// finished reads the cells already in the folder.
func (r *Runner) finished(runID string) (map[string]bool, error) {
	done := map[string]bool{}
	if !runlog.Exists(r.Dir) {
		return done, nil
	}
	if err := runlog.Verify([]string{r.Dir}); err != nil {
		return nil, fmt.Errorf("--resume: %w", err)
	}
	rows, err := runlog.ReadRuns([]string{r.Dir})
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		if row.RunID == runID {
			done[row.CellID] = true
		}
	}
	return done, nil
}

// env holds the loaded models of a run.
type env struct {
	*Session
	tHash, dHash string
	tPerToken    int64 // the target's weight bytes read per token
	backend      string
	device       string
}

func (r *Runner) load(m Models) (*env, error) {
	s, err := Open(r.Lib, m)
	if err != nil {
		return nil, err
	}
	e := &env{Session: s, tHash: fingerprint(m.Target)}
	if f, err := gguf.Open(m.Target); err == nil {
		e.tPerToken = int64(f.Summarize().BytesPerToken)
	}
	if m.Draft != "" {
		e.dHash = fingerprint(m.Draft)
	}
	e.backend = strings.Join(r.Lib.Backends(), ",")
	var devs []string
	for _, d := range r.Lib.Devices() {
		devs = append(devs, d.Name+" ("+d.Description+")")
	}
	e.device = strings.Join(devs, "; ")
	return e, nil
}

func (e *env) close() { e.Session.Close() }

// fingerprint is the file's sha256; files over 1 GiB are hashed over their
// size, first and last 64 MiB ("sampled:" prefix), to keep a start fast.
func fingerprint(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	h := sha256.New()
	const big, chunk = 1 << 30, 64 << 20
	if st.Size() <= big {
		if _, err := io.Copy(h, f); err != nil {
			return ""
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	fmt.Fprintf(h, "%d", st.Size())
	io.Copy(h, io.NewSectionReader(f, 0, chunk))
	io.Copy(h, io.NewSectionReader(f, st.Size()-chunk, chunk))
	return "sampled:" + hex.EncodeToString(h.Sum(nil))
}

type silent struct{}

func (silent) Start(int, int)              {}
func (silent) CellStart(Cell)              {}
func (silent) Tokens(int, int)             {}
func (silent) CellEnd(Cell, runlog.RunRow) {}
func (silent) Finish()                     {}

// NewLogSink returns the spec.Sink that writes a cell's events to w.
func NewLogSink(w *runlog.Writer, runID, cellID, execID string) spec.Sink {
	return &logSink{w: w, run: runID, cell: cellID, exec: execID}
}

// logSink turns the loop's events into log rows.
type logSink struct {
	w               *runlog.Writer
	run, cell, exec string
	err             error
	// tokens hears the cell's tokens so far (nil: nobody)
	tokens    func(n int)
	generated int
}

func (s *logSink) OnStep(st *spec.Step) {
	s.generated += st.Emitted
	if s.tokens != nil {
		s.tokens(s.generated)
	}
	if s.err != nil {
		return
	}
	s.err = s.w.Step(runlog.StepRow{
		RunID: s.run, CellID: s.cell, ExecID: s.exec,
		Step: int32(st.Step), Pos: int32(st.Pos), NMax: int32(st.NMax), Drafted: int32(st.Drafted),
		Accepted: int32(st.Accepted), Emitted: int32(st.Emitted), Source: st.Source, Reason: string(st.Reason),
		Checkpoint: st.Checkpoint, StateBytes: int64(st.StateBytes),
		ProposeNs: st.Propose.Nanoseconds(), VerifyNs: st.Verify.Nanoseconds(),
		RollbackNs: st.Rollback.Nanoseconds(), OverheadNs: st.Overhead.Nanoseconds(), TranslateNs: st.Translate.Nanoseconds(),
	})
}

func nullable(v float32) *float32 {
	if math.IsNaN(float64(v)) {
		return nil
	}
	return &v
}

func (s *logSink) OnToken(t *spec.TokenEvent) {
	if s.err != nil {
		return
	}
	s.err = s.w.Token(runlog.TokenRow{
		RunID: s.run, CellID: s.cell, ExecID: s.exec,
		Step: int32(t.Step), Index: int32(t.Index), Token: t.Token, Accepted: t.Accepted, Verified: t.Verified,
		PTarget: nullable(t.PTarget), QDraft: nullable(t.QDraft), TargetArgmax: t.TargetArgmax,
		DraftEntropy: nullable(t.DraftEntropy),
	})
}

// cell runs one cell and returns its runs row (not yet written).
func (e *env) cell(ctx context.Context, w *runlog.Writer, runID, shard string, c Cell, x *Experiment, prog Progress) (runlog.RunRow, error) {
	started := time.Now()
	g, err := e.Generation(c.Config, x.Sampling, x.Seed+uint64(c.Repeat-1))
	if err != nil {
		return runlog.RunRow{}, err
	}
	b, prop := g.Built, g.Proposer
	cfg := b.Config
	cfg.NPredict = c.Task.NPredict
	prompt, err := e.Prompt(c.Config.PromptPrefix+c.Task.Prompt, x.Chat, "")
	if err != nil {
		return runlog.RunRow{}, err
	}
	var xb [8]byte
	rand.Read(xb[:])
	sink := &logSink{w: w, run: runID, cell: c.ID(), exec: hex.EncodeToString(xb[:]),
		generated: 1, tokens: func(n int) { prog.Tokens(n, cfg.NPredict) }} // the first token comes before the first step
	e.Loop.Clear()
	res, err := spec.Generate(ctx, e.Loop, prop, prompt, cfg, sink)
	if err != nil {
		return runlog.RunRow{}, err
	}
	if sink.err != nil {
		return runlog.RunRow{}, sink.err
	}
	st := res.Stats
	rawCfg, _ := json.Marshal(c.Config)
	row := runlog.RunRow{
		RunID: runID, CellID: c.ID(), ExecID: sink.exec, Shard: shard,
		Task: c.Task.Name, Battery: x.Battery, Config: c.Config.Name, Repeat: int32(c.Repeat),
		Baseline: len(b.Types) == 0, SpecTypes: strings.Join(b.Types, ","), Policy: b.Policy,
		Verify: string(cfg.Verify), Rollback: string(cfg.Rollback), Temp: float32(x.Sampling.Temp),
		Seed: int64(cfg.Seed), NPredict: int32(cfg.NPredict), ConfigRaw: string(rawCfg),
		PromptTokens: int32(st.PromptTokens), Generated: int32(st.Generated), Stop: string(st.Stop),
		GenTPS: st.TokensPerSecond(), WallS: time.Since(started).Seconds(),
		Steps: new(int32(st.Steps)), DraftSteps: new(int32(st.DraftSteps)), Drafted: int32(st.Drafted),
		Accepted: int32(st.Accepted), MeanAcceptLen: new(st.MeanAcceptLen()), Applied: st.Applied(), Source: runlog.SourceSpeclab,
		Checkpoints: int32(st.Checkpoints), ProposeS: st.Propose.Seconds(), VerifyS: st.VerifyTime.Seconds(),
		RollbackS: st.Rollback.Seconds(), OverheadS: st.Overhead.Seconds(),
		Text:    e.Target.Text(res.Tokens),
		LibPath: e.Lib.Location.Lib, LibVersion: e.Lib.Version, GGMLVersion: e.Lib.GGMLVersion,
		Backend: e.backend, Device: e.device, Threads: int32(e.Threads),
		TargetPath: c.Models.Target, TargetSHA256: e.tHash, TargetArch: e.Target.Info.Architecture,
		TargetParams: int64(e.Target.Info.Params), TargetBytes: int64(e.Target.Info.Size), TargetBytesPerToken: e.tPerToken,
		TargetRollback: e.Loop.Rollback(),
		Host:           hostname(), StartedAt: started.UnixMicro(), FinishedAt: time.Now().UnixMicro(),
	}
	row.SetEmpty(st.Empty)
	if st.PromptTime > 0 {
		row.PromptTPS = float64(st.PromptTokens) / st.PromptTime.Seconds()
	}
	if st.Drafted > 0 {
		a := st.AcceptanceRate()
		row.AcceptRate = &a
	}
	if g.Refusal != nil {
		row.Refusal = g.Refusal.Error()
	}
	if e.Draft != nil && slices.ContainsFunc(b.Types, func(t string) bool { return slices.Contains(drafts.DraftModelTypes, t) }) {
		row.DraftPath, row.DraftSHA256, row.DraftParams = c.Models.Draft, e.dHash, int64(e.Draft.Info.Params)
	}
	return row, nil
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
