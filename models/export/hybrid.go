package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/models"
	"github.com/speclab/speclab/models/corpus"
)

// hybridMetrics is what train_hybrid.py records.
type hybridMetrics struct {
	Seed   int    `json:"seed"`
	Device string `json:"device"`
	Params int    `json:"params"`
	Config struct {
		Hidden     int      `json:"hidden"`
		Layers     int      `json:"layers"`
		Interval   int      `json:"interval"`
		Heads      int      `json:"heads"`
		HeadsKV    int      `json:"heads_kv"`
		HeadDim    int      `json:"head_dim"`
		FF         int      `json:"ff"`
		LinHeads   int      `json:"lin_heads"`
		LinHeadDim int      `json:"lin_head_dim"`
		Conv       int      `json:"conv"`
		RopeFactor float64  `json:"rope_factor"`
		MRope      []int32  `json:"mrope"`
		Eps        float64  `json:"eps"`
		Vocab      int      `json:"vocab"`
		Kinds      []string `json:"kinds"`
	} `json:"config"`
	Exported pplReport `json:"exported"`
}

// hybridType is the GGUF type of a hybrid tensor by its name: block
// matrices MXFP4, embeddings and output Q8_0, everything else F32 (norms,
// the recurrent state's small tensors, the beta/alpha projections of a
// few rows).
func hybridType(name string) gguf.Type {
	switch {
	case name == "token_embd.weight" || name == "output.weight":
		return gguf.TypeQ8_0
	}
	for _, m := range []string{"attn_qkv", "attn_gate", "ssm_out", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
		if strings.HasSuffix(name, "."+m+".weight") {
			return gguf.TypeMXFP4
		}
	}
	return gguf.TypeF32
}

