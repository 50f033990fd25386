// Package testenv gives tests the real libllama and the project's synthetic
// models. It owns nothing else and is imported only by _test files.
//
// A test that needs libllama calls Lib(t). When no library can be found the
// test is skipped — unless SPECLAB_REQUIRE_LLAMA=1 (set by `make test` and
// .ci/run), in which case it fails: CI must never pass by skipping.
package testenv

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/engine/llamalib"
	"github.com/speclab/speclab/engine/releases"
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

// Header returns the llama.h of runtime version (a @node-llama-cpp/linux-x64
// version), fetched once into speclab's cache by llamalib.FetchSource
// (`speclab setup --header VERSION` does the same). Without npm or the
// network the test is skipped, or fails under SPECLAB_REQUIRE_LLAMA=1.
func Header(tb testing.TB, version string) string {
	tb.Helper()
	fetch := llamalib.FetchSource
	if version == OldRuntime.Version {
		fetch = func(ctx context.Context, cache, v string, progress func(string)) (llamalib.LlamaSource, error) {
			return llamalib.FetchSourcePinned(ctx, cache, v, oldSourceIntegrity, progress)
		}
	}
	src, err := fetch(context.Background(), "", version, nil)
	if err != nil {
		if os.Getenv(EnvRequire) == "1" {
			tb.Fatalf("llama.h of %s is required (%s=1): %v", version, EnvRequire, err)
		}
		tb.Skipf("no llama.h of %s (run `speclab setup --header %s`): %v", version, version, err)
	}
	return src.Header()
}

// OtherRuntimes are the runtime releases besides the pinned one that the
// tests drive (each in a process of its own): spread over 2026, with and
// without llama_version, load_mode and n_rs_seq. SPECLAB_TEST_RUNTIMES
// (comma-separated) replaces the list; `make setup` installs them.
func OtherRuntimes() []string {
	if v := os.Getenv("SPECLAB_TEST_RUNTIMES"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"3.15.1", "3.18.1", "3.20.0", "3.21.1"}
}

// Runtime returns the libllama of a runtime of the table of releases,
// installing it into speclab's cache first if needed (npm pack, about
// 10 MB, sha512-checked; a no-op once installed).
func Runtime(tb testing.TB, version, variant string) string {
	tb.Helper()
	rt, err := llamalib.LookupRuntime(version, variant)
	if err != nil {
		tb.Fatal(err)
	}
	return install(tb, rt)
}

// OldRuntime is a runtime older than the table of releases:
// @node-llama-cpp/linux-x64@3.14.5, llama.cpp b7347 (December 2025), which
// exports no llama_version and only 220 llama_* functions. Its sha512 is
// pinned here, for tests only.
var OldRuntime = llamalib.Runtime{
	Package:   "@node-llama-cpp/linux-x64",
	Version:   "3.14.5",
	Integrity: "sha512-" + oldRuntimeSHA512,
}

// InstallRuntime installs rt (if needed) and returns its libllama.
func InstallRuntime(tb testing.TB, rt llamalib.Runtime) string {
	tb.Helper()
	return install(tb, rt)
}

