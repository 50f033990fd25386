package engine

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"time"
	"unsafe"
)

// Errors of Context.Decode, testable with errors.Is.
var (
	// ErrContextFull: the tokens do not fit in the context window (n_ctx) or
	// the memory has no free slot for them (llama_decode returned 1).
	ErrContextFull = errors.New("context is full")
	// ErrDecode: llama_decode failed for another reason.
	ErrDecode = errors.New("decode failed")
)

// FlashAttn chooses flash attention; the zero value lets llama.cpp decide.
type FlashAttn int

// Flash attention settings.
const (
	FlashAttnAuto FlashAttn = iota
	FlashAttnOn
	FlashAttnOff
)

// ContextParams are the options of a new context. Zero fields take
// llama.cpp's defaults, except Threads (all CPUs) and perf counters (on).
type ContextParams struct {
	NCtx         int // context window in tokens; 0: the model's training context
	NBatch       int // most tokens one Decode call hands to llama_decode (default 2048, capped at NCtx)
	NUBatch      int // physical batch (default 512)
	NSeqMax      int // sequences (default 1)
	Threads      int // generation threads (default: DefaultThreads)
	ThreadsBatch int // prompt threads (default: Threads)
	FlashAttn    FlashAttn
	NoPerf       bool // turn llama.cpp's perf counters off
	// Poll is the polling level of the context's persistent CPU threadpool,
	// as llama.cpp's --poll: 0 (the zero value) none, the threads sleep
	// between graph computations; 1..100 more and more spinning. speclab's
	// default differs from llama.cpp's 50: polling threads spin on cores
	// that other contexts and processes need (a draft model's context, the
	// tests of other packages), and the gain is small (BenchmarkThreads:
	// 0.82 against 0.85 ms a step of the shipped target at 2 threads).
	Poll int
	// NoThreadpool leaves the context without a persistent threadpool, as
	// speclab ran before: ggml then starts its threads on every decode.
	NoThreadpool bool
	// CacheTypeK and CacheTypeV are the KV cache's data types, by the names
	// llama-server's -ctk/-ctv take (f32, f16, bf16, q8_0, q4_0, q4_1,
	// iq4_nl, q5_0, q5_1); "" keeps llama.cpp's default, f16.
	CacheTypeK, CacheTypeV string
}

// cacheTypes are the KV cache types llama.cpp's common/arg.cpp accepts
// (kv_cache_types), with their ggml type ids.
var cacheTypes = map[string]int{"f32": 0, "f16": 1, "bf16": 30, "q8_0": 8, "q4_0": 2, "q4_1": 3, "iq4_nl": 20, "q5_0": 6, "q5_1": 7}

// CacheType checks a KV cache type name and returns its ggml type id.
func CacheType(name string) (int, error) {
	id, ok := cacheTypes[name]
	if !ok {
		return 0, fmt.Errorf("unsupported cache type %q (llama.cpp accepts f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1)", name)
	}
	return id, nil
}

// smallModel is the weight size under which a context gets one thread by
// default. Without a persistent threadpool (NoThreadpool) two threads cost
// more than a tiny model's arithmetic (34 µs a token on one thread,
// milliseconds on two). With the threadpool, two threads decode the shipped
// 26.5M target 1.37× faster than one on the 2-core CI machine when nothing
// else runs (BenchmarkThreads) — but ggml's threads spin at the barrier
// between graph nodes, so when any other process wants a core (a second
// test binary, a llama-server, the user's editor) a step stalls for a
// scheduler quantum per node: the spec package's tests took 90 s instead of
// 7 s. One thread is the default that never does that; -t 2 is the choice
// for a quiet machine.
const smallModel = 256 << 20

// DefaultThreads is the thread count a context of m gets when none is
// given: 1 for models under 256 MiB, else every CPU.
func DefaultThreads(m *Model) int {
	if m.Info.Size < smallModel {
		return 1
	}
	return runtime.NumCPU()
}

