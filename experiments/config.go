package experiments

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/spec"
	"github.com/speclab/speclab/spec/sample"

	"github.com/speclab/speclab/terms"
)

// Experiment is models × a task battery × configurations × repeats. It is
// read from YAML (unknown keys are errors) or built from flags. Keys follow
// llama-server's flag names where one exists.
type Experiment struct {
	Name   string `yaml:"name" json:"name"`
	Target string `yaml:"target,omitempty" json:"target"`
	Draft  string `yaml:"draft,omitempty" json:"draft,omitempty"`
	// Targets and Drafts, instead of Target and Draft, make models a
	// dimension of the experiment: every target with every draft (or with
	// none, when no draft is given).
	Targets  []string `yaml:"targets,omitempty" json:"targets,omitempty"`
	Drafts   []string `yaml:"drafts,omitempty" json:"drafts,omitempty"`
	LlamaLib string   `yaml:"llama_lib,omitempty" json:"llama_lib,omitempty"`
	// Server, when set, sends every cell to the llama-server at this URL
	// instead of running it in-process; the server's command line sets
	// the speculation, so one configuration runs (ServerConfig).
	Server        string          `yaml:"server,omitempty" json:"server,omitempty"`
	Battery       string          `yaml:"battery" json:"battery"`
	Tasks         []string        `yaml:"tasks,omitempty" json:"tasks,omitempty"` // run only these tasks of the battery
	Repeats       int             `yaml:"repeats" json:"repeats"`
	Seed          uint64          `yaml:"seed" json:"seed"`
	NPredictScale *float64        `yaml:"n_predict_scale,omitempty" json:"n_predict_scale,omitempty"` // multiplies every task's cap (quick runs); nil: 1
	Chat          bool            `yaml:"chat,omitempty" json:"chat,omitempty"`                       // wrap each prompt as a user message in the target's chat template
	Sampling      Sampling        `yaml:"sampling" json:"sampling"`
	Context       Context         `yaml:"context" json:"context"`
	Configs       []Configuration `yaml:"configs" json:"configs"`
	// Order is the order of the configurations within each block (one
	// task and repeat): "random" (the default: shuffled with OrderSeed,
	// so that clock drift and warm caches favour no configuration),
	// "abba" (as listed on odd repeats, reversed on even ones) or "fixed"
	// (as listed). Every cell's place is logged (runs.exec_order).
	Order string `yaml:"order,omitempty" json:"order,omitempty"`
	// OrderSeed seeds the random order (nil: Seed).
	OrderSeed *uint64 `yaml:"order_seed,omitempty" json:"order_seed,omitempty"`
	// NoiseFloor runs the baseline a second time in every block (an A/A
	// cell, logged with aa=true), so that the report can say whether noise
	// explains a speedup. nil: on when the experiment has a baseline.
	NoiseFloor *bool `yaml:"noise_floor,omitempty" json:"noise_floor,omitempty"`
}

// The orders of the configurations within a block.
const (
	OrderRandom = "random"
	OrderABBA   = "abba"
	OrderFixed  = "fixed"
)

// CellOrder is the order in effect ("" reads as random).
func (e *Experiment) CellOrder() string {
	if e.Order == "" {
		return OrderRandom
	}
	return e.Order
}

// CellOrderSeed is the seed of the random order.
func (e *Experiment) CellOrderSeed() uint64 {
	if e.OrderSeed != nil {
		return *e.OrderSeed
	}
	return e.Seed
}

// baselineConfig is the first configuration that drafts nothing (nil:
// none).
func (e *Experiment) baselineConfig() *Configuration {
	for i, c := range e.Configs {
		if b, err := c.Build(e.Sampling.Params(), e.Seed); err == nil && len(b.Types) == 0 && c.Draft == "" && c.PromptPrefix == "" {
			return &e.Configs[i]
		}
	}
	return nil
}

// HasNoiseFloor reports whether every block gets an A/A cell.
func (e *Experiment) HasNoiseFloor() bool {
	if e.baselineConfig() == nil || e.Server != "" {
		return false
	}
	return e.NoiseFloor == nil || *e.NoiseFloor
}

// Sampling are the generation's sampling settings.
type Sampling struct {
	Temp float64 `yaml:"temp" json:"temp"`
	TopK int     `yaml:"top_k" json:"top_k"`
	TopP float64 `yaml:"top_p" json:"top_p"`
	MinP float64 `yaml:"min_p" json:"min_p"`
}

