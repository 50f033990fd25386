// Package testenv gives tests the real libllama and the project's synthetic
// models. It owns nothing else and is imported only by _test files.
//
// A test that needs libllama calls Lib(t). When no library can be found the
// test is skipped — unless SPECLAB_REQUIRE_LLAMA=1 (set by `make test` and
// .ci/run), in which case it fails: CI must never pass by skipping.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/engine/synth"
)

// EnvRequire makes a missing libllama a test failure instead of a skip.
const EnvRequire = "SPECLAB_REQUIRE_LLAMA"

var (
	once   sync.Once
	lib    *engine.Lib
	libErr error
)

// Lib returns the process's libllama, loaded once.
func Lib(tb testing.TB) *engine.Lib {
	tb.Helper()
	once.Do(func() { lib, libErr = engine.Open(engine.LibOptions{}) })
	if libErr != nil {
		if os.Getenv(EnvRequire) == "1" {
			tb.Fatalf("libllama is required (%s=1): %v", EnvRequire, libErr)
		}
		tb.Skipf("no libllama (run `speclab setup` or set SPECLAB_LLAMA_LIB): %v", libErr)
	}
	return lib
}

// RepoRoot is the module's root folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// SharedDir returns ../shared/NAME beside the repository (the project's
// read-only reference material), or skips the test when it is absent.
func SharedDir(tb testing.TB, name string) string {
	tb.Helper()
	dir := filepath.Join(RepoRoot(), "..", "shared", name)
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("%s not present: %v", dir, err)
	}
	return dir
}

var (
	modelsMu  sync.Mutex
	modelSets = map[gguf.Type]synth.Set{}
	modelsDir string
)

// Models returns the synthetic model set (seed 1) with 2-D weights of type
// t, written once per test process into a temporary folder that Main
// removes.
func Models(tb testing.TB, t gguf.Type) synth.Set {
	tb.Helper()
	modelsMu.Lock()
	defer modelsMu.Unlock()
	if s, ok := modelSets[t]; ok {
		return s
	}
	if modelsDir == "" {
		d, err := os.MkdirTemp("", "speclab-test-models-")
		if err != nil {
			tb.Fatal(err)
		}
		modelsDir = d
	}
	s, err := synth.WriteSet(filepath.Join(modelsDir, t.String()), synth.Options{Seed: 1, Type: t})
	if err != nil {
		tb.Fatalf("synthesize models: %v", err)
	}
	modelSets[t] = s
	return s
}

// Main runs a package's tests and removes the synthetic models afterwards.
// Use it as: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if modelsDir != "" {
		os.RemoveAll(modelsDir)
	}
	os.Exit(code)
}
