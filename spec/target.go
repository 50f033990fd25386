package spec

import (
	"fmt"

	"github.com/speclab/speclab/engine"
)

// Token is a token id of the target's vocabulary.
type Token = int32

// Target is the model whose output speculation must reproduce.
type Target interface {
	// Decode evaluates tokens at positions pos, pos+1, ... with logits as
	// out says.
	Decode(tokens []Token, pos int, out engine.Outputs) error
	// Logits of tokens[i] of the last Decode, valid until the next Decode.
	Logits(i int) []float32
	// CanRemoveTail reports whether RemoveTail works for this target.
	CanRemoveTail() bool
	// RemoveTail drops positions [from, ∞); false when impossible.
	RemoveTail(from int) bool
	// Save checkpoints the sequence into ck, and Restore returns it to
	// ck (targets that cannot drop a tail); see engine.Checkpoint.
	Save(ck *engine.Checkpoint) error
	Restore(ck *engine.Checkpoint) error
	// Clear empties the memory.
	Clear()
	NVocab() int
	NCtx() int
	IsEOG(t Token) bool
}

// EngineTarget adapts an engine.Context (sequence 0) to Target.
type EngineTarget struct {
	Ctx     *engine.Context
	canDrop bool
}

// NewTarget wraps c, probing once whether its model's memory can drop a
// tail.
func NewTarget(c *engine.Context) (*EngineTarget, error) {
	ok, err := c.Model().CanRemoveTail()
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	return &EngineTarget{Ctx: c, canDrop: ok}, nil
}

// Rollback names how the target undoes a rejected draft, as run folders
// record it: "kv" (the KV cache drops its tail), "partial-checkpoint" (a
// hybrid memory: the recurrent part is checkpointed, the attention tail
// dropped) or "checkpoint" (the whole sequence state is checkpointed).
func (t *EngineTarget) Rollback() string {
	switch {
	case t.canDrop:
		return "kv"
	case t.Ctx.PartialCheckpoints():
		return "partial-checkpoint"
	}
	return "checkpoint"
}

func (t *EngineTarget) Decode(tokens []Token, pos int, out engine.Outputs) error {
	return t.Ctx.Decode(tokens, pos, 0, out)
}
func (t *EngineTarget) Logits(i int) []float32              { return t.Ctx.Logits(i) }
func (t *EngineTarget) CanRemoveTail() bool                 { return t.canDrop }
func (t *EngineTarget) RemoveTail(from int) bool            { return t.Ctx.RemoveTail(0, from) }
func (t *EngineTarget) Save(ck *engine.Checkpoint) error    { return t.Ctx.Save(ck, 0) }
func (t *EngineTarget) Restore(ck *engine.Checkpoint) error { return t.Ctx.Restore(ck, 0) }
func (t *EngineTarget) Clear()                              { t.Ctx.ClearMemory() }
func (t *EngineTarget) NVocab() int                         { return t.Ctx.NVocab() }
func (t *EngineTarget) NCtx() int                           { return t.Ctx.NCtx() }
func (t *EngineTarget) IsEOG(tok Token) bool                { return t.Ctx.Model().IsEOG(tok) }
