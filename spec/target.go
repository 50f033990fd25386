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
	// SaveState and LoadState checkpoint the sequence (recurrent targets).
	SaveState(dst []byte) ([]byte, error)
	LoadState(state []byte) error
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

func (t *EngineTarget) Decode(tokens []Token, pos int, out engine.Outputs) error {
	return t.Ctx.Decode(tokens, pos, 0, out)
}
func (t *EngineTarget) Logits(i int) []float32   { return t.Ctx.Logits(i) }
func (t *EngineTarget) CanRemoveTail() bool      { return t.canDrop }
func (t *EngineTarget) RemoveTail(from int) bool { return t.Ctx.RemoveTail(0, from) }
func (t *EngineTarget) SaveState(dst []byte) ([]byte, error) {
	return t.Ctx.SaveState(dst, 0)
}
func (t *EngineTarget) LoadState(s []byte) error { return t.Ctx.LoadState(0, s) }
func (t *EngineTarget) Clear()                   { t.Ctx.ClearMemory() }
func (t *EngineTarget) NVocab() int              { return t.Ctx.NVocab() }
func (t *EngineTarget) NCtx() int                { return t.Ctx.NCtx() }
func (t *EngineTarget) IsEOG(tok Token) bool     { return t.Ctx.Model().IsEOG(tok) }
