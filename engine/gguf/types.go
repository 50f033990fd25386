package gguf

import (
	"fmt"
	"math/bits"
)

// Type is a ggml tensor type id, as stored in a GGUF tensor info.
type Type uint32

// The ggml tensor types of the pinned build (ggml/include/ggml.h). Ids 4, 5,
// 31–33 and 36–38 belonged to removed types and are not valid in a file.
const (
	TypeF32     Type = 0
	TypeF16     Type = 1
	TypeQ4_0    Type = 2
	TypeQ4_1    Type = 3
	TypeQ5_0    Type = 6
	TypeQ5_1    Type = 7
	TypeQ8_0    Type = 8
	TypeQ8_1    Type = 9
	TypeQ2_K    Type = 10
	TypeQ3_K    Type = 11
	TypeQ4_K    Type = 12
	TypeQ5_K    Type = 13
	TypeQ6_K    Type = 14
	TypeQ8_K    Type = 15
	TypeIQ2_XXS Type = 16
	TypeIQ2_XS  Type = 17
	TypeIQ3_XXS Type = 18
	TypeIQ1_S   Type = 19
	TypeIQ4_NL  Type = 20
	TypeIQ3_S   Type = 21
	TypeIQ2_S   Type = 22
	TypeIQ4_XS  Type = 23
	TypeI8      Type = 24
	TypeI16     Type = 25
	TypeI32     Type = 26
	TypeI64     Type = 27
	TypeF64     Type = 28
	TypeIQ1_M   Type = 29
	TypeBF16    Type = 30
	TypeTQ1_0   Type = 34
	TypeTQ2_0   Type = 35
	TypeMXFP4   Type = 39 // 32 values in 17 bytes: E8M0 scale + 16 bytes of E2M1 nibbles
	TypeNVFP4   Type = 40 // 64 values in 36 bytes: 4 UE4M3 scales + 32 bytes of E2M1 nibbles
	TypeQ1_0    Type = 41
	TypeQ2_0    Type = 42
)

type typeTraits struct {
	name  string
	elems uint64 // values per block
	bytes uint64 // bytes per block
}

// traits are ggml's type_traits (ggml/src/ggml.c) for the types a GGUF file
// may hold; the block sizes were checked against sizeof(block_*) of
// ggml-common.h.
var traits = [...]typeTraits{
	TypeF32:     {"F32", 1, 4},
	TypeF16:     {"F16", 1, 2},
	TypeQ4_0:    {"Q4_0", 32, 18},
	TypeQ4_1:    {"Q4_1", 32, 20},
	TypeQ5_0:    {"Q5_0", 32, 22},
	TypeQ5_1:    {"Q5_1", 32, 24},
	TypeQ8_0:    {"Q8_0", 32, 34},
	TypeQ8_1:    {"Q8_1", 32, 36},
	TypeQ2_K:    {"Q2_K", 256, 84},
	TypeQ3_K:    {"Q3_K", 256, 110},
	TypeQ4_K:    {"Q4_K", 256, 144},
	TypeQ5_K:    {"Q5_K", 256, 176},
	TypeQ6_K:    {"Q6_K", 256, 210},
	TypeQ8_K:    {"Q8_K", 256, 292},
	TypeIQ2_XXS: {"IQ2_XXS", 256, 66},
	TypeIQ2_XS:  {"IQ2_XS", 256, 74},
	TypeIQ3_XXS: {"IQ3_XXS", 256, 98},
	TypeIQ1_S:   {"IQ1_S", 256, 50},
	TypeIQ4_NL:  {"IQ4_NL", 32, 18},
	TypeIQ3_S:   {"IQ3_S", 256, 110},
	TypeIQ2_S:   {"IQ2_S", 256, 82},
	TypeIQ4_XS:  {"IQ4_XS", 256, 136},
	TypeI8:      {"I8", 1, 1},
	TypeI16:     {"I16", 1, 2},
	TypeI32:     {"I32", 1, 4},
	TypeI64:     {"I64", 1, 8},
	TypeF64:     {"F64", 1, 8},
	TypeIQ1_M:   {"IQ1_M", 256, 56},
	TypeBF16:    {"BF16", 1, 2},
	TypeTQ1_0:   {"TQ1_0", 256, 54},
	TypeTQ2_0:   {"TQ2_0", 256, 66},
	TypeMXFP4:   {"MXFP4", 32, 17},
	TypeNVFP4:   {"NVFP4", 64, 36},
	TypeQ1_0:    {"Q1_0", 128, 18},
	TypeQ2_0:    {"Q2_0", 64, 18},
}

