package experiments

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/engine/llamalib"
	"github.com/speclab/speclab/engine/synth"
	"github.com/speclab/speclab/models"
	"github.com/speclab/speclab/spec"
	"github.com/speclab/speclab/terms"
)

// This file is the one way from a configuration to a generation: `speclab
// run`, `bench`, `reproduce` and `experiment run` all load their models with
// LoadModels or Open and build their proposer and loop settings with
// Session.Generation.

// Models says which models to load and how: what holds for a whole session.
type Models struct {
	Target  string
	Draft   string // "" for none
	Context Context
}

// WarmBatch is the largest verify batch warmed up before anything is
// timed: ngram-mod's longest draft (n_max 64) and its last token. GPU
// backends build their kernels on the first use of a batch shape (up to
// seconds each on Vulkan: 63 drafting steps of ngram-mod once averaged
// 210 ms of verify on an H200 against 1.5 ms for warmed shapes), so on a
// GPU every size up to it is decoded once; on the CPU a sparse set is
// enough to page the weights in.
const WarmBatch = terms.NgramModNMax + 1

// draftWarmBatch is the largest batch a draft model decodes (a prompt
// chunk aside).
const draftWarmBatch = 32

// ParseFlashAttn reads a flash-attention setting: on, off or auto (also
// 1/true, 0/false and "").
func ParseFlashAttn(s string) (engine.FlashAttn, error) {
	switch s {
	case "auto", "":
		return engine.FlashAttnAuto, nil
	case "on", "1", "true":
		return engine.FlashAttnOn, nil
	case "off", "0", "false":
		return engine.FlashAttnOff, nil
	}
	return 0, fmt.Errorf("%q: want on, off or auto", s)
}

// Params turns the context settings into the engine's.
func (c Context) Params() (engine.ContextParams, error) {
	fa, err := ParseFlashAttn(c.FlashAttn)
	if err != nil {
		return engine.ContextParams{}, fmt.Errorf("flash_attn: %w", err)
	}
	if c.CtxSize < 0 || c.Threads < 0 || c.BatchSize < 0 || c.UBatchSize < 0 {
		return engine.ContextParams{}, fmt.Errorf("ctx_size, threads, batch_size and ubatch_size must not be negative")
	}
	for _, t := range []string{c.CacheTypeK, c.CacheTypeV} {
		if t != "" {
			if _, err := engine.CacheType(t); err != nil {
				return engine.ContextParams{}, err
			}
		}
	}
	if n := runtime.NumCPU(); c.Threads > n && !c.ForceThreads {
		return engine.ContextParams{}, fmt.Errorf("threads %d: more than the %d cores this machine has; ggml's threads spin at every barrier, so extra threads stall the run instead of speeding it (force_threads / --force-threads to run anyway)", c.Threads, n)
	}
	if c.Poll < 0 || c.Poll > 100 {
		return engine.ContextParams{}, fmt.Errorf("poll %d: want 0 (none) to 100", c.Poll)
	}
	return engine.ContextParams{NCtx: c.CtxSize, Threads: c.Threads, FlashAttn: fa, NBatch: c.BatchSize, NUBatch: c.UBatchSize,
		CacheTypeK: c.CacheTypeK, CacheTypeV: c.CacheTypeV, Poll: c.Poll}, nil
}

// LoadModels loads the target and, when m names one, the draft, with the
// GPU layers of m.Context (the draft's own, or the target's). The caller
// closes them.
func LoadModels(lib *engine.Lib, m Models) (target, draft *engine.Model, err error) {
	mp := engine.ModelParams{GPULayers: m.Context.GPULayers, LoadMode: engine.LoadAuto}
	if target, err = lib.LoadModel(m.Target, mp); err != nil {
		return nil, nil, fmt.Errorf("target: %w", err)
	}
	if m.Draft == "" {
		return target, nil, nil
	}
	if m.Context.GPULayersDraft != nil {
		mp.GPULayers = *m.Context.GPULayersDraft
	}
	if draft, err = lib.LoadModel(m.Draft, mp); err != nil {
		target.Close()
		return nil, nil, fmt.Errorf("draft: %w", err)
	}
	return target, draft, nil
}

