package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"sort"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the data alignment of a file without general.alignment.
const DefaultAlignment = 32

// KeyAlignment is the metadata key that sets the data alignment (a uint32).
const KeyAlignment = "general.alignment"

// Limits of ggml's reader (gguf.cpp), enforced here too.
const (
	maxStringLen     = 1 << 30 // GGUF_MAX_STRING_LENGTH
	maxArrayElements = 1 << 30 // GGUF_MAX_ARRAY_ELEMENTS
)

// GGUF metadata value types.
const (
	vtUint8   uint32 = 0
	vtInt8    uint32 = 1
	vtUint16  uint32 = 2
	vtInt16   uint32 = 3
	vtUint32  uint32 = 4
	vtInt32   uint32 = 5
	vtFloat32 uint32 = 6
	vtBool    uint32 = 7
	vtString  uint32 = 8
	vtArray   uint32 = 9
	vtUint64  uint32 = 10
	vtInt64   uint32 = 11
	vtFloat64 uint32 = 12
)

// vtSize is the encoded size of a scalar value type; a string's minimum (its
// length prefix) for vtString; 0 for invalid types.
var vtSize = [...]uint64{1, 1, 2, 2, 4, 4, 4, 1, 8, 0, 8, 8, 8}

var vtName = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

// KV is one metadata key-value pair.
//
// Value is one of uint8, int8, uint16, int16, uint32, int32, float32, bool,
// string, uint64, int64, float64, or a slice of one of them ([]string,
// []float32, []int32, ...). Write infers the GGUF value type from the Go type
// and Read produces exactly these Go types, so a written file reads back to
// the same values in the same order (an empty array reads back as an empty,
// non-nil slice).
type KV struct {
	Key   string
	Value any
}

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name   string
	Shape  []uint64 // Shape[0] is the contiguous dimension (ggml's ne[0])
	Type   Type
	Offset uint64 // relative to the data section (File.DataOffset)
	// Size is the tensor's bytes. When its type is unknown (Unsized), it is
	// the room up to the next tensor's data or the end of the file: an
	// upper bound, including padding.
	Size uint64
	// TypeName is the type's name as the type table gives it.
	TypeName string
	// Unsized: no type table in use knows the type, so the size was not
	// checked (read without a library; see File.Warnings).
	Unsized bool
}

// File is the parsed and validated header of a GGUF file.
type File struct {
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  uint64 // general.alignment, or DefaultAlignment
	DataOffset uint64 // absolute file offset of the data section
	FileSize   int64
	// Types is the table tensors were sized with: Builtin, or the loaded
	// library's (Options.Types).
	Types TypeTable
	// ForeignTypes are the types the table sized that speclab's own table
	// does not know (a newer ggml, or a fork's own type).
	ForeignTypes []Type
	// Warnings say what could not be checked: tensors of types no table
	// knows, read without a library.
	Warnings []string
}

// Options change how a file is read.
type Options struct {
	// Types sizes the tensors; nil means Builtin, with unknown types read
	// as a warning (File.Warnings) instead of an error, since the library
	// that will load the file may know them. With a table, a type it does
	// not know is corruption: that library would abort on it.
	Types TypeTable
}

// Open reads and validates the header of the GGUF file at path against the
// file's real size. Errors name the path; problems with the content wrap one
// of ErrNotGGUF, ErrVersion, ErrTruncated or ErrCorrupt.
func Open(path string) (*File, error) { return OpenWith(path, Options{}) }

// OpenWith is Open with options.
func OpenWith(path string, o Options) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file", path)
	}
	f, err := ReadWith(fh, st.Size(), o)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return f, nil
}

// Read reads and validates a GGUF header from r, whose content is size bytes
// long. It checks everything that can be checked without reading the tensor
// data: structure, limits, tensor types and shapes, and that every tensor's
// data lies inside the file, aligned, without overlap and in the layout
// ggml requires.
func Read(r io.ReaderAt, size int64) (*File, error) { return ReadWith(r, size, Options{}) }

// ReadWith is Read with options.
func ReadWith(r io.ReaderAt, size int64, o Options) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("gguf: negative file size %d", size)
	}
	d := &decoder{br: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10), size: size, types: o.Types}
	f, err := d.file()
	if err != nil {
		return nil, err
	}
	return f, nil
}

