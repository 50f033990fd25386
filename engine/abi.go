package engine

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"structs"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/speclab/speclab/engine/llamah"
	"github.com/speclab/speclab/engine/releases"
)

// The ABI guard. A libllama is driven through the struct layouts and
// function signatures of its own llama.h, taken from one of two places:
//
//   - the table of known releases (package releases), when the library is
//     identified by llama_version() or, for releases without it, by the
//     exact set of llama_* functions it exports;
//   - a llama.h handed in (--llama-h) or found beside the build
//     (include/llama.h above its bin/ or lib/ folder).
//
// Either way the default-parameter structs the library returns are then
// checked against the layout (the probe): nothing may be written past the
// struct's size and the fields must hold the known defaults. A library
// identified wrongly fails there instead of corrupting memory.

// cBatch is llama_batch (56 bytes), unchanged in every release of 2026; its
// layout is still checked against the header's (checkGoStruct). Its arrays
// live in C memory, allocated by llama_batch_init.
type cBatch struct {
	_       structs.HostLayout
	NTokens int32          // @0
	_       int32          // @4 padding
	Token   unsafe.Pointer // @8  int32[n]
	Embd    unsafe.Pointer // @16 float[n*embd]
	Pos     unsafe.Pointer // @24 int32[n]
	NSeqID  unsafe.Pointer // @32 int32[n]
	SeqID   unsafe.Pointer // @40 int32*[n]
	Logits  unsafe.Pointer // @48 int8[n]
}

// cPerfContextData is llama_perf_context_data (48 bytes), checked likewise.
type cPerfContextData struct {
	_        structs.HostLayout
	TStartMs float64 // @0
	TLoadMs  float64 // @8
	TPEvalMs float64 // @16
	TEvalMs  float64 // @24
	NPEval   int32   // @32
	NEval    int32   // @36
	NReused  int32   // @40
	_        int32
}

// goStructs are the Go mirrors of C structs, with the offset of each field
// by its C name.
var goStructs = map[string]struct {
	size   uintptr
	fields map[string]uintptr
}{
	"llama_batch": {unsafe.Sizeof(cBatch{}), map[string]uintptr{
		"n_tokens": unsafe.Offsetof(cBatch{}.NTokens), "token": unsafe.Offsetof(cBatch{}.Token),
		"embd": unsafe.Offsetof(cBatch{}.Embd), "pos": unsafe.Offsetof(cBatch{}.Pos),
		"n_seq_id": unsafe.Offsetof(cBatch{}.NSeqID), "seq_id": unsafe.Offsetof(cBatch{}.SeqID),
		"logits": unsafe.Offsetof(cBatch{}.Logits),
	}},
	"llama_token_data": {unsafe.Sizeof(cTokenData{}), map[string]uintptr{
		"id": unsafe.Offsetof(cTokenData{}.ID), "logit": unsafe.Offsetof(cTokenData{}.Logit), "p": unsafe.Offsetof(cTokenData{}.P),
	}},
	"llama_token_data_array": {unsafe.Sizeof(cTokenDataArray{}), map[string]uintptr{
		"data": unsafe.Offsetof(cTokenDataArray{}.Data), "size": unsafe.Offsetof(cTokenDataArray{}.Size),
		"selected": unsafe.Offsetof(cTokenDataArray{}.Selected), "sorted": unsafe.Offsetof(cTokenDataArray{}.Sorted),
	}},
	"llama_perf_context_data": {unsafe.Sizeof(cPerfContextData{}), map[string]uintptr{
		"t_start_ms": unsafe.Offsetof(cPerfContextData{}.TStartMs), "t_load_ms": unsafe.Offsetof(cPerfContextData{}.TLoadMs),
		"t_p_eval_ms": unsafe.Offsetof(cPerfContextData{}.TPEvalMs), "t_eval_ms": unsafe.Offsetof(cPerfContextData{}.TEvalMs),
		"n_p_eval": unsafe.Offsetof(cPerfContextData{}.NPEval), "n_eval": unsafe.Offsetof(cPerfContextData{}.NEval),
		"n_reused": unsafe.Offsetof(cPerfContextData{}.NReused),
	}},
}

// checkGoStruct compares a Go mirror with the header's record, field by
// field.
func checkGoStruct(name string, r *llamah.Record) error {
	g := goStructs[name]
	if r == nil {
		return fmt.Errorf("the header defines no struct %s", name)
	}
	if uintptr(r.Size) != g.size {
		return fmt.Errorf("struct %s is %d bytes in the header, speclab's mirror %d", name, r.Size, g.size)
	}
	if len(r.Fields) != len(g.fields) {
		return fmt.Errorf("struct %s has %d fields in the header, speclab's mirror %d", name, len(r.Fields), len(g.fields))
	}
	for _, f := range r.Fields {
		off, ok := g.fields[f.Name]
		if !ok || uintptr(f.Offset) != off {
			return fmt.Errorf("struct %s field %s is at @%d in the header, not where speclab's mirror has it", name, f.Name, f.Offset)
		}
	}
	return nil
}

