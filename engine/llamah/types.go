package llamah

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Kind is the kind of a C type.
type Kind int

// The kinds of C types llama.h uses.
const (
	Void    Kind = iota
	Int          // a signed integer of Size bytes
	Uint         // an unsigned integer of Size bytes
	Float        // float (4) or double (8)
	Bool         // bool / _Bool
	Pointer      // any object or function pointer
	Enum         // an enum: a 4-byte int
	Struct       // a struct or union (Record says which)
	Array        // Len elements of Elem
	Func         // a function type; only ever seen behind a Pointer or as a prototype
)

// Type is a C type with its System V x86-64 size and alignment.
type Type struct {
	Kind  Kind
	Name  string // the C spelling: "int32_t", "enum llama_vocab_type", "struct llama_batch"
	Size  int64
	Align int64
	Elem  *Type   // Pointer: the pointee; Array: the element
	Len   int64   // Array: the element count
	Rec   *Record // Struct: its definition; nil while incomplete (declared, not defined)
	Fn    *Signature
}

// ABI is the type's class in a call, the part of it that a caller and a
// callee must agree on: "i32", "u64", "f32", "f64", "bool", "ptr", "void"
// or "struct NAME". Enums are "i32"; pointers of every kind are "ptr".
func (t *Type) ABI() string {
	switch t.Kind {
	case Void:
		return "void"
	case Int:
		return fmt.Sprintf("i%d", t.Size*8)
	case Uint:
		return fmt.Sprintf("u%d", t.Size*8)
	case Float:
		return fmt.Sprintf("f%d", t.Size*8)
	case Bool:
		return "bool"
	case Pointer:
		return "ptr"
	case Enum:
		return "i32"
	case Struct:
		return t.Name
	case Array:
		return "ptr" // an array parameter decays to a pointer
	case Func:
		return "func"
	}
	return "?"
}

// Record is a struct or union definition with its layout.
type Record struct {
	Name   string // the tag; empty for an anonymous struct or union
	Union  bool
	Fields []Field
	Size   int64
	Align  int64
	Line   int // where it is defined
}

// Field is a member of a Record at its byte offset.
type Field struct {
	Name   string // empty for an anonymous struct or union member
	Type   *Type
	Offset int64
	Line   int
}

// Field returns the member called name, looking into anonymous struct and
// union members as C11 does, with its offset from the start of r.
func (r *Record) Field(name string) (Field, bool) {
	for _, f := range r.Fields {
		if f.Name == name {
			return f, true
		}
		if f.Name == "" && f.Type.Kind == Struct && f.Type.Rec != nil {
			if g, ok := f.Type.Rec.Field(name); ok {
				g.Offset += f.Offset
				return g, true
			}
		}
	}
	return Field{}, false
}

// String renders the layout, one field a line: "name @offset size type".
func (r *Record) String() string {
	var b strings.Builder
	kw := "struct"
	if r.Union {
		kw = "union"
	}
	fmt.Fprintf(&b, "%s %s: size %d, align %d\n", kw, r.Name, r.Size, r.Align)
	for _, f := range r.Fields {
		fmt.Fprintf(&b, "  %-28s @%-4d %3d  %s\n", f.Name, f.Offset, f.Type.Size, f.Type.Name)
	}
	return b.String()
}

// Signature is a function type: its result and parameters.
type Signature struct {
	Result   *Type
	Params   []Param
	Variadic bool
}

// Param is one parameter of a Signature; Name may be empty.
type Param struct {
	Name string
	Type *Type
}

// ABI renders the signature in ABI classes, "i32(ptr,struct llama_batch)":
// two functions with the same ABI string can be called the same way.
func (s *Signature) ABI() string {
	parts := make([]string, len(s.Params))
	for i, p := range s.Params {
		parts[i] = p.Type.ABI()
	}
	if s.Variadic {
		parts = append(parts, "...")
	}
	return s.Result.ABI() + "(" + strings.Join(parts, ",") + ")"
}

// Function is a prototype declared in the header.
type Function struct {
	Name       string
	Sig        *Signature
	Deprecated bool // wrapped in DEPRECATED(...)
	Line       int
}

// EnumDef is an enum definition.
type EnumDef struct {
	Name   string
	Values []Enumerator
	Line   int
}

// Enumerator is one named constant of an EnumDef.
type Enumerator struct {
	Name  string
	Value int64
}

// Value returns the value of the enumerator called name.
func (e *EnumDef) Value(name string) (int64, bool) {
	for _, v := range e.Values {
		if v.Name == name {
			return v.Value, true
		}
	}
	return 0, false
}