// Context is an inference context of a model: its memory (KV cache or
// recurrent state), a batch and the logits of the last decode. A Context is
// not safe for concurrent use.
type Context struct {
	model  *Model
	ptr    uintptr
	mem    uintptr
	nCtx   int
	nBatch int
	nVocab int

	batch    cBatch
	bTok     []int32
	bPos     []int32
	bNSeq    []int32
	bSeq     []*int32
	bLogits  []int8
	lastBase int // index in the last Decode's tokens of the last chunk's first token
	lastN    int // tokens in the last Decode call
	args     callArgs
	pool     *threadpool // nil: ggml's per-call threads
}

// NewContext creates an inference context.
func (m *Model) NewContext(p ContextParams) (*Context, error) {
	l := m.lib
	if p.NCtx < 0 || p.NBatch < 0 || p.NUBatch < 0 || p.NSeqMax < 0 || p.Threads < 0 || p.ThreadsBatch < 0 {
		return nil, fmt.Errorf("new context: negative parameter in %+v", p)
	}
	cp := l.ctxDefault.clone()
	nBatch, nUBatch := p.NBatch, p.NUBatch
	if nBatch == 0 {
		nBatch = atoi(cp.get("n_batch"))
	}
	if p.NCtx > 0 && nBatch > p.NCtx {
		nBatch = p.NCtx
	}
	if nUBatch == 0 {
		nUBatch = atoi(cp.get("n_ubatch"))
	}
	nUBatch = min(nUBatch, nBatch)
	cp.set("n_ctx", p.NCtx)
	cp.set("n_batch", nBatch)
	cp.set("n_ubatch", nUBatch)
	if p.NSeqMax > 0 {
		cp.set("n_seq_max", p.NSeqMax)
	}
	threads := p.Threads
	if threads == 0 {
		threads = DefaultThreads(m)
	}
	tb := p.ThreadsBatch
	if tb == 0 {
		tb = threads
	}
	cp.set("n_threads", threads)
	cp.set("n_threads_batch", tb)
	switch p.FlashAttn {
	case FlashAttnOn:
		cp.set("flash_attn_type", 1)
	case FlashAttnOff:
		cp.set("flash_attn_type", 0)
	default:
		cp.set("flash_attn_type", -1)
	}
	cp.set("no_perf", p.NoPerf)
	for field, name := range map[string]string{"type_k": p.CacheTypeK, "type_v": p.CacheTypeV} {
		if name == "" {
			continue
		}
		id, err := CacheType(name)
		if err != nil {
			return nil, fmt.Errorf("new context: %w", err)
		}
		cp.set(field, id)
	}
	takeRecentLog()
	ptr := callWithStruct(l.c.symInitFromModel, cp, m.ptr)
	if ptr == 0 {
		return nil, fmt.Errorf("new context for %s: llama_init_from_model failed: %s", m.Info.Path, takeRecentLog())
	}
	c := &Context{
		model:  m,
		ptr:    ptr,
		mem:    l.c.llamaGetMemory(ptr),
		nCtx:   int(l.c.llamaNCtx(ptr)),
		nBatch: int(l.c.llamaNBatch(ptr)),
		nVocab: m.Info.VocabSize,
	}
	nseq := int32(l.c.llamaNSeqMax(ptr))
	c.batch = l.c.llamaBatchInit(int32(c.nBatch), 0, nseq)
	n := c.nBatch
	c.bTok = unsafe.Slice((*int32)(c.batch.Token), n)
	c.bPos = unsafe.Slice((*int32)(c.batch.Pos), n)
	c.bNSeq = unsafe.Slice((*int32)(c.batch.NSeqID), n)
	c.bSeq = unsafe.Slice((**int32)(c.batch.SeqID), n)
	c.bLogits = unsafe.Slice((*int8)(c.batch.Logits), n)
	if !p.NoThreadpool && threads == tb {
		// One pool for generation and prompt batches, as llama.cpp's common
		// code has when the two thread counts match.
		pool, err := l.newThreadpool(threads, min(max(p.Poll, 0), 100))
		if err != nil {
			l.logDebug("no persistent threadpool: " + err.Error())
		} else {
			l.c.llamaAttachThreadpool(ptr, pool.ptr, 0)
			c.pool = pool
		}
	}
	return c, nil
}

