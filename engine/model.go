package engine

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"github.com/speclab/speclab/engine/bpe"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/engine/modelcheck"
)

// Token is a llama_token: an id in a model's vocabulary.
type Token = int32

// ErrLoad: libllama refused a model that passed speclab's own GGUF checks.
var ErrLoad = errors.New("libllama could not load the model")

// ErrUnsafeModel: the model is structurally valid GGUF, but libllama would
// abort the process on it or compute garbage (package modelcheck).
var ErrUnsafeModel = errors.New("unsafe model")

// checkModel runs modelcheck on the file before libllama sees it.
func checkModel(path string, f *gguf.File) error {
	r, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("load model: %w", err)
	}
	defer r.Close()
	if err := modelcheck.Error(path, modelcheck.Check(f, r)); err != nil {
		return fmt.Errorf("load model: %w: %w", ErrUnsafeModel, err)
	}
	return nil
}

// ErrUnknownArch: the library predates the model's architecture (it wraps
// ErrLoad).
var ErrUnknownArch = fmt.Errorf("%w: this libllama does not know the model's architecture", ErrLoad)

// LoadMode is llama_load_mode: how weights are brought into memory.
type LoadMode int32

// Load modes of the pinned build; other values abort inside libllama, so
// ModelParams rejects them.
const (
	LoadAuto      LoadMode = -1
	LoadNone      LoadMode = 0
	LoadMmap      LoadMode = 1
	LoadMlock     LoadMode = 2
	LoadMmapMlock LoadMode = 3
	LoadDirectIO  LoadMode = 4
)

// ModelParams are the load options of a model.
type ModelParams struct {
	// GPULayers is the number of layers offloaded to a GPU: 0 none,
	// negative all (llama.cpp's -ngl 999). The zero value keeps everything on
	// the CPU.
	GPULayers int
	// LoadMode chooses mmap, mlock or direct I/O; the zero value is LoadNone,
	// set LoadAuto for llama.cpp's default.
	LoadMode LoadMode
	// VocabOnly loads the vocabulary and metadata without weights.
	VocabOnly bool
}

// VocabType is llama_vocab_type. In JSON it is its name ("BPE").
type VocabType int32

// MarshalText writes the type's name.
func (v VocabType) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads a name that String writes.
func (v *VocabType) UnmarshalText(b []byte) error {
	for t := VocabType(0); t <= 6; t++ {
		if t.String() == string(b) {
			*v = t
			return nil
		}
	}
	var n int32
	if _, err := fmt.Sscanf(string(b), "vocab-type(%d)", &n); err == nil {
		*v = VocabType(n)
		return nil
	}
	return fmt.Errorf("vocabulary type %q: unknown", b)
}

func (v VocabType) String() string {
	switch v {
	case 0:
		return "none"
	case 1:
		return "SPM"
	case 2:
		return "BPE"
	case 3:
		return "WPM"
	case 4:
		return "UGM"
	case 5:
		return "RWKV"
	case 6:
		return "PLaMo2"
	}
	return fmt.Sprintf("vocab-type(%d)", int32(v))
}

// ModelInfo is what libllama reports about a loaded model.
type ModelInfo struct {
	Path         string    `json:"path"`
	Architecture string    `json:"architecture"` // general.architecture
	Name         string    `json:"name"`         // general.name
	Description  string    `json:"description"`  // llama_model_desc, e.g. "llama 7M F16"
	Params       uint64    `json:"params"`       // llama_model_n_params
	Size         uint64    `json:"size"`         // bytes of weights, llama_model_size
	CtxTrain     int       `json:"ctx_train"`
	Embd         int       `json:"embd"`
	Layers       int       `json:"layers"`
	Heads        int       `json:"heads"`
	HeadsKV      int       `json:"heads_kv"`
	Recurrent    bool      `json:"recurrent"` // all layers recurrent (mamba, rwkv)
	Hybrid       bool      `json:"hybrid"`    // recurrent and attention layers (jamba, qwen35, ...)
	VocabType    VocabType `json:"vocab_type"`
	VocabSize    int       `json:"vocab_size"`
	BOS          Token     `json:"bos"` // -1 when absent
	EOS          Token     `json:"eos"`
	EOT          Token     `json:"eot"`
	NL           Token     `json:"nl"`
	Pad          Token     `json:"pad"`
	AddBOS       bool      `json:"add_bos"`
	AddEOS       bool      `json:"add_eos"`
	ChatTemplate string    `json:"chat_template"` // empty when the model has none
}

// Model is a loaded GGUF model. A Model must be closed; it must outlive its
// contexts.
type Model struct {
	lib   *Lib
	ptr   uintptr
	vocab uintptr
	File  *gguf.File // the header as read and validated in Go
	Info  ModelInfo
}

