package gguf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// allValuesKV has a key of every value type and an array of every type.
func allValuesKV() []KV {
	return []KV{
		{"general.architecture", "llama"},
		{"general.name", "tiny"},
		{"v.u8", uint8(200)},
		{"v.i8", int8(-100)},
		{"v.u16", uint16(60000)},
		{"v.i16", int16(-30000)},
		{"v.u32", uint32(4000000000)},
		{"v.i32", int32(-2000000000)},
		{"v.f32", float32(3.25)},
		{"v.bool.true", true},
		{"v.bool.false", false},
		{"v.string", "héllo\x00world"},
		{"v.string.empty", ""},
		{"v.u64", uint64(1) << 63},
		{"v.i64", int64(-1) << 62},
		{"v.f64", math.Pi},
		{"a.u8", []uint8{0, 1, 255}},
		{"a.i8", []int8{-128, 0, 127}},
		{"a.u16", []uint16{0, 65535}},
		{"a.i16", []int16{-32768, 32767}},
		{"a.u32", []uint32{1, 2, 3}},
		{"a.i32", []int32{-1, 0, 1}},
		{"a.f32", []float32{float32(math.Inf(1)), -0.5, float32(math.SmallestNonzeroFloat32)}},
		{"a.bool", []bool{true, false, true}},
		{"a.string", []string{"a", "", "ccc"}},
		{"a.u64", []uint64{math.MaxUint64}},
		{"a.i64", []int64{math.MinInt64, math.MaxInt64}},
		{"a.f64", []float64{math.MaxFloat64, -0.0}},
		{"a.empty", []string{}},
		{"a.empty.f32", []float32{}},
	}
}

func sampleTensors(t testing.TB) []Tensor {
	q8, err := Encode(TypeQ8_0, seq(64))
	if err != nil {
		t.Fatal(err)
	}
	mx, err := Encode(TypeMXFP4, seq(64))
	if err != nil {
		t.Fatal(err)
	}
	f16, err := Encode(TypeF16, seq(6))
	if err != nil {
		t.Fatal(err)
	}
	return []Tensor{
		{Name: "token_embd.weight", Shape: []uint64{32, 2}, Type: TypeQ8_0, Data: q8},
		{Name: "blk.0.attn_norm.weight", Shape: []uint64{3, 2}, Type: TypeF16, Data: f16},
		{Name: "blk.0.ffn_up.weight", Shape: []uint64{32, 1, 2, 1}, Type: TypeMXFP4, Data: mx},
		{Name: "blk.0.k", Shape: []uint64{256}, Type: TypeQ4_K, Data: bytes.Repeat([]byte{7}, 144)},
	}
}

func seq(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i)*0.5 - 3
	}
	return x
}

