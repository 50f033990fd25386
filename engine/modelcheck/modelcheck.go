// Package modelcheck finds what in a structurally valid GGUF model would
// make libllama abort the process (GGML_ASSERT, an uncaught C++ exception,
// a division by zero) or compute garbage without a word: hyperparameters
// out of range or inconsistent with each other and with the tensors, data
// alignments ggml cannot serve, vocabularies that contradict themselves or
// their tokenizer model, tensors of a type their role cannot have, NaN and
// Inf in the small tensors. Each rule names the llama.cpp check it stands
// for (v0.5.0's source); the mutated models of package mutants found them.
//
// The engine runs Check before libllama sees a file, and `speclab inspect`
// prints the same findings. This package reads GGUF metadata and tensor
// data only: it must not load libllama.
package modelcheck

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/speclab/speclab/engine/gguf"
)

// Finding is one problem with a model.
type Finding struct {
	Where string // the key or tensor, quoted short
	What  string // what is wrong, and what libllama would do
}

func (f Finding) String() string { return f.Where + ": " + f.What }

// Limits of llama.cpp v0.5.0.
const (
	maxLayers        = 512  // LLAMA_MAX_LAYERS (src/llama-hparams.h)
	maxExperts       = 1024 // LLAMA_MAX_EXPERTS
	tensorAlignment  = 32   // TENSOR_ALIGNMENT (ggml/src/ggml-backend.cpp)
	scanElements     = 4 << 20
	maxFindingsShown = 5
)

// Check returns the findings for the file f, whose tensor data r reads.
// r may be nil: the NaN scan is then skipped.
func Check(f *gguf.File, r io.ReaderAt) []Finding {
	c := &checker{f: f, arch: f.Architecture()}
	c.alignment()
	c.hparams()
	c.vocab()
	c.tensors(r)
	return c.out
}

// Error summarises findings in one error message (the first few, and how
// many more), or returns nil when there are none.
func Error(path string, fs []Finding) error {
	if len(fs) == 0 {
		return nil
	}
	var parts []string
	for _, f := range fs[:min(len(fs), maxFindingsShown)] {
		parts = append(parts, f.String())
	}
	more := ""
	if len(fs) > maxFindingsShown {
		more = fmt.Sprintf(" (and %d more; speclab inspect lists them)", len(fs)-maxFindingsShown)
	}
	return fmt.Errorf("%s: libllama would abort on or mis-compute this model: %s%s", path, strings.Join(parts, "; "), more)
}

type checker struct {
	f    *gguf.File
	arch string
	out  []Finding
}

func (c *checker) add(where, format string, args ...any) {
	c.out = append(c.out, Finding{Where: where, What: fmt.Sprintf(format, args...)})
}

func (c *checker) key(name string) string { return c.arch + "." + name }

// uint reads an integer hyperparameter; ok is false when absent or not an
// integer (libllama then reports it itself).
func (c *checker) uint(name string) (uint64, bool) { return c.f.Uint(c.key(name)) }

// uints reads a per-layer hyperparameter (a scalar or an array).
func (c *checker) uints(name string) []int64 {
	v, ok := c.f.Lookup(c.key(name))
	if !ok {
		return nil
	}
	switch x := v.(type) {
	case []int32:
		out := make([]int64, len(x))
		for i, e := range x {
			out[i] = int64(e)
		}
		return out
	case []uint32:
		out := make([]int64, len(x))
		for i, e := range x {
			out[i] = int64(e)
		}
		return out
	}
	if n, ok := c.f.Uint(c.key(name)); ok {
		return []int64{int64(n)}
	}
	return nil
}

func (c *checker) alignment() {
	if a := c.f.Alignment; a%tensorAlignment != 0 {
		c.add(gguf.KeyAlignment, "%d: ggml maps tensor data on %d-byte boundaries and aborts on this one (GGML_ASSERT buffer pointer must be aligned); rewrite the file with an alignment of 32 or a multiple", a, tensorAlignment)
	}
}