// atoi reads a default the library returned (cStruct.get renders integers
// in decimal).
func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// Close frees the context and its batch.
func (c *Context) Close() {
	if c.ptr == 0 {
		return
	}
	c.model.lib.c.llamaBatchFree(c.batch)
	if c.pool != nil {
		c.model.lib.c.llamaDetachThreadpool(c.ptr)
	}
	c.model.lib.c.llamaFree(c.ptr)
	c.pool.close()
	c.pool = nil
	c.ptr = 0
}

// Model returns the context's model.
func (c *Context) Model() *Model { return c.model }

// NCtx is the context window in tokens, as llama.cpp rounded it.
func (c *Context) NCtx() int { return c.nCtx }

// NBatch is the most tokens that one llama_decode takes.
func (c *Context) NBatch() int { return c.nBatch }

// NVocab is the length of one row of logits.
func (c *Context) NVocab() int { return c.nVocab }

// Outputs says which positions of a Decode get logits.
type Outputs int

// Output selections.
const (
	LogitsNone Outputs = iota
	LogitsLast
	LogitsAll
)

// Decode evaluates tokens at positions pos, pos+1, ... of sequence seq.
// With LogitsLast a long prompt is split into batches of NBatch tokens; with
// LogitsAll the tokens must fit in one batch. Logits(i) then reads the
// logits of tokens[i].
func (c *Context) Decode(tokens []Token, pos, seq int, out Outputs) error {
	if out == LogitsAll && len(tokens) > c.nBatch {
		return fmt.Errorf("decode %d tokens with logits for all: more than the batch size %d", len(tokens), c.nBatch)
	}
	return c.decode(tokens, pos, seq, func(i int) bool {
		return out == LogitsAll || (out == LogitsLast && i == len(tokens)-1)
	})
}

// DecodeSelect is Decode with logits for the tokens i where want[i]. The
// tokens must fit in one batch.
func (c *Context) DecodeSelect(tokens []Token, pos, seq int, want []bool) error {
	if len(want) != len(tokens) {
		return fmt.Errorf("decode: %d tokens but %d output flags", len(tokens), len(want))
	}
	if len(tokens) > c.nBatch {
		return fmt.Errorf("decode %d tokens with chosen outputs: more than the batch size %d", len(tokens), c.nBatch)
	}
	return c.decode(tokens, pos, seq, func(i int) bool { return want[i] })
}

func (c *Context) decode(tokens []Token, pos, seq int, want func(int) bool) error {
	if len(tokens) == 0 {
		return fmt.Errorf("decode: no tokens")
	}
	if pos < 0 || pos+len(tokens) > c.nCtx {
		return fmt.Errorf("decode %d tokens at position %d: %w (n_ctx %d); use a larger context (-c) or a shorter prompt/generation",
			len(tokens), pos, ErrContextFull, c.nCtx)
	}
	for _, t := range tokens {
		if t < 0 || int(t) >= c.nVocab {
			return fmt.Errorf("decode: token id %d outside the vocabulary (0..%d)", t, c.nVocab-1)
		}
	}
	c.lastN = len(tokens)
	for base := 0; base < len(tokens); base += c.nBatch {
		n := c.fill(tokens, base, pos, seq, want)
		rc := c.model.lib.c.decode(&c.args, c.ptr, &c.batch)
		switch {
		case rc == 0:
		case rc == 1:
			return fmt.Errorf("decode %d tokens at position %d: %w: no memory slot (n_ctx %d)", n, pos+base, ErrContextFull, c.nCtx)
		case rc == 2:
			return fmt.Errorf("decode at position %d: %w: aborted", pos+base, ErrDecode)
		default:
			return fmt.Errorf("decode %d tokens at position %d: %w: llama_decode returned %d: %s", n, pos+base, ErrDecode, rc, takeRecentLog())
		}
	}
	// The decode's results are in when it returns, so its time is the
	// decode's, not the next Logits call's.
	c.model.lib.c.synchronize(&c.args, c.ptr)
	return nil
}

