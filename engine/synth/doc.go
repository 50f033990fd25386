// Package synth makes small deterministic GGUF models for tests and
// benchmarks, since no model can be downloaded where speclab is tested.
//
// [WriteSet] writes a set of five models from a seed: a "llama" target, a
// smaller draft sharing its tokenizer, a draft-sized model whose vocabulary
// llama.cpp rejects for speculation with that target, a "mamba" model
// whose recurrent memory cannot drop a tail, and a "qwen35" hybrid (Gated
// DeltaNet and attention layers) whose memory is part of each. Their tokenizers are byte-level
// BPE vocabularies (package bpe) trained on a corpus built into this
// package; their weights come from a seeded PCG generator, scaled so logits
// are finite and spread out, and the random models' greedy output varies.
// The same options always give the same bytes.
//
// This package owns the synthetic models only. It must not load libllama,
// touch the network, or write anywhere but the paths it is given.
package synth