// TypeTable says what tensor types a ggml build knows: a type's name and
// block size. The engine hands in the loaded libllama's own (its ggml's type
// traits), so that a model quantized with a type newer than speclab, or with
// a fork's own type, is sized as the library that will load it sizes it; and
// a type the library does not know is refused here instead of aborting it.
type TypeTable interface {
	// TypeInfo returns the type's name, values per block and bytes per
	// block; ok is false for an id the build does not know.
	TypeInfo(t Type) (name string, elems, bytes uint64, ok bool)
	// Describe names the table in messages, e.g. "this libllama's ggml
	// (ids 0..42)".
	Describe() string
}

// Builtin is speclab's own table of the pinned ggml build.
var Builtin TypeTable = builtin{}

type builtin struct{}

func (builtin) TypeInfo(t Type) (string, uint64, uint64, bool) {
	tr, ok := t.traits()
	return tr.name, tr.elems, tr.bytes, ok
}

func (builtin) Describe() string { return "speclab's table of the pinned ggml" }

// MaxDims is the largest number of dimensions a tensor may have (GGML_MAX_DIMS).
const MaxDims = 4

// MaxNameLen is the longest tensor name ggml accepts, in bytes (GGML_MAX_NAME - 1).
const MaxNameLen = 63

func (t Type) traits() (typeTraits, bool) {
	if uint64(t) >= uint64(len(traits)) || traits[t].elems == 0 {
		return typeTraits{}, false
	}
	return traits[t], true
}

// removed reports whether t is an id ggml once used and removed (4, 5,
// 31–33, 36–38): no build reads it.
func (t Type) removed() bool { return uint64(t) < uint64(len(traits)) && traits[t].elems == 0 }

// Valid reports whether t is a tensor type of the pinned ggml build.
func (t Type) Valid() bool {
	_, ok := t.traits()
	return ok
}

// String returns the type's name as gguf-py spells it ("F32", "Q8_0",
// "MXFP4"), or "type(N)" for an unknown id.
func (t Type) String() string {
	if tr, ok := t.traits(); ok {
		return tr.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize returns the number of values in one block of type t and the
// number of bytes the block takes. ok is false for an unknown type.
func (t Type) BlockSize() (elems, bytes uint64, ok bool) {
	tr, ok := t.traits()
	return tr.elems, tr.bytes, ok
}

// Types returns every valid tensor type, in id order.
func Types() []Type {
	var ts []Type
	for i := range traits {
		if Type(i).Valid() {
			ts = append(ts, Type(i))
		}
	}
	return ts
}

// Elements returns the number of values in a tensor of the given shape. It
// fails when the shape has no or more than MaxDims dimensions, a dimension is
// zero or the product does not fit in an int64, as in ggml.
func Elements(shape []uint64) (uint64, error) {
	if len(shape) == 0 || len(shape) > MaxDims {
		return 0, fmt.Errorf("shape %v has %d dimensions, want 1 to %d", shape, len(shape), MaxDims)
	}
	n := uint64(1)
	for i, d := range shape {
		if d == 0 {
			return 0, fmt.Errorf("shape %v: dimension %d is zero", shape, i)
		}
		hi, lo := bits.Mul64(n, d)
		if hi != 0 || lo > 1<<63-1 {
			return 0, fmt.Errorf("shape %v: element count overflows int64", shape)
		}
		n = lo
	}
	return n, nil
}

// TensorBytes returns the size in bytes of a tensor of type t and the given
// shape. shape[0] (the contiguous dimension) must be a multiple of the type's
// block size; overflow is an error, never a wrapped size.
func TensorBytes(t Type, shape []uint64) (uint64, error) {
	return tensorBytes(Builtin, t, shape)
}

func tensorBytes(table TypeTable, t Type, shape []uint64) (uint64, error) {
	name, elems, bytes, ok := table.TypeInfo(t)
	if !ok || elems == 0 {
		return 0, fmt.Errorf("unknown tensor type id %d", uint32(t))
	}
	tr := typeTraits{name, elems, bytes}
	n, err := Elements(shape)
	if err != nil {
		return 0, err
	}
	if shape[0]%tr.elems != 0 {
		return 0, fmt.Errorf("shape %v: %d values per row is not a multiple of the %s block size %d", shape, shape[0], tr.name, tr.elems)
	}
	hi, lo := bits.Mul64(n/tr.elems, tr.bytes)
	if hi != 0 || lo > 1<<63-1 {
		return 0, fmt.Errorf("shape %v of type %s: size in bytes overflows int64", shape, tr.name)
	}
	return lo, nil
}
