// Package gguf reads, validates and writes GGUF (version 2 and 3) model files,
// summarizes the model they hold, and converts float32 data to and from the
// ggml quantization formats that speclab writes itself (F16, Q8_0, MXFP4) and
// reads (NVFP4).
//
// The validation in [Read] and [Open] is deliberately thorough: libllama
// aborts or misbehaves on malformed files, so every file must pass through
// this package before it reaches libllama. Every problem is reported as an
// error that wraps one of the sentinel errors [ErrNotGGUF], [ErrVersion],
// [ErrTruncated] or [ErrCorrupt], and names the offset of the problem.
//
// The type ids, block sizes and codecs follow the ggml sources of the pinned
// llama.cpp build (ggml/include/ggml.h, ggml/src/ggml.c and
// ggml/src/ggml-quants.c); the codecs match ggml's reference code bit for bit.
//
// This package owns the GGUF file format only. It must not load libllama,
// touch the network, or know about tokenizers, sampling or speculative
// decoding beyond reading the metadata keys that describe them.
package gguf
