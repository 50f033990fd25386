// Package models owns speclab's default models, the GGUF files shipped in
// this folder: a target, a draft with the target's tokenizer, and a draft of
// the same size with its own tokenizer that llama.cpp's vocabulary rules
// refuse. It finds the folder and names the files and their metadata keys;
// it must not load models (package engine does) or change the files
// (models/export writes them; models/README.md says how they were made).
package models

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// File names of the shipped models inside Dir().
const (
	// Target: llama architecture, 26.5M parameters, block matrices MXFP4,
	// embeddings and output Q8_0, context 1024, 8192-token BPE.
	Target = "target.gguf"
	// Draft: llama architecture, 3.3M parameters, Q8_0, the target's
	// tokenizer, distilled from the target.
	Draft = "draft.gguf"
	// OtherVocabDraft: the draft's architecture with its own 8192-token
	// tokenizer; llama.cpp refuses it as a draft for Target by its
	// token-text rule.
	OtherVocabDraft = "draft-othervocab.gguf"
	// HybridTarget: qwen35 architecture (Qwen3.5: three Gated DeltaNet
	// layers and one gated attention layer), 13.0M parameters, block
	// matrices MXFP4, embeddings and output Q8_0, the target's tokenizer.
	// Its memory cannot drop a tail, like the seed's Qwen3.5-27B's.
	HybridTarget = "target-hybrid.gguf"
)

// EnvDir names the environment variable that overrides where Dir looks.
const EnvDir = "SPECLAB_MODELS"

// Metadata keys of speclab's own provenance in the shipped files (next to
// the general.* keys).
const (
	KeyRole        = "speclab.role"              // target, draft or draft-othervocab
	KeyGoVersion   = "speclab.corpus.go_version" // the Go release whose source is the corpus
	KeyHeldOut     = "speclab.corpus.held_out"   // held-out packages, comma-separated
	KeySeed        = "speclab.train.seed"
	KeyTrainDevice = "speclab.train.device"
	KeyRecipe      = "speclab.train.recipe"
	KeyEvalWindows = "speclab.eval.windows"       // held-out windows of 1024 tokens behind KeyPPLTorch
	KeyPPLTorch    = "speclab.eval.ppl_torch"     // PyTorch's perplexity on those windows
	KeyPPLTorchAll = "speclab.eval.ppl_torch_all" // PyTorch's perplexity on every held-out window
)

// Dir returns the folder that holds the shipped models: $SPECLAB_MODELS
// when set, else the first of ./models, ../models, ../../models (relative
// to the working directory) that holds Target, else this package's own
// folder when the source tree is present (tests, go run).
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		if err := check(d); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvDir, d, err)
		}
		return d, nil
	}
	for _, d := range []string{"models", filepath.Join("..", "models"), filepath.Join("..", "..", "models")} {
		if check(d) == nil {
			return filepath.Abs(d)
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		d := filepath.Dir(file)
		if check(d) == nil {
			return d, nil
		}
	}
	return "", errors.New("speclab's default models not found: run from the speclab repository or set " + EnvDir + " to the folder holding " + Target)
}

// Path returns the path of the shipped model file name (Target, Draft or
// OtherVocabDraft).
func Path(name string) (string, error) {
	d, err := Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, name), nil
}

func check(dir string) error {
	st, err := os.Stat(filepath.Join(dir, Target))
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file", filepath.Join(dir, Target))
	}
	return nil
}