type decoder struct {
	br    *bufio.Reader
	pos   int64 // offset of the next byte br returns
	size  int64
	buf   []byte
	types TypeTable // nil: Builtin, unknown types a warning
}

func (d *decoder) remaining() uint64 { return uint64(d.size - d.pos) }

// take returns the next n bytes; the slice is valid until the next call.
func (d *decoder) take(n uint64, what string) ([]byte, error) {
	if n > d.remaining() {
		return nil, formatErr(ErrTruncated, d.pos, "truncated: file ends at byte %d, %d bytes short of the %s", d.size, n-d.remaining(), what)
	}
	if uint64(cap(d.buf)) < n {
		d.buf = make([]byte, n)
	}
	b := d.buf[:n]
	if _, err := io.ReadFull(d.br, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, formatErr(ErrTruncated, d.pos, "truncated: file is shorter than its stated size %d while reading the %s", d.size, what)
		}
		return nil, fmt.Errorf("gguf: reading %s at offset %d: %w", what, d.pos, err)
	}
	d.pos += int64(n)
	return b, nil
}

func (d *decoder) u32(what string) (uint32, error) {
	b, err := d.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64(what string) (uint64, error) {
	b, err := d.take(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (d *decoder) str(what string) (string, error) {
	at := d.pos
	n, err := d.u64("string length")
	if err != nil {
		return "", err
	}
	if n > maxStringLen {
		return "", formatErr(ErrCorrupt, at, "corrupt: %s length %d exceeds the 1 GiB limit", what, n)
	}
	if n > d.remaining() {
		return "", formatErr(ErrTruncated, at, "truncated: %s of %d bytes but only %d bytes remain", what, n, d.remaining())
	}
	b, err := d.take(n, what)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func (d *decoder) file() (*File, error) {
	// Magic.
	if d.size == 0 {
		return nil, formatErr(ErrTruncated, 0, "truncated: the file is empty")
	}
	if d.size < 4 {
		b, _ := d.take(uint64(d.size), "magic")
		if string(b) == Magic[:len(b)] {
			return nil, formatErr(ErrTruncated, 0, "truncated: file has only %d bytes", d.size)
		}
		return nil, formatErr(ErrNotGGUF, 0, "not a GGUF file (magic %q)", b)
	}
	b, err := d.take(4, "magic")
	if err != nil {
		return nil, err
	}
	if string(b) != Magic {
		return nil, formatErr(ErrNotGGUF, 0, "not a GGUF file (magic %q)", b)
	}

	// Header.
	f := &File{FileSize: d.size, Alignment: DefaultAlignment}
	if f.Version, err = d.u32("version"); err != nil {
		return nil, err
	}
	switch v := f.Version; {
	case v == 2 || v == 3:
	case v == 1:
		return nil, formatErr(ErrVersion, 4, "unsupported GGUF version 1 (only versions 2 and 3 can be read; convert the file with a current llama.cpp)")
	case v&0xffff == 0:
		return nil, formatErr(ErrVersion, 4, "unsupported GGUF version %#x: the file looks big-endian, only little-endian files can be read", v)
	default:
		return nil, formatErr(ErrVersion, 4, "unsupported GGUF version %d (only versions 2 and 3 can be read)", v)
	}
	nTensors, err := d.u64("tensor count")
	if err != nil {
		return nil, err
	}
	nKV, err := d.u64("key-value count")
	if err != nil {
		return nil, err
	}
	// Bound the counts by what the file can hold before allocating anything:
	// a key-value pair takes at least 13 bytes (key length, type,
	// 1-byte value), a tensor info at least 32 (name length, n_dims, one
	// dimension, type, offset).
	const minKV, minTensor = 13, 32
	if err := d.checkCount(nKV, "key-value pairs", 16); err != nil {
		return nil, err
	}
	if err := d.checkCount(nTensors, "tensors", 8); err != nil {
		return nil, err
	}
	if nKV > d.remaining()/minKV || nTensors > (d.remaining()-nKV*minKV)/minTensor {
		return nil, formatErr(ErrTruncated, 8, "truncated: %d key-value pairs and %d tensors need at least %d bytes but only %d bytes remain",
			nKV, nTensors, nKV*minKV+nTensors*minTensor, d.remaining())
	}

	// Key-value pairs.
	// Preallocate little: a corrupt count in a large file must not cost a
	// large allocation before the first bad item is found.
	f.KV = make([]KV, 0, min(nKV, 1<<10))
	keys := make(map[string]int, min(nKV, 1<<10))
	for i := uint64(0); i < nKV; i++ {
		at := d.pos
		key, err := d.str("key")
		if err != nil {
			return nil, within(err, "key-value pair %d", i)
		}
		if key == "" {
			return nil, formatErr(ErrCorrupt, at, "corrupt: empty key in key-value pair %d", i)
		}
		if j, dup := keys[key]; dup {
			return nil, formatErr(ErrCorrupt, at, "corrupt: duplicate key %s in key-value pairs %d and %d", Quote(key), j, i)
		}
		keys[key] = int(i)
		v, err := d.value()
		if err != nil {
			return nil, within(err, "key-value pair %d %s", i, Quote(key))
		}
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}
	if j, ok := keys[KeyAlignment]; ok {
		a, isU32 := f.KV[j].Value.(uint32)
		if !isU32 {
			return nil, formatErr(ErrCorrupt, -1, "corrupt: %s must be a uint32, not %s", KeyAlignment, typeName(f.KV[j].Value))
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, formatErr(ErrCorrupt, -1, "corrupt: %s is %d, not a power of two", KeyAlignment, a)
		}
		f.Alignment = uint64(a)
	}

	// Tensor infos.
	f.Tensors = make([]TensorInfo, 0, min(nTensors, 1<<12))
	names := make(map[string]int, min(nTensors, 1<<12))
	for i := uint64(0); i < nTensors; i++ {
		t, err := d.tensorInfo(i, names)
		if err != nil {
			return nil, err
		}
		names[t.Name] = int(i)
		f.Tensors = append(f.Tensors, t)
	}
	f.DataOffset = uint64(d.pos)
	if nTensors > 0 {
		// ggml seeks to the aligned start of the data section only when there
		// are tensors; a vocab-only file may end right after its header.
		f.DataOffset = alignUp(f.DataOffset, f.Alignment)
	}
	f.noteTypes(d.types)
	if err := f.checkLayout(); err != nil {
		return nil, err
	}
	return f, nil
}

// noteTypes records the table used and the types it sized that speclab's own
// does not know, and bounds the size of each tensor of an unknown type by
// the room its data has: up to the next tensor's data, or the end of file.
func (f *File) noteTypes(table TypeTable) {
	f.Types = table
	if table == nil {
		f.Types = Builtin
	}
	foreign := map[Type]bool{}
	unsized := map[Type][]string{}
	var order []Type
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if !t.Unsized {
			if !t.Type.Valid() && !foreign[t.Type] {
				foreign[t.Type] = true
				f.ForeignTypes = append(f.ForeignTypes, t.Type)
			}
			continue
		}
		if len(unsized[t.Type]) == 0 {
			order = append(order, t.Type)
		}
		unsized[t.Type] = append(unsized[t.Type], t.Name)
		end := uint64(f.FileSize) - min(uint64(f.FileSize), f.DataOffset)
		if i+1 < len(f.Tensors) {
			end = f.Tensors[i+1].Offset
		}
		if end >= t.Offset {
			t.Size = end - t.Offset
		}
	}
	for _, typ := range order {
		names := unsized[typ]
		f.Warnings = append(f.Warnings, fmt.Sprintf("%d tensors (%s, ...) have type id %d, which %s does not know: their sizes are unchecked. "+
			"It is a type newer than speclab's table or a fork's own (the ROCmFPX build writes its own FP4 types); "+
			"load the file with the libllama that knows it (--llama-lib) to have it sized by that library's ggml",
			len(names), names[0], uint32(typ), Builtin.Describe()))
	}
}

// checkCount rejects a count beyond any real file (2^32 key-value pairs or
// tensors): a sign of a corrupt header, not of a short file.
func (d *decoder) checkCount(n uint64, what string, at int64) error {
	if n > 1<<32 {
		return formatErr(ErrCorrupt, at, "corrupt: header claims %d %s", n, what)
	}
	return nil
}

func (d *decoder) value() (any, error) {
	at := d.pos
	vt, err := d.u32("value type")
	if err != nil {
		return nil, err
	}
	if vt != vtArray {
		if vt >= uint32(len(vtSize)) {
			return nil, formatErr(ErrCorrupt, at, "corrupt: unknown value type %d", vt)
		}
		return d.scalar(vt)
	}
	at = d.pos
	et, err := d.u32("array element type")
	if err != nil {
		return nil, err
	}
	if et == vtArray {
		return nil, formatErr(ErrCorrupt, at, "corrupt: nested arrays are not supported by ggml")
	}
	if et >= uint32(len(vtSize)) {
		return nil, formatErr(ErrCorrupt, at, "corrupt: unknown array element type %d", et)
	}
	at = d.pos
	n, err := d.u64("array length")
	if err != nil {
		return nil, err
	}
	if n > maxArrayElements {
		return nil, formatErr(ErrCorrupt, at, "corrupt: array of %d elements exceeds the limit of %d", n, maxArrayElements)
	}
	if n > d.remaining()/vtSize[et] {
		return nil, formatErr(ErrTruncated, at, "truncated: array of %d %s values needs at least %d bytes but only %d bytes remain", n, vtName[et], n*vtSize[et], d.remaining())
	}
	switch et {
	case vtUint8:
		return readArray(d, n, 1, func(b []byte) uint8 { return b[0] })
	case vtInt8:
		return readArray(d, n, 1, func(b []byte) int8 { return int8(b[0]) })
	case vtUint16:
		return readArray(d, n, 2, binary.LittleEndian.Uint16)
	case vtInt16:
		return readArray(d, n, 2, func(b []byte) int16 { return int16(binary.LittleEndian.Uint16(b)) })
	case vtUint32:
		return readArray(d, n, 4, binary.LittleEndian.Uint32)
	case vtInt32:
		return readArray(d, n, 4, func(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) })
	case vtFloat32:
		return readArray(d, n, 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })
	case vtUint64:
		return readArray(d, n, 8, binary.LittleEndian.Uint64)
	case vtInt64:
		return readArray(d, n, 8, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) })
	case vtFloat64:
		return readArray(d, n, 8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) })
	case vtBool:
		start := d.pos
		raw, err := readArray(d, n, 1, func(b []byte) uint8 { return b[0] })
		if err != nil {
			return nil, err
		}
		out := make([]bool, n)
		for i, c := range raw {
			if c > 1 {
				return nil, formatErr(ErrCorrupt, start+int64(i), "corrupt: bool array element %d has value %d, not 0 or 1", i, c)
			}
			out[i] = c == 1
		}
		return out, nil
	default: // vtString
		out := make([]string, 0, min(n, 1<<16))
		for i := uint64(0); i < n; i++ {
			s, err := d.str("string")
			if err != nil {
				return nil, within(err, "element %d of a string array", i)
			}
			out = append(out, s)
		}
		return out, nil
	}
}

