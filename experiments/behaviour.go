package experiments

import (
	"fmt"
	"strings"

	"github.com/speclab/speclab/spec"
)

// What llama-server did with speculation on a target whose memory cannot
// drop a tail (recurrent and hybrid models, such as the seed's Qwen3.5),
// release by release of 2026, read from the llama.cpp sources bundled in
// the node-llama-cpp packages of each month (TestBehavioursMatchSources
// checks this table against them where they are cached).

// HybridMode is one of llama-server's behaviours.
type HybridMode string

const (
	// Unchecked: speculation runs and the failed removal of a rejected
	// tail is ignored (tools/server: llama_memory_seq_rm's result
	// unused), so the recurrent state keeps the rejected tokens and the
	// output goes wrong after the first rejection. speclab cannot run a
	// lossy loop; it checkpoints instead and says so.
	Unchecked HybridMode = "unchecked"
	// Refused: common_speculative_is_compat probes the target, warns "the
	// target context does not support partial sequence removal", and
	// speculation stays off: every step is target-cannot-rollback.
	Refused HybridMode = "refuse"
	// Checkpointed: the server saves the recurrent part of the memory
	// before each verify (use_ckpt_tgt, LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY)
	// and restores it after a rejection.
	Checkpointed HybridMode = "checkpoint"
)

// Behaviour is one release's behaviour.
type Behaviour struct {
	Release string // llama.cpp tag
	Runtime string // the @node-llama-cpp/linux-x64 version that bundles it
	Date    string // the release's commit date
	Mode    HybridMode
	// TranslatesVocab: a draft whose vocabulary fails
	// common_speculative_are_compatible is not refused but drafts through
	// text (common/speculative.cpp: the target's prompt detokenized and
	// tokenized for the draft, the draft's tokens detokenized and
	// tokenized for the target; the server logs "tokens will be translated
	// between the draft and target models"). Later releases refuse it.
	TranslatesVocab bool
}

// Behaviours are the releases of 2026, oldest first.
var Behaviours = []Behaviour{
	{"b7347", "3.14.5", "2025-12-10", Unchecked, true},
	{"b7698", "3.15.0", "2026-01-10", Unchecked, true},
	{"b7836", "3.15.1", "2026-01-25", Unchecked, true},
	{"b8095", "3.16.0", "2026-02-19", Refused, false},
	{"b8121", "3.16.2", "2026-02-21", Refused, false},
	{"b8179", "3.17.1", "2026-02-27", Refused, false},
	{"b8352", "3.18.0", "2026-03-15", Refused, false},
	{"b8390", "3.18.1", "2026-03-17", Refused, false},
	{"b9842", "3.19.0", "2026-06-29", Checkpointed, false},
	{"b10068", "3.19.1", "2026-07-19", Checkpointed, false},
	{"b10361", "3.20.0", "2026-08-11", Checkpointed, false},
	{"v0.4.0", "3.21.1", "2026-09-12", Checkpointed, false},
	{"v0.5.0", "3.22.1", "2026-09-28", Checkpointed, false},
}

// SeedDate is the day the seed study ran its speculative experiments.
const SeedDate = "2026-06-23"

// SeedBehaviour is the release the seed's llama-server most likely
// followed: the latest released on or before SeedDate (b8390). b9842 is
// six days nearer to the date but was released after the runs; the seed
// ran a fork of unknown base, so reports say which behaviours fit its
// table instead of asserting this one.
func SeedBehaviour() Behaviour {
	var b Behaviour
	for _, x := range Behaviours {
		if x.Date <= SeedDate {
			b = x
		}
	}
	return b
}

// ParseBehaviour finds a release by llama.cpp tag (b8390, v0.5.0), by
// runtime version (3.18.1), or by name: "seed" (SeedBehaviour) and
// "latest".
func ParseBehaviour(s string) (Behaviour, error) {
	switch s {
	case "", "seed":
		return SeedBehaviour(), nil
	case "latest":
		return Behaviours[len(Behaviours)-1], nil
	}
	for _, b := range Behaviours {
		if b.Release == s || b.Runtime == s {
			return b, nil
		}
	}
	var names []string
	for _, b := range Behaviours {
		names = append(names, b.Release)
	}
	return Behaviour{}, fmt.Errorf("llama.cpp behaviour %q: not a release speclab knows (%s, a runtime version such as 3.18.1, seed or latest)",
		s, strings.Join(names, ", "))
}

// Rollback is what speclab runs for the behaviour.
func (b Behaviour) Rollback() spec.Rollback {
	if b.Mode == Refused {
		return spec.Refuse
	}
	return spec.Checkpoint
}

func (b Behaviour) String() string {
	s := fmt.Sprintf("llama.cpp %s (%s, node-llama-cpp %s): targets that cannot drop a tail are %s", b.Release, b.Date, b.Runtime,
		map[HybridMode]string{
			Unchecked:    "speculated on with the failed rollback ignored (lossy; speclab checkpoints instead)",
			Refused:      "refused speculation (\"the target context does not support partial sequence removal\")",
			Checkpointed: "checkpointed (partial state saved before each verify)",
		}[b.Mode])
	if b.TranslatesVocab {
		s += "; a draft of another vocabulary is translated through text, not refused"
	} else {
		s += "; a draft of another vocabulary is refused"
	}
	return s
}