// cStruct is a C struct whose layout is known only at run time: a byte
// buffer filled field by field, by name, at the offsets of its Record.
type cStruct struct {
	rec *llamah.Record
	buf []byte
}

func newCStruct(r *llamah.Record) cStruct {
	return cStruct{rec: r, buf: make([]byte, roundUp8(r.Size))}
}

func roundUp8(n int64) int64 { return (n + 7) &^ 7 }

func (s cStruct) clone() cStruct {
	return cStruct{rec: s.rec, buf: append([]byte(nil), s.buf...)}
}

// has reports whether the struct has the field.
func (s cStruct) has(name string) bool {
	_, ok := s.rec.Field(name)
	return ok
}

// set writes v into the field name, converted to the field's C type. It
// panics on a field the struct lacks or a value of the wrong kind: callers
// check has for optional fields, and a mismatch is a bug in speclab.
func (s cStruct) set(name string, v any) {
	f, ok := s.rec.Field(name)
	if !ok {
		panic(fmt.Sprintf("engine: %s has no field %s", s.rec.Name, name))
	}
	var u uint64
	switch x := v.(type) {
	case bool:
		if f.Type.Kind != llamah.Bool {
			panic(fmt.Sprintf("engine: %s.%s is %s, not bool", s.rec.Name, name, f.Type.Name))
		}
		if x {
			u = 1
		}
	case int:
		switch f.Type.Kind {
		case llamah.Int, llamah.Uint, llamah.Enum:
		default:
			panic(fmt.Sprintf("engine: %s.%s is %s, not an integer", s.rec.Name, name, f.Type.Name))
		}
		u = uint64(int64(x))
	case float64:
		if f.Type.Kind != llamah.Float {
			panic(fmt.Sprintf("engine: %s.%s is %s, not a float", s.rec.Name, name, f.Type.Name))
		}
		u = math.Float64bits(x)
		if f.Type.Size == 4 {
			u = uint64(math.Float32bits(float32(x)))
		}
	default:
		panic(fmt.Sprintf("engine: cannot set %s.%s to a %T", s.rec.Name, name, v))
	}
	for i := range f.Type.Size {
		s.buf[f.Offset+i] = byte(u >> (8 * i))
	}
}

// get renders the field as releases.FormatValue does ("" when absent).
func (s cStruct) get(name string) string {
	f, ok := s.rec.Field(name)
	if !ok {
		return ""
	}
	return releases.FormatValue(f, s.buf)
}

// words returns the struct as the eightbytes a by-value argument of the
// MEMORY class occupies on the stack.
func (s cStruct) words() []uintptr {
	return unsafe.Slice((*uintptr)(unsafe.Pointer(unsafe.SliceData(s.buf))), len(s.buf)/8)
}

// Struct arguments and results travel through purego.SyscallN. In the
// System V ABI a struct larger than 16 bytes is of the MEMORY class: as an
// argument it is copied onto the stack, after the register arguments (so
// the integer registers hold only the other arguments); as a result the
// caller passes the address of the result in the first integer register.
// SyscallN puts its first 6 words in the integer registers and the rest on
// the stack, up to 32 words, so a struct of at most 26 eightbytes (208
// bytes) fits. purego.RegisterFunc does the same for Go struct types, and
// for struct types made at run time with reflect.StructOf (see
// abi_purego_test.go); SyscallN needs no reflection and no allocation.
const (
	intRegs       = 6
	maxStackWords = 32 - intRegs
)

// probeSize is the buffer a default-parameter function writes into while
// the layout is not yet trusted: far larger than any llama.cpp struct, so
// a library whose struct is bigger than its header says writes into the
// canary instead of past the buffer.
const probeSize = 4096

const canary = 0xA5

// callStructResult calls fn(regs...) for a struct result of the MEMORY
// class, written into out.
func callStructResult(fn uintptr, out []byte, regs ...uintptr) {
	var pin runtime.Pinner
	pin.Pin(unsafe.SliceData(out))
	defer pin.Unpin()
	var args [intRegs]uintptr
	args[0] = uintptr(unsafe.Pointer(unsafe.SliceData(out)))
	copy(args[1:], regs)
	purego.SyscallN(fn, args[:]...)
}

