package engine_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/internal/testenv"
)

// envChild marks a test process started by TestOtherReleases.
const envChild = "SPECLAB_TEST_RELEASE_CHILD"

// TestOtherReleases runs this package's tests again, each time in a process
// of its own (one libllama per process), against another runtime release
// of the table: decoding, rollback, the state checkpoint round-trip on the
// synthetic recurrent model, vocabularies and the ABI guard's refusals. And
// once against a release older than the table, driven through nothing but
// its llama.h. Tests of the pinned release skip themselves there.
func TestOtherReleases(t *testing.T) {
	if os.Getenv(envChild) != "" {
		t.Skip("already a child")
	}
	type target struct {
		name, lib, header string
	}
	var targets []target
	for _, v := range testenv.OtherRuntimes() {
		targets = append(targets, target{name: v, lib: testenv.Runtime(t, v, "cpu")})
	}
	old := testenv.InstallRuntime(t, testenv.OldRuntime)
	targets = append(targets, target{name: testenv.OldRuntime.Version + " by its llama.h", lib: old, header: testenv.Header(t, testenv.OldRuntime.Version)})
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.count=1", "-test.skip=^TestOtherReleases$")
			cmd.Env = append(os.Environ(), envChild+"=1", testenv.EnvRequire+"=1",
				"SPECLAB_LLAMA_LIB="+tg.lib, engine.EnvHeader+"="+tg.header)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the engine's tests against %s failed: %v\n%s", tg.lib, err, tail(string(out), 6000))
			}
			if !strings.Contains(string(out), "PASS") {
				t.Fatalf("no PASS from the child:\n%s", tail(string(out), 2000))
			}
		})
	}
}

// TestOldReleaseNeedsItsHeader: a library older than the table, without a
// header, is refused with instructions, and --allow-unknown-llama does not
// get it past the probe (the nearest release's layouts do not fit it).
func TestOldReleaseNeedsItsHeader(t *testing.T) {
	t.Setenv(engine.EnvHeader, "")
	lib := testenv.InstallRuntime(t, testenv.OldRuntime)
	for _, allow := range []bool{false, true} {
		_, err := engine.CheckLibrary(lib, engine.LibOptions{AllowUnknownBuild: allow})
		if err == nil {
			t.Fatalf("allow=%v: %s accepted without its header", allow, filepath.Base(lib))
		}
		want := []string{"match no release", "--llama-h", "include/llama.h"}
		if allow {
			want = []string{"ABI check failed", "nearest known release"}
		}
		for _, m := range want {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("allow=%v: error %q lacks %q", allow, err, m)
			}
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