// Context are the model and context settings, as llama-server names them.
type Context struct {
	CtxSize   int `yaml:"ctx_size" json:"ctx_size"`     // -c; 0: the model's training context
	Threads   int `yaml:"threads" json:"threads"`       // -t; 0: speclab's default
	GPULayers int `yaml:"gpu_layers" json:"gpu_layers"` // -ngl
	// GPULayersDraft is -ngld: layers of the draft offloaded (nil: as GPULayers).
	GPULayersDraft *int   `yaml:"gpu_layers_draft,omitempty" json:"gpu_layers_draft,omitempty"`
	FlashAttn      string `yaml:"flash_attn" json:"flash_attn"` // on, off, auto
	// BatchSize and UBatchSize are -b and -ub (0: llama.cpp's 2048, 512).
	BatchSize  int `yaml:"batch_size,omitempty" json:"batch_size,omitempty"`
	UBatchSize int `yaml:"ubatch_size,omitempty" json:"ubatch_size,omitempty"`
	// Poll is --poll of the contexts' threadpools: 0 (the default) none,
	// 1..100 more and more spinning (see engine.ContextParams.Poll).
	Poll int `yaml:"poll,omitempty" json:"poll,omitempty"`
	// ForceThreads allows more threads than the machine has cores.
	// ggml's threads spin at every barrier between graph nodes, so on an
	// oversubscribed machine each node waits for a scheduler quantum: -t 4
	// already stalls on 2 cores, and -t 1000 never finishes.
	ForceThreads bool `yaml:"force_threads,omitempty" json:"force_threads,omitempty"`
	// CacheTypeK and CacheTypeV are -ctk and -ctv ("": f16).
	CacheTypeK string `yaml:"cache_type_k,omitempty" json:"cache_type_k,omitempty"`
	CacheTypeV string `yaml:"cache_type_v,omitempty" json:"cache_type_v,omitempty"`
}

// Configuration is one speculative set-up.
type Configuration struct {
	Name     string   `yaml:"name" json:"name"`
	SpecType string   `yaml:"spec_type,omitempty" json:"spec_type,omitempty"` // comma list; empty or none: baseline
	NMax     *int     `yaml:"spec_draft_n_max,omitempty" json:"spec_draft_n_max,omitempty"`
	NMin     int      `yaml:"spec_draft_n_min,omitempty" json:"spec_draft_n_min,omitempty"`
	PMin     *float64 `yaml:"spec_draft_p_min,omitempty" json:"spec_draft_p_min,omitempty"`
	DDPolicy string   `yaml:"dd_policy,omitempty" json:"dd_policy,omitempty"`
	Verify   string   `yaml:"verify,omitempty" json:"verify,omitempty"`
	Rollback string   `yaml:"rollback,omitempty" json:"rollback,omitempty"`
	// Semantics is how the llama-server flags are read: "llama-server"
	// (the default, also for "") or "per-method" (see terms.SemanticsServer).
	Semantics string `yaml:"semantics,omitempty" json:"semantics,omitempty"`
	// LlamaRefusal is kept so that older files still parse: a refused
	// draft switching every method off is the default now.
	LlamaRefusal bool           `yaml:"llama_refusal,omitempty" json:"llama_refusal,omitempty"`
	Ngram        map[string]int `yaml:"ngram,omitempty" json:"ngram,omitempty"` // llama.cpp flag name → value
	// Draft, when set, replaces the experiment's draft model for this
	// configuration (a counterfactual: the matched draft where the others
	// run the mismatched one).
	Draft string `yaml:"draft,omitempty" json:"draft,omitempty"`
	// PromptPrefix is text put before every task's prompt (a
	// counterfactual: longer prompts give the n-gram methods history from
	// the start).
	PromptPrefix string `yaml:"prompt_prefix,omitempty" json:"prompt_prefix,omitempty"`
	// AA marks the A/A cell's configuration: the baseline again, compared
	// with the baseline like any other configuration (see
	// Experiment.NoiseFloor). It is made by Cells, never read from a file.
	AA bool `yaml:"-" json:"aa,omitempty"`
}

// AASuffix ends the name of the A/A configuration ("baseline~aa").
const AASuffix = "~aa"

// SeedPolicy is the dynamic draft policy of the seed study.
const SeedPolicy = "0:n4,p0.25;49152:n4,p0.0"