// LoadModel validates path in Go (package gguf) and then loads it into
// libllama. A corrupt or truncated file is reported without libllama ever
// reading it.
func (l *Lib) LoadModel(path string, p ModelParams) (*Model, error) {
	if p.LoadMode < LoadAuto || p.LoadMode > LoadDirectIO {
		return nil, fmt.Errorf("load %s: load mode %d is not one of -1..4", path, p.LoadMode)
	}
	f, err := gguf.OpenWith(path, gguf.Options{Types: l.TensorTypes()})
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if err := checkModel(path, f); err != nil {
		return nil, err
	}
	mp, err := l.modelParams(p)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	takeRecentLog()
	var pin runtime.Pinner
	ptr := callWithStruct(l.c.symModelLoad, mp, pinnedCString(path, &pin))
	pin.Unpin()
	if ptr == 0 {
		why := takeRecentLog()
		if why == "" {
			why = "no reason given"
		}
		if strings.Contains(why, "unknown model architecture") {
			return nil, fmt.Errorf("load %s: %w %q (llama.cpp %s; use a newer build): llama.cpp said: %s",
				path, ErrUnknownArch, f.Architecture(), l.Version, why)
		}
		return nil, fmt.Errorf("load %s: %w: llama.cpp said: %s", path, ErrLoad, why)
	}
	m := &Model{lib: l, ptr: ptr, File: f}
	m.vocab = l.c.llamaModelGetVocab(ptr)
	m.Info = m.info(path, p.VocabOnly)
	return m, nil
}

// modelParams fills llama_model_params from the library's defaults. The
// load mode goes into load_mode where the release has it, else into the
// use_mmap, use_mlock and use_direct_io flags it replaced (b10361).
func (l *Lib) modelParams(p ModelParams) (cStruct, error) {
	mp := l.modelDefault.clone()
	ngl := p.GPULayers
	if ngl < 0 {
		ngl = -1
	}
	mp.set("n_gpu_layers", ngl)
	mp.set("vocab_only", p.VocabOnly)
	switch {
	case p.LoadMode == LoadAuto:
		// the library's default
	case mp.has("load_mode"):
		mp.set("load_mode", int(p.LoadMode))
	default:
		if p.LoadMode == LoadDirectIO && !mp.has("use_direct_io") {
			return cStruct{}, fmt.Errorf("this libllama has no direct I/O load mode")
		}
		mp.set("use_mmap", p.LoadMode == LoadMmap || p.LoadMode == LoadMmapMlock)
		mp.set("use_mlock", p.LoadMode == LoadMlock || p.LoadMode == LoadMmapMlock)
		if mp.has("use_direct_io") {
			mp.set("use_direct_io", p.LoadMode == LoadDirectIO)
		}
	}
	return mp, nil
}

// Close frees the model. Contexts of the model must be closed first.
func (m *Model) Close() {
	if m.ptr != 0 {
		m.lib.c.llamaModelFree(m.ptr)
		m.ptr = 0
	}
}

func (m *Model) info(path string, vocabOnly bool) ModelInfo {
	c := &m.lib.c
	var buf [256]byte
	n := c.llamaModelDesc(m.ptr, &buf[0], uint64(len(buf)))
	desc := ""
	if n > 0 {
		desc = string(buf[:min(int(n), len(buf)-1)])
	}
	info := ModelInfo{
		Path:         path,
		Architecture: m.Meta("general.architecture"),
		Name:         m.Meta("general.name"),
		Description:  desc,
		Params:       c.llamaModelNParams(m.ptr),
		Size:         c.llamaModelSize(m.ptr),
		CtxTrain:     int(c.llamaModelNCtxTrain(m.ptr)),
		Embd:         int(c.llamaModelNEmbd(m.ptr)),
		Recurrent:    c.llamaModelIsRecurrent(m.ptr),
		Hybrid:       c.llamaModelIsHybrid(m.ptr),
		VocabType:    VocabType(c.llamaVocabType(m.vocab)),
		VocabSize:    int(c.llamaVocabNTokens(m.vocab)),
		BOS:          c.llamaVocabBOS(m.vocab),
		EOS:          c.llamaVocabEOS(m.vocab),
		EOT:          c.llamaVocabEOT(m.vocab),
		NL:           c.llamaVocabNL(m.vocab),
		Pad:          c.llamaVocabPad(m.vocab),
		AddBOS:       c.llamaVocabAddBOS(m.vocab),
		AddEOS:       c.llamaVocabAddEOS(m.vocab),
		ChatTemplate: c.llamaModelChatTmpl(m.ptr, nil),
	}
	// Per-layer hyperparameters abort inside libllama when the model has
	// no layers loaded (vocab-only).
	if !vocabOnly {
		info.Layers = int(c.llamaModelNLayer(m.ptr))
		if info.Layers > 0 {
			info.Heads = int(c.llamaModelNHead(m.ptr))
			info.HeadsKV = int(c.llamaModelNHeadKV(m.ptr))
		}
	}
	return info
}

// Meta returns a metadata value as libllama renders it ("" when absent).
func (m *Model) Meta(key string) string {
	buf := make([]byte, 512)
	for {
		n := m.lib.c.llamaModelMetaValStr(m.ptr, key, &buf[0], uint64(len(buf)))
		if n < 0 {
			return ""
		}
		if int(n) < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, n+1)
	}
}

