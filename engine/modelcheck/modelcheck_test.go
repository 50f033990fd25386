package modelcheck_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/engine/modelcheck"
	"github.com/speclab/speclab/engine/synth"
)

// model is a synthetic model's content, to break.
type model struct {
	kv      []gguf.KV
	tensors []gguf.Tensor
}

func (m *model) set(key string, v any) {
	for i := range m.kv {
		if m.kv[i].Key == key {
			m.kv[i].Value = v
			return
		}
	}
	m.kv = append(m.kv, gguf.KV{Key: key, Value: v})
}

func (m *model) tensor(name string) *gguf.Tensor {
	for i := range m.tensors {
		if m.tensors[i].Name == name {
			return &m.tensors[i]
		}
	}
	panic("no tensor " + name)
}

// check writes m and returns its findings.
func check(t *testing.T, m model) []modelcheck.Finding {
	t.Helper()
	var buf bytes.Buffer
	if err := gguf.Write(&buf, m.kv, m.tensors); err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(buf.Bytes())
	f, err := gguf.Read(r, int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return modelcheck.Check(f, r)
}

// load reads a synthetic model of the set written to dir.
func load(t *testing.T, path string) model {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m := model{kv: slices.Clone(f.KV)}
	for _, ti := range f.Tensors {
		data, err := f.TensorData(r, ti)
		if err != nil {
			t.Fatal(err)
		}
		m.tensors = append(m.tensors, gguf.Tensor{Name: ti.Name, Shape: ti.Shape, Type: ti.Type, Data: data})
	}
	return m
}

// TestRules: each rule fires on its defect, naming what libllama would do,
// and the good models have no findings.
func TestRules(t *testing.T) {
	set, err := synth.WriteSet(t.TempDir(), synth.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	nan := float32(math.NaN())
	tests := []struct {
		name, path string
		breakIt    func(m *model)
		want       string // in a finding
	}{
		{"alignment 8", set.Target, func(m *model) { m.set(gguf.KeyAlignment, uint32(8)) }, "must be aligned"},
		{"no layers", set.Target, func(m *model) { m.set("llama.block_count", uint32(0)) }, "1 to 512"},
		{"too many layers", set.Target, func(m *model) { m.set("llama.block_count", uint32(1<<31-1)) }, "1 to 512"},
		{"odd rope", set.Target, func(m *model) { m.set("llama.rope.dimension_count", uint32(3)) }, "odd"},
		{"rope beyond the head", set.Target, func(m *model) { m.set("llama.rope.dimension_count", uint32(64)) }, "exceeds the head size"},
		{"kv heads", set.Target, func(m *model) { m.set("llama.attention.head_count_kv", uint32(3)) }, "do not divide"},
		{"experts", set.Target, func(m *model) { m.set("llama.expert_count", uint32(1<<20)) }, "LLAMA_MAX_EXPERTS"},
		{"no expert used", set.Target, func(m *model) { m.set("llama.expert_count", uint32(8)) }, "n_expert_used"},
		{"NaN epsilon", set.Target, func(m *model) { m.set("llama.attention.layer_norm_rms_epsilon", nan) }, "not a finite number"},
		{"negative epsilon", set.Target, func(m *model) { m.set("llama.attention.layer_norm_rms_epsilon", float32(-1e-5)) }, "eps >= 0"},
		{"rope scaling", set.Target, func(m *model) { m.set("llama.rope.scaling.type", "foo") }, "none, linear, yarn or longrope"},
		{"duplicate token", set.Target, func(m *model) {
			toks := slices.Clone(m.kvStrings("tokenizer.ggml.tokens"))
			toks[400] = toks[300]
			m.set("tokenizer.ggml.tokens", toks)
		}, "tokens 300 and 400 have the same text"},
		{"no tokenizer", set.Target, func(m *model) { m.set("tokenizer.ggml.model", "none") }, "no tokenizer"},
		{"SPM without byte tokens", set.Target, func(m *model) { m.set("tokenizer.ggml.model", "llama") }, "byte-fallback tokens"},
		{"F16 norm", set.Target, func(m *model) {
			n := m.tensor("blk.0.attn_norm.weight")
			vals, _ := gguf.Decode(n.Type, n.Data)
			n.Type, n.Data = gguf.TypeF16, must(gguf.Encode(gguf.TypeF16, vals))
		}, "must be F32"},
		{"NaN norm", set.Target, func(m *model) {
			n := m.tensor("output_norm.weight")
			vals, _ := gguf.Decode(n.Type, n.Data)
			vals[5] = nan
			n.Data = must(gguf.Encode(n.Type, vals))
		}, "element 5 is NaN"},
		{"F16 ssm_a", set.Recurrent, func(m *model) {
			n := m.tensor("blk.1.ssm_a")
			vals, _ := gguf.Decode(n.Type, n.Data)
			n.Type, n.Data = gguf.TypeF16, must(gguf.Encode(gguf.TypeF16, vals))
		}, "must be F32"},
		{"attention interval 0", set.Hybrid, func(m *model) { m.set("qwen35.full_attention_interval", uint32(0)) }, "divides by it"},
		{"DeltaNet inner size", set.Hybrid, func(m *model) { m.set("qwen35.ssm.inner_size", uint32(2)) }, "value heads of"},
		{"rope sections", set.Hybrid, func(m *model) { m.set("qwen35.rope.dimension_sections", []int32{1 << 20, 0, 0, 0}) }, "sect_dims"},
		{"DeltaNet without projections", set.Hybrid, func(m *model) {
			m.tensors = slices.DeleteFunc(m.tensors, func(t gguf.Tensor) bool { return t.Name == "blk.0.attn_qkv.weight" })
		}, "null tensor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := load(t, tt.path)
			if fs := check(t, m); len(fs) != 0 {
				t.Fatalf("the good model has findings: %v", fs)
			}
			tt.breakIt(&m)
			fs := check(t, m)
			if !slices.ContainsFunc(fs, func(f modelcheck.Finding) bool { return strings.Contains(f.String(), tt.want) }) {
				t.Fatalf("findings %v lack %q", fs, tt.want)
			}
			for _, f := range fs {
				if len(f.String()) > 400 {
					t.Errorf("a finding of %d bytes: %.100s…", len(f.String()), f)
				}
			}
		})
	}
}

func (m *model) kvStrings(key string) []string {
	for _, kv := range m.kv {
		if kv.Key == key {
			return kv.Value.([]string)
		}
	}
	return nil
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestNoFalseAlarms: llama.cpp's own test vocabularies and the shipped
// models have no findings.
func TestNoFalseAlarms(t *testing.T) {
	var paths []string
	for _, glob := range []string{"../../../shared/vocabs/*.gguf", "../../models/*.gguf"} {
		m, _ := filepath.Glob(glob)
		paths = append(paths, m...)
	}
	if len(paths) < 3 {
		t.Skipf("found only %d models", len(paths))
	}
	for _, p := range paths {
		f, err := gguf.Open(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		r, _ := os.Open(p)
		if fs := modelcheck.Check(f, r); len(fs) > 0 {
			t.Errorf("%s: %v", filepath.Base(p), fs)
		}
		r.Close()
	}
}

// Long names and values are quoted short (gguf.Quote, which the findings
// use).
func TestQuote(t *testing.T) {
	long := strings.Repeat("x", 380_000)
	if q := gguf.Quote(long); len(q) > 50 {
		t.Errorf("Quote of %d bytes gave %d", len(long), len(q))
	}
}