func (c *checker) hparams() {
	for _, kv := range c.f.KV {
		if !strings.HasPrefix(kv.Key, c.arch+".") {
			continue
		}
		var fs []float64
		switch v := kv.Value.(type) {
		case float32:
			fs = []float64{float64(v)}
		case float64:
			fs = []float64{v}
		case []float32:
			for _, x := range v {
				fs = append(fs, float64(x))
			}
		}
		for _, x := range fs {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				c.add(gguf.Quote(kv.Key), "%v is not a finite number: every logit would be NaN", x)
				break
			}
			if strings.HasSuffix(kv.Key, "_epsilon") && x < 0 {
				c.add(gguf.Quote(kv.Key), "%v is negative (GGML_ASSERT eps >= 0 in the norm)", x)
				break
			}
		}
	}
	if v, ok := c.f.Lookup(c.key("rope.scaling.type")); ok {
		// llama-model.cpp's LLAMA_ROPE_SCALING_TYPES; another name
		// becomes UNSPECIFIED, and GGML_ASSERT fails.
		if s, _ := v.(string); !slices.Contains([]string{"none", "linear", "yarn", "longrope"}, s) {
			c.add(c.key("rope.scaling.type"), "%s: want none, linear, yarn or longrope", gguf.Quote(fmt.Sprint(v)))
		}
	}
	if n, ok := c.uint("block_count"); ok && (n == 0 || n > maxLayers) {
		c.add(c.key("block_count"), "%d layers: llama.cpp takes 1 to %d (GGML_ASSERT n_layer_all)", n, maxLayers)
	}
	embd, hasEmbd := c.uint("embedding_length")
	if hasEmbd && embd == 0 {
		c.add(c.key("embedding_length"), "0: a model needs an embedding")
	}
	heads, kvHeads := c.uints("attention.head_count"), c.uints("attention.head_count_kv")
	for i, h := range heads {
		if i < len(kvHeads) && kvHeads[i] > 0 && h > 0 && h%kvHeads[i] != 0 {
			c.add(c.key("attention.head_count_kv"), "%d key/value heads do not divide %d heads (layer %d)", kvHeads[i], h, i)
			break
		}
	}
	headDim := uint64(0)
	if k, ok := c.uint("attention.key_length"); ok {
		headDim = k
	} else if hasEmbd && len(heads) > 0 && heads[0] > 0 {
		headDim = embd / uint64(heads[0])
	}
	if rot, ok := c.uint("rope.dimension_count"); ok {
		switch {
		case rot%2 != 0:
			c.add(c.key("rope.dimension_count"), "%d is odd: RoPE rotates pairs (GGML_ASSERT n_dims %% 2 == 0)", rot)
		case headDim > 0 && rot > headDim:
			c.add(c.key("rope.dimension_count"), "%d exceeds the head size %d", rot, headDim)
		}
		if secs := c.uints("rope.dimension_sections"); len(secs) > 0 {
			sum := int64(0)
			for _, s := range secs {
				if s < 0 {
					c.add(c.key("rope.dimension_sections"), "%v has a negative section", secs)
					sum = -1
					break
				}
				sum += s
			}
			if sum >= 0 && uint64(sum)*2 > rot {
				c.add(c.key("rope.dimension_sections"), "%v cover %d dimensions, more than the %d RoPE rotates (GGML_ASSERT sect_dims <= ne0)", secs, 2*sum, rot)
			}
		}
	}
	if ne, ok := c.uint("expert_count"); ok {
		used, _ := c.uint("expert_used_count")
		switch {
		case ne > maxExperts:
			c.add(c.key("expert_count"), "%d experts: llama.cpp takes at most %d (GGML_ASSERT n_expert <= LLAMA_MAX_EXPERTS)", ne, maxExperts)
		case ne > 0 && (used == 0 || used > ne):
			c.add(c.key("expert_used_count"), "%d of %d experts: want 1 to %d (GGML_ASSERT n_expert_used)", used, ne, ne)
		}
	} else if used, ok := c.uint("expert_used_count"); ok && used > 0 {
		c.add(c.key("expert_used_count"), "%d experts used of none (no expert_count)", used)
	}
	c.recurrent()
}

// recurrent checks the Gated DeltaNet hyperparameters of Qwen3.5-like
// hybrids (qwen35, qwen35moe, qwen3next).
func (c *checker) recurrent() {
	switch c.arch {
	case "qwen35", "qwen35moe", "qwen3next":
	default:
		return
	}
	if n, ok := c.uint("full_attention_interval"); ok && n == 0 {
		c.add(c.key("full_attention_interval"), "0: libllama divides by it (layer i attends when (i+1) %% interval == 0)")
	}
	state, _ := c.uint("ssm.state_size")
	inner, hasInner := c.uint("ssm.inner_size")
	vHeads, _ := c.uint("ssm.time_step_rank")
	kHeads, _ := c.uint("ssm.group_count")
	switch {
	case kHeads == 0:
		c.add(c.key("ssm.group_count"), "0 key heads")
	case vHeads%kHeads != 0:
		c.add(c.key("ssm.time_step_rank"), "%d value heads are not a multiple of %d key heads", vHeads, kHeads)
	}
	if hasInner && inner != state*vHeads {
		c.add(c.key("ssm.inner_size"), "%d, but %d value heads of %d make %d (the DeltaNet's state would not match its tensors: GGML_ASSERT in ggml)", inner, vHeads, state, state*vHeads)
	}
}

