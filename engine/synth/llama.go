package synth

import (
	"fmt"
	"math"

	"github.com/speclab/speclab/engine/bpe"
	"github.com/speclab/speclab/engine/gguf"
)

// LlamaConfig describes a model of the "llama" architecture.
type LlamaConfig struct {
	Name    string    // general.name
	Embd    int       // n_embd; a multiple of 32 for quantized types
	Layers  int       // n_layer
	Heads   int       // attention heads; must divide Embd
	HeadsKV int       // key/value heads (GQA); must divide Heads
	FF      int       // feed-forward width; a multiple of 32 for quantized types
	Context int       // n_ctx_train
	Type    gguf.Type // type of the 2-D weight matrices: F32, F16, Q8_0 or MXFP4
	// CoreEmbd is how many leading embedding dimensions carry full weight
	// in token_embd and output; the rest are scaled by TailScale. A draft
	// whose Embd equals the target's CoreEmbd, made from the same seed and
	// tokenizer, shares those dimensions with the target and so mostly
	// agrees with its greedy choices. 0 means Embd (no tail).
	CoreEmbd int
}

// TailScale scales the embedding dimensions past CoreEmbd.
const TailScale = 0.25

// Scales of the random initialisation.
const (
	embdStd  = 1.0 // token_embd
	logitStd = 3.0 // aimed spread of the logits
	// Attention, FFN and SSM projections have standard deviation
	// layerGain/sqrt(fan_in). At 0.5 the layers matter (greedy output
	// depends on context) without drowning the embedding path a draft
	// shares with the target: the draft then agrees with 64-73% of the
	// target's greedy tokens over seeds 1-3 (about 50% at 0.6, 45% at 0.7,
	// and 99% at 0.1, where output hardly depends on context).
	layerGain = 0.5
	normEps   = 1e-5
	ropeBase  = 10000
)

// fileType is general.file_type (llama_ftype) of a model whose 2-D weights
// have type t.
func fileType(t gguf.Type) (uint32, error) {
	switch t {
	case gguf.TypeF32:
		return 0, nil
	case gguf.TypeF16:
		return 1, nil
	case gguf.TypeQ8_0:
		return 7, nil
	case gguf.TypeMXFP4:
		return 38, nil // LLAMA_FTYPE_MOSTLY_MXFP4_MOE, the only MXFP4 file type
	}
	return 0, fmt.Errorf("weight type %v is not one of F32, F16, Q8_0, MXFP4", t)
}

func (c LlamaConfig) check() error {
	if c.Embd <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.HeadsKV <= 0 || c.FF <= 0 || c.Context <= 0 {
		return fmt.Errorf("llama config %+v: sizes must be positive", c)
	}
	if c.Embd%c.Heads != 0 || c.Heads%c.HeadsKV != 0 {
		return fmt.Errorf("llama config: %d heads must divide n_embd %d and be a multiple of %d kv heads", c.Heads, c.Embd, c.HeadsKV)
	}
	if c.Embd/c.Heads%2 != 0 {
		return fmt.Errorf("llama config: head size %d must be even for RoPE", c.Embd/c.Heads)
	}
	if c.CoreEmbd < 0 || c.CoreEmbd > c.Embd {
		return fmt.Errorf("llama config: CoreEmbd %d outside 0..%d", c.CoreEmbd, c.Embd)
	}
	if _, err := fileType(c.Type); err != nil {
		return fmt.Errorf("llama config: %w", err)
	}
	if c.Type != gguf.TypeF32 && c.Type != gguf.TypeF16 {
		headDim := c.Embd / c.Heads
		for _, n := range []int{c.Embd, c.FF, headDim * c.Heads} {
			if n%32 != 0 {
				return fmt.Errorf("llama config: %v needs rows that are multiples of 32, n_embd %d / ffn %d are not", c.Type, c.Embd, c.FF)
			}
		}
	}
	return nil
}

// model collects the metadata and tensors of a file being built.
type model struct {
	seed    uint64
	wtype   gguf.Type
	kv      []gguf.KV
	tensors []gguf.Tensor
	err     error
}

// matrix adds a 2-D tensor of shape {cols, rows} (ggml order) of wtype (F32
// when the row length does not fit the type's blocks), filled row by row by
// fill, which gets the row's own stream.
func (m *model) matrix(name string, cols, rows int, quantize bool, fill func(s stream, row int, out []float32)) {
	data := make([]float32, cols*rows)
	for r := range rows {
		fill(newStream(m.seed, name, r), r, data[r*cols:(r+1)*cols])
	}
	t := gguf.TypeF32
	if quantize {
		t = m.wtype
	}
	m.add(name, []uint64{uint64(cols), uint64(rows)}, t, data)
}

// vector adds a 1-D F32 tensor.
func (m *model) vector(name string, data []float32) {
	m.add(name, []uint64{uint64(len(data))}, gguf.TypeF32, data)
}

func (m *model) add(name string, shape []uint64, t gguf.Type, data []float32) {
	if m.err != nil {
		return
	}
	b, err := gguf.Encode(t, data)
	if err != nil {
		m.err = fmt.Errorf("tensor %s: %w", name, err)
		return
	}
	m.tensors = append(m.tensors, gguf.Tensor{Name: name, Shape: shape, Type: t, Data: b})
}

// gaussian fills rows with normal values of standard deviation std.
func gaussian(std float64) func(stream, int, []float32) {
	return func(s stream, _ int, out []float32) {
		for i := range out {
			out[i] = s.normal(std)
		}
	}
}

