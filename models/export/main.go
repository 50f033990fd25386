// Command export writes speclab's default models as GGUF files with the
// project's own GGUF writer and codecs (engine/gguf): it reads the weights
// and metrics that models/train/train.py wrote and the tokenizers that
// models/prep wrote, and writes target.gguf (block matrices MXFP4,
// embeddings and output Q8_0, norms F32), draft.gguf and
// draft-othervocab.gguf (matrices Q8_0, output tied to the embeddings,
// norms F32), each with its tokenizer and its provenance in general.* and
// speclab.* keys. It writes nothing else.
//
//	go run ./models/export -run models/.work/run1 -data models/.work/data -out models
//
// The target was trained with MXFP4 fake quantization of its block
// matrices, so its weights arrive as exact MXFP4 values; export checks that
// encoding them loses nothing.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/speclab/speclab/engine/bpe"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/models"
	"github.com/speclab/speclab/models/corpus"
)

func main() {
	run := flag.String("run", filepath.Join("models", ".work", "run1"), "folder with the training script's output")
	data := flag.String("data", filepath.Join("models", ".work", "data"), "folder with the tokenizers (models/prep)")
	out := flag.String("out", "models", "folder to write the GGUF files to")
	hybrid := flag.String("hybrid", "", "export only the hybrid target, from train_hybrid.py's output in this folder")
	flag.Parse()
	if *hybrid != "" {
		if err := exportHybrid(*hybrid, *data, *out); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := exportAll(*run, *data, *out); err != nil {
		log.Fatal(err)
	}
}

// config is a model's shape as train.py records it.
type config struct {
	Vocab   int  `json:"vocab"`
	Embd    int  `json:"embd"`
	Layers  int  `json:"layers"`
	Heads   int  `json:"heads"`
	HeadsKV int  `json:"heads_kv"`
	FF      int  `json:"ff"`
	Tied    bool `json:"tied"`
}

type pplReport struct {
	EvalWindows int     `json:"eval_windows"`
	PPLEval     float64 `json:"ppl_eval_windows"`
	PPLAll      float64 `json:"ppl_all_windows"`
}

type modelMetrics struct {
	Config   config    `json:"config"`
	Params   int       `json:"params"`
	Float    pplReport `json:"float"`
	Exported pplReport `json:"exported"`
}

// spec is one model to export.
type spec struct {
	role     string // target, draft, draft-othervocab
	file     string
	stem     string // weights file stem
	tokFile  string
	layers   gguf.Type // block matrices
	m        modelMetrics
	seed     int
	device   string
	describe string
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("export: %s: %w", path, err)
	}
	return nil
}

func exportAll(run, data, out string) error {
	var main struct {
		Seed   int          `json:"seed"`
		Device string       `json:"device"`
		Target modelMetrics `json:"target"`
		Draft  modelMetrics `json:"draft"`
	}
	var other struct {
		modelMetrics
		Seed   int    `json:"seed"`
		Device string `json:"device"`
	}
	if err := readJSON(filepath.Join(run, "metrics-main.json"), &main); err != nil {
		return err
	}
	if err := readJSON(filepath.Join(run, "metrics-other.json"), &other); err != nil {
		return err
	}
	var info struct {
		GoVersion string `json:"go_version"`
	}
	if err := readJSON(filepath.Join(data, "info.json"), &info); err != nil {
		return err
	}
	specs := []spec{
		{role: "target", file: models.Target, stem: "target", tokFile: "tok-main.json", layers: gguf.TypeMXFP4,
			m: main.Target, seed: main.Seed, device: main.Device,
			describe: "speclab's default target: a small llama-architecture model of Go source code"},
		{role: "draft", file: models.Draft, stem: "draft", tokFile: "tok-main.json", layers: gguf.TypeQ8_0,
			m: main.Draft, seed: main.Seed, device: main.Device,
			describe: "speclab's default draft: the target's tokenizer, distilled from the target"},
		{role: "draft-othervocab", file: models.OtherVocabDraft, stem: "other", tokFile: "tok-other.json", layers: gguf.TypeQ8_0,
			m: other.modelMetrics, seed: other.Seed, device: other.Device,
			describe: "speclab's mismatched draft: the draft's size, its own tokenizer, which llama.cpp's vocabulary rules refuse for the target"},
	}
	for _, s := range specs {
		tok, err := corpus.LoadTokenizer(filepath.Join(data, s.tokFile))
		if err != nil {
			return err
		}
		raw, err := readParts(run, s.stem)
		if err != nil {
			return err
		}
		ts, _, err := parseSafetensors(raw)
		if err != nil {
			return fmt.Errorf("export %s: %w", s.role, err)
		}
		kv, tensors, err := build(s, tok, ts, info.GoVersion)
		if err != nil {
			return fmt.Errorf("export %s: %w", s.role, err)
		}
		path := filepath.Join(out, s.file)
		if err := gguf.WriteFile(path, kv, tensors); err != nil {
			return fmt.Errorf("export %s: %w", s.role, err)
		}
		st, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("export %s: %w", s.role, err)
		}
		log.Printf("%s: %d bytes, %d params", path, st.Size(), s.m.Params)
	}
	return nil
}

