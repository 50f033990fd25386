package deps

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/speclab/speclab/"

// policy says, for every package of the module, the speclab packages it may
// import. A package missing from the policy is a failure too: a new package
// states its place here. The package docs say the same in prose.
var policy = `
engine/gguf:         # the GGUF format only: no libllama, no tokenizers
engine/llamah:       # reading llama.h: pure
engine/releases:     engine/llamah
engine/llamalib:     engine/releases
engine/bpe:          engine/gguf
engine/synth:        engine/bpe engine/gguf
engine/modelcheck:   engine/bpe engine/gguf    # what libllama would abort on: no libllama
engine:              engine/bpe engine/gguf engine/llamah engine/llamalib engine/modelcheck engine/releases
engine/releases/gen: engine/llamah engine/llamalib engine/releases
terms:               # the shared vocabulary: a leaf every package may use
spec/sample:         # sampling: pure
drafts:              engine spec/sample terms
spec:                drafts engine spec/sample terms
experiments/runlog:  terms    # the run folder's format: no engine, no loop
experiments:         drafts engine engine/gguf engine/llamalib engine/synth experiments/llamaserver experiments/runlog models rocm spec spec/sample terms
experiments/llamaserver: terms    # llama-server's HTTP API: no engine
analysis:            experiments/runlog terms    # works from the logs alone
rocm:                # GPUs, bandwidth, roofline: no engine, no logs
models:
models/corpus:       engine/bpe
models/export:       engine/bpe engine/gguf models models/corpus
models/prep:         engine/bpe models/corpus
internal/deps:
internal/testenv:    engine engine/gguf engine/llamalib engine/releases engine/synth
internal/mutants:    engine/gguf    # broken models for tests
cmd/speclab:         *
`

// parsePolicy reads the policy text: "pkg: allowed ..." lines, # comments.
func parsePolicy(t *testing.T, text string) map[string][]string {
	t.Helper()
	rules := map[string][]string{}
	for i, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		if strings.TrimSpace(line) == "" {
			continue
		}
		pkg, allowed, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("policy line %d: no colon: %q", i, line)
		}
		rules[strings.TrimSpace(pkg)] = strings.Fields(allowed)
	}
	return rules
}

// imports reads the speclab imports of every package under root, from the
// import clauses of its non-test Go files.
func imports(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "out") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		if _, ok := out[pkg]; !ok {
			out[pkg] = nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if dep, ok := strings.CutPrefix(p, module); ok && !slices.Contains(out[pkg], dep) {
				out[pkg] = append(out[pkg], dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// violations lists every import the policy does not allow, and every
// package it does not mention.
func violations(rules, imps map[string][]string) []string {
	var bad []string
	for pkg, deps := range imps {
		allowed, ok := rules[pkg]
		if !ok {
			bad = append(bad, pkg+": not in the import policy (add a line for it)")
			continue
		}
		if slices.Contains(allowed, "*") {
			continue
		}
		for _, d := range deps {
			if !slices.Contains(allowed, d) {
				bad = append(bad, pkg+" imports "+d+", which the policy does not allow (allowed: "+strings.Join(allowed, " ")+")")
			}
		}
	}
	sort.Strings(bad)
	return bad
}

func TestImportPolicy(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s", root)
	}
	rules := parsePolicy(t, policy)
	imps := imports(t, root)
	for _, v := range violations(rules, imps) {
		t.Error(v)
	}
	for pkg := range rules {
		if _, ok := imps[pkg]; !ok {
			t.Errorf("the policy names %s, which has no Go files", pkg)
		}
	}
}

// TestImportPolicyCatches: the check fails on a violation. The module's real
// imports with one forbidden edge added (engine/gguf importing engine, the
// rule its package doc states) and one package the policy omits.
func TestImportPolicyCatches(t *testing.T) {
	rules := parsePolicy(t, policy)
	imps := imports(t, filepath.Join("..", ".."))
	imps["engine/gguf"] = append(imps["engine/gguf"], "engine")
	imps["engine/newthing"] = nil
	got := violations(rules, imps)
	want := []string{
		"engine/gguf imports engine, which the policy does not allow (allowed: )",
		"engine/newthing: not in the import policy (add a line for it)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
