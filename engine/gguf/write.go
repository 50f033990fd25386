package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// Tensor is a tensor to write: its data must be exactly
// TensorBytes(Type, Shape) bytes in ggml's layout.
type Tensor struct {
	Name  string
	Shape []uint64
	Type  Type
	Data  []byte
}

// valueType returns the GGUF value type of a KV value and whether it is an
// array of that type.
func valueType(v any) (vt uint32, isArray, ok bool) {
	switch v.(type) {
	case uint8:
		return vtUint8, false, true
	case int8:
		return vtInt8, false, true
	case uint16:
		return vtUint16, false, true
	case int16:
		return vtInt16, false, true
	case uint32:
		return vtUint32, false, true
	case int32:
		return vtInt32, false, true
	case float32:
		return vtFloat32, false, true
	case bool:
		return vtBool, false, true
	case string:
		return vtString, false, true
	case uint64:
		return vtUint64, false, true
	case int64:
		return vtInt64, false, true
	case float64:
		return vtFloat64, false, true
	case []uint8:
		return vtUint8, true, true
	case []int8:
		return vtInt8, true, true
	case []uint16:
		return vtUint16, true, true
	case []int16:
		return vtInt16, true, true
	case []uint32:
		return vtUint32, true, true
	case []int32:
		return vtInt32, true, true
	case []float32:
		return vtFloat32, true, true
	case []bool:
		return vtBool, true, true
	case []string:
		return vtString, true, true
	case []uint64:
		return vtUint64, true, true
	case []int64:
		return vtInt64, true, true
	case []float64:
		return vtFloat64, true, true
	}
	return 0, false, false
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("gguf: %s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}

// Write writes a GGUF version 3 file with the given metadata and tensors, in
// the given order. The data alignment is the uint32 value of a
// general.alignment KV if there is one, else 32. Write checks everything
// Read would reject, and that each tensor's data has the size its type and
// shape call for; such errors wrap ErrInvalid.
func Write(w io.Writer, kv []KV, tensors []Tensor) error {
	align := uint64(DefaultAlignment)
	keys := make(map[string]bool, len(kv))
	for i, p := range kv {
		if p.Key == "" {
			return invalid("key-value pair %d has an empty key", i)
		}
		if len(p.Key) > maxStringLen {
			return invalid("key of key-value pair %d is longer than 1 GiB", i)
		}
		if keys[p.Key] {
			return invalid("duplicate key %q", p.Key)
		}
		keys[p.Key] = true
		if _, _, ok := valueType(p.Value); !ok {
			return invalid("key %q has a value of type %T, which GGUF cannot hold", p.Key, p.Value)
		}
		if err := checkValue(p.Value); err != nil {
			return invalid("key %q: %v", p.Key, err)
		}
		if p.Key == KeyAlignment {
			a, ok := p.Value.(uint32)
			if !ok {
				return invalid("%s must be a uint32, not %T", KeyAlignment, p.Value)
			}
			if a == 0 || a&(a-1) != 0 {
				return invalid("%s is %d, not a power of two", KeyAlignment, a)
			}
			align = uint64(a)
		}
	}
	names := make(map[string]bool, len(tensors))
	offsets := make([]uint64, len(tensors))
	var off uint64
	for i, t := range tensors {
		if len(t.Name) > MaxNameLen {
			return invalid("tensor name %q is longer than %d bytes", t.Name, MaxNameLen)
		}
		if names[t.Name] {
			return invalid("duplicate tensor name %q", t.Name)
		}
		names[t.Name] = true
		n, err := TensorBytes(t.Type, t.Shape)
		if err != nil {
			return invalid("tensor %q: %v", t.Name, err)
		}
		if uint64(len(t.Data)) != n {
			return invalid("tensor %q of type %s and shape %v has %d bytes of data, want %d", t.Name, t.Type, t.Shape, len(t.Data), n)
		}
		offsets[i] = off
		off += alignUp(n, align)
		if off > math.MaxInt64 {
			return invalid("tensor data exceeds %d bytes", int64(math.MaxInt64))
		}
	}

	e := &encoder{w: bufio.NewWriterSize(w, 64<<10)}
	e.bytes([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kv)))
	for _, p := range kv {
		e.str(p.Key)
		e.value(p.Value)
	}
	for i, t := range tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Shape)))
		for _, d := range t.Shape {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(offsets[i])
	}
	// The data section starts aligned. Without tensors there is no data
	// section, and the padding (up to 4 GiB for a large alignment) is left
	// out: readers, ggml's included, do not look for it.
	if len(tensors) > 0 {
		e.pad(align)
	}
	for _, t := range tensors {
		e.bytes(t.Data)
		e.pad(align)
	}
	if e.err != nil {
		return fmt.Errorf("gguf: write: %w", e.err)
	}
	if err := e.w.Flush(); err != nil {
		return fmt.Errorf("gguf: write: %w", err)
	}
	return nil
}

