package synth

import (
	"fmt"
	"math"

	"github.com/speclab/speclab/engine/bpe"
	"github.com/speclab/speclab/engine/gguf"
)

// HybridConfig describes a model of the "qwen35" architecture (Qwen3.5):
// Gated DeltaNet layers mixed with gated full-attention layers, one
// attention layer every AttnInterval layers, as in the seed's 27B model.
// Its memory is llama.cpp's hybrid memory: a KV cache for the attention
// layers, which can drop a tail, and a recurrent state for the DeltaNet
// layers, which cannot.
type HybridConfig struct {
	Name         string    // general.name
	Embd         int       // n_embd
	Layers       int       // n_layer
	AttnInterval int       // full_attention_interval: layer i attends when (i+1)%AttnInterval == 0
	Heads        int       // attention heads (head size Embd/Heads)
	HeadsKV      int       // attention key/value heads
	FF           int       // feed-forward width
	Context      int       // n_ctx_train
	StateSize    int       // ssm.state_size: the DeltaNet head size
	KHeads       int       // ssm.group_count: DeltaNet key heads
	VHeads       int       // ssm.time_step_rank: DeltaNet value heads, a multiple of KHeads
	ConvKernel   int       // ssm.conv_kernel
	Type         gguf.Type // type of the large 2-D weights: F32, F16, Q8_0 or MXFP4
}

func (c HybridConfig) check() error {
	for _, n := range []int{c.Embd, c.Layers, c.AttnInterval, c.Heads, c.HeadsKV, c.FF, c.Context, c.StateSize, c.KHeads, c.VHeads, c.ConvKernel} {
		if n <= 0 {
			return fmt.Errorf("hybrid config %+v: sizes must be positive", c)
		}
	}
	if c.AttnInterval > c.Layers {
		return fmt.Errorf("hybrid config: attention interval %d leaves no attention layer in %d layers", c.AttnInterval, c.Layers)
	}
	if c.Embd%c.Heads != 0 || c.Heads%c.HeadsKV != 0 || c.VHeads%c.KHeads != 0 {
		return fmt.Errorf("hybrid config: heads %d/%d must divide n_embd %d and each other, and value heads %d be a multiple of key heads %d",
			c.Heads, c.HeadsKV, c.Embd, c.VHeads, c.KHeads)
	}
	if hd := c.Embd / c.Heads; hd%8 != 0 {
		return fmt.Errorf("hybrid config: head size %d must be a multiple of 8 for the rope sections", hd)
	}
	if _, err := fileType(c.Type); err != nil {
		return fmt.Errorf("hybrid config: %w", err)
	}
	if c.Type != gguf.TypeF32 && c.Type != gguf.TypeF16 {
		for _, n := range []int{c.Embd, c.FF, c.StateSize * c.VHeads} {
			if n%32 != 0 {
				return fmt.Errorf("hybrid config: %v needs rows that are multiples of 32, %d is not", c.Type, n)
			}
		}
	}
	return nil
}

// recurrent reports whether layer i is a DeltaNet layer.
func (c HybridConfig) recurrent(i int) bool { return (i+1)%c.AttnInterval != 0 }

// WriteHybrid writes a random-weight "qwen35" model with tokenizer tok to
// path. The file depends only on its arguments, byte for byte.
func WriteHybrid(path string, cfg HybridConfig, tok *bpe.Tokenizer, seed uint64) error {
	return writeTo(path)(buildHybrid(cfg, tok, seed))
}