// fill writes the chunk of tokens starting at base into the C batch and
// returns its length.
func (c *Context) fill(tokens []Token, base, pos, seq int, want func(int) bool) int {
	n := min(c.nBatch, len(tokens)-base)
	for i := range n {
		c.bTok[i] = tokens[base+i]
		c.bPos[i] = int32(pos + base + i)
		c.bNSeq[i] = 1
		*c.bSeq[i] = int32(seq)
		c.bLogits[i] = 0
		if want(base + i) {
			c.bLogits[i] = 1
		}
	}
	c.batch.NTokens = int32(n)
	c.lastBase = base
	return n
}

// Logits returns the logits of tokens[i] of the last Decode (negative i
// counts from the end), without copying: the slice aliases llama.cpp's
// buffer and is valid only until the next Decode or Close. It returns nil
// when no logits were requested for that token.
func (c *Context) Logits(i int) []float32 {
	if i < 0 {
		i += c.lastN
	}
	j := i - c.lastBase
	if i < 0 || j < 0 || i >= c.lastN || c.bLogits[j] == 0 {
		return nil
	}
	p := c.model.lib.c.logitsIth(&c.args, c.ptr, int32(j))
	if p == nil {
		return nil
	}
	return unsafe.Slice((*float32)(p), c.nVocab)
}

// RemoveTail removes positions [from, ∞) of sequence seq from memory. It
// returns false when the memory cannot drop a partial tail (recurrent and
// hybrid models); the memory is then unchanged.
func (c *Context) RemoveTail(seq, from int) bool {
	return c.model.lib.c.seqRm(&c.args, c.mem, int32(seq), int32(from), -1)
}

// RemoveSeq removes all of sequence seq (seq < 0: every sequence). Removing
// a whole sequence always works.
func (c *Context) RemoveSeq(seq int) {
	c.model.lib.c.llamaMemorySeqRm(c.mem, int32(seq), -1, -1)
}

// CopySeq copies positions [p0, p1) of sequence src to dst (p1 < 0: to the end).
func (c *Context) CopySeq(src, dst, p0, p1 int) {
	c.model.lib.c.llamaMemorySeqCp(c.mem, int32(src), int32(dst), int32(p0), int32(p1))
}

// PosMax is the largest position of seq in memory, -1 when empty.
func (c *Context) PosMax(seq int) int { return int(c.model.lib.c.llamaMemoryPosMax(c.mem, int32(seq))) }

// PosMin is the smallest position of seq in memory, -1 when empty.
func (c *Context) PosMin(seq int) int { return int(c.model.lib.c.llamaMemoryPosMin(c.mem, int32(seq))) }

// ClearMemory empties the memory of every sequence.
func (c *Context) ClearMemory() { c.model.lib.c.llamaMemoryClear(c.mem, true) }

// StateFlags are llama_state_seq_flags.
type StateFlags uint32

// StatePartialOnly is LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY: only the part of
// a sequence's memory that cannot drop a tail (a hybrid model's recurrent
// state, not its attention KV cells).
const StatePartialOnly StateFlags = 1

// PartialStates reports whether the library has the llama_state_seq_*_ext
// calls that take StateFlags.
func (c *Context) PartialStates() bool { return c.model.lib.c.llamaStateSeqSizeExt != nil }

// StateSize is the number of bytes SaveState needs for seq now.
func (c *Context) StateSize(seq int) int { return c.stateSize(seq, 0) }

func (c *Context) stateSize(seq int, flags StateFlags) int {
	if flags != 0 {
		return int(c.model.lib.c.llamaStateSeqSizeExt(c.ptr, int32(seq), uint32(flags)))
	}
	return int(c.model.lib.c.llamaStateSeqSize(c.ptr, int32(seq)))
}

// SaveState copies the state of sequence seq (its KV cells or recurrent
// state) into dst, grown as needed, and returns it. Reusing dst across calls
// avoids an allocation per checkpoint.
func (c *Context) SaveState(dst []byte, seq int) ([]byte, error) { return c.saveState(dst, seq, 0) }