func install(tb testing.TB, rt llamalib.Runtime) string {
	tb.Helper()
	lib, err := llamalib.Install(context.Background(), llamalib.InstallOptions{Runtime: rt})
	if err != nil {
		if os.Getenv(EnvRequire) == "1" {
			tb.Fatalf("runtime %s is required (%s=1): %v", rt, EnvRequire, err)
		}
		tb.Skipf("runtime %s not available (run `speclab setup --runtime %s`): %v", rt, rt.Version, err)
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

// Load loads a model into the real libllama; the test closes it.
func Load(tb testing.TB, path string) *engine.Model {
	tb.Helper()
	l := Lib(tb)
	m, err := l.LoadModel(path, engine.ModelParams{})
	if errors.Is(err, engine.ErrUnknownArch) && !pinned(l) {
		// An older release (TestOtherReleases) lacks qwen35; the pinned
		// runtime must load every synthetic model.
		tb.Skipf("%s: %v", l.Version, err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.Close)
	return m
}

// pinned reports whether l is the pinned default runtime's libllama.
func pinned(l *engine.Lib) bool {
	r, ok := releases.ByRuntime(llamalib.DefaultVersion)
	return ok && l.Version == r.LlamaVersion
}

// Context creates a context of n tokens (default threads); the test
// closes it.
func Context(tb testing.TB, m *engine.Model, n int) *engine.Context {
	tb.Helper()
	c, err := m.NewContext(engine.ContextParams{NCtx: n})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// Tokenize tokenizes s with the model's special tokens added.
func Tokenize(tb testing.TB, m *engine.Model, s string) []engine.Token {
	tb.Helper()
	toks, err := m.Tokenize(s, true, false)
	if err != nil {
		tb.Fatal(err)
	}
	return toks
}

// VocabVectors reads llama.cpp's tokenizer test vectors for a vocabulary
// (base.inp, base.out), in the format of tests/test-tokenizer-0.cpp: inputs
// separated by "\n__ggml_vocab_test__\n", one line of ids per input.
func VocabVectors(tb testing.TB, base string) (inputs []string, want [][]int32) {
	tb.Helper()
	inp, err := os.ReadFile(base + ".inp")
	if err != nil {
		tb.Fatal(err)
	}
	out, err := os.ReadFile(base + ".out")
	if err != nil {
		tb.Fatal(err)
	}
	// As test-tokenizer-0 does: a separator at the very end starts no input.
	const sep = "\n__ggml_vocab_test__\n"
	inputs = strings.Split(strings.TrimSuffix(string(inp), sep), sep)
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(inputs) {
		tb.Fatalf("%s: %d inputs but %d outputs", base, len(inputs), len(lines))
	}
	for _, l := range lines {
		var ids []int32
		for _, f := range strings.Fields(l) {
			n, err := strconv.ParseInt(f, 10, 32)
			if err != nil {
				tb.Fatalf("%s.out: %v", base, err)
			}
			ids = append(ids, int32(n))
		}
		want = append(want, ids)
	}
	return inputs, want
}

// oldSourceIntegrity pins node-llama-cpp@3.14.5, whose bundle holds the
// llama.cpp source (and llama.h) of OldRuntime.
const oldSourceIntegrity = "sha512-Db+RFqFMJOOVWprUINq77LVe44FaiJ6JvNiq14r2+DZRgkgyxckSZa6DcZ5Xe5MC+hGA5aqOdnNxsrudUcs74Q=="

const oldRuntimeSHA512 = "f6xCqlSqSxMP9Iwm3CpaTzFybbHrzpLkNzA18v21PwhMN8u4DP44euLoxe+BMbOpyzx4iMxU1AUsPsgcHD1Y4w=="

// CaptureStdout runs f and returns what it wrote to os.Stdout: for testing
// Example functions that need libllama and so cannot carry an Output
// comment (an example cannot skip when the library is absent).
func CaptureStdout(tb testing.TB, f func()) string {
	tb.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() { os.Stdout = old }()
	f()
	w.Close()
	return <-done
}

// Peer returns llama.cpp's own tools of the pinned release, built from its
// source by llamalib.BuildPeer (`make peer` builds them before the tests;
// here a missing build is started, which takes minutes). Without cmake or
// a compiler the test is skipped, or fails under SPECLAB_REQUIRE_LLAMA=1.
func Peer(tb testing.TB) llamalib.Peer {
	tb.Helper()
	p, err := llamalib.BuildPeer(context.Background(), "", nil)
	if err != nil {
		if os.Getenv(EnvRequire) == "1" {
			tb.Fatalf("llama.cpp's tools are required (%s=1; `make peer` builds them): %v", EnvRequire, err)
		}
		tb.Skipf("no llama.cpp tools (run `make peer`): %v", err)
	}
	return p
}