// ones returns n ones (the norm weights).
func ones(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// embeddings adds token_embd and output. Each row holds dimensions
// [0, core) at full scale and the rest at TailScale. Each output row is
// made orthogonal to the same token's embedding, part by part, so that a
// token does not predict itself and greedy output does not get stuck
// repeating one token. Output rows of control tokens are zero, so random
// models rarely choose BOS/EOS or padding.
func (m *model) embeddings(tok *bpe.Tokenizer, embd, core int) {
	if core == 0 {
		core = embd
	}
	n := len(tok.Tokens)
	fill := func(name string, std float64) []float32 {
		data := make([]float32, n*embd)
		for r := range n {
			s := newStream(m.seed, name, r)
			row := data[r*embd : (r+1)*embd]
			for i := range row {
				if i < core {
					row[i] = s.normal(std)
				} else {
					row[i] = s.normal(std * TailScale)
				}
			}
		}
		return data
	}
	emb := fill("token_embd.weight", embdStd)
	// The final norm makes the hidden state's mean square 1, most of it in
	// the core dimensions; this makes the logits' spread about logitStd.
	out := fill("output.weight", logitStd/math.Sqrt(float64(core)))
	for r := range n {
		o := out[r*embd : (r+1)*embd]
		if tok.Types[r] == bpe.TypeControl {
			clear(o)
			continue
		}
		e := emb[r*embd : (r+1)*embd]
		orthogonalize(o[:core], e[:core])
		orthogonalize(o[core:], e[core:])
	}
	m.add("token_embd.weight", []uint64{uint64(embd), uint64(n)}, m.wtype, emb)
	m.add("output.weight", []uint64{uint64(embd), uint64(n)}, m.wtype, out)
}

// orthogonalize removes from o its component along e. The explicit
// conversions keep the arithmetic free of fused multiply-adds, so the
// result is the same on every platform.
func orthogonalize(o, e []float32) {
	var oe, ee float64
	for i := range o {
		oe += float64(float64(o[i]) * float64(e[i]))
		ee += float64(float64(e[i]) * float64(e[i]))
	}
	if ee == 0 {
		return
	}
	k := oe / ee
	for i := range o {
		o[i] -= float32(float64(k * float64(e[i])))
	}
}

// WriteLlama writes a random-weight "llama" model with tokenizer tok to
// path. The file depends only on its arguments, byte for byte.
func WriteLlama(path string, cfg LlamaConfig, tok *bpe.Tokenizer, seed uint64) error {
	return writeTo(path)(buildLlama(cfg, tok, seed))
}

// writeTo returns a function that writes what a build function returned
// to path, or reports its error.
func writeTo(path string) func([]gguf.KV, []gguf.Tensor, error) error {
	return func(kv []gguf.KV, tensors []gguf.Tensor, err error) error {
		if err != nil {
			return fmt.Errorf("synthesize %s: %w", path, err)
		}
		return writeFile(path, kv, tensors)
	}
}

func buildLlama(cfg LlamaConfig, tok *bpe.Tokenizer, seed uint64) ([]gguf.KV, []gguf.Tensor, error) {
	if err := cfg.check(); err != nil {
		return nil, nil, err
	}
	if tok == nil {
		return nil, nil, fmt.Errorf("no tokenizer")
	}
	ftype, _ := fileType(cfg.Type)
	headDim := cfg.Embd / cfg.Heads
	kvDim := headDim * cfg.HeadsKV
	m := &model{seed: seed, wtype: cfg.Type}
	m.kv = []gguf.KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.name", Value: cfg.Name},
		{Key: "general.file_type", Value: ftype},
		{Key: "general.quantization_version", Value: uint32(2)},
		{Key: "llama.context_length", Value: uint32(cfg.Context)},
		{Key: "llama.embedding_length", Value: uint32(cfg.Embd)},
		{Key: "llama.block_count", Value: uint32(cfg.Layers)},
		{Key: "llama.feed_forward_length", Value: uint32(cfg.FF)},
		{Key: "llama.attention.head_count", Value: uint32(cfg.Heads)},
		{Key: "llama.attention.head_count_kv", Value: uint32(cfg.HeadsKV)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: float32(normEps)},
		{Key: "llama.rope.dimension_count", Value: uint32(headDim)},
		{Key: "llama.rope.freq_base", Value: float32(ropeBase)},
		{Key: "llama.vocab_size", Value: uint32(len(tok.Tokens))},
	}
	m.kv = append(m.kv, tok.GGUFKV()...)

	m.embeddings(tok, cfg.Embd, cfg.CoreEmbd)
	m.vector("output_norm.weight", ones(cfg.Embd))
	w := func(fanIn int) func(stream, int, []float32) {
		return gaussian(layerGain / math.Sqrt(float64(fanIn)))
	}
	for i := range cfg.Layers {
		p := fmt.Sprintf("blk.%d.", i)
		m.vector(p+"attn_norm.weight", ones(cfg.Embd))
		m.matrix(p+"attn_q.weight", cfg.Embd, cfg.Embd, true, w(cfg.Embd))
		m.matrix(p+"attn_k.weight", cfg.Embd, kvDim, true, w(cfg.Embd))
		m.matrix(p+"attn_v.weight", cfg.Embd, kvDim, true, w(cfg.Embd))
		m.matrix(p+"attn_output.weight", cfg.Embd, cfg.Embd, true, w(cfg.Embd))
		m.vector(p+"ffn_norm.weight", ones(cfg.Embd))
		m.matrix(p+"ffn_gate.weight", cfg.Embd, cfg.FF, true, w(cfg.Embd))
		m.matrix(p+"ffn_up.weight", cfg.Embd, cfg.FF, true, w(cfg.Embd))
		m.matrix(p+"ffn_down.weight", cfg.FF, cfg.Embd, true, w(cfg.FF))
	}
	if m.err != nil {
		return nil, nil, m.err
	}
	return m.kv, m.tensors, nil
}
