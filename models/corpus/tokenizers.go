package corpus

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/speclab/speclab/engine/bpe"
)

// Vocabulary sizes of the two tokenizers. They are equal on purpose: the
// mismatched draft is refused for its token texts, not its size.
const (
	MainVocab  = 8192
	OtherVocab = 8192
)

// OtherPrefix selects the training files the other tokenizer learns from:
// those below cmd/ (the toolchain), a different slice of the same corpus,
// so that its merges, and so its token texts, differ from the main one's.
const OtherPrefix = "cmd/"

// TrainMain trains the tokenizer of the target and the matched draft: a
// MainVocab-token byte-level BPE learned from the training part.
func TrainMain(files []File) (*bpe.Tokenizer, error) {
	tok, err := bpe.Train(Texts(files, Train), MainVocab)
	if err != nil {
		return nil, fmt.Errorf("corpus: train main tokenizer: %w", err)
	}
	return tok, nil
}

// TrainOther trains the mismatched draft's tokenizer: an OtherVocab-token
// BPE learned from the training files below OtherPrefix only.
func TrainOther(files []File) (*bpe.Tokenizer, error) {
	var texts []string
	for _, f := range files {
		if f.Part == Train && strings.HasPrefix(f.Rel, OtherPrefix) {
			texts = append(texts, f.Text)
		}
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("corpus: no training files below %s for the other tokenizer", OtherPrefix)
	}
	tok, err := bpe.Train(texts, OtherVocab)
	if err != nil {
		return nil, fmt.Errorf("corpus: train other tokenizer: %w", err)
	}
	return tok, nil
}

// tokenizerFile is the JSON form of a tokenizer.
type tokenizerFile struct {
	Tokens        []string `json:"tokens"`
	Types         []int32  `json:"types"`
	Merges        []string `json:"merges"`
	BOS, EOS, PAD int32
	AddBOS        bool `json:"add_bos"`
}

// SaveTokenizer writes tok to path as JSON.
func SaveTokenizer(path string, tok *bpe.Tokenizer) error {
	b, err := json.Marshal(tokenizerFile{tok.Tokens, tok.Types, tok.Merges, tok.BOS, tok.EOS, tok.PAD, tok.AddBOS})
	if err != nil {
		return fmt.Errorf("save tokenizer %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("save tokenizer: %w", err)
	}
	return nil
}

// LoadTokenizer reads a tokenizer written by SaveTokenizer.
func LoadTokenizer(path string) (*bpe.Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	var f tokenizerFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
	}
	tok, err := bpe.New(f.Tokens, f.Types, f.Merges, f.BOS, f.EOS, f.PAD, f.AddBOS)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
	}
	return tok, nil
}