// exportHybrid writes models.HybridTarget from train_hybrid.py's output.
func exportHybrid(run, data, out string) error {
	var m hybridMetrics
	if err := readJSON(filepath.Join(run, "metrics-hybrid.json"), &m); err != nil {
		return err
	}
	var info struct {
		GoVersion string `json:"go_version"`
	}
	if err := readJSON(filepath.Join(data, "info.json"), &info); err != nil {
		return err
	}
	tok, err := corpus.LoadTokenizer(filepath.Join(data, "tok-main.json"))
	if err != nil {
		return err
	}
	raw, err := readParts(run, "hybrid")
	if err != nil {
		return err
	}
	ts, _, err := parseSafetensors(raw)
	if err != nil {
		return fmt.Errorf("export hybrid: %w", err)
	}
	c := m.Config
	if c.Vocab != len(tok.Tokens) {
		return fmt.Errorf("export hybrid: model vocabulary %d but tokenizer %d tokens", c.Vocab, len(tok.Tokens))
	}
	if c.Hidden != c.Heads*c.HeadDim {
		return fmt.Errorf("export hybrid: hidden %d is not heads %d × head size %d", c.Hidden, c.Heads, c.HeadDim)
	}
	const arch = "qwen35"
	sections := append(append([]int32{}, c.MRope...), make([]int32, 4-len(c.MRope))...)
	kv := []gguf.KV{
		{Key: "general.architecture", Value: arch},
		{Key: "general.type", Value: "model"},
		{Key: "general.name", Value: "speclab-go-target-hybrid"},
		{Key: "general.description", Value: "speclab's hybrid default target: a small Qwen3.5 (Gated DeltaNet layers, one gated attention layer in " +
			fmt.Sprint(c.Interval) + ") of Go source code, the llama target's tokenizer; trained on the hand-written, non-test Go files of the Go " +
			info.GoVersion + " standard library source, packages " + strings.Join(corpus.HeldOut, ", ") + " held out"},
		{Key: "general.organization", Value: "speclab"},
		{Key: "general.version", Value: "1"},
		{Key: "general.size_label", Value: sizeLabel(m.Params)},
		{Key: "general.license", Value: "BSD-3-Clause"},
		{Key: "general.license.name", Value: "Go's BSD-style licence (the training corpus's); see models/README.md"},
		{Key: "general.file_type", Value: fileType(gguf.TypeMXFP4)},
		{Key: "general.quantization_version", Value: uint32(2)},
		{Key: arch + ".context_length", Value: uint32(1024)},
		{Key: arch + ".embedding_length", Value: uint32(c.Hidden)},
		{Key: arch + ".block_count", Value: uint32(c.Layers)},
		{Key: arch + ".feed_forward_length", Value: uint32(c.FF)},
		{Key: arch + ".attention.head_count", Value: uint32(c.Heads)},
		{Key: arch + ".attention.head_count_kv", Value: uint32(c.HeadsKV)},
		{Key: arch + ".attention.key_length", Value: uint32(c.HeadDim)},
		{Key: arch + ".attention.value_length", Value: uint32(c.HeadDim)},
		{Key: arch + ".attention.layer_norm_rms_epsilon", Value: float32(c.Eps)},
		{Key: arch + ".rope.dimension_count", Value: uint32(float64(c.HeadDim) * c.RopeFactor)},
		{Key: arch + ".rope.dimension_sections", Value: sections},
		{Key: arch + ".rope.freq_base", Value: float32(10000)},
		{Key: arch + ".full_attention_interval", Value: uint32(c.Interval)},
		{Key: arch + ".ssm.conv_kernel", Value: uint32(c.Conv)},
		{Key: arch + ".ssm.state_size", Value: uint32(c.LinHeadDim)},
		{Key: arch + ".ssm.group_count", Value: uint32(c.LinHeads)},
		{Key: arch + ".ssm.time_step_rank", Value: uint32(c.LinHeads)},
		{Key: arch + ".ssm.inner_size", Value: uint32(c.LinHeadDim * c.LinHeads)},
		{Key: arch + ".vocab_size", Value: uint32(c.Vocab)},
	}
	kv = append(kv, tok.GGUFKV()...)
	kv = append(kv,
		gguf.KV{Key: models.KeyRole, Value: "target-hybrid"},
		gguf.KV{Key: models.KeyGoVersion, Value: info.GoVersion},
		gguf.KV{Key: models.KeyHeldOut, Value: strings.Join(corpus.HeldOut, ",")},
		gguf.KV{Key: models.KeySeed, Value: uint32(m.Seed)},
		gguf.KV{Key: models.KeyTrainDevice, Value: m.Device},
		gguf.KV{Key: models.KeyRecipe, Value: "models/train/README.md"},
		gguf.KV{Key: models.KeyEvalWindows, Value: uint32(m.Exported.EvalWindows)},
		gguf.KV{Key: models.KeyPPLTorch, Value: float32(m.Exported.PPLEval)},
	)
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	// Global tensors first, then by layer, each layer's in name order.
	rank := func(n string) (int, string) {
		var i int
		if _, err := fmt.Sscanf(n, "blk.%d.", &i); err == nil {
			return i + 1, n
		}
		return 0, n
	}
	sort.Slice(names, func(a, b int) bool {
		ra, na := rank(names[a])
		rb, nb := rank(names[b])
		if ra != rb {
			return ra < rb
		}
		return na < nb
	})
	var tensors []gguf.Tensor
	for _, n := range names {
		w := ts[n]
		t := hybridType(n)
		b, err := gguf.Encode(t, w.Data)
		if err != nil {
			return fmt.Errorf("export hybrid: tensor %s: %w", n, err)
		}
		shape := make([]uint64, len(w.Shape))
		for i, d := range w.Shape { // ggml order: innermost first
			shape[len(shape)-1-i] = uint64(d)
		}
		tensors = append(tensors, gguf.Tensor{Name: n, Shape: shape, Type: t, Data: b})
	}
	path := filepath.Join(out, models.HybridTarget)
	if err := gguf.WriteFile(path, kv, tensors); err != nil {
		return fmt.Errorf("export hybrid: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	log.Printf("%s: %d bytes, %d params", path, st.Size(), m.Params)
	return nil
}
