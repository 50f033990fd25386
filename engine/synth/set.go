package synth

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/speclab/speclab/engine/bpe"
	"github.com/speclab/speclab/engine/gguf"
)

// DefaultVocab is the vocabulary size of the synthetic target and draft.
const DefaultVocab = 768

// otherVocabExtra is how many more tokens the other vocabulary has: more
// than the 128 that llama.cpp's draft compatibility check tolerates.
const otherVocabExtra = 256

// Options choose a synthetic model set. The zero value is valid: seed 0,
// F32 weights, a 768-token vocabulary.
type Options struct {
	// Seed drives every random weight; the same Options always give the
	// same files, byte for byte, and different seeds different weights.
	// The tokenizers do not depend on it.
	Seed uint64
	// Type is the type of the 2-D weight matrices: gguf.TypeF32 (the zero
	// value), TypeF16, TypeQ8_0 or TypeMXFP4. Norms and small tensors stay
	// F32.
	Type gguf.Type
	// VocabSize is the vocabulary size of the target, draft and mamba
	// models, at least bpe.MinVocab; 0 means DefaultVocab. Sizes beyond
	// what the built-in corpus yields (about 1,400) are padded with
	// control tokens. The other vocabulary has VocabSize+256 tokens. For a
	// single large-vocabulary model (32k, 150k) that stays small, combine
	// Tokenizer with WriteLlama and DraftConfig instead: a 150k-token
	// draft-sized Q8_0 model is about 25 MB.
	VocabSize int
	// Overwrite lets WriteSet replace files that hold other models (a
	// trained model, another seed's). Without it WriteSet writes nothing
	// and returns an ErrExists error naming them. A file that already holds
	// exactly what would be written is never a conflict, and one that is
	// not a readable GGUF file (damaged, partial) is repaired.
	Overwrite bool
}

// ErrExists: WriteSet would overwrite files that hold something else.
var ErrExists = errors.New("would overwrite existing files")

// Set holds the paths of the files WriteSet writes.
type Set struct {
	// Target is a "llama" model: 4 layers, n_embd 128, 4 heads and 2
	// key/value heads (GQA), feed-forward 256, context 512.
	Target string
	// Draft is a smaller "llama" model with the target's tokenizer (2
	// layers, n_embd 64, 2 heads, 1 key/value head). Its embeddings are the
	// target's leading 64 dimensions, so its greedy choices often agree
	// with the target's.
	Draft string
	// OtherVocab is a draft-sized "llama" model whose tokenizer llama.cpp
	// rejects as a draft for Target (common_speculative_are_compatible):
	// its vocabulary has 256 more tokens (more than 128 apart) and it was
	// trained on a different part of the corpus, so token texts differ from
	// id 256 on.
	OtherVocab string
	// Recurrent is a "mamba" model with the target's tokenizer (2 layers,
	// n_embd 64): libllama reports it recurrent, and its memory cannot
	// drop a tail.
	Recurrent string
	// Hybrid is a "qwen35" model (Qwen3.5's Gated DeltaNet layers with one
	// gated attention layer in four) with the target's tokenizer: 4 layers,
	// n_embd 64. Its hybrid memory cannot drop a tail, but its attention
	// part can, so a checkpoint need hold only the recurrent part.
	Hybrid string
}

// Paths lists the set's files in the order WriteSet writes them.
func (s Set) Paths() []string {
	return []string{s.Target, s.Draft, s.OtherVocab, s.Recurrent, s.Hybrid}
}

// File names in the directory WriteSet writes.
const (
	TargetFile     = "target.gguf"
	DraftFile      = "draft.gguf"
	OtherVocabFile = "other-vocab.gguf"
	RecurrentFile  = "recurrent.gguf"
	HybridFile     = "hybrid.gguf"
)

// Tokenizer returns the tokenizer of the synthetic target, trained on the
// built-in corpus, with vocabSize tokens.
func Tokenizer(vocabSize int) (*bpe.Tokenizer, error) {
	return bpe.Train(mainCorpus(), vocabSize)
}

// OtherTokenizer returns the tokenizer of the OtherVocab model for a
// target vocabulary of vocabSize tokens.
func OtherTokenizer(vocabSize int) (*bpe.Tokenizer, error) {
	return bpe.Train(otherCorpus(), vocabSize+otherVocabExtra)
}

// TargetConfig is the configuration of Set.Target.
func TargetConfig(t gguf.Type) LlamaConfig {
	return LlamaConfig{Name: "speclab-synth-target", Embd: 128, Layers: 4, Heads: 4, HeadsKV: 2, FF: 256, Context: 512, Type: t, CoreEmbd: 64}
}

// DraftConfig is the configuration of Set.Draft and Set.OtherVocab.
func DraftConfig(t gguf.Type) LlamaConfig {
	return LlamaConfig{Name: "speclab-synth-draft", Embd: 64, Layers: 2, Heads: 2, HeadsKV: 1, FF: 128, Context: 512, Type: t}
}

// RecurrentModelConfig is the configuration of Set.Recurrent.
func RecurrentModelConfig(t gguf.Type) RecurrentConfig {
	return RecurrentConfig{Name: "speclab-synth-mamba", Embd: 64, Layers: 2, Context: 512, StateSize: 16, ConvKernel: 4, DTRank: 4, Type: t}
}