func buildHybrid(cfg HybridConfig, tok *bpe.Tokenizer, seed uint64) ([]gguf.KV, []gguf.Tensor, error) {
	if err := cfg.check(); err != nil {
		return nil, nil, err
	}
	if tok == nil {
		return nil, nil, fmt.Errorf("no tokenizer")
	}
	ftype, _ := fileType(cfg.Type)
	headDim := cfg.Embd / cfg.Heads
	kvDim := headDim * cfg.HeadsKV
	keyDim := cfg.StateSize * cfg.KHeads
	valueDim := cfg.StateSize * cfg.VHeads
	convDim := 2*keyDim + valueDim
	// Interleaved M-RoPE over the whole head: sections of head/2 pairs.
	q := headDim / 8
	sections := []int32{int32(headDim/2 - 2*q), int32(q), int32(q), 0}
	const arch = "qwen35"
	m := &model{seed: seed, wtype: cfg.Type}
	m.kv = []gguf.KV{
		{Key: "general.architecture", Value: arch},
		{Key: "general.name", Value: cfg.Name},
		{Key: "general.file_type", Value: ftype},
		{Key: "general.quantization_version", Value: uint32(2)},
		{Key: arch + ".context_length", Value: uint32(cfg.Context)},
		{Key: arch + ".embedding_length", Value: uint32(cfg.Embd)},
		{Key: arch + ".block_count", Value: uint32(cfg.Layers)},
		{Key: arch + ".feed_forward_length", Value: uint32(cfg.FF)},
		{Key: arch + ".attention.head_count", Value: uint32(cfg.Heads)},
		{Key: arch + ".attention.head_count_kv", Value: uint32(cfg.HeadsKV)},
		{Key: arch + ".attention.layer_norm_rms_epsilon", Value: float32(normEps)},
		{Key: arch + ".rope.dimension_count", Value: uint32(headDim)},
		{Key: arch + ".rope.dimension_sections", Value: sections},
		{Key: arch + ".rope.freq_base", Value: float32(ropeBase)},
		{Key: arch + ".full_attention_interval", Value: uint32(cfg.AttnInterval)},
		{Key: arch + ".ssm.conv_kernel", Value: uint32(cfg.ConvKernel)},
		{Key: arch + ".ssm.inner_size", Value: uint32(valueDim)},
		{Key: arch + ".ssm.state_size", Value: uint32(cfg.StateSize)},
		{Key: arch + ".ssm.time_step_rank", Value: uint32(cfg.VHeads)},
		{Key: arch + ".ssm.group_count", Value: uint32(cfg.KHeads)},
		{Key: arch + ".vocab_size", Value: uint32(len(tok.Tokens))},
	}
	m.kv = append(m.kv, tok.GGUFKV()...)

	m.embeddings(tok, cfg.Embd, 0)
	m.vector("output_norm.weight", ones(cfg.Embd))
	w := func(fanIn int) func(stream, int, []float32) {
		return gaussian(layerGain / math.Sqrt(float64(fanIn)))
	}
	for i := range cfg.Layers {
		p := fmt.Sprintf("blk.%d.", i)
		m.vector(p+"attn_norm.weight", ones(cfg.Embd))
		m.vector(p+"post_attention_norm.weight", ones(cfg.Embd))
		if cfg.recurrent(i) {
			m.matrix(p+"attn_qkv.weight", cfg.Embd, convDim, true, w(cfg.Embd))
			m.matrix(p+"attn_gate.weight", cfg.Embd, valueDim, true, w(cfg.Embd))
			m.matrix(p+"ssm_conv1d.weight", cfg.ConvKernel, convDim, false, w(cfg.ConvKernel))
			// softplus(alpha + dt) * a is the log of the per-token decay:
			// a = -exp(A_log) with A_log in [0, 1], dt about -2 as
			// Qwen3-Next initialises them, decays of about 0.7 to 0.95.
			m.vector(p+"ssm_dt.bias", constant(cfg.VHeads, -2))
			a := make([]float32, cfg.VHeads)
			s := newStream(seed, p+"ssm_a", 0)
			for j := range a {
				a[j] = -float32(math.Exp(float64(s.uniform(0, 1))))
			}
			m.vector(p+"ssm_a", a)
			m.matrix(p+"ssm_beta.weight", cfg.Embd, cfg.VHeads, false, w(cfg.Embd))
			m.matrix(p+"ssm_alpha.weight", cfg.Embd, cfg.VHeads, false, w(cfg.Embd))
			m.vector(p+"ssm_norm.weight", ones(cfg.StateSize))
			m.matrix(p+"ssm_out.weight", valueDim, cfg.Embd, true, w(valueDim))
		} else {
			// The query projection yields the query and its output gate.
			m.matrix(p+"attn_q.weight", cfg.Embd, 2*cfg.Embd, true, w(cfg.Embd))
			m.matrix(p+"attn_k.weight", cfg.Embd, kvDim, true, w(cfg.Embd))
			m.matrix(p+"attn_v.weight", cfg.Embd, kvDim, true, w(cfg.Embd))
			m.matrix(p+"attn_output.weight", cfg.Embd, cfg.Embd, true, w(cfg.Embd))
			m.vector(p+"attn_q_norm.weight", ones(headDim))
			m.vector(p+"attn_k_norm.weight", ones(headDim))
		}
		m.matrix(p+"ffn_gate.weight", cfg.Embd, cfg.FF, true, w(cfg.Embd))
		m.matrix(p+"ffn_up.weight", cfg.Embd, cfg.FF, true, w(cfg.Embd))
		m.matrix(p+"ffn_down.weight", cfg.FF, cfg.Embd, true, w(cfg.FF))
	}
	if m.err != nil {
		return nil, nil, m.err
	}
	return m.kv, m.tensors, nil
}

// constant returns n copies of v.
func constant(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}
