package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/testenv"
)

// envMain makes the test binary act as the speclab command: tests that need
// another libllama than their own process holds run it as a child.
const envMain = "SPECLAB_TEST_AS_SPECLAB"

func TestMain(m *testing.M) {
	if list := os.Getenv(envMutantChild); list != "" {
		os.Exit(mutantChild(list, os.Getenv("SPECLAB_MUTANT_LIB")))
	}
	if os.Getenv(envMain) == "1" {
		os.Exit(run(append([]string{"speclab"}, os.Args[1:]...), os.Stdout, os.Stderr))
	}
	testenv.Main(m)
}

// speclabProcess runs the command line in a child process, so that it may
// load another libllama.
func speclabProcess(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envMain+"=1", "SPECLAB_LLAMA_LIB=", "SPECLAB_LLAMA_H=")
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, string(out)
}

// speclab runs the command line in-process and returns its exit code,
// stdout and stderr.
func speclab(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"speclab"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func writeBad(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	valid := filepath.Join(dir, "valid.gguf")
	err := gguf.WriteFile(valid, []gguf.KV{{Key: "general.architecture", Value: "llama"}},
		[]gguf.Tensor{{Name: "w", Shape: []uint64{32, 2}, Type: gguf.TypeF32, Data: make([]byte, 32*2*4)}})
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(valid)
	if err != nil {
		t.Fatal(err)
	}
	absurd := append(append(append([]byte{}, good[:16]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), good[24:]...)
	files := map[string][]byte{
		"magic.gguf":  append([]byte("GGJT"), good[4:]...),
		"trunc.gguf":  good[:len(good)-7],
		"absurd.gguf": absurd,
		"text.gguf":   []byte("hello\n"),
	}
	paths := map[string]string{}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

func TestExitCodesAndMessages(t *testing.T) {
	bad := writeBad(t)
	tests := []struct {
		name string
		args []string
		code int
		msgs []string // in stderr
	}{
		{"no model", []string{"inspect"}, 2, []string{"one MODEL.gguf"}},
		{"flag after model", []string{"inspect", bad["magic.gguf"], "--json"}, 2, []string{"put flags first"}},
		{"unknown flag", []string{"inspect", "--bogus", "x.gguf"}, 2, []string{"bogus"}},
		{"missing file", []string{"inspect", "/nonexistent/model.gguf"}, 1, []string{"/nonexistent/model.gguf", "no such file"}},
		{"wrong magic", []string{"inspect", bad["magic.gguf"]}, 1, []string{"not a GGUF file"}},
		{"text file", []string{"inspect", bad["text.gguf"]}, 1, []string{"text.gguf"}},
		{"truncated", []string{"inspect", bad["trunc.gguf"]}, 1, []string{"truncated"}},
		{"absurd count", []string{"inspect", bad["absurd.gguf"]}, 1, []string{"absurd.gguf", "key-value pairs"}},
		{"missing library", []string{"--llama-lib", "/nonexistent/lib", "doctor"}, 1, []string{"/nonexistent/lib"}},
		{"bad weight type", []string{"models", "synth", "--out", t.TempDir(), "--type", "q3"}, 2, []string{"q3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := speclab(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			all := out + errs
			for _, m := range tt.msgs {
				if !strings.Contains(all, m) {
					t.Errorf("output lacks %q:\n%s", m, all)
				}
			}
		})
	}
}

func TestHelpTeaches(t *testing.T) {
	code, out, _ := speclab(t, "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"setup", "doctor", "inspect", "models", "--llama-lib", "SPECLAB_LLAMA_LIB"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestDoctor(t *testing.T) {
	lib := testenv.Lib(t)
	code, out, errs := speclab(t, "--llama-lib", lib.Location.Lib, "doctor")
	if code != 0 {
		t.Fatalf("doctor exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{lib.Version, "CPU", "ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = speclab(t, "--llama-lib", lib.Location.Lib, "doctor", "--json")
	var r doctorReport
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || len(r.Devices) == 0 {
		t.Fatalf("doctor --json: exit %d, %q", code, out)
	}
}

// TestSynthThenInspect writes the models through the CLI and inspects them:
// the transformer can drop a tail, the recurrent model cannot.
func TestSynthThenInspect(t *testing.T) {
	lib := testenv.Lib(t)
	dir := t.TempDir()
	code, out, errs := speclab(t, "models", "synth", "--out", dir, "--type", "mxfp4")
	if code != 0 {
		t.Fatalf("synth exit %d\n%s\n%s", code, out, errs)
	}
	tests := []struct {
		file     string
		tailDrop bool
	}{
		{"target.gguf", true},
		{"recurrent.gguf", false},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.file)
		code, out, errs := speclab(t, "--llama-lib", lib.Location.Lib, "inspect", "--json", path)
		if code != 0 {
			t.Fatalf("inspect %s exit %d\n%s", tt.file, code, errs)
		}
		var r inspectReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("inspect --json output: %v\n%s", err, out)
		}
		if r.TailDrop == nil || *r.TailDrop != tt.tailDrop {
			t.Errorf("%s: partial_kv_removal = %v, want %v (notes %v)", tt.file, r.TailDrop, tt.tailDrop, r.Notes)
		}
		if r.Summary.BytesPerToken == 0 || r.Summary.BytesPerToken > r.Summary.TensorBytes {
			t.Errorf("%s: bytes per token %d of %d", tt.file, r.Summary.BytesPerToken, r.Summary.TensorBytes)
		}
		if r.Model == nil || r.Model.VocabSize == 0 {
			t.Errorf("%s: no libllama view: %+v", tt.file, r.Model)
		}
	}
	code, out, _ = speclab(t, "--llama-lib", lib.Location.Lib, "inspect", filepath.Join(dir, "target.gguf"))
	if code != 0 || !strings.Contains(out, "MXFP4") || !strings.Contains(out, "partial KV removal works") {
		t.Errorf("inspect text output:\n%s", out)
	}
}

// TestUnknownLibraryVersion: a libllama whose version speclab does not know
// is refused with a message that says what to do, and a non-zero exit.
func TestUnknownLibraryVersion(t *testing.T) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not available to build a fake library")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "fake.c")
	if err := os.WriteFile(src, []byte(`const char *llama_version(void) { return "0.9.0-other"; }`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(dir, "libllama.so")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", so, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	code, out, errs := speclab(t, "--llama-lib", dir, "doctor")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"0.9.0-other", "unknown libllama build", "--allow-unknown-llama"} {
		if !strings.Contains(out+errs, want) {
			t.Errorf("output lacks %q:\n%s%s", want, out, errs)
		}
	}
}

// TestRun drives `speclab run` end to end on the synthetic models.
func TestRun(t *testing.T) {
	lib := testenv.Lib(t)
	set := testenv.Models(t, gguf.TypeQ8_0)
	base := []string{"--llama-lib", lib.Location.Lib, "run", "--target", set.Target}
	tests := []struct {
		name string
		args []string
		code int
		out  []string // in stdout+stderr
	}{
		{"draft lossless", []string{"--spec-type", "draft-simple", "--draft", set.Draft, "-p", "func main() {", "-n", "40", "--check-lossless"}, 0,
			[]string{"lossless    true", "mean acceptance length"}},
		{"refused draft", []string{"--spec-type", "draft-simple", "--draft", set.OtherVocab, "-p", "hello", "-n", "8"}, 0,
			[]string{"refused", "vocab-refused", "never applied"}},
		{"ngram short history", []string{"--spec-type", "ngram-simple", "-p", "hello", "-n", "16"}, 0,
			[]string{"no-history", "never applied"}},
		{"recurrent refuse", []string{"--spec-type", "draft-simple", "--draft", set.Draft, "-p", "hello", "-n", "8", "--rollback", "refuse"}, 0,
			[]string{"target-cannot-rollback", "never applied"}},
		// llama-server's semantics by default, speclab's own on request
		{"draft alone runs nothing, as llama-server", []string{"--draft", set.Draft, "-p", "func main() {", "-n", "16"}, 0,
			[]string{"--draft without --spec-type", "never applied", "disabled"}},
		{"draft alone per method", []string{"--semantics", "per-method", "--draft", set.Draft, "-p", "func main() {", "-n", "16"}, 0,
			[]string{"draft-simple, verify greedy", "applied on"}},
		{"refused draft switches the list off", []string{"--spec-type", "ngram-simple,draft-simple", "--draft", set.OtherVocab, "-p", "a a a a a a a a a a a a a a a a a a a a a a a a a a", "-n", "16"}, 0,
			[]string{"every method of the list is off", "would still run ngram-simple", "never applied", "vocab-refused"}},
		{"refused draft per method keeps the n-grams", []string{"--semantics", "per-method", "--spec-type", "ngram-simple,draft-simple", "--draft", set.OtherVocab, "-p", "hello", "-n", "16"}, 0,
			[]string{"refused", "no-history"}},
		{"none in a list", []string{"--spec-type", "ngram-simple,none", "-p", "hello", "-n", "8"}, 0,
			[]string{"--- speclab: none", "disabled", "would run ngram-simple"}},
		{"negative n-max", []string{"--spec-type", "draft-simple", "--draft", set.Draft, "--spec-draft-n-max", "-1", "-p", "x"}, 2,
			[]string{"invalid value"}},
		{"bad semantics", []string{"--semantics", "mine", "-p", "x"}, 2, []string{"semantics"}},
		// ranges (issue 12)
		{"p-min above 1", []string{"--spec-type", "draft-simple", "--draft", set.Draft, "--spec-draft-p-min", "2", "-p", "x"}, 2, []string{"spec-draft-p-min", "0..1"}},
		{"p-min NaN", []string{"--spec-type", "draft-simple", "--draft", set.Draft, "--spec-draft-p-min", "NaN", "-p", "x"}, 2, []string{"spec-draft-p-min"}},
		{"negative n-min", []string{"--spec-type", "draft-simple", "--draft", set.Draft, "--spec-draft-n-min", "-2", "-p", "x"}, 2, []string{"spec-draft-n-min"}},
		{"infinite temperature", []string{"--temp", "inf", "-p", "x"}, 2, []string{"finite"}},
		{"negative temperature", []string{"--temp", "-1", "-p", "x"}, 2, []string{"temperature"}},
		{"threads over the cores", []string{"-t", "1000", "-p", "x"}, 2, []string{"threads 1000", "cores", "--force-threads"}},
		// llama-server's flags carried over
		{"no downloads", []string{"-hf", "org/model", "-p", "x"}, 2, []string{"downloads no models"}},
		{"bad cache type", []string{"-ctk", "q7", "-p", "x"}, 2, []string{"unsupported cache type", "q8_0"}},
		{"server flags", []string{"-ctk", "q8_0", "-ctv", "q8_0", "-b", "64", "-ub", "32", "-s", "3", "--jinja",
			"--spec-draft-p-split", "0.2", "--spec-type", "ngram-simple", "-p", "func main() {", "-n", "16", "--check-lossless"}, 0,
			[]string{"lossless    true"}},
		{"no prompt", []string{"-n", "8"}, 2, []string{"no prompt"}},
		{"draft type without model", []string{"--spec-type", "draft-simple", "-p", "x"}, 2, []string{"needs a draft model"}},
		{"unknown type", []string{"--spec-type", "eagle", "-p", "x"}, 2, []string{"unknown method"}},
		{"bad policy", []string{"--spec-type", "draft-simple", "--draft", set.Draft, "--dd-policy", "0:n4;4915x:n4", "-p", "x"}, 2, []string{"4915x"}},
		{"sampling without temp", []string{"--verify", "rejection", "-p", "x"}, 2, []string{"--temp"}},
		{"missing target", []string{"-p", "x"}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(slices.Clone(base), tt.args...)
			switch tt.name {
			case "missing target":
				args[4] = "/nonexistent/target.gguf"
			case "recurrent refuse":
				args[4] = set.Recurrent
			}
			code, out, errs := speclab(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.code, out, errs)
			}
			for _, want := range tt.out {
				if !strings.Contains(out+errs, want) {
					t.Errorf("output lacks %q:\n%s%s", want, out, errs)
				}
			}
		})
	}
	// --json carries the numbers
	code, out, _ := speclab(t, append(base, "--spec-type", "draft-simple", "--draft", set.Draft, "-p", "x", "-n", "24", "--json", "--check-lossless")...)
	var r runOutput
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("--json: exit %d\n%s", code, out)
	}
	if r.Generated != 24 || r.Lossless == nil || !*r.Lossless || r.Drafted == 0 {
		t.Errorf("--json result: %+v", r)
	}
}

// TestReproduceFlags: strict shards, an empty shard, --resume of a missing
// folder, and a failed start that leaves no folder behind.
func TestReproduceFlags(t *testing.T) {
	lib := testenv.Lib(t)
	set := testenv.Models(t, gguf.TypeQ8_0)
	dir := t.TempDir()
	base := []string{"--llama-lib", lib.Location.Lib, "reproduce", "--target", set.Target, "--draft", set.Draft, "--n-predict-scale", "0.05"}
	tests := []struct {
		name string
		args []string
		code int
		out  []string
	}{
		{"shard with a tail", []string{"--shard", "1/2x"}, 2, []string{`shard "1/2x"`}},
		{"shard of three numbers", []string{"--shard", "1/2/3"}, 2, []string{"want K/N"}},
		{"shard beyond the cells", []string{"--shard", "190/200", "--out", filepath.Join(dir, "empty-shard")}, 0, []string{"has no cells", "nothing to do"}},
		{"zero scale", []string{"--n-predict-scale", "0"}, 2, []string{"n_predict_scale"}},
		{"unknown progress", []string{"--progress", "fancy"}, 2, []string{"want auto, bar, plain or none"}},
		{"resume of a missing folder", []string{"--resume", "--out", filepath.Join(dir, "missing")}, 1, []string{"missing", "no such file"}},
		{"wrong target path", []string{"--target", "/nonexistent/t.gguf", "--out", filepath.Join(dir, "failed-start")}, 1, []string{"/nonexistent/t.gguf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := speclab(t, append(slices.Clone(base), tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.code, out, errs)
			}
			for _, want := range tt.out {
				if !strings.Contains(out+errs, want) {
					t.Errorf("output lacks %q:\n%s%s", want, out, errs)
				}
			}
		})
	}
	for _, name := range []string{"missing", "empty-shard", "failed-start"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s: the folder exists after the command (%v)", name, err)
		}
	}
}