// readArray reads n fixed-size elements; the caller has checked that they
// fit. The slice grows as bytes arrive, so memory follows what was read.
func readArray[T any](d *decoder, n, size uint64, conv func([]byte) T) ([]T, error) {
	const chunk = 4096
	out := make([]T, 0, min(n, 1<<16))
	for i := uint64(0); i < n; {
		m := min(n-i, chunk)
		b, err := d.take(m*size, "array")
		if err != nil {
			return nil, err
		}
		for j := uint64(0); j < m; j++ {
			out = append(out, conv(b[j*size:(j+1)*size]))
		}
		i += m
	}
	return out, nil
}

func (d *decoder) scalar(vt uint32) (any, error) {
	if vt == vtString {
		return d.str("string")
	}
	at := d.pos
	b, err := d.take(vtSize[vt], vtName[vt]+" value")
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	switch vt {
	case vtUint8:
		return b[0], nil
	case vtInt8:
		return int8(b[0]), nil
	case vtUint16:
		return le.Uint16(b), nil
	case vtInt16:
		return int16(le.Uint16(b)), nil
	case vtUint32:
		return le.Uint32(b), nil
	case vtInt32:
		return int32(le.Uint32(b)), nil
	case vtFloat32:
		return math.Float32frombits(le.Uint32(b)), nil
	case vtBool:
		if b[0] > 1 {
			return nil, formatErr(ErrCorrupt, at, "corrupt: bool value %d, not 0 or 1", b[0])
		}
		return b[0] == 1, nil
	case vtUint64:
		return le.Uint64(b), nil
	case vtInt64:
		return int64(le.Uint64(b)), nil
	default: // vtFloat64
		return math.Float64frombits(le.Uint64(b)), nil
	}
}

