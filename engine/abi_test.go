package engine_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/testenv"
)

// pinnedLib returns the path of the process's libllama, skipping the test
// when it is not the pinned release (TestOtherReleases runs this package's
// tests against other releases too).
func pinnedLib(t *testing.T) string {
	t.Helper()
	l := testenv.Lib(t)
	if l.Version != "0.5.0-dev" || l.Location.Source != "cache" && !strings.Contains(l.KnownBuild, "3.22.1") {
		t.Skipf("a test of the pinned release; this is %s (%s)", l.Location.Lib, l.LayoutSource)
	}
	return l.Location.Lib
}

// writeHeader writes a variant of the pinned llama.h: edit gets its text
// and returns the new one.
func writeHeader(t *testing.T, edit func(string) string) string {
	t.Helper()
	text, err := os.ReadFile(testenv.Header(t, "3.22.1"))
	if err != nil {
		t.Fatal(err)
	}
	out := edit(string(text))
	if out == string(text) {
		t.Fatal("the edit changed nothing")
	}
	p := filepath.Join(t.TempDir(), "llama.h")
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func replaceOnce(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}

// TestHeaderDrivesTheLibrary: the layouts of a llama.h handed in are used;
// a header that does not describe the library is refused before a single
// parameter struct is passed to it, whatever is wrong with it.
func TestHeaderDrivesTheLibrary(t *testing.T) {
	lib := pinnedLib(t)
	pinned := testenv.Header(t, "3.22.1")
	tests := []struct {
		name    string
		header  func(t *testing.T) string
		wantErr error
		msgs    []string
	}{
		{name: "the pinned llama.h", header: func(*testing.T) string { return pinned }},
		{
			name:    "the llama.h of another release (3.18.1: no load_mode, no n_rs_seq)",
			header:  func(t *testing.T) string { return testenv.Header(t, "3.18.1") },
			wantErr: engine.ErrUnknownBuild,
			msgs:    []string{"ABI check failed", "header "},
		},
		{
			name: "a field added to llama_model_params",
			header: func(t *testing.T) string {
				return writeHeader(t, replaceOnce("int32_t n_gpu_layers;", "int32_t n_gpu_layers; int32_t n_extra;"))
			},
			wantErr: engine.ErrUnknownBuild,
			msgs:    []string{"ABI check failed", "llama_model_params"},
		},
		{
			name: "a field removed from llama_context_params",
			header: func(t *testing.T) string {
				return writeHeader(t, replaceOnce("uint32_t n_rs_seq;", ""))
			},
			wantErr: engine.ErrUnknownBuild,
			msgs:    []string{"ABI check failed", "llama_context_params"},
		},
		{
			name: "a field speclab sets renamed away (n_ctx)",
			header: func(t *testing.T) string {
				return writeHeader(t, replaceOnce("uint32_t n_ctx;", "uint32_t n_ctx_renamed;"))
			},
			wantErr: engine.ErrUnknownBuild,
			msgs:    []string{"llama_context_params has no n_ctx"},
		},
		{
			name: "two fields swapped (n_ctx and n_batch)",
			header: func(t *testing.T) string {
				return writeHeader(t, func(s string) string {
					s = strings.Replace(s, "uint32_t n_ctx;", "uint32_t n_ctx_tmp;", 1)
					s = strings.Replace(s, "uint32_t n_batch;", "uint32_t n_ctx;", 1)
					return strings.Replace(s, "uint32_t n_ctx_tmp;", "uint32_t n_batch;", 1)
				})
			},
			wantErr: engine.ErrUnknownBuild,
			msgs:    []string{"ABI check failed", "n_ctx @4 is 2048, expected 512"},
		},
		{
			name: "a function declared differently",
			header: func(t *testing.T) string {
				return writeHeader(t, replaceOnce("LLAMA_API int32_t llama_decode(", "LLAMA_API int64_t llama_decode("))
			},
			wantErr: engine.ErrUnknownBuild,
			msgs:    []string{"llama_decode", "i64(ptr,struct llama_batch)", "i32(ptr,struct llama_batch)"},
		},
		{
			name: "no llama_model_params",
			header: func(t *testing.T) string {
				return writeHeader(t, replaceOnce("struct llama_model_params {", "struct llama_model_params_renamed {"))
			},
			wantErr: engine.ErrUnknownBuild,
			msgs:    []string{"defines no such struct"},
		},
		{
			name: "a header that does not parse",
			header: func(t *testing.T) string {
				return writeHeader(t, replaceOnce("int32_t n_gpu_layers;", "int32_t n_gpu_layers; mystery_t oops;"))
			},
			msgs: []string{"llama.h:", `unknown type name "mystery_t"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header(t)
			l, err := engine.CheckLibrary(lib, engine.LibOptions{Header: h})
			if tt.msgs == nil && tt.wantErr == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if l.LayoutSource != "header "+h || l.KnownBuild != "" {
					t.Errorf("layouts from %q (known build %q), want the header", l.LayoutSource, l.KnownBuild)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
			for _, m := range tt.msgs {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q lacks %q", err, m)
				}
			}
		})
	}
}

// TestHeaderFoundInBuildTree: a library in build/bin of a llama.cpp tree is
// driven through the tree's include/llama.h without being told.
func TestHeaderFoundInBuildTree(t *testing.T) {
	real := pinnedLib(t)
	root := t.TempDir()
	for _, d := range []string{"include", filepath.Join("build", "bin")} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	text, err := os.ReadFile(testenv.Header(t, "3.22.1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "include", "llama.h"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(root, "build", "bin", "libllama.so")
	if err := os.Link(real, lib); err != nil {
		t.Skipf("cannot link the library into a temporary tree: %v", err)
	}
	l, err := engine.CheckLibrary(lib, engine.LibOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "header " + filepath.Join(root, "include", "llama.h")
	if l.LayoutSource != want || !strings.Contains(l.IdentifiedBy, "build tree") {
		t.Errorf("layouts from %q (%s), want %q", l.LayoutSource, l.IdentifiedBy, want)
	}
}

// TestPinnedLibraryIdentified: without a header the pinned library is found
// in the table by its llama_version, and every capability of v0.5.0 is on.
func TestPinnedLibraryIdentified(t *testing.T) {
	pinnedLib(t)
	l := testenv.Lib(t)
	if !strings.Contains(l.KnownBuild, "@node-llama-cpp/linux-x64@3.22.1") || !strings.HasPrefix(l.LayoutSource, "table: ") {
		t.Fatalf("known build %q, layouts %q", l.KnownBuild, l.LayoutSource)
	}
	for _, c := range l.Capabilities {
		if !c.Present {
			t.Errorf("v0.5.0 lacks capability %s", c.Name)
		}
	}
}

// TestRuntimeSizedStructWithPurego answers the question of issue 9: can
// purego pass a struct whose type exists only at run time? A struct type
// made with reflect.StructOf from the header's size works with
// purego.RegisterFunc for a result of the MEMORY class (larger than 16
// bytes): it gives the same bytes as the engine's SyscallN path.
func TestRuntimeSizedStructWithPurego(t *testing.T) {
	l := testenv.Lib(t)
	want := l.ModelDefaultBytes()
	st := reflect.StructOf([]reflect.StructField{{Name: "B", Type: reflect.ArrayOf(len(want)/8, reflect.TypeFor[uint64]())}})
	fn := reflect.New(reflect.FuncOf(nil, []reflect.Type{st}, false))
	purego.RegisterFunc(fn.Interface(), l.Symbol("llama_model_default_params"))
	out := fn.Elem().Call(nil)[0]
	v := reflect.New(st).Elem()
	v.Set(out)
	got := unsafe.Slice((*byte)(v.Addr().UnsafePointer()), st.Size())
	if !bytes.Equal(got, want) {
		t.Errorf("reflect.StructOf result\n%x\nSyscallN result\n%x", got, want)
	}
}

// TestTensorTypesOfTheLibrary: the library's own type table agrees with
// speclab's on every type both know, and a model with a type the library
// does not know is refused in Go, naming the library, before libllama sees
// it (on releases before b8352 that is NVFP4).
func TestTensorTypesOfTheLibrary(t *testing.T) {
	l := testenv.Lib(t)
	table := l.TensorTypes()
	if table == nil {
		t.Fatalf("no type table for %s (%s)", l.Location.Lib, l.TypesFrom)
	}
	for id := gguf.Type(0); id < 64; id++ {
		ln, le, lb, lok := table.TypeInfo(id)
		bn, be, bb, bok := gguf.Builtin.TypeInfo(id)
		switch {
		case lok && bok && (ln != bn || le != be || lb != bb):
			t.Errorf("type %d: library %s %d/%d, speclab %s %d/%d", id, ln, le, lb, bn, be, bb)
		case lok && !bok:
			t.Logf("type %d (%s) is known to the library only", id, ln)
		case bok && !lok && l.Version == "0.5.0-dev":
			t.Errorf("type %d (%s) unknown to the pinned library", id, bn)
		}
	}
	path := filepath.Join(t.TempDir(), "nvfp4.gguf")
	if err := gguf.WriteFile(path, []gguf.KV{{Key: "general.architecture", Value: "llama"}},
		[]gguf.Tensor{{Name: "w", Shape: []uint64{64}, Type: gguf.TypeNVFP4, Data: make([]byte, 36)}}); err != nil {
		t.Fatal(err)
	}
	_, err := l.LoadModel(path, engine.ModelParams{})
	if err == nil {
		t.Fatal("a model without weights loaded")
	}
	if _, _, _, known := table.TypeInfo(gguf.TypeNVFP4); known {
		if errors.Is(err, gguf.ErrCorrupt) {
			t.Errorf("NVFP4 refused by speclab although the library knows it: %v", err)
		}
	} else if !errors.Is(err, gguf.ErrCorrupt) || !strings.Contains(err.Error(), "this libllama's ggml") {
		t.Errorf("NVFP4 on a library without it: %v, want ErrCorrupt naming the library", err)
	}
}

// BenchmarkIdentify is the ABI guard of Open without the backends: reading
// the library's exported symbols, identifying it (table or header) and the
// default-parameter probe. The goal is under 50 ms with header parsing.
func BenchmarkIdentify(b *testing.B) {
	lib := testenv.Lib(b).Location.Lib
	for _, bc := range []struct {
		name   string
		header string
	}{{"table", ""}, {"header", testenv.Header(b, "3.22.1")}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := engine.CheckLibrary(lib, engine.LibOptions{Header: bc.header}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