// TestReproduceDiagnosis runs the seed study end to end on the synthetic
// models with the mismatched draft and checks what the diagnosis says.
func TestReproduceDiagnosis(t *testing.T) {
	lib := testenv.Lib(t)
	set := testenv.Models(t, gguf.TypeQ8_0)
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := speclab(t, "--llama-lib", lib.Location.Lib, "reproduce", "--target", set.Target,
		"--draft", set.OtherVocab, "--n-predict-scale", "0.1", "--out", out, "--no-counterfactuals")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"draft-simple: NOT APPLIED", `refused by llama.cpp's rule "`, // the refusal, with its rule
		"ngram-simple drafted nothing on", "too little history", // short outputs
		"Tokens", "Gen tok/s", "Prompt tok/s", // the seed's table shape
		"report.md",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("reproduce output lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "report", "speedup-vs-acceptance.png")); err != nil {
		t.Errorf("no figure: %v", err)
	}
	// the same folder again without --resume is refused; with it, nothing is left to do
	if code, _, _ := speclab(t, "--llama-lib", lib.Location.Lib, "reproduce", "--target", set.Target,
		"--draft", set.OtherVocab, "--n-predict-scale", "0.1", "--out", out, "--no-counterfactuals"); code != 1 {
		t.Errorf("rerun into a finished folder: exit %d", code)
	}
	code, _, stderr = speclab(t, "--llama-lib", lib.Location.Lib, "reproduce", "--target", set.Target,
		"--draft", set.OtherVocab, "--n-predict-scale", "0.1", "--out", out, "--resume", "--no-counterfactuals")
	if code != 0 || !strings.Contains(stderr, "54 already done") {
		t.Errorf("resume of a finished folder: exit %d\n%s", code, stderr)
	}
}