// SeedConfigs are the five configurations as the seed study ran them.
func SeedConfigs() []Configuration {
	return []Configuration{
		{Name: "baseline"},
		{Name: terms.NgramSimple, SpecType: terms.NgramSimple},
		{Name: terms.NgramMapK4V, SpecType: terms.NgramMapK4V},
		{Name: terms.DraftSimple, SpecType: terms.DraftSimple},
		{Name: terms.DraftSimple + "+dd-policy", SpecType: terms.DraftSimple, DDPolicy: SeedPolicy},
	}
}

// CrossVocabCounterfactuals are the rows that draft with the experiment's
// own draft across vocabularies (draft-tli, draft-slem), checkpointing a
// target that cannot drop a tail: what the seed's refused draft could
// have done.
func CrossVocabCounterfactuals() []Configuration {
	cp := string(spec.Checkpoint)
	return []Configuration{
		{Name: terms.DraftTLI + "@checkpoint", SpecType: terms.DraftTLI, Rollback: cp},
		{Name: terms.DraftSLEM + "@checkpoint", SpecType: terms.DraftSLEM, Rollback: cp},
	}
}

// SeedCounterfactuals are the configurations that say what each change
// would have given the seed: checkpointing instead of the refusal, for
// every n-gram method alone, and the matched draft (same tokenizer) instead
// of the mismatched one, with the release's rollback and with checkpoints.
// Their names say the change after "@".
func SeedCounterfactuals(matched string, behaviour spec.Rollback, b Battery) []Configuration {
	cp := string(spec.Checkpoint)
	long := LongPromptPrefix(b)
	out := []Configuration{
		{Name: terms.NgramSimple + "@checkpoint", SpecType: terms.NgramSimple, Rollback: cp},
		{Name: terms.NgramMapK4V + "@checkpoint", SpecType: terms.NgramMapK4V, Rollback: cp},
		{Name: terms.NgramMapK + "@checkpoint", SpecType: terms.NgramMapK, Rollback: cp},
		{Name: terms.NgramMod + "@checkpoint", SpecType: terms.NgramMod, Rollback: cp},
		{Name: terms.NgramSimple + "@checkpoint+long-prompt", SpecType: terms.NgramSimple, Rollback: cp, PromptPrefix: long},
		{Name: terms.NgramMapK4V + "@checkpoint+long-prompt", SpecType: terms.NgramMapK4V, Rollback: cp, PromptPrefix: long},
	}
	if matched != "" {
		out = append(out,
			Configuration{Name: terms.DraftSimple + "@matched-draft", SpecType: terms.DraftSimple, Draft: matched, Rollback: string(behaviour)},
			Configuration{Name: terms.DraftSimple + "@matched-draft+checkpoint", SpecType: terms.DraftSimple, Draft: matched, Rollback: cp},
		)
	}
	return out
}

// LongPromptPrefix is the context the long-prompt counterfactuals put
// before each task: every prompt of the battery, one per paragraph, more
// than the 61 and 72 tokens of history ngram-simple and ngram-map-k4v need
// by default.
func LongPromptPrefix(b Battery) string {
	var ps []string
	for _, t := range b.Tasks {
		ps = append(ps, t.Prompt)
	}
	return strings.Join(ps, "\n\n") + "\n\n"
}

// Load reads an experiment from a YAML file.
func Load(path string) (*Experiment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("experiment: %w", err)
	}
	e, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("experiment %s: %w", path, err)
	}
	return e, nil
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// quoteLines adds the offending source line to each "line N:" of a YAML
// error, since yaml.v3's type errors do not name the key.
func quoteLines(err error, src []byte) error {
	lines := strings.Split(string(src), "\n")
	msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, _ := strconv.Atoi(yamlLine.FindStringSubmatch(m)[1])
		if n < 1 || n > len(lines) {
			return m
		}
		return fmt.Sprintf("line %d (%q): ", n, strings.TrimSpace(lines[n-1]))
	})
	return errors.New(msg)
}