func (d *decoder) tensorInfo(i uint64, names map[string]int) (TensorInfo, error) {
	var t TensorInfo
	at := d.pos
	name, err := d.str("tensor name")
	if err != nil {
		return t, within(err, "tensor info %d", i)
	}
	if len(name) > MaxNameLen {
		return t, formatErr(ErrCorrupt, at, "corrupt: tensor name %s of tensor %d is %d bytes long, more than ggml's limit of %d", Quote(name), i, len(name), MaxNameLen)
	}
	if j, dup := names[name]; dup {
		return t, formatErr(ErrCorrupt, at, "corrupt: duplicate tensor name %s in tensors %d and %d", Quote(name), j, i)
	}
	t.Name = name
	at = d.pos
	nDims, err := d.u32("number of dimensions")
	if err != nil {
		return t, within(err, "tensor %s", Quote(name))
	}
	if nDims < 1 || nDims > MaxDims {
		return t, formatErr(ErrCorrupt, at, "corrupt: tensor %s has %d dimensions, want 1 to %d", Quote(name), nDims, MaxDims)
	}
	t.Shape = make([]uint64, nDims)
	n := uint64(1)
	for j := range t.Shape {
		at = d.pos
		dim, err := d.u64("dimension")
		if err != nil {
			return t, within(err, "tensor %s", Quote(name))
		}
		if dim == 0 {
			return t, formatErr(ErrCorrupt, at, "corrupt: tensor %s has a zero dimension %d", Quote(name), j)
		}
		hi, lo := bits.Mul64(n, dim)
		if hi != 0 || lo > math.MaxInt64 {
			return t, formatErr(ErrCorrupt, at, "corrupt: tensor %s has too many elements (shape %v... overflows int64)", Quote(name), t.Shape[:j+1])
		}
		n = lo
		t.Shape[j] = dim
	}
	at = d.pos
	typ, err := d.u32("tensor type")
	if err != nil {
		return t, within(err, "tensor %s", Quote(name))
	}
	t.Type = Type(typ)
	table := d.types
	if table == nil {
		table = Builtin
	}
	tn, elems, _, known := table.TypeInfo(t.Type)
	known = known && elems > 0
	switch {
	case known:
		t.TypeName = tn
		if t.Size, err = tensorBytes(table, t.Type, t.Shape); err != nil {
			return t, formatErr(ErrCorrupt, at, "corrupt: tensor %s: %v", Quote(name), err)
		}
	case d.types == nil && t.Type.removed():
		return t, formatErr(ErrCorrupt, at, "corrupt: tensor %s has type id %d, which ggml removed (no build reads it)", Quote(name), typ)
	case d.types == nil:
		t.Unsized, t.TypeName = true, fmt.Sprintf("type(%d)", typ)
	default:
		return t, formatErr(ErrCorrupt, at, "corrupt: tensor %s has type id %d, which %s does not know", Quote(name), typ, table.Describe())
	}
	if t.Offset, err = d.u64("tensor offset"); err != nil {
		return t, within(err, "tensor %s", Quote(name))
	}
	return t, nil
}