// TestReproduceSeedDefaults: on the shipped models (the hybrid target, the
// mismatched draft) with the seed's release behaviour, reproduce prints a
// zero in each of the seed's four rows with its cause, and drafts in the
// counterfactual rows that checkpoint.
func TestReproduceSeedDefaults(t *testing.T) {
	lib := testenv.Lib(t)
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := speclab(t, "--llama-lib", lib.Location.Lib, "reproduce", "--n-predict-scale", "0.25", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "qwen35 hybrid target") || !strings.Contains(stderr, "b8390") {
		t.Errorf("the default models or the behaviour are not said:\n%s", stderr)
	}
	_, table, ok := strings.Cut(stdout, "== the seed's table beside speclab's")
	if !ok {
		t.Fatalf("no comparison with the seed's table:\n%s", stdout)
	}
	table, cf, _ := strings.Cut(table, "== counterfactuals")
	rows := map[string]string{}
	for _, l := range strings.Split(table, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = l
		}
	}
	for _, cfg := range []string{"ngram-simple", "ngram-map-k4v", "draft-simple", "draft-simple+dd-policy"} {
		l := rows[cfg]
		if !strings.Contains(l, "0 of ") || !strings.Contains(l, "target-cannot-rollback") {
			t.Errorf("seed row %s: want no drafts, not applied, target-cannot-rollback: %q", cfg, l)
		}
	}
	if !strings.Contains(rows["draft-simple"], "refused") {
		t.Errorf("the draft-simple row does not name the vocabulary refusal too: %q", rows["draft-simple"])
	}
	for _, l := range strings.Split(cf, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || !strings.HasSuffix(f[0], "checkpoint") {
			continue
		}
		if f[1] == "0" {
			t.Errorf("counterfactual %s drafted nothing: %q", f[0], l)
		}
	}
	if !strings.Contains(cf, "draft-simple@matched-draft+checkpoint") {
		t.Errorf("no matched-draft counterfactual:\n%s", cf)
	}
}