// Parse reads an experiment from YAML, fills defaults and validates it.
func Parse(data []byte) (*Experiment, error) {
	e := &Experiment{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(e); err != nil {
		return nil, quoteLines(err, data)
	}
	if err := e.Normalise(); err != nil {
		return nil, err
	}
	return e, nil
}

// Normalise fills defaults and validates; every error names the key.
func (e *Experiment) Normalise() error {
	if e.Name == "" {
		e.Name = "experiment"
	}
	if e.Battery == "" {
		e.Battery = "seed"
	}
	if e.Repeats == 0 {
		e.Repeats = 1
	}
	if e.Context.FlashAttn == "" {
		e.Context.FlashAttn = "auto"
	}
	var errs []error
	switch e.Order {
	case "", OrderRandom, OrderABBA, OrderFixed:
	default:
		errs = append(errs, fmt.Errorf("order: %q: want random, abba or fixed", short(e.Order)))
	}
	switch {
	case e.Configs == nil:
		e.Configs = SeedConfigs()
	case len(e.Configs) == 0:
		errs = append(errs, errors.New("configs: the list is empty; leave the key out for the seed configurations"))
	}
	switch {
	case e.Target == "" && len(e.Targets) == 0:
		errs = append(errs, errors.New("target: no target model (key target, or targets for several)"))
	case e.Target != "" && len(e.Targets) > 0:
		errs = append(errs, errors.New("target and targets: give one of them"))
	}
	if e.Draft != "" && len(e.Drafts) > 0 {
		errs = append(errs, errors.New("draft and drafts: give one of them"))
	}
	if pairs := e.ModelPairs(); len(pairs) > 1 {
		seen := map[string]string{}
		for _, m := range pairs {
			if other, dup := seen[m.label()]; dup {
				errs = append(errs, fmt.Errorf("targets/drafts: %s and %s have the same file name; cells are named by it", other, m.Target+" "+m.Draft))
			}
			seen[m.label()] = m.Target + " " + m.Draft
		}
	}
	for _, list := range [][]string{e.Targets, e.Drafts} {
		for i, p := range list {
			if p == "" || slices.Contains(list[:i], p) {
				errs = append(errs, fmt.Errorf("targets/drafts: entry %d (%q) is empty or repeated", i, p))
			}
		}
	}
	if e.Repeats < 0 {
		errs = append(errs, fmt.Errorf("repeats: %d: want >= 1", e.Repeats))
	}
	if s := e.NPredictScale; s != nil && !(*s > 0 && !math.IsInf(*s, 0)) {
		errs = append(errs, fmt.Errorf("n_predict_scale: %v: want a finite number > 0 (leave the key out for 1)", *s))
	}
	for i, list := range [][]string{e.Tasks, e.Targets, e.Drafts} {
		if list != nil && len(list) == 0 {
			errs = append(errs, fmt.Errorf("%s: the list is empty; leave the key out", []string{"tasks", "targets", "drafts"}[i]))
		}
	}
	sp := e.Sampling.Params()
	if err := sp.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("sampling: %w", err))
	}
	if _, err := e.Context.Params(); err != nil {
		errs = append(errs, fmt.Errorf("context: %w", err))
	}
	names := map[string]bool{}
	for i, c := range e.Configs {
		where := fmt.Sprintf("configs[%d] (%s)", i, c.Name)
		if c.Name == "" {
			errs = append(errs, fmt.Errorf("configs[%d]: no name", i))
		} else if strings.HasSuffix(c.Name, AASuffix) || strings.Contains(c.Name, "/") {
			errs = append(errs, fmt.Errorf("%s: a name may not contain / nor end in %s (the A/A cell's)", where, AASuffix))
		} else if names[c.Name] {
			errs = append(errs, fmt.Errorf("%s: name used twice", where))
		}
		names[c.Name] = true
		b, err := c.Build(sp, e.Seed)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
		for _, t := range b.Types {
			if slices.Contains(drafts.DraftModelTypes, t) && e.Draft == "" && len(e.Drafts) == 0 && c.Draft == "" {
				errs = append(errs, fmt.Errorf("%s: spec_type %s needs a draft model (key draft)", where, t))
			}
		}
	}
	return errors.Join(errs...)
}

// Params are the sampling settings as the loop takes them.
func (s Sampling) Params() sample.Params {
	return sample.Params{Temp: float32(s.Temp), TopK: s.TopK, TopP: float32(s.TopP), MinP: float32(s.MinP)}
}

// Built is a configuration turned into the loop's settings.
type Built struct {
	Types     []string
	Config    spec.Config // NPredict is set per task
	Policy    string
	Semantics string // terms.SemanticsServer or terms.SemanticsPerMethod
}

