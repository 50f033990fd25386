package bpe

import (
	"fmt"

	"github.com/speclab/speclab/engine/gguf"
)

// GGUF metadata keys of a tokenizer.
const (
	KeyModel  = "tokenizer.ggml.model"
	KeyPre    = "tokenizer.ggml.pre"
	KeyTokens = "tokenizer.ggml.tokens"
	KeyTypes  = "tokenizer.ggml.token_type"
	KeyMerges = "tokenizer.ggml.merges"
	KeyBOS    = "tokenizer.ggml.bos_token_id"
	KeyEOS    = "tokenizer.ggml.eos_token_id"
	KeyPAD    = "tokenizer.ggml.padding_token_id"
	KeyAddBOS = "tokenizer.ggml.add_bos_token"
	KeyAddEOS = "tokenizer.ggml.add_eos_token"
)

// GGUFKV returns the metadata that makes libllama load t as a "gpt2"
// vocabulary with the "gpt-2" pre-tokenizer.
func (t *Tokenizer) GGUFKV() []gguf.KV {
	kv := []gguf.KV{
		{Key: KeyModel, Value: "gpt2"},
		{Key: KeyPre, Value: "gpt-2"},
		{Key: KeyTokens, Value: t.Tokens},
		{Key: KeyTypes, Value: t.Types},
		{Key: KeyMerges, Value: t.Merges},
	}
	for _, s := range []struct {
		key string
		id  int32
	}{{KeyBOS, t.BOS}, {KeyEOS, t.EOS}, {KeyPAD, t.PAD}} {
		if s.id != NoToken {
			kv = append(kv, gguf.KV{Key: s.key, Value: uint32(s.id)})
		}
	}
	return append(kv,
		gguf.KV{Key: KeyAddBOS, Value: t.AddBOS},
		gguf.KV{Key: KeyAddEOS, Value: false},
	)
}

// FromGGUF returns the tokenizer described by a model file's metadata. It
// accepts only what Encode reproduces: tokenizer.ggml.model "gpt2" with the
// pre-tokenizer "gpt-2" (or another name libllama maps to the same regex,
// such as "mpt").
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	model, _ := f.String(KeyModel)
	if model != "gpt2" {
		return nil, fmt.Errorf("bpe: tokenizer model is %q, want \"gpt2\"", model)
	}
	pre, _ := f.String(KeyPre)
	switch pre {
	case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
		"a.x-4.0", "mellum", "modern-bert", "mpt", "olmo", "jais", "trillion", "granite-docling":
	default:
		return nil, fmt.Errorf("bpe: pre-tokenizer %q is not the GPT-2 one", pre)
	}
	tokens, ok := f.Strings(KeyTokens)
	if !ok {
		return nil, fmt.Errorf("bpe: no %s array of strings", KeyTokens)
	}
	merges, ok := f.Strings(KeyMerges)
	if !ok {
		return nil, fmt.Errorf("bpe: no %s array of strings", KeyMerges)
	}
	types := make([]int32, len(tokens))
	if v, ok := f.Lookup(KeyTypes); ok {
		tt, ok := v.([]int32)
		if !ok || len(tt) < len(tokens) {
			return nil, fmt.Errorf("bpe: %s is not an int32 array of %d entries", KeyTypes, len(tokens))
		}
		copy(types, tt)
	} else {
		for i := range types {
			types[i] = TypeNormal
		}
	}
	id := func(key string, def int32) int32 {
		if v, ok := f.Uint(key); ok && v < uint64(len(tokens)) {
			return int32(v)
		}
		if def >= int32(len(tokens)) {
			return NoToken
		}
		return def
	}
	// libllama's defaults for gpt2 vocabularies: BOS = EOS = 11, no PAD.
	bos, eos, pad := id(KeyBOS, 11), id(KeyEOS, 11), id(KeyPAD, NoToken)
	addBOS := false
	if v, ok := f.Lookup(KeyAddBOS); ok {
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("bpe: %s is %T, want bool", KeyAddBOS, v)
		}
		addBOS = b
	}
	t, err := New(tokens, types, merges, bos, eos, pad, addBOS)
	if err != nil {
		return nil, fmt.Errorf("bpe: vocabulary in file: %w", err)
	}
	return t, nil
}