// CanRemoveTail reports whether this model's memory can drop the tail of a
// sequence (llama_memory_seq_rm of a suffix). Transformers with a KV cache
// can; recurrent and hybrid models (mamba, qwen35, ...) cannot, and a
// speculative loop must checkpoint their state instead. It is a real probe:
// a small context decodes two tokens and tries to remove the second.
func (m *Model) CanRemoveTail() (bool, error) {
	if m.File != nil && m.Info.VocabSize == 0 {
		return false, fmt.Errorf("probe %s: model has no vocabulary", m.Info.Path)
	}
	ctx, err := m.NewContext(ContextParams{NCtx: 64, NBatch: 8, Threads: 1})
	if err != nil {
		return false, fmt.Errorf("probe tail removal: %w", err)
	}
	defer ctx.Close()
	tok := Token(0)
	if m.Info.BOS >= 0 {
		tok = m.Info.BOS
	}
	if err := ctx.Decode([]Token{tok, tok}, 0, 0, LogitsNone); err != nil {
		return false, fmt.Errorf("probe tail removal: %w", err)
	}
	return ctx.RemoveTail(0, 1), nil
}

// Vocab reads of single tokens.

// TokenText is the token's text as stored in the vocabulary (for BPE vocabs
// in GPT-2's byte-to-unicode form).
func (m *Model) TokenText(t Token) string { return m.lib.c.llamaVocabGetText(m.vocab, t) }

// IsEOG reports whether t ends generation (EOS, EOT, ...).
func (m *Model) IsEOG(t Token) bool { return m.lib.c.llamaVocabIsEOG(m.vocab, t) }

// IsControl reports whether t is a control token.
func (m *Model) IsControl(t Token) bool { return m.lib.c.llamaVocabIsCtrl(m.vocab, t) }

// TokenAttr is llama_token_attr, a bit set.
func (m *Model) TokenAttr(t Token) int32 { return m.lib.c.llamaVocabGetAttr(m.vocab, t) }

// Tokenize converts text to tokens. addSpecial adds BOS/EOS as the model is
// configured to; parseSpecial lets special-token text (e.g. "<|im_start|>")
// become the special token instead of plain text.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]Token, error) {
	if len(text) > 1<<30 {
		return nil, fmt.Errorf("tokenize: text of %d bytes is too long", len(text))
	}
	// libllama throws an uncaught C++ exception, killing the process, on
	// 4-byte sequences that decode above U+10FFFF; it would read them as
	// U+FFFD anyway.
	text = bpe.Sanitize(text)
	out := make([]Token, len(text)+8)
	tp := unsafe.Pointer(unsafe.StringData(text))
	if len(text) == 0 {
		tp = nil
	}
	for range 2 {
		n := m.lib.c.llamaTokenize(m.vocab, tp, int32(len(text)), unsafe.Pointer(unsafe.SliceData(out)), int32(len(out)), addSpecial, parseSpecial)
		if n >= 0 {
			return out[:n], nil
		}
		if n == -2147483648 {
			return nil, fmt.Errorf("tokenize: too many tokens")
		}
		out = make([]Token, -n)
	}
	return nil, fmt.Errorf("tokenize: buffer size mismatch")
}

// Piece appends the text of one token to dst. special renders control
// tokens as their text. The piece may be a partial UTF-8 sequence.
func (m *Model) Piece(dst []byte, t Token, special bool) []byte {
	var buf [64]byte
	n := m.lib.c.llamaTokenToPiece(m.vocab, t, unsafe.Pointer(&buf[0]), int32(len(buf)), 0, special)
	if n >= 0 {
		return append(dst, buf[:n]...)
	}
	big := make([]byte, -n)
	n = m.lib.c.llamaTokenToPiece(m.vocab, t, unsafe.Pointer(&big[0]), int32(len(big)), 0, special)
	if n < 0 {
		return dst
	}
	return append(dst, big[:n]...)
}

// Detokenize converts tokens back to text. removeSpecial drops BOS/EOS where
// the model adds them; unparseSpecial renders special tokens as text.
func (m *Model) Detokenize(toks []Token, removeSpecial, unparseSpecial bool) (string, error) {
	if len(toks) == 0 {
		return "", nil
	}
	buf := make([]byte, len(toks)*8+16)
	for range 2 {
		n := m.lib.c.llamaDetokenize(m.vocab, unsafe.Pointer(unsafe.SliceData(toks)), int32(len(toks)),
			unsafe.Pointer(unsafe.SliceData(buf)), int32(len(buf)), removeSpecial, unparseSpecial)
		if n >= 0 {
			return string(buf[:n]), nil
		}
		buf = make([]byte, -n)
	}
	return "", fmt.Errorf("detokenize: buffer size mismatch")
}

// Text joins the pieces of toks, without rendering control tokens: the
// text of a generation, byte for byte (llama_detokenize may clean up spaces
// for some vocabularies; this does not).
func (m *Model) Text(toks []Token) string {
	var b []byte
	for _, t := range toks {
		b = m.Piece(b, t, false)
	}
	return string(b)
}
