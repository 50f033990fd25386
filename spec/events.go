package spec

import (
	"math"
	"time"

	"github.com/speclab/speclab/drafts"
)

// Step is the event of one verify step.
type Step struct {
	Step       int           // 0-based index within the generation
	Pos        int           // context position of the step's first token
	NMax       int           // draft length asked for (after the policy and the room left)
	Drafted    int           // draft length produced
	Accepted   int           // draft tokens accepted
	Emitted    int           // tokens emitted by the step (accepted + the target's own, cut at EOG / n_predict)
	Source     string        // proposer that produced the draft ("" when none asked)
	Reason     drafts.Reason // why the draft is empty (ReasonNone when it is not)
	Checkpoint bool          // a state checkpoint was taken (recurrent/hybrid target)
	StateBytes int           // size of that checkpoint
	// PartialState: the checkpoint held only the recurrent part of a
	// hybrid memory (the attention tail is dropped instead).
	PartialState bool
	Propose      time.Duration // time in the proposer
	Translate    time.Duration // the part of Propose spent translating between vocabularies (draft-slem, draft-tli)
	Verify       time.Duration // time in the target's decode of [last + draft]
	Rollback     time.Duration // time removing the tail, or restoring + replaying
	Overhead     time.Duration // the rest of the step: verification logic, events
}

// TokenEvent is the fate of one drafted token.
type TokenEvent struct {
	Step         int
	Index        int // position in the draft, 0-based
	Token        Token
	Accepted     bool
	Verified     bool    // false for tokens after the draft's first rejection: never checked
	PTarget      float32 // target's probability of the token (NaN when not computed)
	QDraft       float32 // proposer's probability (NaN when it has none)
	TargetArgmax Token   // the target's most likely token at this position (-1 when not verified)
	DraftEntropy float32 // entropy of the proposer's distribution, nats (NaN when none)
}

// NaN marks a probability or entropy that was not available.
var NaN = float32(math.NaN())

// Sink receives events. The pointers are valid only during the call: a sink
// that keeps an event copies it. Sinks run inside the loop: keep them cheap.
type Sink interface {
	OnStep(*Step)
	OnToken(*TokenEvent)
}

// Discard is a Sink that drops every event.
type Discard struct{}

func (Discard) OnStep(*Step)        {}
func (Discard) OnToken(*TokenEvent) {}

// Collect is a Sink that keeps every event in memory.
type Collect struct {
	Steps  []Step
	Tokens []TokenEvent
}

func (c *Collect) OnStep(s *Step)        { c.Steps = append(c.Steps, *s) }
func (c *Collect) OnToken(t *TokenEvent) { c.Tokens = append(c.Tokens, *t) }
