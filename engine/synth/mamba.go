package synth

import (
	"fmt"
	"math"

	"github.com/speclab/speclab/engine/bpe"
	"github.com/speclab/speclab/engine/gguf"
)

// RecurrentConfig describes a model of the "mamba" architecture (Mamba-1),
// whose memory is a recurrent state: libllama cannot drop a tail of it.
// Its inner size is 2*Embd, the only expansion libllama supports.
type RecurrentConfig struct {
	Name       string    // general.name
	Embd       int       // n_embd; a multiple of 32 for quantized types
	Layers     int       // n_layer
	Context    int       // n_ctx_train
	StateSize  int       // ssm.state_size (d_state)
	ConvKernel int       // ssm.conv_kernel (d_conv)
	DTRank     int       // ssm.time_step_rank
	Type       gguf.Type // type of the large 2-D weights: F32, F16, Q8_0 or MXFP4
}

func (c RecurrentConfig) check() error {
	if c.Embd <= 0 || c.Layers <= 0 || c.Context <= 0 || c.StateSize <= 0 || c.ConvKernel <= 0 || c.DTRank <= 0 {
		return fmt.Errorf("recurrent config %+v: sizes must be positive", c)
	}
	if _, err := fileType(c.Type); err != nil {
		return fmt.Errorf("recurrent config: %w", err)
	}
	if c.Type != gguf.TypeF32 && c.Type != gguf.TypeF16 && c.Embd%32 != 0 {
		return fmt.Errorf("recurrent config: %v needs n_embd a multiple of 32, not %d", c.Type, c.Embd)
	}
	return nil
}

// WriteRecurrent writes a random-weight "mamba" model with tokenizer tok to
// path. The file depends only on its arguments, byte for byte.
func WriteRecurrent(path string, cfg RecurrentConfig, tok *bpe.Tokenizer, seed uint64) error {
	return writeTo(path)(buildMamba(cfg, tok, seed))
}

func buildMamba(cfg RecurrentConfig, tok *bpe.Tokenizer, seed uint64) ([]gguf.KV, []gguf.Tensor, error) {
	if err := cfg.check(); err != nil {
		return nil, nil, err
	}
	if tok == nil {
		return nil, nil, fmt.Errorf("no tokenizer")
	}
	ftype, _ := fileType(cfg.Type)
	inner := 2 * cfg.Embd
	m := &model{seed: seed, wtype: cfg.Type}
	m.kv = []gguf.KV{
		{Key: "general.architecture", Value: "mamba"},
		{Key: "general.name", Value: cfg.Name},
		{Key: "general.file_type", Value: ftype},
		{Key: "general.quantization_version", Value: uint32(2)},
		{Key: "mamba.context_length", Value: uint32(cfg.Context)},
		{Key: "mamba.embedding_length", Value: uint32(cfg.Embd)},
		{Key: "mamba.block_count", Value: uint32(cfg.Layers)},
		{Key: "mamba.feed_forward_length", Value: uint32(0)},
		{Key: "mamba.attention.head_count", Value: uint32(0)},
		{Key: "mamba.attention.layer_norm_rms_epsilon", Value: float32(normEps)},
		{Key: "mamba.ssm.conv_kernel", Value: uint32(cfg.ConvKernel)},
		{Key: "mamba.ssm.inner_size", Value: uint32(inner)},
		{Key: "mamba.ssm.state_size", Value: uint32(cfg.StateSize)},
		{Key: "mamba.ssm.time_step_rank", Value: uint32(cfg.DTRank)},
		{Key: "mamba.vocab_size", Value: uint32(len(tok.Tokens))},
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
		m.matrix(p+"ssm_in.weight", cfg.Embd, 2*inner, true, w(cfg.Embd))
		// The convolution and the small dt projection stay F32.
		m.matrix(p+"ssm_conv1d.weight", cfg.ConvKernel, inner, false, w(cfg.ConvKernel))
		m.vector(p+"ssm_conv1d.bias", make([]float32, inner))
		m.matrix(p+"ssm_x.weight", inner, cfg.DTRank+2*cfg.StateSize, true, w(inner))
		m.matrix(p+"ssm_dt.weight", cfg.DTRank, inner, false, w(cfg.DTRank))
		// dt = softplus(bias + ...): a bias in [-4.6, -2.3] gives time steps
		// of about 0.01 to 0.1, as Mamba's initialisation does.
		bias := make([]float32, inner)
		s := newStream(seed, p+"ssm_dt.bias", 0)
		for j := range bias {
			bias[j] = s.uniform(-4.6, -2.3)
		}
		m.vector(p+"ssm_dt.bias", bias)
		// A = -[1, 2, ..., d_state] for every channel (S4D-real), D = 1.
		m.matrix(p+"ssm_a", cfg.StateSize, inner, false, func(_ stream, _ int, out []float32) {
			for j := range out {
				out[j] = -float32(j + 1)
			}
		})
		m.vector(p+"ssm_d", ones(inner))
		m.matrix(p+"ssm_out.weight", inner, cfg.Embd, true, w(inner))
	}
	if m.err != nil {
		return nil, nil, m.err
	}
	return m.kv, m.tensors, nil
}
