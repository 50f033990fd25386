// Package mutants makes semantically broken GGUF models from good ones,
// for the tests that check that no model makes speclab crash inside
// libllama: hyperparameters out of range or of the wrong type, vocabularies
// that contradict themselves, metadata that contradicts the tensors,
// tensors of the wrong type for their role, alignments, NaN and Inf
// weights, and combinations. Every mutant is still a structurally valid
// GGUF file (package gguf reads it); what is wrong is what it means.
//
// It owns the mutations only. It must not load libllama; it is imported by
// tests alone.
package mutants

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"

	"github.com/speclab/speclab/engine/gguf"
)

// Base is a good model, read whole.
type Base struct {
	Name    string
	KV      []gguf.KV
	Tensors []gguf.Tensor
}

// Read loads the model at path.
func Read(path, name string) (Base, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return Base{}, err
	}
	r, err := os.Open(path)
	if err != nil {
		return Base{}, err
	}
	defer r.Close()
	b := Base{Name: name, KV: slices.Clone(f.KV)}
	for _, t := range f.Tensors {
		data, err := f.TensorData(r, t)
		if err != nil {
			return Base{}, fmt.Errorf("read %s: %w", path, err)
		}
		b.Tensors = append(b.Tensors, gguf.Tensor{Name: t.Name, Shape: slices.Clone(t.Shape), Type: t.Type, Data: data})
	}
	return b, nil
}

// Mutant is a broken model: what was done, and the file's content.
type Mutant struct {
	Name     string // base/category/detail
	Category string
	KV       []gguf.KV
	Tensors  []gguf.Tensor
}

// Write writes the mutant.
func (m *Mutant) Write(path string) error { return gguf.WriteFile(path, m.KV, m.Tensors) }

// Categories of mutation, in the order Generate cycles through them.
var Categories = []string{
	"hparam-value", "hparam-type", "key-removed", "vocab-duplicate", "vocab-empty-text",
	"vocab-token-type", "vocab-special-id", "vocab-model", "vocab-pre", "vocab-merges",
	"vocab-list-length", "vocab-size", "tensor-removed", "tensor-renamed", "tensor-shape",
	"tensor-type", "alignment", "nan-weights", "architecture", "layer-count", "arch-specific",
	"combined",
}

// Generate makes n mutants of the bases, cycling through the categories
// and the bases; the same arguments give the same mutants.
func Generate(bases []Base, n int, seed uint64) []Mutant {
	var out []Mutant
	for i := 0; len(out) < n && i < 50*n; i++ {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		b := bases[i%len(bases)]
		cat := Categories[(i/len(bases))%len(Categories)]
		m, ok := mutate(b, cat, rng)
		if !ok {
			continue
		}
		m.Name = fmt.Sprintf("%04d-%s/%s", len(out), b.Name, m.Name)
		m.Category = cat
		out = append(out, m)
	}
	return out
}

// One makes a mutant of b in category cat (an index into Categories,
// wrapped) from seed; ok is false when the mutation does not apply.
func One(b Base, cat int, seed uint64) (Mutant, bool) {
	c := Categories[cat%len(Categories)]
	m, ok := mutate(b, c, rand.New(rand.NewPCG(seed, uint64(cat))))
	m.Category = c
	return m, ok
}

func clone(b Base) Mutant {
	m := Mutant{KV: make([]gguf.KV, len(b.KV)), Tensors: make([]gguf.Tensor, len(b.Tensors))}
	for i, kv := range b.KV {
		m.KV[i] = gguf.KV{Key: kv.Key, Value: cloneValue(kv.Value)}
	}
	for i, t := range b.Tensors {
		m.Tensors[i] = gguf.Tensor{Name: t.Name, Shape: slices.Clone(t.Shape), Type: t.Type, Data: t.Data} // data copied on write
	}
	return m
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case []string:
		return slices.Clone(x)
	case []float32:
		return slices.Clone(x)
	case []int32:
		return slices.Clone(x)
	case []uint32:
		return slices.Clone(x)
	}
	return v
}