// checkValue rejects values Read would reject: strings and arrays beyond
// ggml's limits.
func checkValue(v any) error {
	switch x := v.(type) {
	case string:
		if len(x) > maxStringLen {
			return fmt.Errorf("string longer than 1 GiB")
		}
	case []string:
		for _, s := range x {
			if len(s) > maxStringLen {
				return fmt.Errorf("string longer than 1 GiB")
			}
		}
	}
	if n := arrayLen(v); n > maxArrayElements {
		return fmt.Errorf("array of %d elements exceeds the limit of %d", n, maxArrayElements)
	}
	return nil
}

func arrayLen(v any) int {
	switch x := v.(type) {
	case []uint8:
		return len(x)
	case []int8:
		return len(x)
	case []uint16:
		return len(x)
	case []int16:
		return len(x)
	case []uint32:
		return len(x)
	case []int32:
		return len(x)
	case []float32:
		return len(x)
	case []bool:
		return len(x)
	case []string:
		return len(x)
	case []uint64:
		return len(x)
	case []int64:
		return len(x)
	case []float64:
		return len(x)
	}
	return 0
}

// WriteFile writes a GGUF file to path like Write. It writes a temporary
// file in the same directory, syncs it and renames it over path, so path
// never holds a partly written file.
func WriteFile(path string, kv []KV, tensors []Tensor) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := Write(tmp, kv, tensors); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Make the rename durable.
	if d, err := os.Open(dir); err == nil {
		serr := d.Sync()
		d.Close()
		if serr != nil {
			return fmt.Errorf("write %s: sync directory: %w", path, serr)
		}
	}
	return nil
}

type encoder struct {
	w       *bufio.Writer
	err     error
	written uint64
	scratch [8]byte
}

func (e *encoder) bytes(b []byte) {
	if e.err != nil {
		return
	}
	n, err := e.w.Write(b)
	e.written += uint64(n)
	e.err = err
}

func (e *encoder) u8(v uint8) { e.scratch[0] = v; e.bytes(e.scratch[:1]) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.scratch[:], v)
	e.bytes(e.scratch[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.scratch[:], v)
	e.bytes(e.scratch[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.scratch[:], v)
	e.bytes(e.scratch[:8])
}
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	if e.err == nil {
		n, err := e.w.WriteString(s)
		e.written += uint64(n)
		e.err = err
	}
}

func (e *encoder) pad(align uint64) {
	var zero [64]byte
	for n := alignUp(e.written, align) - e.written; n > 0; {
		m := min(n, uint64(len(zero)))
		e.bytes(zero[:m])
		n -= m
	}
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func (e *encoder) value(v any) {
	vt, isArray, _ := valueType(v)
	if isArray {
		e.u32(vtArray)
		e.u32(vt)
		e.u64(uint64(arrayLen(v)))
	} else {
		e.u32(vt)
	}
	switch x := v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		e.u8(b2u(x))
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case []uint8:
		e.bytes(x)
	case []int8:
		for _, y := range x {
			e.u8(uint8(y))
		}
	case []uint16:
		for _, y := range x {
			e.u16(y)
		}
	case []int16:
		for _, y := range x {
			e.u16(uint16(y))
		}
	case []uint32:
		for _, y := range x {
			e.u32(y)
		}
	case []int32:
		for _, y := range x {
			e.u32(uint32(y))
		}
	case []float32:
		for _, y := range x {
			e.u32(math.Float32bits(y))
		}
	case []bool:
		for _, y := range x {
			e.u8(b2u(y))
		}
	case []string:
		for _, y := range x {
			e.str(y)
		}
	case []uint64:
		for _, y := range x {
			e.u64(y)
		}
	case []int64:
		for _, y := range x {
			e.u64(uint64(y))
		}
	case []float64:
		for _, y := range x {
			e.u64(math.Float64bits(y))
		}
	}
}