// Quote quotes s for an error message, at most its first 40 bytes: a name
// read from a corrupt file can be a gigabyte long.
func Quote(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%q…", s[:40])
	}
	return fmt.Sprintf("%q", s)
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// checkLayout checks that every tensor's data is aligned, inside the file,
// free of overlap, and laid out as ggml requires: in header order, each
// padded to the alignment.
func (f *File) checkLayout() error {
	size := uint64(f.FileSize)
	if f.DataOffset > size && len(f.Tensors) > 0 {
		return formatErr(ErrTruncated, -1, "truncated: the data section starts at byte %d but file has %d bytes", f.DataOffset, size)
	}
	for _, t := range f.Tensors {
		if t.Offset%f.Alignment != 0 {
			return formatErr(ErrCorrupt, -1, "corrupt: tensor %s data offset %d is not a multiple of the alignment %d", Quote(t.Name), t.Offset, f.Alignment)
		}
		start, c1 := bits.Add64(f.DataOffset, t.Offset, 0)
		end, c2 := bits.Add64(start, t.Size, 0)
		if c1 != 0 || c2 != 0 || end > math.MaxInt64 {
			return formatErr(ErrCorrupt, -1, "corrupt: tensor %s data offset %d is impossibly large", Quote(t.Name), t.Offset)
		}
		if end > size {
			return formatErr(ErrTruncated, int64(start), "truncated: tensor %s needs bytes [%d,%d) but file has %d bytes", Quote(t.Name), start, end, size)
		}
	}
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return f.Tensors[order[a]].Offset < f.Tensors[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		p, q := f.Tensors[order[k-1]], f.Tensors[order[k]]
		if q.Offset < p.Offset+p.Size {
			return formatErr(ErrCorrupt, int64(f.DataOffset+q.Offset), "corrupt: tensors %q and %q overlap: data bytes [%d,%d) and [%d,%d)",
				p.Name, q.Name, p.Offset, p.Offset+p.Size, q.Offset, q.Offset+q.Size)
		}
	}
	var want uint64
	for _, t := range f.Tensors {
		if t.Offset != want {
			return formatErr(ErrCorrupt, int64(f.DataOffset+t.Offset), "corrupt: tensor %q has data offset %d, expected %d (ggml requires tensor data in header order, each padded to the alignment %d)",
				t.Name, t.Offset, want, f.Alignment)
		}
		want += alignUp(t.Size, f.Alignment)
	}
	return nil
}