// callWithStruct calls fn(regs..., s) for a struct argument of the MEMORY
// class and returns the integer result.
func callWithStruct(fn uintptr, s cStruct, regs ...uintptr) uintptr {
	var args [intRegs + maxStackWords]uintptr
	copy(args[:intRegs], regs)
	w := s.words()
	n := copy(args[intRegs:], w)
	r, _, _ := purego.SyscallN(fn, args[:intRegs+n]...)
	runtime.KeepAlive(s.buf)
	return r
}

// pinnedCString returns a NUL-terminated copy of s, pinned until pin.Unpin.
func pinnedCString(s string, pin *runtime.Pinner) uintptr {
	b := append([]byte(s), 0)
	pin.Pin(&b[0])
	return uintptr(unsafe.Pointer(&b[0]))
}

// abiSource is where the layouts of a loaded library come from.
type abiSource struct {
	abi *releases.ABI
	// header is the path of the llama.h used; empty for a table entry.
	header string
	// releases are the table entries the library was identified as (all
	// with this ABI); empty for a header.
	releases []releases.Release
	// how says how the library was identified.
	how string
	// defaults are the values the probe expects.
	defaults map[string]map[string]string
}

func (s *abiSource) describe() string {
	if s.header != "" {
		return "header " + s.header
	}
	return "table: " + s.abi.Source
}

// exportedLlama returns the llama_* functions that the ELF file exports.
func exportedLlama(path string) (map[string]bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read symbols: %v: %w", err, ErrWrongLibrary)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return nil, fmt.Errorf("read symbols: %v: %w", err, ErrWrongLibrary)
	}
	out := map[string]bool{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF && strings.HasPrefix(s.Name, "llama_") {
			out[s.Name] = true
		}
	}
	return out, nil
}

// findHeader looks for the llama.h of a build beside its library: a CMake
// build keeps libraries in build/bin or build/lib and the source tree has
// include/llama.h, so it tries include/ above the library's folder, one and
// two levels up, and an installed prefix (lib/ beside include/).
func findHeader(libDir string) string {
	for _, up := range []string{"..", filepath.Join("..", ".."), filepath.Join("..", "..", "..")} {
		p := filepath.Join(libDir, up, "include", "llama.h")
		if _, err := os.Stat(p); err == nil {
			if abs, err := filepath.Abs(p); err == nil {
				return abs
			}
			return p
		}
	}
	return ""
}

// probeDefaults calls a default-parameter function of the library into a
// canary-filled buffer and checks the result against the layout r and the
// expected defaults. It returns the struct as the library filled it.
func probeDefaults(fn uintptr, r *llamah.Record, want map[string]string) (cStruct, error) {
	if r == nil {
		return cStruct{}, fmt.Errorf("the header defines no such struct")
	}
	if err := checkRequired(r); err != nil {
		return cStruct{}, err
	}
	if words := roundUp8(r.Size) / 8; words > maxStackWords {
		return cStruct{}, fmt.Errorf("struct %s is %d bytes, more than the %d speclab can pass by value", r.Name, r.Size, maxStackWords*8)
	}
	buf := make([]byte, probeSize)
	for i := range buf {
		buf[i] = canary
	}
	callStructResult(fn, buf)
	for i := r.Size; i < probeSize; i++ {
		if buf[i] != canary {
			return cStruct{}, fmt.Errorf("the library wrote byte %d of %s, which the layout says is %d bytes: its struct is larger", i, r.Name, r.Size)
		}
	}
	// Keep the fields only: padding the library did not write stays zero
	// instead of canary.
	s := cStruct{rec: r, buf: make([]byte, roundUp8(r.Size))}
	for _, f := range r.Fields {
		copy(s.buf[f.Offset:f.Offset+f.Type.Size], buf[f.Offset:])
	}
	var bad []string
	for _, f := range r.Fields {
		w, ok := want[f.Name]
		if !ok {
			continue
		}
		if got := releases.FormatValue(f, buf); got != w {
			bad = append(bad, fmt.Sprintf("%s @%d is %s, expected %s", f.Name, f.Offset, got, w))
		}
	}
	if len(bad) > 0 {
		return cStruct{}, fmt.Errorf("default %s does not match the layout: %s", r.Name, strings.Join(bad, "; "))
	}
	return s, nil
}

// requiredFields are the parameter fields speclab always sets; a header
// without one of them cannot be driven. (The load mode is either load_mode
// or the older use_mmap and use_mlock flags.)
var requiredFields = map[string][]string{
	"llama_model_params":   {"n_gpu_layers", "vocab_only"},
	"llama_context_params": {"n_ctx", "n_batch", "n_ubatch", "n_seq_max", "n_threads", "n_threads_batch", "flash_attn_type", "no_perf"},
}