// Session is the loaded target and draft with their contexts, warmed up:
// everything a generation needs that does not change from one generation to
// the next.
type Session struct {
	Lib       *engine.Lib
	Models    Models
	Target    *engine.Model
	Draft     *engine.Model // nil without a draft
	TargetCtx *engine.Context
	DraftCtx  *engine.Context // nil without a draft
	Loop      *spec.EngineTarget
	Threads   int // the target context's generation threads
}

// Open loads m into lib, creates the contexts (the draft's as long as the
// target's) and warms every verify shape up.
func Open(lib *engine.Lib, m Models) (*Session, error) {
	cp, err := m.Context.Params()
	if err != nil {
		return nil, fmt.Errorf("context: %w", err)
	}
	s := &Session{Lib: lib, Models: m}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if s.Target, s.Draft, err = LoadModels(lib, m); err != nil {
		return nil, err
	}
	if s.TargetCtx, err = s.Target.NewContext(cp); err != nil {
		return nil, err
	}
	if s.Loop, err = spec.NewTarget(s.TargetCtx); err != nil {
		return nil, err
	}
	warm := s.TargetCtx.Warmup
	if onGPU(lib, m.Context.GPULayers) {
		warm = s.TargetCtx.WarmupEvery
	}
	if err := warm(WarmBatch); err != nil {
		return nil, err
	}
	if s.Draft != nil {
		dp := cp
		dp.NCtx = s.TargetCtx.NCtx()
		if s.DraftCtx, err = s.Draft.NewContext(dp); err != nil {
			return nil, err
		}
		warm := s.DraftCtx.Warmup
		ngld := m.Context.GPULayers
		if m.Context.GPULayersDraft != nil {
			ngld = *m.Context.GPULayersDraft
		}
		if onGPU(lib, ngld) {
			warm = s.DraftCtx.WarmupEvery
		}
		if err := warm(draftWarmBatch); err != nil {
			return nil, err
		}
	}
	s.Threads = cp.Threads
	if s.Threads == 0 {
		s.Threads = engine.DefaultThreads(s.Target)
	}
	ok = true
	return s, nil
}

// onGPU reports whether a model with ngl layers offloaded runs on a GPU
// of lib.
func onGPU(lib *engine.Lib, ngl int) bool {
	if ngl == 0 {
		return false
	}
	for _, d := range lib.Devices() {
		if d.Type == engine.DeviceGPU || d.Type == engine.DeviceIGPU {
			return true
		}
	}
	return false
}

// Close frees the contexts and models.
func (s *Session) Close() {
	for _, c := range []*engine.Context{s.DraftCtx, s.TargetCtx} {
		if c != nil {
			c.Close()
		}
	}
	for _, m := range []*engine.Model{s.Draft, s.Target} {
		if m != nil {
			m.Close()
		}
	}
}

// Prompt tokenizes text for the target; with chat it is first wrapped as a
// user message (after system, if any) in the target's chat template, whose
// markers are then parsed as special tokens.
func (s *Session) Prompt(text string, chat bool, system string) ([]engine.Token, error) {
	special := false
	if chat {
		var msgs []engine.ChatMessage
		if system != "" {
			msgs = append(msgs, engine.ChatMessage{Role: "system", Content: system})
		}
		var err error
		if text, err = s.Target.ApplyChatTemplate(append(msgs, engine.ChatMessage{Role: "user", Content: text}), true); err != nil {
			return nil, err
		}
		special = true
	}
	return s.Target.Tokenize(text, true, special)
}

// Generation is one configuration built for a session: the loop's settings
// and the proposer, ready for spec.Generate.
type Generation struct {
	Built
	Proposer drafts.Proposer
	// Refusal is the draft model's vocabulary refusal, if any (its drafts
	// are then empty with the reason vocab-refused).
	Refusal error
}

