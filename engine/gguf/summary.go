package gguf

import "sort"

// Tensor names with a special role in the memory traffic of one token.
const (
	TokenEmbdName = "token_embd.weight"
	OutputName    = "output.weight"
)

// TypeStat is the share of one tensor type in a model.
type TypeStat struct {
	Type     Type   `json:"type_id"`
	Name     string `json:"type"`    // as the type table that sized the file names it
	Unsized  bool   `json:"unsized"` // no table knew the type: Bytes is an upper bound
	Tensors  int    `json:"tensors"`
	Elements uint64 `json:"elements"`
	Bytes    uint64 `json:"bytes"`
}

// Summary describes the size and shape of a model, the basis of a roofline
// estimate.
type Summary struct {
	Architecture string     `json:"architecture"` // general.architecture
	Name         string     `json:"name"`         // general.name
	Params       uint64     `json:"params"`       // elements of all tensors
	TensorBytes  uint64     `json:"tensor_bytes"` // bytes of all tensor data
	ByType       []TypeStat `json:"by_type"`

	// BytesPerToken is the bytes of weights read to generate one token:
	// every tensor once, except token_embd.weight, of which only one row
	// per token is read, unless the model has no output.weight (tied
	// embeddings), in which case token_embd.weight is read whole as the
	// output matrix.
	BytesPerToken uint64 `json:"bytes_per_token"`

	// From <arch>.context_length, .embedding_length, .block_count,
	// .attention.head_count and .attention.head_count_kv when present; a
	// per-layer array counts as its largest element.
	ContextLength   uint64 `json:"context_length"`
	EmbeddingLength uint64 `json:"embedding_length"`
	BlockCount      uint64 `json:"block_count"`
	HeadCount       uint64 `json:"head_count"`
	HeadCountKV     uint64 `json:"head_count_kv"`

	// VocabSize is the length of tokenizer.ggml.tokens, else
	// <arch>.vocab_size, else the row count of token_embd.weight.
	VocabSize      uint64 `json:"vocab_size"`
	TokenizerModel string `json:"tokenizer_model"` // tokenizer.ggml.model
}

// Summarize computes the Summary of f from its header alone.
func (f *File) Summarize() Summary {
	s := Summary{Architecture: f.Architecture()}
	s.Name, _ = f.String("general.name")
	s.TokenizerModel, _ = f.String("tokenizer.ggml.model")

	stats := map[Type]*TypeStat{}
	_, tied := f.Tensor(OutputName)
	tied = !tied
	for _, t := range f.Tensors {
		n, _ := Elements(t.Shape) // validated by Read
		s.Params += n
		s.TensorBytes += t.Size
		st := stats[t.Type]
		if st == nil {
			st = &TypeStat{Type: t.Type, Name: t.TypeName, Unsized: t.Unsized}
			stats[t.Type] = st
		}
		st.Tensors++
		st.Elements += n
		st.Bytes += t.Size
		if t.Name == TokenEmbdName && !tied && len(t.Shape) > 1 {
			s.BytesPerToken += t.Size / (n / t.Shape[0]) // one row
		} else {
			s.BytesPerToken += t.Size
		}
	}
	for _, st := range stats {
		s.ByType = append(s.ByType, *st)
	}
	sort.Slice(s.ByType, func(i, j int) bool {
		a, b := s.ByType[i], s.ByType[j]
		if a.Bytes != b.Bytes {
			return a.Bytes > b.Bytes
		}
		return a.Type < b.Type
	})

	if a := s.Architecture; a != "" {
		s.ContextLength = f.maxUint(a + ".context_length")
		s.EmbeddingLength = f.maxUint(a + ".embedding_length")
		s.BlockCount = f.maxUint(a + ".block_count")
		s.HeadCount = f.maxUint(a + ".attention.head_count")
		s.HeadCountKV = f.maxUint(a + ".attention.head_count_kv")
	}
	if toks, ok := f.Strings("tokenizer.ggml.tokens"); ok {
		s.VocabSize = uint64(len(toks))
	} else if v := f.maxUint(s.Architecture + ".vocab_size"); v > 0 {
		s.VocabSize = v
	} else if t, ok := f.Tensor(TokenEmbdName); ok && len(t.Shape) > 1 {
		s.VocabSize = t.Shape[1]
	}
	return s
}

// maxUint returns an integer key's value, the largest element of an integer
// array key, or 0.
func (f *File) maxUint(key string) uint64 {
	if v, ok := f.Uint(key); ok {
		return v
	}
	v, _ := f.Lookup(key)
	var m uint64
	up := func(x uint64) {
		m = max(m, x)
	}
	switch a := v.(type) {
	case []uint8:
		for _, x := range a {
			up(uint64(x))
		}
	case []uint16:
		for _, x := range a {
			up(uint64(x))
		}
	case []uint32:
		for _, x := range a {
			up(uint64(x))
		}
	case []uint64:
		for _, x := range a {
			up(x)
		}
	case []int8:
		for _, x := range a {
			up(uint64(max(x, 0)))
		}
	case []int16:
		for _, x := range a {
			up(uint64(max(x, 0)))
		}
	case []int32:
		for _, x := range a {
			up(uint64(max(x, 0)))
		}
	case []int64:
		for _, x := range a {
			up(uint64(max(x, 0)))
		}
	}
	return m
}