func (c *Context) saveState(dst []byte, seq int, flags StateFlags) ([]byte, error) {
	if flags != 0 && !c.PartialStates() {
		return nil, fmt.Errorf("save state of sequence %d: this libllama has no llama_state_seq_get_data_ext for flags %d", seq, flags)
	}
	n := c.stateSize(seq, flags)
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	if n == 0 {
		return dst, nil
	}
	p := unsafe.Pointer(unsafe.SliceData(dst))
	var got uint64
	if flags != 0 {
		got = c.model.lib.c.llamaStateSeqGetExt(c.ptr, p, uint64(n), int32(seq), uint32(flags))
	} else {
		got = c.model.lib.c.llamaStateSeqGet(c.ptr, p, uint64(n), int32(seq))
	}
	if int(got) != n {
		return nil, fmt.Errorf("save state of sequence %d: wrote %d of %d bytes", seq, got, n)
	}
	return dst, nil
}

// LoadState replaces sequence seq with a state saved by SaveState.
func (c *Context) LoadState(seq int, state []byte) error { return c.loadState(seq, state, 0) }

func (c *Context) loadState(seq int, state []byte, flags StateFlags) error {
	if len(state) == 0 {
		return fmt.Errorf("load state of sequence %d: empty state", seq)
	}
	p := unsafe.Pointer(unsafe.SliceData(state))
	var got uint64
	if flags != 0 {
		got = c.model.lib.c.llamaStateSeqSetExt(c.ptr, p, uint64(len(state)), int32(seq), uint32(flags))
	} else {
		got = c.model.lib.c.llamaStateSeqSet(c.ptr, p, uint64(len(state)), int32(seq))
	}
	if got == 0 {
		return fmt.Errorf("load state of sequence %d: llama.cpp refused it: %s", seq, takeRecentLog())
	}
	return nil
}

// A Checkpoint returns a sequence whose memory cannot drop a tail
// (recurrent and hybrid models) to the length it had when the checkpoint
// was taken, as llama-server's speculative checkpoints do
// (common_prompt_checkpoint). For a hybrid model, where the library has
// the _ext calls, only the recurrent part is saved (StatePartialOnly) and
// the attention tail is dropped on restore; otherwise the whole sequence
// state is saved. The zero value is empty; reuse one to save without
// allocating.
type Checkpoint struct {
	data    []byte
	pos     int // positions [0, pos) were in memory
	partial bool
}

// Bytes is the size of the saved state.
func (ck *Checkpoint) Bytes() int { return len(ck.data) }

// Pos is the length of the sequence when the checkpoint was taken.
func (ck *Checkpoint) Pos() int { return ck.pos }

// Partial reports whether only the recurrent part was saved.
func (ck *Checkpoint) Partial() bool { return ck.partial }

// PartialCheckpoints reports whether Save keeps only the part of the
// memory that cannot drop a tail: the model is hybrid and the library has
// the _ext state calls.
func (c *Context) PartialCheckpoints() bool { return c.model.Info.Hybrid && c.PartialStates() }

// Save takes a checkpoint of sequence seq into ck.
func (c *Context) Save(ck *Checkpoint, seq int) error {
	flags := StateFlags(0)
	if c.PartialCheckpoints() {
		flags = StatePartialOnly
	}
	data, err := c.saveState(ck.data, seq, flags)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	ck.data, ck.pos, ck.partial = data, c.PosMax(seq)+1, flags != 0
	return nil
}

// Restore returns sequence seq to checkpoint ck: positions [0, ck.Pos()).
func (c *Context) Restore(ck *Checkpoint, seq int) error {
	if ck.data == nil {
		return fmt.Errorf("restore checkpoint of sequence %d: no checkpoint taken", seq)
	}
	flags := StateFlags(0)
	if ck.partial {
		flags = StatePartialOnly
	}
	if err := c.loadState(seq, ck.data, flags); err != nil {
		return fmt.Errorf("restore checkpoint: %w", err)
	}
	if ck.partial && !c.RemoveTail(seq, ck.pos) {
		return fmt.Errorf("restore checkpoint of sequence %d: the attention memory refused to drop positions %d and on", seq, ck.pos)
	}
	if got := c.PosMax(seq) + 1; got != ck.pos {
		return fmt.Errorf("restore checkpoint of sequence %d: memory holds %d positions, the checkpoint %d", seq, got, ck.pos)
	}
	return nil
}

