package experiments_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/speclab/speclab/engine/llamalib"
	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/spec"
)

// TestBehavioursMatchSources checks the release table against the
// llama.cpp sources of each release that speclab's cache holds (`speclab
// setup --header V` fetches one; make test fetches 3.18.1 and 3.22.1): a
// refusing release has common_speculative_is_compat's warning, a
// checkpointing one the server's use_ckpt_tgt, an unchecked one neither;
// the date is the bundle's commit date.
func TestBehavioursMatchSources(t *testing.T) {
	cache, err := llamalib.DefaultCacheDir()
	if err != nil {
		t.Skip(err)
	}
	checked := 0
	for _, b := range experiments.Behaviours {
		dir := filepath.Join(cache, "sources", "node-llama-cpp-"+b.Runtime)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		checked++
		read := func(p string) string {
			data, _ := os.ReadFile(filepath.Join(dir, p))
			return string(data)
		}
		refuses := strings.Contains(read("common/speculative.cpp"), "does not support partial sequence removal")
		ckpt := strings.Contains(read("tools/server/server-context.cpp"), "use_ckpt_tgt")
		var got experiments.HybridMode
		switch {
		case ckpt:
			got = experiments.Checkpointed
		case refuses:
			got = experiments.Refused
		default:
			got = experiments.Unchecked
		}
		if got != b.Mode {
			t.Errorf("%s (%s): the source says %s, the table %s", b.Release, b.Runtime, got, b.Mode)
		}
		server := read("tools/server/server-context.cpp") + read("tools/server/server.cpp")
		if translates := strings.Contains(server, "tokens will be translated"); translates != b.TranslatesVocab {
			t.Errorf("%s (%s): the server translates a draft of another vocabulary: %v in the source, %v in the table", b.Release, b.Runtime, translates, b.TranslatesVocab)
		}
		if out, err := exec.Command("git", "-C", dir, "log", "-1", "--format=%cs").Output(); err == nil {
			if d := strings.TrimSpace(string(out)); d != b.Date {
				t.Errorf("%s: committed %s, the table says %s", b.Release, d, b.Date)
			}
		}
	}
	if checked == 0 {
		t.Skip("no llama.cpp sources in the cache (speclab setup --header 3.18.1)")
	}
	t.Logf("checked %d of %d releases against their sources", checked, len(experiments.Behaviours))
}

func TestParseBehaviour(t *testing.T) {
	tests := []struct {
		in      string
		release string
		roll    spec.Rollback
	}{
		{"", "b8390", spec.Refuse},
		{"seed", "b8390", spec.Refuse},
		{"3.19.0", "b9842", spec.Checkpoint},
		{"b7836", "b7836", spec.Checkpoint},
		{"latest", "v0.5.0", spec.Checkpoint},
	}
	for _, tt := range tests {
		b, err := experiments.ParseBehaviour(tt.in)
		if err != nil || b.Release != tt.release || b.Rollback() != tt.roll {
			t.Errorf("ParseBehaviour(%q) = %+v, %v; want %s, %s", tt.in, b, err, tt.release, tt.roll)
		}
	}
	if _, err := experiments.ParseBehaviour("b1"); err == nil || !strings.Contains(err.Error(), "b8390") {
		t.Errorf("unknown release: %v", err)
	}
}
