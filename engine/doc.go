// Package engine drives llama.cpp in-process through its C API, with purego
// and without cgo.
//
// It owns the binding to one libllama shared library per process: finding it
// (through package llamalib), the ABI guard, loading the ggml backends that
// sit beside it, and routing llama.cpp's log into log/slog.
//
// The ABI guard drives a build through its own llama.h: the layouts and
// prototypes come from the table of known releases (package releases; the
// library is identified by llama_version or its exported functions) or from
// a llama.h handed in or found in the build tree (package llamah). Bound
// functions are checked against the header's prototypes; the parameter
// structs are byte buffers filled by field name at the header's offsets
// (abi.go) and passed by value through purego.SyscallN; the library's own
// default-parameter structs are probed against the layout before any is
// passed to it. What differs between releases is a named Capability.
//
// On top of the binding it offers the few concrete types a
// speculative-decoding driver needs:
//
//   - Lib: the loaded library, its release, capabilities, backends, devices
//     and tensor type table;
//   - Model: a GGUF model (validated in Go before libllama ever sees the
//     file: its structure by package gguf, what libllama would abort on by
//     package modelcheck), its metadata and its vocabulary: tokenize,
//     detokenize, token pieces;
//   - Context: an inference context: batched decode with logits requested for
//     chosen positions, zero-copy logits, KV tail removal, sequence state
//     save and restore, checkpoints (partial for hybrid models), perf
//     counters.
//
// The engine knows nothing of speculation: verification, proposers and
// experiments live in packages spec, drafts and experiments, which use the
// engine through these types. It must not grow policy of its own.
//
// Memory returned by the library (logits) is valid only until the next call
// that changes the context; the methods that return it say so.
package engine