func TestBench(t *testing.T) {
	lib := testenv.Lib(t)
	set := testenv.Models(t, gguf.TypeQ8_0)
	code, out, errs := speclab(t, "--llama-lib", lib.Location.Lib, "bench", "--target", set.Target, "--draft", set.Draft,
		"--max-batch", "4", "--reps", "3", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var r benchReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.VerifyMs) != 4 || r.VerifyCost[0] != 1 || r.DraftIsolatedMs <= 0 || r.C <= 0 || r.Rollback != "kv" || r.Schema != SchemaVersion {
		t.Errorf("bench: %+v", r)
	}
	if len(r.Predicted) != len(r.Alphas) || len(r.Predicted[0]) != 3 || len(r.BreakEven) != 3 {
		t.Errorf("prediction grid: %+v", r)
	}
	// a higher acceptance never predicts less
	for i := 1; i < len(r.Alphas); i++ {
		if r.Predicted[i][0] < r.Predicted[i-1][0] {
			t.Errorf("speedup falls with acceptance: %v", r.Predicted)
		}
	}
	if k := r.Costs; !(k.PlainMs > 0 && k.DraftFixedMs+k.DraftPerTokenMs > 0 && k.CheckFixedMs >= 0 && len(k.VerifyMs) == len(r.VerifyMs) && k.NgramMs >= 0) {
		t.Errorf("loop costs: %+v", k)
	}
	code, out, _ = speclab(t, "--llama-lib", lib.Location.Lib, "bench", "--target", set.Recurrent, "--max-batch", "3", "--reps", "2")
	if code != 0 || !strings.Contains(out, "state checkpoint") {
		t.Errorf("bench of the recurrent model: exit %d\n%s", code, out)
	}
	if code, _, _ := speclab(t, "bench", "--target", set.Target, "--max-batch", "1"); code != 2 {
		t.Errorf("--max-batch 1: exit %d, want 2", code)
	}
}