func typeName(v any) string {
	if vt, isArr, ok := valueType(v); ok {
		if isArr {
			return "array of " + vtName[vt]
		}
		return vtName[vt]
	}
	return fmt.Sprintf("%T", v)
}

// Lookup returns the value of a metadata key.
func (f *File) Lookup(key string) (any, bool) {
	for i := range f.KV {
		if f.KV[i].Key == key {
			return f.KV[i].Value, true
		}
	}
	return nil, false
}

// String returns the value of a string key.
func (f *File) String(key string) (string, bool) {
	v, _ := f.Lookup(key)
	s, ok := v.(string)
	return s, ok
}

// Uint returns the value of an integer key of any integer type; ok is false
// when the key is missing, not an integer, or negative.
func (f *File) Uint(key string) (uint64, bool) {
	v, _ := f.Lookup(key)
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// Float returns the value of a float32 or float64 key, or of an integer key
// converted to float64.
func (f *File) Float(key string) (float64, bool) {
	v, _ := f.Lookup(key)
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	if u, ok := f.Uint(key); ok {
		return float64(u), true
	}
	return 0, false
}

// Strings returns the value of a string-array key.
func (f *File) Strings(key string) ([]string, bool) {
	v, _ := f.Lookup(key)
	s, ok := v.([]string)
	return s, ok
}

// Architecture returns general.architecture, or "" if it is missing.
func (f *File) Architecture() string {
	s, _ := f.String("general.architecture")
	return s
}

// Tensor returns the info of the named tensor.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// TensorData reads the data of tensor t from r, the file f was read from.
func (f *File) TensorData(r io.ReaderAt, t TensorInfo) ([]byte, error) {
	start, c1 := bits.Add64(f.DataOffset, t.Offset, 0)
	end, c2 := bits.Add64(start, t.Size, 0)
	if c1 != 0 || c2 != 0 || end > uint64(f.FileSize) {
		return nil, formatErr(ErrTruncated, -1, "truncated: tensor %s needs bytes [%d,%d) but file has %d bytes", Quote(t.Name), start, end, f.FileSize)
	}
	b := make([]byte, t.Size)
	if n, err := r.ReadAt(b, int64(start)); err != nil && n < len(b) {
		if errors.Is(err, io.EOF) {
			return nil, formatErr(ErrTruncated, int64(start), "truncated: file ends inside the data of tensor %s", Quote(t.Name))
		}
		return nil, fmt.Errorf("gguf: reading data of tensor %q: %w", t.Name, err)
	}
	return b, nil
}
