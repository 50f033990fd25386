package gguf

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"
)

func TestWriteOpenSmoke(t *testing.T) {
	kv := []KV{{"general.architecture", "llama"}, {"llama.block_count", uint32(2)}, {"tokenizer.ggml.tokens", []string{"a", "b"}}}
	tensors := []Tensor{
		{Name: "token_embd.weight", Shape: []uint64{4, 2}, Type: TypeF32, Data: make([]byte, 32)},
		{Name: "output.weight", Shape: []uint64{32, 1}, Type: TypeQ8_0, Data: bytes.Repeat([]byte{1}, 34)},
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteFile(path, kv, tensors); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.KV, kv) {
		t.Errorf("KV = %#v, want %#v", f.KV, kv)
	}
	if len(f.Tensors) != 2 || f.Tensors[1].Offset != 32 || f.Tensors[1].Size != 34 {
		t.Errorf("tensors = %+v", f.Tensors)
	}
}