// TestReleasesEndToEnd: on every runtime release the tests install (spread
// over 2026), on the Vulkan build of the pinned release and on a December
// 2025 build known only by its llama.h, `speclab doctor` succeeds and a
// greedy `run --check-lossless` with ngram-simple and with draft-simple on
// the shipped models is lossless.
func TestReleasesEndToEnd(t *testing.T) {
	models := filepath.Join(testenv.RepoRoot(), "models")
	target, draft := filepath.Join(models, "target.gguf"), filepath.Join(models, "draft.gguf")
	type release struct {
		name string
		lib  []string // the global flags that choose it
		want string   // in doctor's output
	}
	var rels []release
	for _, v := range append(testenv.OtherRuntimes(), "3.22.1") {
		testenv.Runtime(t, v, "cpu")
		rels = append(rels, release{v, []string{"--runtime", v}, "@node-llama-cpp/linux-x64@" + v})
	}
	testenv.Runtime(t, "3.22.1", "vulkan")
	rels = append(rels, release{"3.22.1 vulkan", []string{"--runtime", "3.22.1", "--variant", "vulkan"}, "libllama.vulkan.v0.5.0.so"})
	old := testenv.InstallRuntime(t, testenv.OldRuntime)
	hdr := testenv.Header(t, testenv.OldRuntime.Version)
	rels = append(rels, release{"3.14.5 by its llama.h", []string{"--llama-lib", old, "--llama-h", hdr}, "layouts   header " + hdr})
	for _, r := range rels {
		t.Run(r.name, func(t *testing.T) {
			code, out := speclabProcess(t, append(r.lib, "doctor")...)
			if code != 0 || !strings.Contains(out, r.want) || !strings.Contains(out, "ok        speclab can drive") {
				t.Fatalf("doctor: exit %d, want %q in:\n%s", code, r.want, out)
			}
			for _, spec := range [][]string{
				{"--spec-type", "ngram-simple"},
				{"--spec-type", "draft-simple", "--draft", draft},
			} {
				args := append(append(append([]string{}, r.lib...), "run", "--target", target, "-p", "func main() {\n\tfmt.Println(", "-n", "48", "--check-lossless"), spec...)
				code, out := speclabProcess(t, args...)
				if code != 0 || !strings.Contains(out, "lossless    true") {
					t.Errorf("%v: exit %d:\n%s", spec, code, out)
				}
			}
		})
	}
}