func (m *Mutant) find(key string) int {
	return slices.IndexFunc(m.KV, func(kv gguf.KV) bool { return kv.Key == key })
}

func (m *Mutant) set(key string, v any) {
	if i := m.find(key); i >= 0 {
		m.KV[i].Value = v
		return
	}
	m.KV = append(m.KV, gguf.KV{Key: key, Value: v})
}

func (m *Mutant) arch() string {
	if i := m.find("general.architecture"); i >= 0 {
		s, _ := m.KV[i].Value.(string)
		return s
	}
	return ""
}

// archKeys are the indexes of the numeric <arch>.* keys.
func (m *Mutant) archKeys() []int {
	var out []int
	prefix := m.arch() + "."
	for i, kv := range m.KV {
		if !strings.HasPrefix(kv.Key, prefix) {
			continue
		}
		switch kv.Value.(type) {
		case uint32, int32, uint64, float32, []int32, []uint32:
			out = append(out, i)
		}
	}
	return out
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

var intValues = []uint64{0, 1, 2, 3, 7, 1 << 16, 1<<31 - 1, 1 << 31, 1<<32 - 1}

func mutate(b Base, cat string, rng *rand.Rand) (Mutant, bool) {
	m := clone(b)
	if strings.HasPrefix(cat, "tensor-") || cat == "nan-weights" {
		if len(m.Tensors) == 0 {
			return m, false
		}
	}
	switch cat {
	case "hparam-value":
		keys := m.archKeys()
		if len(keys) == 0 {
			return m, false
		}
		i := pick(rng, keys)
		kv := &m.KV[i]
		switch v := kv.Value.(type) {
		case uint32:
			n := pick(rng, append(slices.Clone(intValues), uint64(v)*2, uint64(v)+1, uint64(v)-1))
			kv.Value = uint32(n)
			m.Name = fmt.Sprintf("hparam-value/%s=%d", kv.Key, uint32(n))
		case int32:
			n := pick(rng, []int32{0, -1, -1 << 31, 1<<31 - 1, v * 2})
			kv.Value = n
			m.Name = fmt.Sprintf("hparam-value/%s=%d", kv.Key, n)
		case uint64:
			kv.Value = pick(rng, intValues)
			m.Name = fmt.Sprintf("hparam-value/%s=%d", kv.Key, kv.Value)
		case float32:
			f := pick(rng, []float32{0, -1, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e30, -v, 1e-30})
			kv.Value = f
			m.Name = fmt.Sprintf("hparam-value/%s=%g", kv.Key, f)
		case []int32:
			s := slices.Clone(v)
			if len(s) > 0 {
				s[rng.IntN(len(s))] = pick(rng, []int32{-1, 0, 1 << 20, -1 << 31})
			}
			if rng.IntN(2) == 0 && len(s) > 1 {
				s = s[:len(s)-1]
			}
			kv.Value = s
			m.Name = fmt.Sprintf("hparam-value/%s=%v", kv.Key, s)
		case []uint32:
			s := slices.Clone(v)
			if len(s) > 0 {
				s[rng.IntN(len(s))] = uint32(pick(rng, intValues))
			}
			kv.Value = s
			m.Name = fmt.Sprintf("hparam-value/%s=%v", kv.Key, s)
		}
	case "hparam-type":
		keys := m.archKeys()
		if len(keys) == 0 {
			return m, false
		}
		kv := &m.KV[pick(rng, keys)]
		kv.Value = pick(rng, []any{"seven", float32(2.5), int8(-3), []uint32{1, 2, 3}, []string{"a"}, true, uint64(1 << 40), []int32{}})
		m.Name = fmt.Sprintf("hparam-type/%s=%T", kv.Key, kv.Value)
	case "key-removed":
		var cands []int
		for i, kv := range m.KV {
			if kv.Key != "general.architecture" {
				cands = append(cands, i)
			}
		}
		if len(cands) == 0 {
			return m, false
		}
		i := pick(rng, cands)
		m.Name = "key-removed/" + m.KV[i].Key
		m.KV = slices.Delete(m.KV, i, i+1)
	case "vocab-duplicate", "vocab-empty-text":
		toks, ok := m.strings("tokenizer.ggml.tokens")
		if !ok || len(toks) < 2 {
			return m, false
		}
		i, j := rng.IntN(len(toks)), rng.IntN(len(toks))
		if i == j {
			j = (i + 1) % len(toks)
		}
		if cat == "vocab-duplicate" {
			toks[j] = toks[i]
			m.Name = fmt.Sprintf("vocab-duplicate/%d=%d", j, i)
		} else {
			toks[j] = ""
			m.Name = fmt.Sprintf("vocab-empty-text/%d", j)
		}
	case "vocab-token-type":
		i := m.find("tokenizer.ggml.token_type")
		if i < 0 {
			return m, false
		}
		tt, ok := m.KV[i].Value.([]int32)
		if !ok || len(tt) == 0 {
			return m, false
		}
		j := rng.IntN(len(tt))
		tt[j] = pick(rng, []int32{0, -1, 7, 99, 1 << 20})
		m.Name = fmt.Sprintf("vocab-token-type/%d=%d", j, tt[j])
	case "vocab-special-id":
		toks, _ := m.strings("tokenizer.ggml.tokens")
		key := pick(rng, []string{"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
			"tokenizer.ggml.padding_token_id", "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.eot_token_id"})
		v := pick(rng, []uint32{uint32(len(toks)), uint32(len(toks)) + 1000, 1<<31 - 1, 1<<32 - 1, 1 << 31})
		m.set(key, v)
		m.Name = fmt.Sprintf("vocab-special-id/%s=%d", key, v)
	case "vocab-model":
		v := pick(rng, []string{"llama", "bert", "t5", "rwkv", "plamo2", "ugm", "none", "no_vocab", "", "foo"})
		m.set("tokenizer.ggml.model", v)
		m.Name = "vocab-model/" + v
	case "vocab-pre":
		v := pick(rng, []string{"", "foo", "qwen2", "llama3", "deepseek-llm", "gpt-4o", "chameleon", "tekken"})
		m.set("tokenizer.ggml.pre", v)
		m.Name = "vocab-pre/" + v
	case "vocab-merges":
		merges, ok := m.strings("tokenizer.ggml.merges")
		if !ok || len(merges) == 0 {
			return m, false
		}
		j := rng.IntN(len(merges))
		switch rng.IntN(5) {
		case 0:
			merges[j] = "nospace"
			m.Name = "vocab-merges/malformed"
		case 1:
			merges[j] = "\u00ff\u00fe\u00fd \u00fc\u00fb"
			m.Name = "vocab-merges/unknown-pieces"
		case 2:
			merges[j] = " "
			m.Name = "vocab-merges/blank"
		case 3:
			m.set("tokenizer.ggml.merges", []string{})
			m.Name = "vocab-merges/empty"
		default:
			merges[j] = merges[(j+1)%len(merges)]
			m.Name = "vocab-merges/duplicate"
		}
	case "vocab-list-length":
		key := pick(rng, []string{"tokenizer.ggml.token_type", "tokenizer.ggml.scores"})
		i := m.find(key)
		if i < 0 {
			return m, false
		}
		switch v := m.KV[i].Value.(type) {
		case []int32:
			m.KV[i].Value = v[:len(v)/2]
		case []float32:
			m.KV[i].Value = v[:len(v)/2]
		default:
			return m, false
		}
		m.Name = "vocab-list-length/" + key
	case "vocab-size":
		toks, ok := m.strings("tokenizer.ggml.tokens")
		if !ok {
			return m, false
		}
		if rng.IntN(2) == 0 {
			n := len(toks) / 2
			m.truncVocab(n)
			m.Name = fmt.Sprintf("vocab-size/%d-of-%d", n, len(toks))
		} else {
			m.set("tokenizer.ggml.tokens", []string{})
			m.truncVocab(0)
			m.Name = "vocab-size/empty"
		}
	case "tensor-removed":
		i := rng.IntN(len(m.Tensors))
		m.Name = "tensor-removed/" + m.Tensors[i].Name
		m.Tensors = slices.Delete(m.Tensors, i, i+1)
	case "tensor-renamed":
		i := rng.IntN(len(m.Tensors))
		old := m.Tensors[i].Name
		m.Tensors[i].Name = pick(rng, []string{"blk.99.attn_q.weight", "mystery.weight", old + ".x", "blk.0." + old})
		if slices.ContainsFunc(m.Tensors[:i], func(t gguf.Tensor) bool { return t.Name == m.Tensors[i].Name }) {
			return m, false
		}
		m.Name = "tensor-renamed/" + old
	case "tensor-shape":
		i := rng.IntN(len(m.Tensors))
		t := &m.Tensors[i]
		n := t.Shape
		switch {
		case len(n) == 2 && rng.IntN(2) == 0 && blockOK(t.Type, n[1]):
			t.Shape = []uint64{n[1], n[0]}
		case len(n) == 2 && blockOK(t.Type, n[0]*n[1]):
			t.Shape = []uint64{n[0] * n[1]}
		case len(n) == 1 && n[0]%2 == 0 && blockOK(t.Type, n[0]/2):
			t.Shape = []uint64{n[0] / 2, 2}
		default:
			return m, false
		}
		m.Name = fmt.Sprintf("tensor-shape/%s=%v", t.Name, t.Shape)
	case "tensor-type":
		i := rng.IntN(len(m.Tensors))
		t := &m.Tensors[i]
		vals, err := gguf.Decode(t.Type, t.Data)
		if err != nil {
			return m, false
		}
		to := pick(rng, []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeMXFP4})
		if to == t.Type || !blockOK(to, t.Shape[0]) {
			return m, false
		}
		data, err := gguf.Encode(to, vals)
		if err != nil {
			return m, false
		}
		t.Type, t.Data = to, data
		m.Name = fmt.Sprintf("tensor-type/%s=%v", t.Name, to)
	case "alignment":
		a := pick(rng, []uint32{1, 2, 4, 8, 16, 64, 256, 1 << 16})
		m.set(gguf.KeyAlignment, a)
		m.Name = fmt.Sprintf("alignment/%d", a)
	case "nan-weights":
		i := rng.IntN(len(m.Tensors))
		t := &m.Tensors[i]
		if t.Type != gguf.TypeF32 && t.Type != gguf.TypeF16 {
			return m, false
		}
		vals, err := gguf.Decode(t.Type, t.Data)
		if err != nil {
			return m, false
		}
		bad := pick(rng, []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))})
		if rng.IntN(2) == 0 {
			vals[rng.IntN(len(vals))] = bad
		} else {
			for j := range vals {
				vals[j] = bad
			}
		}
		t.Data, _ = gguf.Encode(t.Type, vals)
		m.Name = fmt.Sprintf("nan-weights/%s=%g", t.Name, bad)
	case "architecture":
		old := m.arch()
		to := pick(rng, []string{"llama", "mamba", "qwen35", "gpt2", "bert", "qwen2", "rwkv6", "t5", "unknown-arch", ""})
		if to == old {
			return m, false
		}
		m.set("general.architecture", to)
		if rng.IntN(2) == 0 { // rename the hyperparameters too
			for j := range m.KV {
				if strings.HasPrefix(m.KV[j].Key, old+".") {
					m.KV[j].Key = to + "." + strings.TrimPrefix(m.KV[j].Key, old+".")
				}
			}
		}
		m.Name = fmt.Sprintf("architecture/%s-as-%s", old, to)
	case "layer-count":
		key := m.arch() + ".block_count"
		i := m.find(key)
		if i < 0 {
			return m, false
		}
		n, ok := m.KV[i].Value.(uint32)
		if !ok {
			return m, false
		}
		d := pick(rng, []int{-1, 1, 100})
		if int(n)+d < 0 {
			return m, false
		}
		m.KV[i].Value = uint32(int(n) + d)
		m.Name = fmt.Sprintf("layer-count/%d", int(n)+d)
	case "arch-specific":
		a := m.arch()
		type kv struct {
			k string
			v any
		}
		cands := []kv{
			{a + ".attention.key_length", pick(rng, []uint32{0, 1, 3, 1 << 20})},
			{a + ".attention.value_length", pick(rng, []uint32{0, 5, 1 << 20})},
			{a + ".attention.head_count_kv", pick(rng, []any{uint32(0), uint32(3), []int32{1, 0}, []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9}})},
			{a + ".rope.dimension_count", pick(rng, []uint32{0, 1, 3, 1 << 16})},
			{a + ".expert_count", pick(rng, []uint32{1, 8, 1 << 20})},
			{a + ".expert_used_count", pick(rng, []uint32{1, 9, 1 << 20})},
			{a + ".attention.sliding_window", pick(rng, []uint32{0, 1, 1 << 31})},
			{a + ".full_attention_interval", pick(rng, []uint32{0, 1, 1 << 31})},
			{a + ".ssm.group_count", pick(rng, []uint32{0, 3, 1 << 20})},
			{a + ".ssm.conv_kernel", pick(rng, []uint32{0, 1, 1 << 20})},
			{a + ".ssm.inner_size", pick(rng, []uint32{0, 1, 1 << 24})},
			{a + ".ssm.time_step_rank", pick(rng, []uint32{0, 3, 1 << 20})},
			{a + ".rope.dimension_sections", pick(rng, []any{[]int32{-1, 0, 0, 0}, []int32{1 << 20, 0, 0, 0}, []int32{1}})},
			{a + ".attention.recurrent_layers", pick(rng, []any{[]bool{}, []int32{1}})},
			{a + ".rope.scaling.type", pick(rng, []string{"yarn", "linear", "foo"})},
			{a + ".rope.scaling.factor", pick(rng, []float32{0, -1, float32(math.NaN())})},
		}
		c := pick(rng, cands)
		if _, isBoolSlice := c.v.([]bool); isBoolSlice {
			c.v = []int32{}
		}
		m.set(c.k, c.v)
		m.Name = fmt.Sprintf("arch-specific/%s=%v", c.k, c.v)
	case "combined":
		first := pick(rng, Categories[:len(Categories)-1])
		m1, ok := mutate(b, first, rng)
		if !ok {
			return m, false
		}
		second := pick(rng, Categories[:len(Categories)-1])
		m2, ok := mutate(Base{Name: b.Name, KV: m1.KV, Tensors: m1.Tensors}, second, rng)
		if !ok {
			return m, false
		}
		m2.Name = "combined/" + m1.Name + "+" + m2.Name
		return m2, true
	}
	if m.Name == "" {
		m.Name = cat
	}
	if !strings.HasPrefix(m.Name, cat) {
		m.Name = cat + "/" + m.Name
	}
	return m, true
}

func (m *Mutant) strings(key string) ([]string, bool) {
	i := m.find(key)
	if i < 0 {
		return nil, false
	}
	s, ok := m.KV[i].Value.([]string)
	return s, ok
}

// truncVocab keeps the first n tokens, with their types and scores.
func (m *Mutant) truncVocab(n int) {
	for i := range m.KV {
		switch v := m.KV[i].Value.(type) {
		case []string:
			if m.KV[i].Key == "tokenizer.ggml.tokens" && len(v) > n {
				m.KV[i].Value = v[:n]
			}
		case []int32:
			if m.KV[i].Key == "tokenizer.ggml.token_type" && len(v) > n {
				m.KV[i].Value = v[:n]
			}
		case []float32:
			if m.KV[i].Key == "tokenizer.ggml.scores" && len(v) > n {
				m.KV[i].Value = v[:n]
			}
		}
	}
}

// blockOK reports whether rows of n elements fit type t's blocks.
func blockOK(t gguf.Type, n uint64) bool {
	switch t {
	case gguf.TypeF32, gguf.TypeF16:
		return true
	case gguf.TypeQ8_0, gguf.TypeMXFP4:
		return n%32 == 0
	}
	return false
}
