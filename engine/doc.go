// Package engine drives llama.cpp in-process through its C API, with purego
// and without cgo.
//
// It owns the binding to one libllama shared library per process: finding it
// (through package llamalib), refusing a build whose struct layouts it does not
// know (the ABI guard), loading the ggml backends that sit beside it, and
// routing llama.cpp's log into log/slog. On top of the binding it offers the
// few concrete types a speculative-decoding driver needs:
//
//   - Lib: the loaded library, its version, backends and devices;
//   - Model: a GGUF model (validated in Go by package gguf before libllama
//     ever sees the file), its metadata and its vocabulary: tokenize,
//     detokenize, token pieces;
//   - Context: an inference context: batched decode with logits requested for
//     chosen positions, zero-copy logits, KV tail removal, sequence state
//     save and restore, perf counters.
//
// The engine knows nothing of speculation: verification, proposers and
// experiments live in packages spec, drafts and experiments, which use the
// engine through these types. It must not grow policy of its own.
//
// Memory returned by the library (logits) is valid only until the next call
// that changes the context; the methods that return it say so.
package engine
