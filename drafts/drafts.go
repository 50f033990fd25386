package drafts

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/speclab/speclab/spec/sample"
	"github.com/speclab/speclab/terms"
)

// Token is a token id of the target's vocabulary (the same type as
// engine.Token; the n-gram proposers use nothing else of the engine).
type Token = int32

// Reason says why a draft is empty; the vocabulary is package terms'.
type Reason = terms.Reason

// Reasons for an empty draft (terms' table, under the names the proposers
// have always used).
const (
	ReasonNone          = terms.None
	NoHistory           = terms.NoHistory
	NoMatch             = terms.NoMatch
	BelowPMin           = terms.BelowPMin
	BelowNMin           = terms.BelowNMin
	NoRoom              = terms.NoRoom
	VocabRefused        = terms.VocabRefused
	TargetCannotRollbck = terms.TargetCannotRollback
	Disabled            = terms.Disabled
)

// Reasons lists every reason of an empty draft, in a stable order.
var Reasons = terms.Reasons()

// Request is what a proposer is asked for at one verify step.
type Request struct {
	// History is every token of the sequence so far, prompt included; its
	// last element is the token the target sampled most recently (not yet
	// decoded by the target). Proposers must not keep or modify it.
	History []Token
	// NMax is the most tokens to draft (<= 0: nothing may be drafted): the
	// policy's n_max (--spec-draft-n-max), capped by Room.
	NMax int
	// Room is the most tokens the target can still take in this step (its
	// context and n_predict). llama.cpp caps n-gram drafts by this alone:
	// --spec-draft-n-max applies to draft models only.
	Room int
	// NMin: drafts shorter than this are thrown away (BelowNMin).
	NMin int
	// PMin: a draft model stops when its top candidate's probability is
	// below this.
	PMin float32
	// MaxEntropy: a draft model stops when its distribution's entropy (nats)
	// exceeds this; 0 means no entropy stop.
	MaxEntropy float32
	// Sample asks a model proposer to sample its draft tokens with Sampling
	// (for rejection-sampling verification, which needs the proposer's full
	// distribution) instead of drafting greedily.
	Sample   bool
	Sampling sample.Params
	// Rand is the randomness of sampled drafts: the loop's seeded source,
	// so that draws are independent across steps and generations and the
	// same seed still gives the same output.
	Rand *rand.Rand
}

// Draft is a proposal. Tokens empty means no draft, and Reason says why.
// Its slices may be the proposer's own buffers: they are valid until the
// proposer's next Draft call.
type Draft struct {
	Tokens []Token
	// Q holds, per drafted token, the proposer's probability of that token
	// (nil for proposers without a distribution: n-gram methods propose
	// deterministically, q = 1).
	Q []float32
	// Dist holds, per drafted token, the proposer's distribution over the
	// target vocabulary after Request.Sampling (nil unless the proposer has
	// one and Request.Sample was set). Rejection sampling needs it; without
	// it a drafted token counts as proposed with certainty (q = 1).
	Dist []sample.Dist
	// Entropy holds, per drafted token, the entropy in nats of the
	// proposer's distribution (nil when it has none).
	Entropy []float32
	Reason  Reason
	// Source names the method that produced the draft (for a Multi, the
	// member that answered).
	Source string
	// Translate is the part of the proposer's time spent translating
	// between vocabularies (draft-slem, draft-tli; 0 for the others).
	Translate time.Duration
}

// Proposer drafts tokens for a target to verify.
type Proposer interface {
	// Name is the method's name as llama.cpp's --spec-type spells it.
	Name() string
	// Reset forgets everything learned from an earlier sequence.
	Reset()
	// Draft proposes up to req.NMax tokens to follow req.History.
	Draft(req Request) (Draft, error)
	// Accepted tells the proposer how many of its last draft's tokens the
	// target accepted (0..len(draft)); history has grown by accepted+1
	// tokens at the next Draft call.
	Accepted(n int)
}

// Multi tries several proposers in llama.cpp's priority order and returns
// the first non-empty draft. When all are empty it reports the reason of the
// first.
type Multi struct {
	Members []Proposer
	last    Proposer
}

// Name lists the members' names, comma-separated.
func (m *Multi) Name() string {
	s := ""
	for i, p := range m.Members {
		if i > 0 {
			s += ","
		}
		s += p.Name()
	}
	return s
}

// Reset resets every member.
func (m *Multi) Reset() {
	for _, p := range m.Members {
		p.Reset()
	}
	m.last = nil
}

// Draft asks the members in order.
func (m *Multi) Draft(req Request) (Draft, error) {
	m.last = nil
	var first Draft
	for i, p := range m.Members {
		d, err := p.Draft(req)
		if err != nil {
			return Draft{}, fmt.Errorf("%s: %w", p.Name(), err)
		}
		if d.Source == "" {
			d.Source = p.Name()
		}
		if len(d.Tokens) > 0 {
			m.last = p
			return d, nil
		}
		if i == 0 {
			first = d
		}
	}
	return first, nil
}

// Accepted forwards the feedback to the member whose draft was verified.
func (m *Multi) Accepted(n int) {
	if m.last != nil {
		m.last.Accepted(n)
	}
}

// Refused stands in for a proposer that could not be set up (a draft model
// whose vocabulary llama.cpp's rules refuse, say): every draft is empty with
// Why, so a run records why speculation never ran instead of looking like
// zero acceptance.
type Refused struct {
	Method string // the --spec-type that was asked for
	Why    Reason
	Err    error // the refusal, e.g. an *IncompatibleError
}

func (r *Refused) Name() string { return r.Method }
func (r *Refused) Reset()       {}
func (r *Refused) Draft(Request) (Draft, error) {
	return Draft{Reason: r.Why, Source: r.Method}, nil
}
func (r *Refused) Accepted(int) {}