// fileType is general.file_type (llama_ftype) for block matrices of type t.
func fileType(t gguf.Type) uint32 {
	if t == gguf.TypeMXFP4 {
		return 38 // LLAMA_FTYPE_MOSTLY_MXFP4_MOE, the only MXFP4 file type
	}
	return 7 // LLAMA_FTYPE_MOSTLY_Q8_0
}

// sizeLabel spells a parameter count as general.size_label does ("26M").
func sizeLabel(n int) string {
	if n >= 10_000_000 {
		return fmt.Sprintf("%dM", (n+500_000)/1_000_000)
	}
	return fmt.Sprintf("%.1fM", float64(n)/1e6)
}

// build makes the metadata and tensors of one model.
func build(s spec, tok *bpe.Tokenizer, ts map[string]tensor, goVersion string) ([]gguf.KV, []gguf.Tensor, error) {
	c := s.m.Config
	if c.Vocab != len(tok.Tokens) {
		return nil, nil, fmt.Errorf("model vocabulary %d but tokenizer %d tokens", c.Vocab, len(tok.Tokens))
	}
	if c.Heads <= 0 || c.HeadsKV <= 0 || c.Embd%c.Heads != 0 || c.Heads%c.HeadsKV != 0 {
		return nil, nil, fmt.Errorf("bad head counts in %+v", c)
	}
	headDim := c.Embd / c.Heads
	name := "speclab-go-" + s.role
	kv := []gguf.KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.type", Value: "model"},
		{Key: "general.name", Value: name},
		{Key: "general.description", Value: s.describe + "; trained on the hand-written, non-test Go files of the Go " +
			goVersion + " standard library source, packages " + strings.Join(corpus.HeldOut, ", ") + " held out"},
		{Key: "general.organization", Value: "speclab"},
		{Key: "general.version", Value: "1"},
		{Key: "general.size_label", Value: sizeLabel(s.m.Params)},
		{Key: "general.license", Value: "BSD-3-Clause"},
		{Key: "general.license.name", Value: "Go's BSD-style licence (the training corpus's); see models/README.md"},
		{Key: "general.file_type", Value: fileType(s.layers)},
		{Key: "general.quantization_version", Value: uint32(2)},
		{Key: "llama.context_length", Value: uint32(1024)},
		{Key: "llama.embedding_length", Value: uint32(c.Embd)},
		{Key: "llama.block_count", Value: uint32(c.Layers)},
		{Key: "llama.feed_forward_length", Value: uint32(c.FF)},
		{Key: "llama.attention.head_count", Value: uint32(c.Heads)},
		{Key: "llama.attention.head_count_kv", Value: uint32(c.HeadsKV)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: float32(1e-5)},
		{Key: "llama.rope.dimension_count", Value: uint32(headDim)},
		{Key: "llama.rope.freq_base", Value: float32(10000)},
		{Key: "llama.vocab_size", Value: uint32(c.Vocab)},
	}
	kv = append(kv, tok.GGUFKV()...)
	kv = append(kv,
		gguf.KV{Key: models.KeyRole, Value: s.role},
		gguf.KV{Key: models.KeyGoVersion, Value: goVersion},
		gguf.KV{Key: models.KeyHeldOut, Value: strings.Join(corpus.HeldOut, ",")},
		gguf.KV{Key: models.KeySeed, Value: uint32(s.seed)},
		gguf.KV{Key: models.KeyTrainDevice, Value: s.device},
		gguf.KV{Key: models.KeyRecipe, Value: "models/train/README.md"},
		gguf.KV{Key: models.KeyEvalWindows, Value: uint32(s.m.Exported.EvalWindows)},
		gguf.KV{Key: models.KeyPPLTorch, Value: float32(s.m.Exported.PPLEval)},
		gguf.KV{Key: models.KeyPPLTorchAll, Value: float32(s.m.Exported.PPLAll)},
	)

	used := map[string]bool{}
	var out []gguf.Tensor
	add := func(name string, t gguf.Type, wantShape ...int) error {
		w, ok := ts[name]
		if !ok {
			return fmt.Errorf("tensor %s missing from the weights", name)
		}
		if fmt.Sprint(w.Shape) != fmt.Sprint(wantShape) {
			return fmt.Errorf("tensor %s has shape %v, want %v", name, w.Shape, wantShape)
		}
		used[name] = true
		b, err := gguf.Encode(t, w.Data)
		if err != nil {
			return fmt.Errorf("tensor %s: %w", name, err)
		}
		if t == gguf.TypeMXFP4 {
			back, err := gguf.Decode(t, b)
			if err != nil {
				return fmt.Errorf("tensor %s: %w", name, err)
			}
			for i := range back {
				if back[i] != w.Data[i] {
					return fmt.Errorf("tensor %s: value %d (%g) is not an MXFP4 value (encodes to %g): weights not trained quantization-aware", name, i, w.Data[i], back[i])
				}
			}
		}
		shape := make([]uint64, len(wantShape))
		for i, d := range wantShape { // ggml order: innermost first
			shape[len(shape)-1-i] = uint64(d)
		}
		out = append(out, gguf.Tensor{Name: name, Shape: shape, Type: t, Data: b})
		return nil
	}
	kvDim := headDim * c.HeadsKV
	steps := []struct {
		name  string
		t     gguf.Type
		shape []int
	}{
		{"token_embd.weight", gguf.TypeQ8_0, []int{c.Vocab, c.Embd}},
		{"output_norm.weight", gguf.TypeF32, []int{c.Embd}},
	}
	if !c.Tied {
		steps = append(steps, struct {
			name  string
			t     gguf.Type
			shape []int
		}{"output.weight", gguf.TypeQ8_0, []int{c.Vocab, c.Embd}})
	}
	for _, st := range steps {
		if err := add(st.name, st.t, st.shape...); err != nil {
			return nil, nil, err
		}
	}
	for i := range c.Layers {
		p := fmt.Sprintf("blk.%d.", i)
		for _, m := range []struct {
			name    string
			t       gguf.Type
			out, in int
		}{
			{"attn_norm", gguf.TypeF32, c.Embd, 0},
			{"attn_q", s.layers, c.Embd, c.Embd},
			{"attn_k", s.layers, kvDim, c.Embd},
			{"attn_v", s.layers, kvDim, c.Embd},
			{"attn_output", s.layers, c.Embd, c.Embd},
			{"ffn_norm", gguf.TypeF32, c.Embd, 0},
			{"ffn_gate", s.layers, c.FF, c.Embd},
			{"ffn_up", s.layers, c.FF, c.Embd},
			{"ffn_down", s.layers, c.Embd, c.FF},
		} {
			shape := []int{m.out, m.in}
			if m.in == 0 {
				shape = shape[:1]
			}
			if err := add(p+m.name+".weight", m.t, shape...); err != nil {
				return nil, nil, err
			}
		}
	}
	for name := range ts {
		if !used[name] {
			return nil, nil, fmt.Errorf("weights hold tensor %s that the llama layout has no place for", name)
		}
	}
	return kv, out, nil
}