// Generation checks c and builds its proposer for this session, sampling
// with sm. NPredict of the loop's settings is left at 1: the caller sets it
// per prompt.
func (s *Session) Generation(c Configuration, sm Sampling, seed uint64) (*Generation, error) {
	b, err := c.Build(sm.Params(), seed)
	if err != nil {
		return nil, err
	}
	for _, t := range b.Types {
		if slices.Contains(drafts.DraftModelTypes, t) && s.DraftCtx == nil {
			return nil, fmt.Errorf("spec type %s needs a draft model", t)
		}
	}
	prop, err := drafts.New(drafts.Setup{
		Types: b.Types, Ngram: c.Ngram, Target: drafts.ModelVocab{M: s.Target},
		DraftCtx: s.DraftCtx, Seed: seed, PerMethod: b.Semantics == terms.SemanticsPerMethod && !c.LlamaRefusal,
	})
	if err != nil {
		return nil, err
	}
	return &Generation{Built: b, Proposer: prop, Refusal: drafts.RefusalOf(prop)}, nil
}

// SeedModels returns the default models of the seed reproduction: the
// hybrid target (a qwen35, as the seed's Qwen3.5-27B), the draft whose
// vocabulary llama.cpp refuses (as the seed's Qwen2.5-0.5B), and the
// matched draft of the counterfactuals; synthetic ones when the shipped
// models are not found.
func SeedModels(cacheDir string) (target, mismatched, matched, note string, err error) {
	if dir, derr := models.Dir(); derr == nil {
		if _, serr := os.Stat(filepath.Join(dir, models.HybridTarget)); serr == nil {
			return filepath.Join(dir, models.HybridTarget), filepath.Join(dir, models.OtherVocabDraft), filepath.Join(dir, models.Draft),
				"using speclab's default models (" + dir + "): the 13.0M-parameter qwen35 hybrid target (Gated DeltaNet + attention, as the seed's Qwen3.5-27B), " +
					"the draft with another vocabulary in the seed's draft-simple rows (as its Qwen2.5-0.5B), the matched draft in the counterfactuals (models/README.md)", nil
		}
	}
	if cacheDir == "" {
		if cacheDir, err = llamalib.DefaultCacheDir(); err != nil {
			return "", "", "", "", err
		}
	}
	set, err := synth.WriteSet(filepath.Join(cacheDir, "models", "synth-mxfp4"), synth.Options{Seed: 1, Type: gguf.TypeMXFP4})
	if err != nil {
		return "", "", "", "", fmt.Errorf("default models: %w", err)
	}
	return set.Hybrid, set.OtherVocab, set.Draft, "speclab's trained default models were not found (set " + models.EnvDir +
		"); using synthetic models (random weights: the mechanics are real, the acceptance rates mean nothing)", nil
}

// DefaultModels returns speclab's default target and draft: the trained
// models shipped in models/ (see models/README.md), or, when they cannot be
// found, synthetic ones written once into the cache under cacheDir (""
// means llamalib.DefaultCacheDir). note says which, for the user.
func DefaultModels(cacheDir string) (target, draft, note string, err error) {
	if dir, derr := models.Dir(); derr == nil {
		return filepath.Join(dir, models.Target), filepath.Join(dir, models.Draft),
			"using speclab's default models (" + dir + "): a 26.5M-parameter MXFP4 target and a 3.3M draft trained on the Go standard library (models/README.md)", nil
	}
	if cacheDir == "" {
		if cacheDir, err = llamalib.DefaultCacheDir(); err != nil {
			return "", "", "", err
		}
	}
	set, err := synth.WriteSet(filepath.Join(cacheDir, "models", "synth-mxfp4"), synth.Options{Seed: 1, Type: gguf.TypeMXFP4})
	if err != nil {
		return "", "", "", fmt.Errorf("default models: %w", err)
	}
	return set.Target, set.Draft, "speclab's trained default models were not found (set " + models.EnvDir +
		"); using synthetic models (random weights: the mechanics are real, the acceptance rates mean nothing)", nil
}