// builtin C types of System V x86-64, by their spelling after the parser
// has normalised multi-word names.
var builtins = map[string]Type{
	"void":               {Kind: Void, Size: 0, Align: 1},
	"char":               {Kind: Int, Size: 1, Align: 1},
	"signed char":        {Kind: Int, Size: 1, Align: 1},
	"unsigned char":      {Kind: Uint, Size: 1, Align: 1},
	"short":              {Kind: Int, Size: 2, Align: 2},
	"unsigned short":     {Kind: Uint, Size: 2, Align: 2},
	"int":                {Kind: Int, Size: 4, Align: 4},
	"unsigned int":       {Kind: Uint, Size: 4, Align: 4},
	"long":               {Kind: Int, Size: 8, Align: 8},
	"unsigned long":      {Kind: Uint, Size: 8, Align: 8},
	"long long":          {Kind: Int, Size: 8, Align: 8},
	"unsigned long long": {Kind: Uint, Size: 8, Align: 8},
	"float":              {Kind: Float, Size: 4, Align: 4},
	"double":             {Kind: Float, Size: 8, Align: 8},
	"bool":               {Kind: Bool, Size: 1, Align: 1},
	"_Bool":              {Kind: Bool, Size: 1, Align: 1},
	"int8_t":             {Kind: Int, Size: 1, Align: 1},
	"uint8_t":            {Kind: Uint, Size: 1, Align: 1},
	"int16_t":            {Kind: Int, Size: 2, Align: 2},
	"uint16_t":           {Kind: Uint, Size: 2, Align: 2},
	"int32_t":            {Kind: Int, Size: 4, Align: 4},
	"uint32_t":           {Kind: Uint, Size: 4, Align: 4},
	"int64_t":            {Kind: Int, Size: 8, Align: 8},
	"uint64_t":           {Kind: Uint, Size: 8, Align: 8},
	"size_t":             {Kind: Uint, Size: 8, Align: 8},
	"ssize_t":            {Kind: Int, Size: 8, Align: 8},
	"intptr_t":           {Kind: Int, Size: 8, Align: 8},
	"uintptr_t":          {Kind: Uint, Size: 8, Align: 8},
	"ptrdiff_t":          {Kind: Int, Size: 8, Align: 8},
}

// external types come from the headers llama.h includes (ggml.h,
// ggml-backend.h, ggml-opt.h, gguf.h, stdio.h). Only their kind matters:
// every one of them is a handle or a callback, passed as a pointer.
var externalPointers = map[string]bool{
	"ggml_backend_dev_t":               true,
	"ggml_backend_buffer_type_t":       true,
	"ggml_backend_buffer_t":            true,
	"ggml_backend_t":                   true,
	"ggml_backend_reg_t":               true,
	"ggml_backend_sched_eval_callback": true,
	"ggml_threadpool_t":                true,
	"ggml_log_callback":                true,
	"ggml_abort_callback":              true,
	"ggml_opt_dataset_t":               true,
	"ggml_opt_result_t":                true,
	"ggml_opt_epoch_callback":          true,
	"ggml_opt_get_optimizer_params":    true,
	"ggml_opt_context_t":               true,
}

// externalStructs are the types that llama.h only uses behind a pointer.
var externalStructs = map[string]bool{"FILE": true}

// externalConstants are the ggml.h constants that llama.h's enumerators
// name, with the values ggml has given them throughout 2026.
var externalConstants = map[string]int64{
	"GGML_ROPE_TYPE_NORMAL": 0,
	"GGML_ROPE_TYPE_NEOX":   2,
	"GGML_ROPE_TYPE_MROPE":  8,
	"GGML_ROPE_TYPE_VISION": 24,
	"GGML_ROPE_TYPE_IMROPE": 40,
	"GGML_TYPE_F32":         0,
	"GGML_TYPE_F16":         1,
}

// GGMLTypeCount reads GGML_TYPE_COUNT from the ggml.h that accompanies the
// llama.h at llamaH: beside it (an installed include/ folder) or at
// ../ggml/include/ggml.h (a llama.cpp source tree). It returns the count and
// the file it came from; 0 and "" when no ggml.h is found.
func GGMLTypeCount(llamaH string) (int, string) {
	dir := filepath.Dir(llamaH)
	for _, p := range []string{filepath.Join(dir, "ggml.h"), filepath.Join(dir, "..", "ggml", "include", "ggml.h")} {
		text, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if m := typeCountRE.FindSubmatch(text); m != nil {
			n, _ := strconv.Atoi(string(m[1]))
			return n, p
		}
	}
	return 0, ""
}

var typeCountRE = regexp.MustCompile(`GGML_TYPE_COUNT\s*=\s*(\d+)`)
