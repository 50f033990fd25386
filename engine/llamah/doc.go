// Package llamah reads llama.h, the C header of llama.cpp, and computes the
// System V x86-64 layout of what it declares.
//
// It owns the subset of C that llama.h is written in: struct, union and enum
// definitions, typedefs, function prototypes (with LLAMA_API and the
// DEPRECATED(...) wrapper), simple integer #defines and the declarator
// syntax of pointers, arrays and function pointers. From these it gives
// every struct's size, alignment and field offsets and every function's
// argument and return types, so that speclab can drive a libllama build it
// has never seen: parameter structs are filled by field name at the offsets
// the header implies, and a bound function whose prototype differs from the
// one speclab calls is refused.
//
// Names that llama.h takes from ggml.h (ggml_type, ggml_backend_dev_t and
// the like) are known here by kind only: enums are 4-byte ints, the _t
// handles and callbacks are pointers. Anything else the package does not
// understand is an error naming the line.
//
// The package is pure: it never loads a library and knows nothing of
// releases. The table of known releases (package engine/releases) and the
// engine's ABI check are built on it.
package llamah
