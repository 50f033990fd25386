package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/mutants"
	"github.com/speclab/speclab/internal/testenv"
)

// envMutantChild names a file of model paths: the test binary then runs
// `speclab inspect` and `speclab run` on each, in-process, printing one
// result line per model, until it is done or libllama kills it.
const envMutantChild = "SPECLAB_MUTANT_CHILD"

// mutantResult is one model's outcome, as the child prints it.
type mutantResult struct {
	I       int    `json:"i"`
	Inspect int    `json:"inspect"`
	Run     int    `json:"run"`
	Msg     string `json:"msg"`      // the run's first error line, cut
	MaxLine int    `json:"max_line"` // longest line either printed
}

// mutantChild is the child's loop.
func mutantChild(list, lib string) int {
	data, err := os.ReadFile(list)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	for i, path := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r mutantResult
		r.I = i
		var o, e bytes.Buffer
		r.Inspect = run([]string{"speclab", "--llama-lib", lib, "inspect", path}, &o, &e)
		r.MaxLine = maxLine(o.String() + e.String())
		o.Reset()
		e.Reset()
		r.Run = run([]string{"speclab", "--llama-lib", lib, "run", "--target", path, "-p", "func main() {", "-n", "4"}, &o, &e)
		r.MaxLine = max(r.MaxLine, maxLine(o.String()+e.String()))
		if msg, _, _ := strings.Cut(e.String(), "\n"); r.Run != 0 {
			r.Msg = msg[:min(len(msg), 200)]
		}
		line, _ := json.Marshal(r)
		out.Write(append(line, '\n'))
		out.Flush()
	}
	return 0
}

// why picks libllama's last words out of a dead child's stderr (before
// the Go runtime's dump of the signal).
func why(stderr string) string {
	var keep []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "SIGABRT") || strings.HasPrefix(l, "SIGSEGV") || strings.HasPrefix(l, "goroutine ") {
			break
		}
		if strings.Contains(l, "GGML_ASSERT") || strings.Contains(l, "terminate") || strings.Contains(l, "what()") ||
			strings.Contains(l, "error") || strings.Contains(l, "ERROR") || strings.Contains(l, "abort") {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	s := strings.Join(keep, " | ")
	if len(s) > 500 {
		s = s[len(s)-500:]
	}
	return s
}

func maxLine(s string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		n = max(n, len(l))
	}
	return n
}

// TestMutantCorpus: no semantically broken model makes speclab crash. It
// generates mutants of the synthetic and shipped models (package mutants),
// SPECLAB_MUTANTS of them (default 230, ten per category and more), and
// runs `inspect` and `run` on each in child processes; a child that dies
// is a crash of the model it was on. Every mutant must end in a clean exit:
// an error (exit 1 or 2) or a run (exit 0), with no line longer than 1 kB.
// SPECLAB_MUTANT_SEED (default 12) picks another corpus.
// docs/RELIABILITY.md records a run of 3,200 on a fresh seed.
func TestMutantCorpus(t *testing.T) {
	lib := testenv.Lib(t)
	n := 230
	if v := os.Getenv("SPECLAB_MUTANTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("SPECLAB_MUTANTS=%q", v)
		}
	}
	seed := uint64(12)
	if v := os.Getenv("SPECLAB_MUTANT_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("SPECLAB_MUTANT_SEED=%q", v)
		}
	}
	var bases []mutants.Base
	for _, ty := range []gguf.Type{gguf.TypeF32, gguf.TypeQ8_0} {
		set := testenv.Models(t, ty)
		for _, p := range []string{set.Target, set.Recurrent, set.Hybrid} {
			b, err := mutants.Read(p, fmt.Sprintf("%s-%v", strings.TrimSuffix(filepath.Base(p), ".gguf"), ty))
			if err != nil {
				t.Fatal(err)
			}
			bases = append(bases, b)
		}
	}
	shipped, err := mutants.Read(filepath.Join(testenv.RepoRoot(), "models", "draft.gguf"), "shipped-draft")
	if err != nil {
		t.Fatal(err)
	}
	bases = append(bases, shipped)
	all := mutants.Generate(bases, n, seed)
	type tally struct{ crash, clean, ran int }
	byCat := map[string]*tally{}
	var crashes, long []string
	const batch = 100
	for lo := 0; lo < len(all); lo += batch {
		ms := all[lo:min(lo+batch, len(all))]
		dir := t.TempDir()
		var paths []string
		for i := range ms {
			p := filepath.Join(dir, fmt.Sprintf("m%04d.gguf", i))
			if err := ms[i].Write(p); err != nil {
				t.Fatalf("%s: %v", ms[i].Name, err)
			}
			paths = append(paths, p)
		}
		for start := 0; start < len(paths); {
			list := filepath.Join(dir, "list")
			os.WriteFile(list, []byte(strings.Join(paths[start:], "\n")), 0o644)
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), envMutantChild+"="+list, "SPECLAB_MUTANT_LIB="+lib.Location.Lib)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			done := 0
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				var r mutantResult
				if line == "" || json.Unmarshal([]byte(line), &r) != nil {
					continue
				}
				m := ms[start+r.I]
				c := byCat[m.Category]
				if c == nil {
					c = &tally{}
					byCat[m.Category] = c
				}
				if r.Run == 0 && r.Inspect == 0 {
					c.ran++
				} else {
					c.clean++
				}
				if r.MaxLine > 1000 {
					long = append(long, fmt.Sprintf("%s (%d bytes)", m.Name, r.MaxLine))
				}
				done = r.I + 1
			}
			if err == nil && start+done == len(paths) {
				break
			}
			// The child died on model start+done.
			m := ms[start+done]
			c := byCat[m.Category]
			if c == nil {
				c = &tally{}
				byCat[m.Category] = c
			}
			c.crash++
			crashes = append(crashes, fmt.Sprintf("%s: %v: %s", m.Name, err, why(stderr.String())))
			start += done + 1
		}
	}
	cats := make([]string, 0, len(byCat))
	for c := range byCat {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	var sum tally
	for _, c := range cats {
		x := byCat[c]
		t.Logf("%-18s crash %3d  clean error %4d  ran %4d", c, x.crash, x.clean, x.ran)
		sum.crash += x.crash
		sum.clean += x.clean
		sum.ran += x.ran
	}
	t.Logf("%-18s crash %3d  clean error %4d  ran %4d  (%d mutants)", "all", sum.crash, sum.clean, sum.ran, len(all))
	for _, c := range crashes {
		t.Errorf("crash: %s", c)
	}
	for _, l := range long {
		t.Errorf("a line over 1 kB: %s", l)
	}
}