// HybridModelConfig is the configuration of Set.Hybrid.
func HybridModelConfig(t gguf.Type) HybridConfig {
	return HybridConfig{Name: "speclab-synth-qwen35", Embd: 64, Layers: 4, AttnInterval: 4, Heads: 2, HeadsKV: 1, FF: 128,
		Context: 512, StateSize: 16, KHeads: 2, VHeads: 2, ConvKernel: 4, Type: t}
}

// WriteSet writes the synthetic model set into dir (created if needed) and
// returns the paths. A file that already holds exactly the bytes WriteSet
// would write is left alone; any other is replaced atomically.
func WriteSet(dir string, opt Options) (Set, error) {
	vocab := opt.VocabSize
	if vocab == 0 {
		vocab = DefaultVocab
	}
	if vocab < bpe.MinVocab {
		return Set{}, fmt.Errorf("synthesize models: vocabulary size %d is below the minimum of %d", vocab, bpe.MinVocab)
	}
	if _, err := fileType(opt.Type); err != nil {
		return Set{}, fmt.Errorf("synthesize models: %w", err)
	}
	tok, err := Tokenizer(vocab)
	if err != nil {
		return Set{}, fmt.Errorf("synthesize models: %w", err)
	}
	other, err := OtherTokenizer(vocab)
	if err != nil {
		return Set{}, fmt.Errorf("synthesize models: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Set{}, fmt.Errorf("synthesize models: %w", err)
	}
	set := Set{
		Target:     filepath.Join(dir, TargetFile),
		Draft:      filepath.Join(dir, DraftFile),
		OtherVocab: filepath.Join(dir, OtherVocabFile),
		Recurrent:  filepath.Join(dir, RecurrentFile),
		Hybrid:     filepath.Join(dir, HybridFile),
	}
	otherCfg := DraftConfig(opt.Type)
	otherCfg.Name = "speclab-synth-other-vocab"
	files := []struct {
		path          string
		build         func() ([]gguf.KV, []gguf.Tensor, error)
		kv            []gguf.KV
		tensors       []gguf.Tensor
		encoded, same bool
	}{
		{path: set.Target, build: func() ([]gguf.KV, []gguf.Tensor, error) { return buildLlama(TargetConfig(opt.Type), tok, opt.Seed) }},
		{path: set.Draft, build: func() ([]gguf.KV, []gguf.Tensor, error) { return buildLlama(DraftConfig(opt.Type), tok, opt.Seed) }},
		{path: set.OtherVocab, build: func() ([]gguf.KV, []gguf.Tensor, error) { return buildLlama(otherCfg, other, opt.Seed) }},
		{path: set.Recurrent, build: func() ([]gguf.KV, []gguf.Tensor, error) {
			return buildMamba(RecurrentModelConfig(opt.Type), tok, opt.Seed)
		}},
		{path: set.Hybrid, build: func() ([]gguf.KV, []gguf.Tensor, error) {
			return buildHybrid(HybridModelConfig(opt.Type), tok, opt.Seed)
		}},
	}
	// Build everything and look at what is there before writing anything,
	// so that a conflict leaves every file as it was.
	var conflicts []string
	for i := range files {
		f := &files[i]
		if f.kv, f.tensors, err = f.build(); err != nil {
			return Set{}, fmt.Errorf("synthesize %s: %w", f.path, err)
		}
		same, exists, err := holds(f.path, f.kv, f.tensors)
		if err != nil {
			return Set{}, err
		}
		f.same = same
		if exists && !same {
			conflicts = append(conflicts, f.path)
		}
	}
	if len(conflicts) > 0 && !opt.Overwrite {
		return Set{}, fmt.Errorf("synthesize models: %w: %s (they hold other models; choose another folder or overwrite them explicitly)",
			ErrExists, strings.Join(conflicts, ", "))
	}
	for _, f := range files {
		if f.same {
			continue
		}
		if err := gguf.WriteFile(f.path, f.kv, f.tensors); err != nil {
			return Set{}, fmt.Errorf("synthesize: %w", err)
		}
	}
	return set, nil
}

// holds reports whether path holds a model (a readable GGUF file) and
// whether that is exactly the file kv and tensors encode. A damaged or
// partial file is not a model: it is repaired.
func holds(path string, kv []gguf.KV, tensors []gguf.Tensor) (same, model bool, err error) {
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("synthesize %s: %w", path, err)
	}
	if _, err := gguf.Read(bytes.NewReader(old), int64(len(old))); err != nil {
		return false, false, nil
	}
	var buf bytes.Buffer
	if err := gguf.Write(&buf, kv, tensors); err != nil {
		return false, true, fmt.Errorf("synthesize %s: %w", path, err)
	}
	return bytes.Equal(old, buf.Bytes()), true, nil
}

// writeFile writes a GGUF file unless path already holds the same bytes.
func writeFile(path string, kv []gguf.KV, tensors []gguf.Tensor) error {
	var buf bytes.Buffer
	if err := gguf.Write(&buf, kv, tensors); err != nil {
		return fmt.Errorf("synthesize %s: %w", path, err)
	}
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, buf.Bytes()) {
		return nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("synthesize %s: %w", path, err)
	}
	if err := gguf.WriteFile(path, kv, tensors); err != nil {
		return fmt.Errorf("synthesize: %w", err)
	}
	return nil
}