func write(t testing.TB, kv []KV, tensors []Tensor) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, kv, tensors); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	withAlign := func(a uint32) []KV { return append(allValuesKV(), KV{KeyAlignment, a}) }
	tests := []struct {
		name    string
		kv      []KV
		tensors []Tensor
		align   uint64
	}{
		{"default alignment", allValuesKV(), sampleTensors(t), 32},
		{"alignment 64", withAlign(64), sampleTensors(t), 64},
		{"alignment 1", withAlign(1), sampleTensors(t), 1},
		{"alignment 4096", withAlign(4096), sampleTensors(t), 4096},
		{"no tensors", allValuesKV(), nil, 32},
		{"no tensors, large alignment", withAlign(1 << 31), nil, 1 << 31},
		{"nothing", nil, nil, 32},
		{"tensors only", nil, sampleTensors(t)[:1], 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := write(t, tt.kv, tt.tensors)
			f, err := Read(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if f.Version != 3 || f.Alignment != tt.align || f.FileSize != int64(len(data)) {
				t.Errorf("version %d, alignment %d, size %d; want 3, %d, %d", f.Version, f.Alignment, f.FileSize, tt.align, len(data))
			}
			if len(tt.kv) == 0 && len(f.KV) != 0 || len(tt.kv) > 0 && !reflect.DeepEqual(f.KV, tt.kv) {
				t.Errorf("KV differ:\n got %#v\nwant %#v", f.KV, tt.kv)
			}
			if len(f.Tensors) != len(tt.tensors) {
				t.Fatalf("%d tensors, want %d", len(f.Tensors), len(tt.tensors))
			}
			if len(tt.tensors) > 0 && f.DataOffset%tt.align != 0 {
				t.Errorf("data offset %d not aligned to %d", f.DataOffset, tt.align)
			}
			for i, want := range tt.tensors {
				got := f.Tensors[i]
				if got.Name != want.Name || !reflect.DeepEqual(got.Shape, want.Shape) || got.Type != want.Type || got.Size != uint64(len(want.Data)) {
					t.Errorf("tensor %d = %+v, want %s %v %s (%d bytes)", i, got, want.Name, want.Shape, want.Type, len(want.Data))
				}
				if got.Offset%tt.align != 0 {
					t.Errorf("tensor %q offset %d not aligned", got.Name, got.Offset)
				}
				d, err := f.TensorData(bytes.NewReader(data), got)
				if err != nil || !bytes.Equal(d, want.Data) {
					t.Errorf("TensorData(%q) = %x, %v; want %x", got.Name, d, err, want.Data)
				}
			}
			// Writing what was read gives the same bytes.
			var again []Tensor
			for _, ti := range f.Tensors {
				d, _ := f.TensorData(bytes.NewReader(data), ti)
				again = append(again, Tensor{ti.Name, ti.Shape, ti.Type, d})
			}
			if data2 := write(t, f.KV, again); !bytes.Equal(data, data2) {
				t.Errorf("rewriting the file changed it: %d bytes, then %d", len(data), len(data2))
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	kv := append(allValuesKV(), KV{"llama.context_length", uint32(4096)}, KV{"neg", int32(-5)}, KV{"tokenizer.ggml.tokens", []string{"a", "b"}})
	data := write(t, kv, sampleTensors(t))
	f, err := Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Architecture() != "llama" {
		t.Errorf("Architecture = %q", f.Architecture())
	}
	if s, ok := f.String("general.name"); !ok || s != "tiny" {
		t.Errorf("String(general.name) = %q, %v", s, ok)
	}
	if _, ok := f.String("v.u8"); ok {
		t.Error("String of a uint8 key succeeded")
	}
	for key, want := range map[string]uint64{"v.u8": 200, "v.u16": 60000, "v.u32": 4000000000, "v.u64": 1 << 63, "llama.context_length": 4096} {
		if got, ok := f.Uint(key); !ok || got != want {
			t.Errorf("Uint(%s) = %d, %v; want %d", key, got, ok, want)
		}
	}
	for _, key := range []string{"neg", "v.i8", "v.f32", "missing", "general.name"} {
		if got, ok := f.Uint(key); ok {
			t.Errorf("Uint(%s) = %d, want not ok", key, got)
		}
	}
	if v, ok := f.Float("v.f32"); !ok || v != 3.25 {
		t.Errorf("Float(v.f32) = %v, %v", v, ok)
	}
	if v, ok := f.Float("v.f64"); !ok || v != math.Pi {
		t.Errorf("Float(v.f64) = %v, %v", v, ok)
	}
	if v, ok := f.Float("neg"); !ok || v != -5 {
		t.Errorf("Float(neg) = %v, %v", v, ok)
	}
	if s, ok := f.Strings("tokenizer.ggml.tokens"); !ok || len(s) != 2 {
		t.Errorf("Strings = %v, %v", s, ok)
	}
	if ti, ok := f.Tensor("blk.0.k"); !ok || ti.Type != TypeQ4_K || ti.Size != 144 {
		t.Errorf("Tensor(blk.0.k) = %+v, %v", ti, ok)
	}
	if _, ok := f.Tensor("nope"); ok {
		t.Error("Tensor(nope) found")
	}
}

func TestTypes(t *testing.T) {
	tests := []struct {
		t            Type
		name         string
		elems, bytes uint64
	}{
		{TypeF32, "F32", 1, 4}, {TypeF16, "F16", 1, 2}, {TypeQ4_0, "Q4_0", 32, 18}, {TypeQ8_0, "Q8_0", 32, 34},
		{TypeQ2_K, "Q2_K", 256, 84}, {TypeQ6_K, "Q6_K", 256, 210}, {TypeQ8_K, "Q8_K", 256, 292},
		{TypeIQ2_XXS, "IQ2_XXS", 256, 66}, {TypeIQ4_NL, "IQ4_NL", 32, 18}, {TypeI8, "I8", 1, 1},
		{TypeF64, "F64", 1, 8}, {TypeBF16, "BF16", 1, 2}, {TypeTQ1_0, "TQ1_0", 256, 54},
		{TypeMXFP4, "MXFP4", 32, 17}, {TypeNVFP4, "NVFP4", 64, 36}, {TypeQ1_0, "Q1_0", 128, 18}, {TypeQ2_0, "Q2_0", 64, 18},
	}
	for _, tt := range tests {
		e, b, ok := tt.t.BlockSize()
		if tt.t.String() != tt.name || e != tt.elems || b != tt.bytes || !ok {
			t.Errorf("type %d: %s %d %d %v, want %s %d %d", uint32(tt.t), tt.t, e, b, ok, tt.name, tt.elems, tt.bytes)
		}
	}
	for _, id := range []uint32{4, 5, 31, 32, 33, 36, 37, 38, 43, 1000, math.MaxUint32} {
		if _, _, ok := Type(id).BlockSize(); ok || Type(id).Valid() {
			t.Errorf("type %d is valid", id)
		}
		if want := fmt.Sprintf("type(%d)", id); Type(id).String() != want {
			t.Errorf("Type(%d).String() = %q, want %q", id, Type(id), want)
		}
	}
	if n := len(Types()); n != 35 {
		t.Errorf("%d valid types, want 35", n)
	}
}

func TestTensorBytes(t *testing.T) {
	tests := []struct {
		t       Type
		shape   []uint64
		want    uint64
		wantErr string
	}{
		{TypeF32, []uint64{3, 5}, 60, ""},
		{TypeQ8_0, []uint64{64, 10}, 680, ""},
		{TypeMXFP4, []uint64{2880, 4, 1, 2}, 2880 / 32 * 17 * 8, ""},
		{TypeQ4_K, []uint64{512}, 288, ""},
		{TypeQ8_0, []uint64{48, 2}, 0, "not a multiple"},
		{TypeF32, []uint64{}, 0, "dimensions"},
		{TypeF32, []uint64{1, 1, 1, 1, 1}, 0, "dimensions"},
		{TypeF32, []uint64{4, 0}, 0, "zero"},
		{TypeF32, []uint64{1 << 32, 1 << 32}, 0, "overflow"},
		{TypeF64, []uint64{1 << 61}, 0, "overflow"},
		{Type(4), []uint64{32}, 0, "unknown"},
	}
	for _, tt := range tests {
		got, err := TensorBytes(tt.t, tt.shape)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("TensorBytes(%s, %v) = %d, %v; want error containing %q", tt.t, tt.shape, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("TensorBytes(%s, %v) = %d, %v; want %d", tt.t, tt.shape, got, err, tt.want)
		}
	}
}

func TestWriteRejects(t *testing.T) {
	good := sampleTensors(t)
	tests := []struct {
		name    string
		kv      []KV
		tensors []Tensor
		want    string
	}{
		{"empty key", []KV{{"", uint8(1)}}, nil, "empty key"},
		{"duplicate key", []KV{{"a", uint8(1)}, {"a", uint8(2)}}, nil, "duplicate key"},
		{"unsupported value", []KV{{"a", 5}}, nil, "cannot hold"},
		{"nested array", []KV{{"a", [][]int32{{1}}}}, nil, "cannot hold"},
		{"alignment type", []KV{{KeyAlignment, uint64(32)}}, nil, "uint32"},
		{"alignment not power of two", []KV{{KeyAlignment, uint32(48)}}, nil, "power of two"},
		{"short data", nil, []Tensor{{Name: "a", Shape: []uint64{4}, Type: TypeF32, Data: make([]byte, 15)}}, "want 16"},
		{"bad row", nil, []Tensor{{Name: "a", Shape: []uint64{31}, Type: TypeQ8_0}}, "not a multiple"},
		{"duplicate tensor", nil, append(good[:1:1], good[0]), "duplicate tensor"},
		{"long name", nil, []Tensor{{Name: strings.Repeat("x", 64), Shape: []uint64{1}, Type: TypeI8, Data: []byte{1}}}, "longer than"},
		{"unknown type", nil, []Tensor{{Name: "a", Shape: []uint64{1}, Type: Type(77)}}, "unknown tensor type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(&bytes.Buffer{}, tt.kv, tt.tensors)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write error = %v, want ErrInvalid containing %q", err, tt.want)
			}
		})
	}
}

func TestWriteFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	if err := WriteFile(path, allValuesKV(), sampleTensors(t)); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err != nil {
		t.Fatalf("Open: %v", err)
	}
	bad := []Tensor{{Name: "a", Shape: []uint64{4}, Type: TypeF32, Data: make([]byte, 3)}}
	if err := WriteFile(path, nil, bad); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), path) {
		t.Fatalf("WriteFile of a bad tensor: %v, want ErrInvalid naming the path", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a failed WriteFile changed the existing file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after a failed write, want 1 (no temp file left)", len(entries))
	}
	if err := WriteFile(filepath.Join(dir, "missing", "m.gguf"), nil, nil); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

// raw builds GGUF bytes field by field, so that tests can write what Write refuses to.
type raw struct {
	buf bytes.Buffer
	e   *encoder
}

func newRaw() *raw {
	r := &raw{}
	r.e = &encoder{w: bufio.NewWriterSize(&r.buf, 16)}
	return r
}

func (r *raw) u32(v uint32) *raw { r.e.u32(v); return r }
func (r *raw) u64(v uint64) *raw { r.e.u64(v); return r }
func (r *raw) str(s string) *raw { r.e.str(s); return r }
func (r *raw) kv(k string, v any) *raw {
	r.e.str(k)
	r.e.value(v)
	return r
}
func (r *raw) tensor(name string, dims []uint64, typ Type, off uint64) *raw {
	r.e.str(name)
	r.e.u32(uint32(len(dims)))
	for _, d := range dims {
		r.e.u64(d)
	}
	r.e.u32(uint32(typ))
	r.e.u64(off)
	return r
}
func (r *raw) pad(a uint64) *raw  { r.e.pad(a); return r }
func (r *raw) zeros(n int) *raw   { r.e.bytes(make([]byte, n)); return r }
func (r *raw) raw(b ...byte) *raw { r.e.bytes(b); return r }
func (r *raw) header(nt, nkv uint64) *raw {
	r.e.bytes([]byte(Magic))
	return r.u32(3).u64(nt).u64(nkv)
}
func (r *raw) bytes() []byte {
	if err := r.e.w.Flush(); err != nil {
		panic(err)
	}
	return r.buf.Bytes()
}

func TestReadRejects(t *testing.T) {
	f32 := []uint64{8} // 32 bytes of F32
	tests := []struct {
		name string
		data []byte
		kind error
		want string
	}{
		{"empty file", nil, ErrTruncated, "empty"},
		{"wrong magic", []byte("GGML\x03\x00\x00\x00"), ErrNotGGUF, `not a GGUF file (magic "GGML")`},
		{"short non-GGUF", []byte("PK"), ErrNotGGUF, "not a GGUF file"},
		{"text file", []byte("hello world, this is not a model"), ErrNotGGUF, `magic "hell"`},
		{"version 1", newRaw().raw('G', 'G', 'U', 'F').u32(1).u64(0).u64(0).bytes(), ErrVersion, "version 1"},
		{"version 4", newRaw().raw('G', 'G', 'U', 'F').u32(4).u64(0).u64(0).bytes(), ErrVersion, "version 4"},
		{"big-endian", newRaw().raw('G', 'G', 'U', 'F').u32(3 << 24).u64(0).u64(0).bytes(), ErrVersion, "big-endian"},
		{"absurd tensor count", newRaw().header(1<<60, 0).bytes(), ErrCorrupt, "1152921504606846976 tensors"},
		{"absurd KV count", newRaw().header(0, 1<<60).bytes(), ErrCorrupt, "1152921504606846976 key-value pairs"},
		{"KV count past end", newRaw().header(0, 1000).kv("a", uint8(1)).bytes(), ErrTruncated, "1000 key-value pairs"},
		{"absurd string length", newRaw().header(0, 1).u64(1 << 62).zeros(20).bytes(), ErrCorrupt, "1 GiB limit"},
		{"string past end", newRaw().header(0, 1).u64(1000).zeros(20).bytes(), ErrTruncated, "key of 1000 bytes"},
		{"empty key", newRaw().header(0, 1).kv("", uint8(1)).bytes(), ErrCorrupt, "empty key"},
		{"duplicate key", newRaw().header(0, 2).kv("a", uint8(1)).kv("a", uint8(2)).bytes(), ErrCorrupt, `duplicate key "a"`},
		{"unknown value type", newRaw().header(0, 1).str("a").u32(13).zeros(8).bytes(), ErrCorrupt, "unknown value type 13"},
		{"unknown array type", newRaw().header(0, 1).str("a").u32(9).u32(99).u64(1).zeros(8).bytes(), ErrCorrupt, "unknown array element type 99"},
		{"nested array", newRaw().header(0, 1).str("a").u32(9).u32(9).u64(1).zeros(16).bytes(), ErrCorrupt, "nested arrays"},
		{"absurd array length", newRaw().header(0, 1).str("a").u32(9).u32(0).u64(1 << 40).zeros(8).bytes(), ErrCorrupt, "1099511627776 elements"},
		{"array past end", newRaw().header(0, 1).str("a").u32(9).u32(4).u64(100).zeros(8).bytes(), ErrTruncated, "array of 100 uint32"},
		{"bad bool", newRaw().header(0, 1).str("a").u32(7).raw(2).bytes(), ErrCorrupt, "bool value 2"},
		{"alignment not uint32", newRaw().header(0, 1).kv(KeyAlignment, uint64(32)).bytes(), ErrCorrupt, "must be a uint32"},
		{"alignment not power of two", newRaw().header(0, 1).kv(KeyAlignment, uint32(48)).bytes(), ErrCorrupt, "48, not a power of two"},
		{"alignment zero", newRaw().header(0, 1).kv(KeyAlignment, uint32(0)).bytes(), ErrCorrupt, "not a power of two"},
		{"n_dims 0", newRaw().header(1, 0).tensor("a", nil, TypeF32, 0).pad(32).zeros(32).bytes(), ErrCorrupt, `tensor "a" has 0 dimensions`},
		{"n_dims 5", newRaw().header(1, 0).tensor("a", []uint64{1, 1, 1, 1, 8}, TypeF32, 0).pad(32).zeros(32).bytes(), ErrCorrupt, `tensor "a" has 5 dimensions`},
		{"zero dimension", newRaw().header(1, 0).tensor("a", []uint64{8, 0}, TypeF32, 0).pad(32).zeros(32).bytes(), ErrCorrupt, "zero dimension 1"},
		{"element overflow", newRaw().header(1, 0).tensor("a", []uint64{1 << 32, 1 << 32}, TypeF32, 0).pad(32).zeros(32).bytes(), ErrCorrupt, "overflows"},
		{"byte size overflow", newRaw().header(1, 0).tensor("a", []uint64{1 << 61}, TypeF64, 0).pad(32).zeros(32).bytes(), ErrCorrupt, "overflows"},
		{"removed type id", newRaw().header(1, 0).tensor("w", f32, Type(4), 0).pad(32).zeros(32).bytes(), ErrCorrupt, "type id 4, which ggml removed"},
		{"row not a block multiple", newRaw().header(1, 0).tensor("w", []uint64{33}, TypeQ8_0, 0).pad(32).zeros(64).bytes(), ErrCorrupt, "not a multiple of the Q8_0 block size 32"},
		{"long tensor name", newRaw().header(1, 0).tensor(strings.Repeat("n", 64), f32, TypeF32, 0).pad(32).zeros(32).bytes(), ErrCorrupt, "more than ggml's limit"},
		{"duplicate tensor names", newRaw().header(2, 0).tensor("a", f32, TypeF32, 0).tensor("a", f32, TypeF32, 32).pad(32).zeros(64).bytes(), ErrCorrupt, `duplicate tensor name "a"`},
		{"misaligned offset", newRaw().header(2, 0).tensor("a", []uint64{4}, TypeF32, 0).tensor("b", f32, TypeF32, 16).pad(32).zeros(64).bytes(), ErrCorrupt, `tensor "b" data offset 16 is not a multiple of the alignment 32`},
		{"tensor past EOF", newRaw().header(2, 0).tensor("a", f32, TypeF32, 0).tensor("b", f32, TypeF32, 32).pad(32).zeros(40).bytes(), ErrTruncated, `truncated: tensor "b" needs bytes [128,160) but file has 136 bytes`},
		{"data section past EOF", newRaw().header(1, 0).tensor("a", []uint64{1}, TypeI8, 0).bytes(), ErrTruncated, "data section starts at byte 64 but file has 57 bytes"},
		{"huge offset", newRaw().header(1, 0).tensor("a", f32, TypeF32, 1<<63).pad(32).zeros(32).bytes(), ErrCorrupt, "impossibly large"},
		{"overlap", newRaw().header(2, 0).tensor("a", []uint64{16}, TypeF32, 0).tensor("b", f32, TypeF32, 32).pad(32).zeros(64).bytes(), ErrCorrupt, `tensors "a" and "b" overlap`},
		{"gap", newRaw().header(2, 0).tensor("a", f32, TypeF32, 0).tensor("b", f32, TypeF32, 64).pad(32).zeros(96).bytes(), ErrCorrupt, `tensor "b" has data offset 64, expected 32`},
		{"out of order", newRaw().header(2, 0).tensor("a", f32, TypeF32, 32).tensor("b", f32, TypeF32, 0).pad(32).zeros(64).bytes(), ErrCorrupt, `tensor "a" has data offset 32, expected 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Read(bytes.NewReader(tt.data), int64(len(tt.data)))
			if err == nil {
				t.Fatalf("Read succeeded: %+v", f)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("error %q does not wrap %v", err, tt.kind)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			for _, other := range []error{ErrNotGGUF, ErrVersion, ErrTruncated, ErrCorrupt} {
				if other != tt.kind && errors.Is(err, other) {
					t.Errorf("error %q also wraps %v", err, other)
				}
			}
		})
	}
}

func TestOpenNamesPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.gguf")
	if err := os.WriteFile(path, []byte("GGUF\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	if !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), path) {
		t.Errorf("Open = %v, want ErrVersion naming %s", err, path)
	}
	if _, err := Open(filepath.Join(dir, "missing.gguf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a missing file = %v, want os.ErrNotExist", err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Open of a directory = %v", err)
	}
}

// TestEveryPrefixIsTruncated cuts a valid file at every length short of the
// end of its last tensor: each must fail as truncated, and never panic.
func TestEveryPrefixIsTruncated(t *testing.T) {
	for _, align := range []uint32{32, 1} {
		kv := append(allValuesKV(), KV{KeyAlignment, align})
		data := write(t, kv, sampleTensors(t))
		f, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		last := f.Tensors[len(f.Tensors)-1]
		end := int(f.DataOffset + last.Offset + last.Size)
		for n := 0; n < end; n++ {
			_, err := Read(bytes.NewReader(data[:n]), int64(n))
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("alignment %d, prefix of %d bytes: error %v, want ErrTruncated", align, n, err)
			}
		}
		// The padding after the last tensor is not needed (ggml does not read it).
		for n := end; n <= len(data); n++ {
			if _, err := Read(bytes.NewReader(data[:n]), int64(n)); err != nil {
				t.Fatalf("alignment %d, prefix of %d bytes (all data present): %v", align, n, err)
			}
		}
	}
}

func TestSummarize(t *testing.T) {
	embd := Tensor{Name: TokenEmbdName, Shape: []uint64{64, 10}, Type: TypeQ8_0, Data: make([]byte, 2*34*10)}
	norm := Tensor{Name: "output_norm.weight", Shape: []uint64{64}, Type: TypeF32, Data: make([]byte, 256)}
	out := Tensor{Name: OutputName, Shape: []uint64{64, 10}, Type: TypeQ8_0, Data: make([]byte, 2*34*10)}
	w := Tensor{Name: "blk.0.ffn_up.weight", Shape: []uint64{64, 128}, Type: TypeMXFP4, Data: make([]byte, 2*17*128)}
	kv := []KV{
		{"general.architecture", "llama"}, {"general.name", "toy"},
		{"llama.context_length", uint32(2048)}, {"llama.embedding_length", uint64(64)},
		{"llama.block_count", uint32(1)}, {"llama.attention.head_count", uint32(4)},
		{"llama.attention.head_count_kv", []int32{2, 1}},
		{"tokenizer.ggml.model", "gpt2"}, {"tokenizer.ggml.tokens", []string{"a", "b", "c"}},
	}
	tests := []struct {
		name          string
		kv            []KV
		tensors       []Tensor
		bytesPerToken uint64
		vocab         uint64
	}{
		// Separate output: token_embd contributes one row (2 blocks of 34 bytes).
		{"untied", kv, []Tensor{embd, norm, out, w}, 68 + 256 + 680 + 4352, 3},
		// Tied: token_embd is read whole as the output matrix.
		{"tied", kv, []Tensor{embd, norm, w}, 680 + 256 + 4352, 3},
		// Vocab from token_embd rows when there are no tokens.
		{"vocab from tensor", kv[:7], []Tensor{embd, norm, w}, 680 + 256 + 4352, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := write(t, tt.kv, tt.tensors)
			f, err := Read(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			s := f.Summarize()
			var params, total uint64
			for _, x := range tt.tensors {
				n, _ := Elements(x.Shape)
				params += n
				total += uint64(len(x.Data))
			}
			if s.Params != params || s.TensorBytes != total {
				t.Errorf("Params %d, TensorBytes %d; want %d, %d", s.Params, s.TensorBytes, params, total)
			}
			if s.BytesPerToken != tt.bytesPerToken {
				t.Errorf("BytesPerToken = %d, want %d", s.BytesPerToken, tt.bytesPerToken)
			}
			if s.Architecture != "llama" || s.Name != "toy" || s.ContextLength != 2048 || s.EmbeddingLength != 64 ||
				s.BlockCount != 1 || s.HeadCount != 4 || s.HeadCountKV != 2 || s.VocabSize != tt.vocab {
				t.Errorf("summary %+v", s)
			}
			if len(tt.kv) > 7 && s.TokenizerModel != "gpt2" {
				t.Errorf("TokenizerModel = %q", s.TokenizerModel)
			}
			var sum uint64
			for i, st := range s.ByType {
				sum += st.Bytes
				if i > 0 && st.Bytes > s.ByType[i-1].Bytes {
					t.Errorf("ByType not sorted by bytes: %+v", s.ByType)
				}
			}
			if sum != total || s.ByType[0].Type != TypeMXFP4 || s.ByType[0].Elements != 64*128 || s.ByType[0].Tensors != 1 {
				t.Errorf("ByType = %+v", s.ByType)
			}
		})
	}
}

// TestRealVocabs opens the vocab-only GGUF files of real model families.
func TestRealVocabs(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "vocabs")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.gguf"))
	if len(paths) == 0 {
		t.Skipf("no vocab GGUF files in %s", dir)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			s := f.Summarize()
			toks, ok := f.Strings("tokenizer.ggml.tokens")
			if !ok || s.VocabSize != uint64(len(toks)) || s.VocabSize == 0 {
				t.Errorf("VocabSize %d, tokens %d (%v)", s.VocabSize, len(toks), ok)
			}
			if s.Architecture == "" || s.TokenizerModel == "" {
				t.Errorf("architecture %q, tokenizer model %q", s.Architecture, s.TokenizerModel)
			}
			// A real file rewrites to the same bytes, up to the padding ggml
			// writes after the header even without tensors.
			fh, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			var ts []Tensor
			for _, ti := range f.Tensors {
				d, err := f.TensorData(fh, ti)
				if err != nil {
					t.Fatal(err)
				}
				ts = append(ts, Tensor{ti.Name, ti.Shape, ti.Type, d})
			}
			orig, _ := os.ReadFile(path)
			again := write(t, f.KV, ts)
			if len(ts) == 0 {
				orig = orig[:min(len(orig), int(f.DataOffset))]
			}
			if !bytes.Equal(orig, again) {
				t.Errorf("rewrite differs: %d bytes, original %d", len(again), len(orig))
			}
		})
	}
}

// sameFile compares two Files as the fuzz target needs: floats by bits.
func sameFile(a, b *File) error {
	if a.Alignment != b.Alignment || a.DataOffset != b.DataOffset {
		return fmt.Errorf("alignment %d/%d, data offset %d/%d", a.Alignment, b.Alignment, a.DataOffset, b.DataOffset)
	}
	if len(a.KV) != len(b.KV) {
		return fmt.Errorf("%d/%d KVs", len(a.KV), len(b.KV))
	}
	for i := range a.KV {
		if a.KV[i].Key != b.KV[i].Key || !reflect.DeepEqual(floatBits(a.KV[i].Value), floatBits(b.KV[i].Value)) {
			return fmt.Errorf("KV %d: %#v / %#v", i, a.KV[i], b.KV[i])
		}
	}
	if !reflect.DeepEqual(a.Tensors, b.Tensors) {
		return fmt.Errorf("tensors %+v / %+v", a.Tensors, b.Tensors)
	}
	return nil
}

func floatBits(v any) any {
	switch x := v.(type) {
	case float32:
		return math.Float32bits(x)
	case float64:
		return math.Float64bits(x)
	case []float32:
		out := make([]uint32, len(x))
		for i, f := range x {
			out[i] = math.Float32bits(f)
		}
		return out
	case []float64:
		out := make([]uint64, len(x))
		for i, f := range x {
			out[i] = math.Float64bits(f)
		}
		return out
	}
	return v
}

func FuzzRead(f *testing.F) {
	seeds := [][]byte{
		write(f, allValuesKV(), sampleTensors(f)),
		write(f, append(allValuesKV(), KV{KeyAlignment, uint32(8)}), sampleTensors(f)[:2]),
		write(f, []KV{{"general.architecture", "llama"}}, nil),
		write(f, nil, nil),
		newRaw().header(2, 0).tensor("a", []uint64{8}, TypeF32, 0).tensor("b", []uint64{8}, TypeF32, 16).pad(32).zeros(64).bytes(),
		newRaw().header(0, 1).str("a").u32(9).u32(8).u64(3).str("x").str("yy").bytes(),
		[]byte("GGUF\x02\x00\x00\x00"),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FormatError", err)
			}
			return
		}
		if len(file.Warnings) > 0 {
			// A tensor type no table knows is read with a warning and an
			// unchecked size; Write, which lays out every tensor, refuses
			// it, so such a file is not rewritten.
			for _, ti := range file.Tensors {
				if ti.Unsized && ti.Type.Valid() {
					t.Fatalf("tensor %q of a known type %v is unsized", ti.Name, ti.Type)
				}
			}
			return
		}
		var ts []Tensor
		for _, ti := range file.Tensors {
			d, err := file.TensorData(bytes.NewReader(data), ti)
			if err != nil {
				t.Fatalf("TensorData(%q) of a valid file: %v", ti.Name, err)
			}
			ts = append(ts, Tensor{ti.Name, ti.Shape, ti.Type, d})
		}
		var buf bytes.Buffer
		if err := Write(&buf, file.KV, ts); err != nil {
			t.Fatalf("rewriting a valid file: %v", err)
		}
		again, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("reading a rewritten file: %v", err)
		}
		if err := sameFile(file, again); err != nil {
			t.Fatalf("rewritten file differs: %v", err)
		}
	})
}

// benchFile builds a header like a small real model's: ~30 KVs including
// a 32k-token vocabulary, and 1,000 tensors.
func benchFile(b *testing.B) string {
	tokens := make([]string, 32000)
	scores := make([]float32, len(tokens))
	types := make([]int32, len(tokens))
	for i := range tokens {
		tokens[i] = fmt.Sprintf("tok%d", i)
		scores[i] = float32(-i)
		types[i] = 1
	}
	kv := []KV{
		{"general.architecture", "llama"}, {"general.name", "bench"},
		{"tokenizer.ggml.model", "llama"}, {"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.scores", scores}, {"tokenizer.ggml.token_type", types},
	}
	for i := len(kv); i < 30; i++ {
		kv = append(kv, KV{fmt.Sprintf("llama.key%d", i), uint32(i)})
	}
	var ts []Tensor
	for i := 0; i < 1000; i++ {
		ts = append(ts, Tensor{Name: fmt.Sprintf("blk.%d.ffn_up.weight", i), Shape: []uint64{32, 2}, Type: TypeQ8_0, Data: make([]byte, 68)})
	}
	path := filepath.Join(b.TempDir(), "bench.gguf")
	if err := WriteFile(path, kv, ts); err != nil {
		b.Fatal(err)
	}
	return path
}

func BenchmarkOpen1000Tensors(b *testing.B) {
	path := benchFile(b)
	for b.Loop() {
		f, err := Open(path)
		if err != nil || len(f.Tensors) != 1000 {
			b.Fatal(err)
		}
	}
}

// fewerTypes is speclab's table without the types from Q1_0 on: a stand-in
// for an older ggml (3.15.1's knows ids up to 39).
type fewerTypes struct{}

func (fewerTypes) TypeInfo(t Type) (string, uint64, uint64, bool) {
	if t >= TypeNVFP4 {
		return "", 0, 0, false
	}
	return Builtin.TypeInfo(t)
}
func (fewerTypes) Describe() string { return "an older ggml (ids 0..39)" }

// moreTypes adds a fork's type 60 (64 values in 33 bytes) to speclab's.
type moreTypes struct{}

func (moreTypes) TypeInfo(t Type) (string, uint64, uint64, bool) {
	if t == 60 {
		return "FORK_FP4", 64, 33, true
	}
	return Builtin.TypeInfo(t)
}
func (moreTypes) Describe() string { return "a fork's ggml" }

// TestTypeTables: tensors are sized by the table of the library that will
// load the file; without one, a type speclab does not know is a warning and
// the file is still read.
func TestTypeTables(t *testing.T) {
	fork := newRaw().header(2, 0).tensor("blk.0.w", []uint64{128}, Type(60), 0).tensor("out", []uint64{8}, TypeF32, 96).pad(32).zeros(128).bytes()
	nv := newRaw().header(1, 0).tensor("w", []uint64{64}, TypeNVFP4, 0).pad(32).zeros(64).bytes()
	tests := []struct {
		name    string
		data    []byte
		types   TypeTable
		err     string
		size    uint64 // of tensor 0
		unsized bool
		foreign []Type
		warn    string
	}{
		{name: "a fork's type without a library", data: fork, size: 96, unsized: true, warn: "type id 60"},
		{name: "a fork's type sized by the fork's table", data: fork, types: moreTypes{}, size: 66, foreign: []Type{60}},
		{name: "a fork's type the library does not know", data: fork, types: Builtin, err: "type id 60, which speclab's table of the pinned ggml does not know"},
		{name: "NVFP4 for an older ggml", data: nv, types: fewerTypes{}, err: "type id 40, which an older ggml (ids 0..39) does not know"},
		{name: "NVFP4 by speclab's table", data: nv, size: 36},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ReadWith(bytes.NewReader(tt.data), int64(len(tt.data)), Options{Types: tt.types})
			if tt.err != "" {
				if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want ErrCorrupt with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t0 := f.Tensors[0]
			if t0.Size != tt.size || t0.Unsized != tt.unsized {
				t.Errorf("tensor 0: size %d unsized %v, want %d %v", t0.Size, t0.Unsized, tt.size, tt.unsized)
			}
			if fmt.Sprint(f.ForeignTypes) != fmt.Sprint(tt.foreign) {
				t.Errorf("foreign types %v, want %v", f.ForeignTypes, tt.foreign)
			}
			if got := strings.Join(f.Warnings, "\n"); (tt.warn == "") != (got == "") || !strings.Contains(got, tt.warn) {
				t.Errorf("warnings %q, want %q", got, tt.warn)
			}
		})
	}
}