// Build checks the configuration and returns the loop's settings.
func (c Configuration) Build(sp sample.Params, seed uint64) (Built, error) {
	var b Built
	var err error
	switch c.Semantics {
	case "", terms.SemanticsServer:
		b.Semantics = terms.SemanticsServer
		b.Types, err = drafts.ParseTypes(c.SpecType)
	case terms.SemanticsPerMethod:
		b.Semantics = terms.SemanticsPerMethod
		b.Types, err = drafts.ParseTypesPerMethod(c.SpecType)
	default:
		return b, fmt.Errorf("semantics %q: want %s or %s", c.Semantics, terms.SemanticsServer, terms.SemanticsPerMethod)
	}
	if err != nil {
		return b, fmt.Errorf("spec_type: %w", err)
	}
	cfg := spec.Config{NPredict: 1, Seed: seed, NMin: c.NMin, Sampling: sp, TokenProbs: true}
	switch {
	case c.Verify != "":
		if cfg.Verify, err = spec.ParseVerify(c.Verify); err != nil {
			return b, err
		}
	case sp.Greedy():
		cfg.Verify = spec.Greedy
	default:
		cfg.Verify = spec.Match
	}
	if cfg.Verify != spec.Greedy && sp.Greedy() {
		return b, fmt.Errorf("verify %s needs sampling.temp > 0", cfg.Verify)
	}
	if cfg.Verify == spec.Greedy && !sp.Greedy() {
		return b, fmt.Errorf("verify greedy needs sampling.temp 0")
	}
	if c.Rollback != "" {
		if cfg.Rollback, err = spec.ParseRollback(c.Rollback); err != nil {
			return b, err
		}
	}
	nmax, pmin := drafts.DefaultNMax, float64(drafts.DefaultPMin)
	if c.NMax != nil {
		nmax = *c.NMax
	}
	if c.PMin != nil {
		pmin = *c.PMin
	}
	switch {
	case nmax < 0:
		return b, fmt.Errorf("spec_draft_n_max (--spec-draft-n-max) %d: want >= 0", nmax)
	case c.NMin < 0:
		return b, fmt.Errorf("spec_draft_n_min (--spec-draft-n-min) %d: want >= 0", c.NMin)
	case !(pmin >= 0 && pmin <= 1):
		return b, fmt.Errorf("spec_draft_p_min (--spec-draft-p-min) %v: want a probability, 0..1", pmin)
	}
	if c.DDPolicy != "" {
		if cfg.Policy, err = drafts.ParsePolicy(c.DDPolicy); err != nil {
			return b, fmt.Errorf("dd_policy: %w", err)
		}
	} else {
		cfg.Policy = drafts.Static{NMax: nmax, PMin: float32(pmin)}
	}
	for k := range c.Ngram {
		if _, err := drafts.NewNgram(terms.NgramSimple, map[string]int{k: c.Ngram[k]}); err != nil && strings.Contains(err.Error(), "unknown") {
			return b, fmt.Errorf("ngram: %w", err)
		}
	}
	models := 0
	for _, t := range b.Types {
		if slices.Contains(drafts.DraftModelTypes, t) {
			models++
			continue
		}
		if _, err := drafts.NewNgram(t, c.Ngram); err != nil {
			return b, fmt.Errorf("ngram: %w", err)
		}
	}
	if models > 1 {
		return b, fmt.Errorf("spec_type: %s: one draft-model method at a time (they share the draft's context)", c.SpecType)
	}
	if slices.Contains(b.Types, terms.DraftSLEM) && cfg.Verify == spec.Rejection {
		return b, fmt.Errorf("spec_type draft-slem with verify rejection: draft-slem proposes text, not a distribution over the target's tokens; verify greedy (temp 0) or match")
	}
	b.Config = cfg
	b.Policy = fmt.Sprint(cfg.Policy)
	return b, nil
}

// Hash identifies the experiment's content: a resumed run must have the
// same.
func (e *Experiment) Hash() string {
	j, _ := json.Marshal(e)
	h := sha256.Sum256(j)
	return hex.EncodeToString(h[:8])
}

// Cell is one (models, task, configuration, repeat).
type Cell struct {
	Index int // in the experiment's order of execution
	// Block numbers the (model pair, task, repeat) the cell belongs to:
	// a baseline and the configurations compared with it share a block,
	// and a shard takes whole blocks. Slot is the cell's place in its
	// block's order (0 first).
	Block, Slot int
	Models      Models
	Task        Task
	Config      Configuration
	Repeat      int
	// label names the models in the ID when the experiment has several
	// pairs; "" when it has one (the ID of a one-model experiment does not
	// change).
	label string
}

// ID names the cell uniquely within its run.
func (c Cell) ID() string {
	id := fmt.Sprintf("%s/%s/r%d", c.Task.Name, c.Config.Name, c.Repeat)
	if c.label != "" {
		id = c.label + "/" + id
	}
	return id
}

