package engine_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/engine/llamalib"
	"github.com/speclab/speclab/internal/testenv"
)

func TestOpenReportsLibrary(t *testing.T) {
	lib := testenv.Lib(t)
	if lib.GGMLVersion == "" || lib.Version == "" && hasCapability(lib, "llama_version") {
		t.Fatalf("empty versions: %q %q", lib.Version, lib.GGMLVersion)
	}
	if lib.LayoutSource == "" || lib.IdentifiedBy == "" {
		t.Fatalf("no layout source (%q) or identification (%q)", lib.LayoutSource, lib.IdentifiedBy)
	}
	devs := lib.Devices()
	if len(devs) == 0 || devs[0].Name == "" {
		t.Fatalf("no devices: %+v", devs)
	}
	if !strings.Contains(strings.Join(lib.Backends(), ","), "CPU") {
		t.Errorf("backends %v lack CPU", lib.Backends())
	}
	again, err := engine.Open(engine.LibOptions{Path: lib.Location.Lib})
	if err != nil || again != lib {
		t.Fatalf("second Open of the same library: %v, %p != %p", err, again, lib)
	}
}

// fakeLib compiles a shared object exporting the given C source, or skips
// when no C compiler is available (the test suite itself needs none).
func fakeLib(t *testing.T, src string) string {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not available to build a fake library")
	}
	dir := t.TempDir()
	c := filepath.Join(dir, "fake.c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(dir, "libllama.so")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", so, c).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return so
}

func TestOpenBadLibraries(t *testing.T) {
	notELF := filepath.Join(t.TempDir(), "libllama.so")
	if err := os.WriteFile(notELF, []byte("this is not a library\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		env     map[string]string
		wantErr error
		wantMsg []string
	}{
		{
			name:    "missing file",
			path:    func(t *testing.T) string { return "/nonexistent/libllama.so" },
			wantErr: nil,
			wantMsg: []string{"/nonexistent/libllama.so"},
		},
		{
			name:    "not a shared object",
			path:    func(t *testing.T) string { return notELF },
			wantErr: engine.ErrWrongLibrary,
			wantMsg: []string{"not an ELF shared library"},
		},
		{
			name:    "no llama function",
			path:    func(t *testing.T) string { return fakeLib(t, "int something(void) { return 1; }\n") },
			wantErr: engine.ErrWrongLibrary,
			wantMsg: []string{"exports no llama_* function"},
		},
		{
			name: "unknown version",
			path: func(t *testing.T) string {
				return fakeLib(t, `const char *llama_version(void) { return "9.9.9-future"; }`+"\n")
			},
			wantErr: engine.ErrUnknownBuild,
			wantMsg: []string{`"9.9.9-future"`, "--allow-unknown-llama", "speclab setup --runtime", "--llama-h", "3.22.1  llama.cpp v0.5.0"},
		},
		{
			name: "unknown version allowed but not a libllama",
			path: func(t *testing.T) string {
				return fakeLib(t, `const char *llama_version(void) { return "9.9.9-future"; }`+"\n")
			},
			env:     map[string]string{engine.EnvAllowUnknown: "1"},
			wantErr: engine.ErrWrongLibrary,
			wantMsg: []string{"symbol"},
		},
	}
	t.Setenv(engine.EnvHeader, "") // a header given for the real library is not theirs
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := engine.Open(engine.LibOptions{Path: tt.path(t)})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q lacks %q", err, m)
				}
			}
		})
	}
}

func TestOpenNothingFound(t *testing.T) {
	t.Setenv(llamalib.EnvLib, "")
	_, err := engine.Open(engine.LibOptions{CacheDir: t.TempDir()})
	if !errors.Is(err, llamalib.ErrNotFound) {
		t.Fatalf("error %v is not ErrNotFound", err)
	}
	for _, m := range []string{"speclab setup", "--llama-lib"} {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not say %q", err, m)
		}
	}
}

// TestLoadModelBadFiles: every bad file is caught in Go, before libllama
// reads it, with an error that says what is wrong.
func TestLoadModelBadFiles(t *testing.T) {
	lib := testenv.Lib(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	valid := filepath.Join(dir, "valid.gguf")
	err := gguf.WriteFile(valid, []gguf.KV{{Key: "general.architecture", Value: "llama"}},
		[]gguf.Tensor{{Name: "w", Shape: []uint64{64, 4}, Type: gguf.TypeF32, Data: make([]byte, 64*4*4)}})
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(valid)
	if err != nil {
		t.Fatal(err)
	}
	absurd := append([]byte{}, good[:8]...)
	absurd = append(absurd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f) // 2^60 tensors
	absurd = append(absurd, good[16:]...)
	tests := []struct {
		name    string
		path    string
		wantErr error
	}{
		{"missing", filepath.Join(dir, "nope.gguf"), os.ErrNotExist},
		{"wrong magic", write("magic.gguf", append([]byte("GGML"), good[4:]...)), gguf.ErrNotGGUF},
		{"empty", write("empty.gguf", nil), nil},
		{"truncated header", write("trunc1.gguf", good[:30]), nil},
		{"truncated data", write("trunc2.gguf", good[:len(good)-10]), gguf.ErrTruncated},
		{"absurd tensor count", write("absurd.gguf", absurd), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := lib.LoadModel(tt.path, engine.ModelParams{})
			if err == nil {
				m.Close()
				t.Fatal("LoadModel succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.path) && !strings.Contains(err.Error(), filepath.Base(tt.path)) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func hasCapability(l *engine.Lib, name string) bool {
	for _, c := range l.Capabilities {
		if c.Name == name {
			return c.Present
		}
	}
	return false
}