// TestInspectUnknownTensorType: a model with a tensor type speclab does not
// know (a fork's, such as the seed's ROCmFP4) is read with a warning
// without a library, and refused, naming the library, by one that does not
// know it either.
func TestInspectUnknownTensorType(t *testing.T) {
	lib := testenv.Lib(t)
	path := filepath.Join(t.TempDir(), "fork.gguf")
	raw := gguf.Tensor{Name: "blk.0.attn_q.weight", Shape: []uint64{32}, Type: gguf.TypeF32, Data: make([]byte, 128)}
	if err := gguf.WriteFile(path, []gguf.KV{{Key: "general.architecture", Value: "llama"}}, []gguf.Tensor{raw}); err != nil {
		t.Fatal(err)
	}
	// Rewrite the type id of the one tensor to 60, a type no ggml of 2026 has.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := []byte(raw.Name)
	at := bytes.Index(data, name) + len(name) + 4 + 8 // n_dims u32, one u64 dimension
	data[at] = 60
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := speclab(t, "inspect", "--no-load", path)
	if code != 0 || !strings.Contains(out, "type id 60") || !strings.Contains(out, "size unchecked") {
		t.Errorf("inspect --no-load: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = speclab(t, "--llama-lib", lib.Location.Lib, "inspect", path)
	if code != 1 || !strings.Contains(errs, "type id 60, which this libllama's ggml") {
		t.Errorf("inspect with the library: exit %d\n%s%s", code, out, errs)
	}
}

// TestSynthNeverOverwritesAModel: `models synth` into a folder that holds
// the trained default models refuses, names them and leaves them as they
// were; --force overwrites; the same set again is no conflict.
func TestSynthNeverOverwritesAModel(t *testing.T) {
	dir := t.TempDir()
	trained, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "models", "target.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "target.gguf")
	if err := os.WriteFile(target, trained, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := speclab(t, "models", "synth", "--out", dir)
	if code != 1 || !strings.Contains(errs, target) || !strings.Contains(errs, "--force") {
		t.Fatalf("exit %d, want 1 naming %s and --force\n%s%s", code, target, out, errs)
	}
	if got, _ := os.ReadFile(target); !bytes.Equal(got, trained) {
		t.Fatal("the trained model was changed")
	}
	if _, err := os.Stat(filepath.Join(dir, "draft.gguf")); err == nil {
		t.Error("a refused synth still wrote draft.gguf")
	}
	for _, args := range [][]string{{"--force"}, {}} { // overwrite, then the same set again
		if code, out, errs := speclab(t, append([]string{"models", "synth", "--out", dir}, args...)...); code != 0 {
			t.Fatalf("synth %v: exit %d\n%s%s", args, code, out, errs)
		}
	}
	if got, _ := os.ReadFile(target); bytes.Equal(got, trained) {
		t.Error("--force did not overwrite")
	}
}

// TestExplainSeed: explain on the seed's own table, on the default models,
// finds the hybrid refusal consistent with every observation and rules out
// the vocabulary refusal and the per-method limits, saying why.
func TestExplainSeed(t *testing.T) {
	lib := testenv.Lib(t)
	obs := filepath.Join(testenv.RepoRoot(), "docs", "examples", "seed-observed.yaml")
	code, out, errs := speclab(t, "--llama-lib", lib.Location.Lib, "explain", "--observed", obs, "--n-predict-scale", "0.25",
		"--out", filepath.Join(t.TempDir(), "explain"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{
		"CONSISTENT  hybrid-refusal",
		"RULED OUT   vocab-refusal",
		"RULED OUT   per-method",
		`ngram-simple: the user saw "0 drafts generated", this cause gives drafts`,
		"history thresholds alone cannot explain 0 drafts on a 2048-token task",
		"consistent with every observation: hybrid-refusal",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	// A table with nothing reported is an error, not a verdict.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("observations:\n  - config: ngram-simple\n"), 0o644)
	if code, _, errs := speclab(t, "--llama-lib", lib.Location.Lib, "explain", "--observed", bad); code != 2 || !strings.Contains(errs, "reports none") {
		t.Errorf("empty observation: exit %d: %s", code, errs)
	}
}

// TestJSONVocabulary: doctor --json and inspect --json use snake_case keys
// and name types as text (issue 15: one JSON vocabulary).
func TestJSONVocabulary(t *testing.T) {
	lib := testenv.Lib(t)
	target := filepath.Join(testenv.RepoRoot(), "models", "target-hybrid.gguf")
	draft := filepath.Join(testenv.RepoRoot(), "models", "draft.gguf")
	run := filepath.Join(t.TempDir(), "run")
	if code, _, errs := speclab(t, "--llama-lib", lib.Location.Lib, "reproduce", "--out", run, "--n-predict-scale", "0.05",
		"--no-counterfactuals", "--progress", "none"); code != 0 {
		t.Fatalf("reproduce: exit %d\n%s", code, errs)
	}
	for _, args := range [][]string{
		{"report", "--json", run},
		{"roofline", "--json", "-m", target, "-md", draft, "--bandwidth", "100", "--run", run},
		{"compat", "--json", "-m", target, "-md", filepath.Join(testenv.RepoRoot(), "models", "draft-othervocab.gguf")},
		{"doctor", "--json"},
		{"inspect", "--json", target},
		{"run", "--json", "-m", target, "-md", draft, "-n", "16", "-p", "package main"},
		{"bench", "--json", "-m", target, "-md", draft, "--max-batch", "3", "--reps", "1", "--loop-tokens", "16"},
	} {
		code, out, errs := speclab(t, append([]string{"--llama-lib", lib.Location.Lib}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errs)
		}
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var walk func(x any, path string)
		walk = func(x any, path string) {
			switch x := x.(type) {
			case map[string]any:
				for k, e := range x {
					if strings.ToLower(k) != k || strings.Contains(k, " ") {
						t.Errorf("%v: key %s%s is not snake_case", args, path, k)
					}
					if strings.Contains(k, "tps") {
						t.Errorf("%v: key %s%s: speeds are named tokens_per_second", args, path, k)
					}
					walk(e, path+k+".")
				}
			case []any:
				for _, e := range x {
					walk(e, path+"[].")
				}
			}
		}
		walk(v, "")
		if m, _ := v.(map[string]any); m["schema"] != SchemaVersion {
			t.Errorf("%v: schema %v, want %s", args, m["schema"], SchemaVersion)
		}
	}
	_, out, _ := speclab(t, "--llama-lib", lib.Location.Lib, "inspect", "--json", target)
	for _, want := range []string{`"type": "MXFP4"`, `"vocab_type": "BPE"`} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect --json lacks %s", want)
		}
	}
}