// SetThreads changes the generation and prompt thread counts.
func (c *Context) SetThreads(gen, batch int) {
	c.model.lib.c.llamaSetNThreads(c.ptr, int32(gen), int32(batch))
}

// Perf is llama.cpp's own timing of a context.
type Perf struct {
	Load        time.Duration
	PromptEval  time.Duration // time in prompt batches
	Eval        time.Duration // time in single-token and small batches
	NPromptEval int           // tokens evaluated as prompt
	NEval       int           // evaluations (calls) counted as generation
	NReused     int
}

// Perf reads the context's perf counters (zeros when NoPerf was set).
func (c *Context) Perf() Perf {
	d := c.model.lib.c.llamaPerfContext(c.ptr)
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	return Perf{Load: ms(d.TLoadMs), PromptEval: ms(d.TPEvalMs), Eval: ms(d.TEvalMs),
		NPromptEval: int(d.NPEval), NEval: int(d.NEval), NReused: int(d.NReused)}
}

// ResetPerf zeroes the perf counters.
func (c *Context) ResetPerf() { c.model.lib.c.llamaPerfCtxReset(c.ptr) }

// Warmup decodes throw-away batches of every size 1..9 and of 16, 24, 32
// and 49 tokens (up to maxBatch, NBatch and NCtx), then empties the memory.
// GPU backends build their kernels (Vulkan pipelines, CUDA graphs) on first
// use of a shape: seconds that would otherwise land in the first
// measurements. 49 covers llama.cpp's n-gram drafts of m = 48.
func (c *Context) Warmup(maxBatch int) error { return c.warmup(maxBatch, false) }

// WarmupEvery decodes every batch size from 1 to maxBatch once, and a few
// sizes at a quarter, a half and three quarters of the context: a GPU
// backend (Vulkan, CUDA, HIP) builds or picks kernels per batch shape and
// context length on first use, which costs up to seconds each time on
// Vulkan; a shape left out stalls the first verify of that shape inside a
// timed run.
func (c *Context) WarmupEvery(maxBatch int) error { return c.warmup(maxBatch, true) }

func (c *Context) warmup(maxBatch int, every bool) error {
	tok := Token(0)
	if b := c.model.Info.BOS; b >= 0 {
		tok = b
	}
	var sizes []int
	cands := []int{32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 24, 49}
	if every {
		cands = cands[:0]
		for b := 1; b <= maxBatch; b++ {
			cands = append(cands, b)
		}
	}
	for _, b := range cands {
		if b <= maxBatch && b <= c.nBatch && b <= c.nCtx {
			sizes = append(sizes, b)
		}
	}
	if len(sizes) == 0 {
		return nil
	}
	buf := make([]Token, slices.Max(sizes))
	for i := range buf {
		buf[i] = tok
	}
	defer c.ClearMemory()
	for _, n := range sizes {
		c.ClearMemory()
		if err := c.Decode(buf[:n], 0, 0, LogitsAll); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	if !every {
		return nil
	}
	// Kernels also change with the length of the context attended to
	// (Vulkan's flash attention splits long ones): a few batch sizes at a
	// quarter, a half and three quarters of the context.
	c.ClearMemory()
	pos := 0
	fill := make([]Token, min(c.nBatch, 512))
	for i := range fill {
		fill[i] = tok
	}
	for _, q := range []int{1, 2, 3} {
		at := c.nCtx * q / 4
		for pos < at {
			n := min(len(fill), at-pos)
			if err := c.Decode(fill[:n], pos, 0, LogitsLast); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
			pos += n
		}
		for _, b := range []int{1, 2, 4, 8, 16, 32, 64, maxBatch} {
			if b > maxBatch || b > c.nBatch || pos+b >= c.nCtx {
				continue
			}
			if err := c.Decode(buf[:b], pos, 0, LogitsAll); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
			pos += b
		}
	}
	return nil
}
