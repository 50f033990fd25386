// Package bpe trains and runs byte-level BPE tokenizers of the GPT-2 kind,
// byte for byte compatible with libllama's "gpt2" vocabulary with the
// "gpt-2" pre-tokenizer.
//
// A [Tokenizer] holds its vocabulary in the form GGUF files store it: every
// token's text is written in GPT-2's byte-to-unicode encoding (a space is
// "Ġ", a newline "Ċ"), merges are "left right" pairs in rank order, and
// [Tokenizer.GGUFKV] returns the tokenizer.ggml.* metadata a model file needs.
// [Train] learns a vocabulary from a corpus deterministically, so that the
// same corpus and size always give the same tokens and merges.
// [Tokenizer.Encode] reproduces llama_tokenize of a GGUF written from the
// tokenizer (no special tokens added or parsed), including llama.cpp's
// hand-written GPT-2 pre-tokenizer, its Unicode classes and its treatment of
// invalid UTF-8.
//
// This package owns tokenization only. It must not load libllama, read or
// write files, or know about model weights.
package bpe