// checkRequired reports the first field speclab sets that r lacks.
func checkRequired(r *llamah.Record) error {
	for _, f := range requiredFields[r.Name] {
		if _, ok := r.Field(f); !ok {
			return fmt.Errorf("%s has no %s, which speclab sets", r.Name, f)
		}
	}
	if r.Name == "llama_model_params" {
		_, mode := r.Field("load_mode")
		_, mmap := r.Field("use_mmap")
		_, mlock := r.Field("use_mlock")
		if !mode && !(mmap && mlock) {
			return fmt.Errorf("llama_model_params has neither load_mode nor use_mmap and use_mlock")
		}
	}
	return nil
}

// Capability is a feature that some libllama releases have and others lack,
// with what speclab does without it.
type Capability struct {
	Name    string `json:"name"`
	Present bool   `json:"present"`
	Detail  string `json:"detail"` // what it is, and the fallback when absent
}

// capabilities lists what the loaded library offers.
func (l *Lib) capabilities() []Capability {
	mp, cp := l.modelDefault, l.ctxDefault
	has := func(sym string) bool { return hasSymbol(l.handle, sym) }
	return []Capability{
		{"llama_version", has("llama_version"), "the library names its release (since v0.4.0); without it, identified by its exported functions"},
		{"load_mode", mp.has("load_mode"), "llama_model_params.load_mode (since b10361); without it, use_mmap/use_mlock/use_direct_io"},
		{"lazy_mode", mp.has("lazy_mode"), "llama_model_params.lazy_mode: on-demand tensor reads (since v0.4.0); left at its default"},
		{"load_mtp", mp.has("load_mtp"), "llama_model_params.load_mtp: multi-token-prediction layers (since b10361); left at its default"},
		{"n_rs_seq", cp.has("n_rs_seq"), "llama_context_params.n_rs_seq: recurrent-state snapshots for rollback (since b9842, experimental); speclab checkpoints state itself"},
		{"n_outputs_max_per_seq", cp.has("n_outputs_max_per_seq"), "llama_context_params.n_outputs_max_per_seq (since b10361); left at its default"},
		{"ctx_other", cp.has("ctx_other"), "llama_context_params.ctx_other: a context sharing another's memory (MTP, since b9842); unused"},
		{"state_seq_ext", has("llama_state_seq_get_size_ext"), "llama_state_seq_*_ext: partial sequence state; without it a hybrid model's checkpoints hold its whole state (attention KV included)"},
		{"memory_api", has("llama_memory_seq_rm"), "llama_memory_* (KV and recurrent memory); required"},
	}
}

// identify decides where the layouts of a library come from: the header
// if there is one, else the table entries matching its llama_version and
// exported functions. It returns nil when nothing describes the library.
func identify(exported map[string]bool, header, headerHow, version string) (*abiSource, error) {
	if header != "" {
		text, err := os.ReadFile(header)
		if err != nil {
			return nil, fmt.Errorf("read llama.h: %w", err)
		}
		hd, err := llamah.Parse(header, text)
		if err != nil {
			return nil, fmt.Errorf("parse llama.h: %w", err)
		}
		return &abiSource{
			abi:      releases.FromHeader(hd, sha256Hex(text), header),
			header:   header,
			how:      headerHow,
			defaults: releases.HeaderDefaults(),
		}, nil
	}
	cands := releases.Identify(version, exported)
	how := fmt.Sprintf("its %d exported llama_* functions (it has no llama_version)", len(exported))
	if version != "" {
		how = fmt.Sprintf("llama_version %q and its %d exported functions", version, len(exported))
	}
	if len(cands) == 0 {
		return nil, nil
	}
	return &abiSource{abi: cands[0].ABI, releases: cands, how: how, defaults: cands[0].ABI.Defaults}, nil
}

// unknownBuildError explains how to drive a library the table does not know.
func unknownBuildError(path, version string, exported map[string]bool) error {
	near, d := releases.Nearest(exported)
	v := "it exports no llama_version()"
	if version != "" {
		v = fmt.Sprintf("llama_version %q", version)
	}
	return fmt.Errorf("load %s: %w: %s, and its %d exported llama_* functions match no release speclab knows "+
		"(nearest: %s, %d functions differ). speclab drives a build through the struct layouts of its own llama.h; "+
		"pass the header of the source it was built from: --llama-h /path/to/llama.cpp/include/llama.h "+
		"(or SPECLAB_LLAMA_H; found by itself when the library sits in a build folder under that source). "+
		"Known releases (each installable with `speclab setup --runtime VERSION`):\n%s\n--allow-unknown-llama drives it with the nearest release's layouts, checked by the default-parameter probe",
		path, ErrUnknownBuild, v, len(exported), near, d, releases.Describe())
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