// ModelPairs lists the (target, draft) pairs of the experiment: its target
// and draft, or every target of Targets with every draft of Drafts (or
// with none).
func (e *Experiment) ModelPairs() []Models {
	targets, drafts := e.Targets, e.Drafts
	if len(targets) == 0 {
		targets = []string{e.Target}
	}
	if len(drafts) == 0 {
		drafts = []string{e.Draft}
	}
	var out []Models
	for _, t := range targets {
		for _, d := range drafts {
			out = append(out, Models{Target: t, Draft: d, Context: e.Context})
		}
	}
	return out
}

// label names a pair of models: the target's file name, and the draft's.
func (m Models) label() string {
	name := func(p string) string { return strings.TrimSuffix(filepath.Base(p), ".gguf") }
	if m.Draft == "" {
		return name(m.Target)
	}
	return name(m.Target) + "+" + name(m.Draft)
}

// Cells lists the experiment's cells in their order of execution: by
// model pair (configurations with a draft of their own after the others,
// so that each pair of models is loaded once), then task, then repeat;
// within each block of one task and repeat, the configurations (and the
// A/A cell) in the experiment's Order.
func (e *Experiment) Cells(b Battery) ([]Cell, error) {
	tasks := b.Tasks
	if len(e.Tasks) > 0 {
		tasks = nil
		for _, name := range e.Tasks {
			found := false
			for _, t := range b.Tasks {
				if t.Name == name {
					tasks = append(tasks, t)
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("tasks: %q is not a task of battery %s", name, b.Name)
			}
		}
	}
	configs := e.Configs
	if e.HasNoiseFloor() {
		aa := *e.baselineConfig()
		aa.Name += AASuffix
		aa.AA = true
		configs = append(slices.Clone(configs), aa)
	}
	// Configurations with a draft of their own run after the others,
	// grouped by that draft.
	var groups [][]Configuration
	var drafts []string
	for _, c := range configs {
		i := slices.Index(drafts, c.Draft)
		if i < 0 {
			drafts = append(drafts, c.Draft)
			groups = append(groups, nil)
			i = len(groups) - 1
		}
		groups[i] = append(groups[i], c)
	}
	pairs := e.ModelPairs()
	var cells []Cell
	for p, m := range pairs {
		label := ""
		if len(pairs) > 1 {
			label = m.label()
		}
		for g, group := range groups {
			mm := m
			if drafts[g] != "" {
				mm.Draft = drafts[g]
			}
			for ti, t := range tasks {
				if e.NPredictScale != nil {
					t.NPredict = max(1, int(float64(t.NPredict)**e.NPredictScale+0.5))
				}
				for r := 1; r <= e.Repeats; r++ {
					block := (p*len(tasks)+ti)*e.Repeats + r - 1
					for slot, c := range e.order(group, block, r) {
						cells = append(cells, Cell{Index: len(cells), Block: block, Slot: slot, Models: mm, Task: t, Config: c, Repeat: r, label: label})
					}
				}
			}
		}
	}
	return cells, nil
}

// order returns the block's configurations in the experiment's order.
func (e *Experiment) order(configs []Configuration, block, repeat int) []Configuration {
	out := slices.Clone(configs)
	switch e.CellOrder() {
	case OrderABBA:
		if repeat%2 == 0 {
			slices.Reverse(out)
		}
	case OrderRandom:
		rng := rand.New(rand.NewPCG(e.CellOrderSeed(), uint64(block)))
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	return out
}

// Shard is a deterministic subset of cells: K of N (1-based).
type Shard struct{ K, N int }

// ParseShard reads "K/N".
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{1, 1}, nil
	}
	bad := fmt.Errorf("shard %q: want K/N with 1 <= K <= N, e.g. 2/8", short(s))
	k, n, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, bad
	}
	var sh Shard
	var err1, err2 error
	sh.K, err1 = strconv.Atoi(k)
	sh.N, err2 = strconv.Atoi(n)
	if err1 != nil || err2 != nil || sh.N < 1 || sh.K < 1 || sh.K > sh.N {
		return Shard{}, bad
	}
	return sh, nil
}

// short quotes at most the first 40 bytes of s, for error messages.
func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Has reports whether the cell belongs to the shard: whole blocks, round
// robin, so that every configuration runs beside the baseline it is
// compared with (on the same host, minutes apart) and every shard gets a
// mix of tasks.
func (s Shard) Has(c Cell) bool { return c.Block%s.N == s.K-1 }

func (s Shard) String() string { return fmt.Sprintf("%dof%d", s.K, s.N) }
