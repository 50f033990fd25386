package engine

import (
	"fmt"
	"strings"

	"github.com/speclab/speclab/engine/gguf"
)

// ggmlTypes is the tensor type table of the loaded library's ggml, read
// once through ggml_type_name, ggml_blck_size and ggml_type_size for every
// id below its GGML_TYPE_COUNT (those functions index an array without a
// bounds check, so the count must come from the library's own ggml.h: the
// release table or the header's ggml.h).
type ggmlTypes struct {
	names        []string
	elems, bytes []uint64
	what         string
}

func (t *ggmlTypes) TypeInfo(id gguf.Type) (string, uint64, uint64, bool) {
	if int(id) >= len(t.names) || t.elems[id] == 0 {
		return "", 0, 0, false
	}
	return t.names[id], t.elems[id], t.bytes[id], true
}

func (t *ggmlTypes) Describe() string { return t.what }

// readTypes builds the table for a library whose ggml knows count types.
func (l *Lib) readTypes(count int) *ggmlTypes {
	t := &ggmlTypes{
		names: make([]string, count),
		elems: make([]uint64, count),
		bytes: make([]uint64, count),
		what:  fmt.Sprintf("this libllama's ggml (type ids 0..%d)", count-1),
	}
	for i := range count {
		blck := l.c.ggmlBlckSize(int32(i))
		if blck <= 0 {
			continue // a removed type
		}
		t.names[i] = strings.ToUpper(l.c.ggmlTypeName(int32(i))) // gguf-py's spelling
		t.elems[i] = uint64(blck)
		t.bytes[i] = l.c.ggmlTypeSize(int32(i))
	}
	return t
}

// TensorTypes is the loaded library's table of tensor types, for reading a
// GGUF file the way this library will (gguf.Options.Types); nil when the
// library's type count is unknown (a header without its ggml.h), and then
// speclab's own table applies.
func (l *Lib) TensorTypes() gguf.TypeTable {
	if l.types == nil {
		return nil
	}
	return l.types
}