// vocab checks what libllama's vocabulary loader and tokenizer assume.
func (c *checker) vocab() {
	model, hasModel := c.f.String("tokenizer.ggml.model")
	toks, _ := c.f.Strings("tokenizer.ggml.tokens")
	if !hasModel {
		return
	}
	switch model {
	case "none", "no_vocab":
		c.add("tokenizer.ggml.model", "%s: the model has no tokenizer, and speclab works on text (libllama aborts when asked to tokenize)", gguf.Quote(model))
		return
	}
	seen := make(map[string]int, len(toks))
	for i, t := range toks {
		if j, dup := seen[t]; dup {
			c.add("tokenizer.ggml.tokens", "tokens %d and %d have the same text %s (GGML_ASSERT id_to_token.size() == token_to_id.size())", j, i, gguf.Quote(t))
			break
		}
		seen[t] = i
	}
	missing := func(name func(b byte) []string) (int, string) {
		n, first := 0, ""
		for b := 0; b < 256; b++ {
			found := false
			for _, s := range name(byte(b)) {
				if _, ok := seen[s]; ok {
					found = true
					break
				}
			}
			if !found {
				if n == 0 {
					first = name(byte(b))[0]
				}
				n++
			}
		}
		return n, first
	}
	switch model {
	// A BPE (gpt2) vocabulary may lack byte tokens: llama.cpp's own test
	// vocabularies of starcoder, falcon and mpt do, and tokenize fine.
	case "llama":
		// SPM falls back to <0xXX> byte tokens (or the byte itself).
		if n, first := missing(func(b byte) []string { return []string{fmt.Sprintf("<0x%02X>", b), string([]byte{b})} }); n > 0 {
			c.add("tokenizer.ggml.tokens", "%d of the 256 byte-fallback tokens of an SPM (llama) vocabulary are missing, first %s: libllama throws std::out_of_range when a text needs one (is tokenizer.ggml.model right?)", n, gguf.Quote(first))
		}
	}
}

// tensors checks types per role and scans the small tensors for NaN/Inf.
func (c *checker) tensors(r io.ReaderAt) {
	names := make(map[string]bool, len(c.f.Tensors))
	for _, t := range c.f.Tensors {
		names[t.Name] = true
	}
	for _, t := range c.f.Tensors {
		f32Role := len(t.Shape) == 1 || strings.HasSuffix(t.Name, "ssm_conv1d.weight") ||
			strings.HasSuffix(t.Name, ".ssm_a") || strings.HasSuffix(t.Name, ".ssm_d")
		if f32Role && t.Type != gguf.TypeF32 && !t.Unsized {
			c.add(gguf.Quote(t.Name), "is %s; norms, biases and the recurrent state's small tensors must be F32 (ggml's CPU kernels abort on others; llama-quantize keeps them F32)", t.Type)
		}
	}
	if c.arch == "qwen35" || c.arch == "qwen35moe" || c.arch == "qwen3next" {
		// The loader marks the DeltaNet projections optional, the graph
		// uses them unconditionally: a missing one is a null dereference.
		n, _ := c.uint("block_count")
		for i := range min(n, maxLayers) {
			p := fmt.Sprintf("blk.%d.", i)
			if names[p+"ssm_conv1d.weight"] && !(names[p+"attn_qkv.weight"] && names[p+"attn_gate.weight"]) {
				c.add(gguf.Quote(p+"attn_qkv.weight"), "layer %d is a DeltaNet layer without its attn_qkv/attn_gate projections (libllama would dereference a null tensor)", i)
				break
			}
		}
	}
	if r == nil {
		return
	}
	for _, t := range c.f.Tensors {
		if t.Unsized || (t.Type != gguf.TypeF32 && t.Type != gguf.TypeF16 && t.Type != gguf.TypeBF16) {
			continue
		}
		n := uint64(1)
		for _, d := range t.Shape {
			n *= d
		}
		if n > scanElements {
			continue
		}
		data, err := c.f.TensorData(r, t)
		if err != nil {
			continue // the reader reports I/O problems itself
		}
		vals, err := gguf.Decode(t.Type, data)
		if err != nil {
			continue
		}
		if i := slices.IndexFunc(vals, func(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) }); i >= 0 {
			c.add(gguf.Quote(t.Name), "element %d is %v: the model's output would be NaN", i, vals[i])
		}
	}
}
