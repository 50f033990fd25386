// Command gen writes table_gen.go, the table of known libllama releases.
//
// For every runtime version it lists, it takes node-llama-cpp@VERSION from
// the npm registry (npm pack, cached), clones the llama.cpp release bundled
// in it (llama/gitRelease.bundle) and reads from that source:
//
//   - include/llama.h: struct layouts and function ABIs (package llamah);
//   - src/llama-model.cpp and src/llama-context.cpp: the initialisers of
//     llama_model_default_params and llama_context_default_params;
//   - CMakeLists.txt and ggml/CMakeLists.txt: llama_version and ggml_version;
//   - ggml/include/ggml.h: GGML_TYPE_COUNT, the tensor type ids ggml knows.
//
// The sha512 of each runtime package (CPU and Vulkan) comes from `npm view`.
//
// Run it with `go generate ./engine/releases`; it needs npm, git and the
// network once (llamalib.FetchSource), then works from speclab's cache.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/speclab/speclab/engine/llamah"
	"github.com/speclab/speclab/engine/llamalib"
	"github.com/speclab/speclab/engine/releases"
)

// versions are the @node-llama-cpp/linux-x64 releases of 2026.
var versions = []string{
	"3.15.0", "3.15.1", "3.16.0", "3.16.2", "3.17.1", "3.18.0", "3.18.1",
	"3.19.0", "3.19.1", "3.20.0", "3.21.1", "3.22.0", "3.22.1",
}

func main() {
	out := flag.String("out", "table_gen.go", "file to write")
	cache := flag.String("cache", "", "speclab's cache root (default: llamalib.DefaultCacheDir)")
	flag.Parse()
	log.SetFlags(0)
	if *cache == "" {
		var err error
		if *cache, err = llamalib.DefaultCacheDir(); err != nil {
			log.Fatal(err)
		}
	}
	var entries []entry
	for _, v := range versions {
		e, err := read(*cache, v)
		if err != nil {
			log.Fatalf("node-llama-cpp@%s: %v", v, err)
		}
		log.Printf("%s: llama.cpp %s, llama.h %s, %d functions", v, e.rel.LlamaCpp, e.rel.ABI.SHA256[:12], len(e.rel.ABI.Functions))
		entries = append(entries, e)
	}
	src, err := render(entries)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

type entry struct {
	rel releases.Release
}

// read gathers one release from its node-llama-cpp package.
func read(cache, v string) (entry, error) {
	// The table is being made: the bundle's sha512 comes from the registry.
	srcInteg, err := npmIntegrity(cache, releases.PackageSource, v)
	if err != nil {
		return entry{}, err
	}
	src, err := llamalib.FetchSourcePinned(context.Background(), cache, v, srcInteg, func(s string) { log.Print(s) })
	if err != nil {
		return entry{}, err
	}
	srcDir, tag := src.Dir, src.Release
	text, err := os.ReadFile(src.Header())
	if err != nil {
		return entry{}, err
	}
	h, err := llamah.Parse("llama.h", text)
	if err != nil {
		return entry{}, err
	}
	sum := sha256.Sum256(text)
	abi := releases.FromHeader(h, hex.EncodeToString(sum[:]),
		fmt.Sprintf("node-llama-cpp@%s llama/gitRelease.bundle (llama.cpp %s): include/llama.h", v, tag))
	ggmlConsts, err := ggmlConstants(filepath.Join(srcDir, "ggml", "include", "ggml.h"))
	if err != nil {
		return entry{}, err
	}
	abi.Defaults = map[string]map[string]string{}
	for _, d := range []struct{ st, file, fn string }{
		{"llama_model_params", "src/llama-model.cpp", "llama_model_default_params"},
		{"llama_context_params", "src/llama-context.cpp", "llama_context_default_params"},
	} {
		vals, err := defaults(filepath.Join(srcDir, d.file), d.fn, abi.Records[d.st], h, ggmlConsts)
		if err != nil {
			return entry{}, fmt.Errorf("%s: %w", d.file, err)
		}
		abi.Defaults[d.st] = vals
	}
	r := releases.Release{
		Runtime:     v,
		LlamaCpp:    tag,
		GGMLVersion: cmakeVersion(filepath.Join(srcDir, "ggml", "CMakeLists.txt"), "GGML", false),
		GGMLTypes:   int(ggmlConsts["GGML_TYPE_COUNT"]),
		Lib:         "libllama." + tag + ".so",
		Integrity:   map[string]string{},
		ABI:         abi,
	}
	if r.GGMLTypes == 0 {
		return entry{}, fmt.Errorf("no GGML_TYPE_COUNT in ggml/include/ggml.h")
	}
	if _, ok := h.Functions["llama_version"]; ok {
		r.LlamaVersion = cmakeVersion(filepath.Join(srcDir, "CMakeLists.txt"), "LLAMA", true)
	}
	for _, pkg := range []string{releases.PackageCPU, releases.PackageVulkan, releases.PackageSource} {
		integ, err := npmIntegrity(cache, pkg, v)
		if err != nil {
			return entry{}, err
		}
		r.Integrity[pkg] = integ
	}
	return entry{rel: r}, nil
}

// cmakeVersion reads PREFIX_VERSION_MAJOR/MINOR/PATCH; dev appends "-dev",
// the default of LLAMA_BUILD_IS_DEV with which node-llama-cpp builds.
func cmakeVersion(path, prefix string, dev bool) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var parts []string
	for _, p := range []string{"MAJOR", "MINOR", "PATCH"} {
		m := regexp.MustCompile(`set\(` + prefix + `_VERSION_` + p + `\s+(\d+)\)`).FindSubmatch(data)
		if m == nil {
			return ""
		}
		parts = append(parts, string(m[1]))
	}
	v := strings.Join(parts, ".")
	if dev && regexp.MustCompile(`option\(LLAMA_BUILD_IS_DEV\s+"[^"]*"\s+ON\)`).Match(data) {
		v += "-dev"
	}
	return v
}

// ggmlConstants reads the integer #defines and the ggml_type enumerators of
// ggml.h, which default initialisers name.
func ggmlConstants(path string) (map[string]int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, m := range regexp.MustCompile(`(?m)^#define\s+(GGML_\w+)\s+(-?\d+)\b`).FindAllSubmatch(data, -1) {
		v, _ := strconv.ParseInt(string(m[2]), 10, 64)
		out[string(m[1])] = v
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*(GGML_TYPE_\w+)\s*=\s*(\d+)`).FindAllSubmatch(data, -1) {
		v, _ := strconv.ParseInt(string(m[2]), 10, 64)
		out[string(m[1])] = v
	}
	return out, nil
}

// defaults reads the positional initialiser list of fn's `result = { ... }`
// and renders each value for the field at the same position of r.
func defaults(path, fn string, r *llamah.Record, h *llamah.Header, ggml map[string]int64) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := string(data)
	at := strings.Index(s, fn+"() {")
	if at < 0 {
		return nil, fmt.Errorf("%s not found", fn)
	}
	open := strings.Index(s[at:], "{\n")
	body := s[at+open:]
	open = strings.Index(body[1:], "{") + 1
	end := strings.Index(body, "};")
	if open <= 0 || end < 0 {
		return nil, fmt.Errorf("%s: no initialiser list", fn)
	}
	list := regexp.MustCompile(`/\*.*?\*/|//[^\n]*`).ReplaceAllString(body[open+1:end], "")
	var vals []string
	for _, v := range strings.Split(list, ",") {
		if v = strings.TrimSpace(v); v != "" {
			vals = append(vals, v)
		}
	}
	if len(vals) != len(r.Fields) {
		return nil, fmt.Errorf("%s initialises %d fields, llama.h's %s has %d", fn, len(vals), r.Name, len(r.Fields))
	}
	out := map[string]string{}
	for i, f := range r.Fields {
		v, err := render1(vals[i], f, h, ggml)
		if err != nil {
			return nil, fmt.Errorf("%s.%s = %s: %w", r.Name, f.Name, vals[i], err)
		}
		out[f.Name] = v
	}
	return out, nil
}

// render1 turns one initialiser into FormatValue's form.
func render1(v string, f llamah.Field, h *llamah.Header, ggml map[string]int64) (string, error) {
	switch v {
	case "nullptr", "NULL":
		return "null", nil
	case "true", "false":
		return v, nil
	}
	n, isConst := h.Constants[v]
	if !isConst {
		n, isConst = ggml[v]
	}
	switch f.Type.Kind {
	case llamah.Float:
		if isConst {
			return strconv.FormatFloat(float64(n), 'g', -1, 32), nil
		}
		x, err := strconv.ParseFloat(strings.TrimSuffix(v, "f"), 64)
		if err != nil {
			return "", err
		}
		return strconv.FormatFloat(float64(float32(x)), 'g', -1, 32), nil
	case llamah.Int, llamah.Uint, llamah.Enum:
		if isConst {
			return strconv.FormatInt(n, 10), nil
		}
		x, err := strconv.ParseInt(v, 0, 64)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(x, 10), nil
	case llamah.Pointer:
		if v == "0" {
			return "null", nil
		}
	}
	return "", fmt.Errorf("cannot render for a %s field", f.Type.Name)
}

// npmIntegrity asks the registry for a package's sha512, cached.
func npmIntegrity(cache, pkg, v string) (string, error) {
	file := filepath.Join(cache, "gen", "integrity", strings.NewReplacer("/", "+", "@", "").Replace(pkg)+"@"+v)
	if b, err := os.ReadFile(file); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	out, err := exec.Command("npm", "view", pkg+"@"+v, "dist.integrity").Output()
	if err != nil {
		return "", fmt.Errorf("npm view %s@%s: %w", pkg, v, err)
	}
	integ := strings.TrimSpace(string(out))
	if !strings.HasPrefix(integ, "sha512-") {
		return "", fmt.Errorf("npm view %s@%s: integrity %q", pkg, v, integ)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return "", err
	}
	return integ, os.WriteFile(file, []byte(integ+"\n"), 0o644)
}

var kindNames = map[llamah.Kind]string{
	llamah.Void: "Void", llamah.Int: "Int", llamah.Uint: "Uint", llamah.Float: "Float", llamah.Bool: "Bool",
	llamah.Pointer: "Pointer", llamah.Enum: "Enum", llamah.Struct: "Struct", llamah.Array: "Array", llamah.Func: "Func",
}

// render writes the Go source of the table: one ABI per distinct llama.h,
// then the releases.
func render(entries []entry) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by go run ./gen; DO NOT EDIT.\n\n")
	b.WriteString("// Each ABI comes from the include/llama.h (and the default-parameter\n")
	b.WriteString("// initialisers in src/) of the llama.cpp source bundled in the node-llama-cpp\n")
	b.WriteString("// npm package named in its Source; each Release's integrities from `npm view`.\n\n")
	b.WriteString("package releases\n\nimport \"github.com/speclab/speclab/engine/llamah\"\n\n")
	var order []string
	names := map[string]string{}
	for _, e := range entries {
		if _, ok := names[e.rel.ABI.SHA256]; ok {
			continue
		}
		name := "abi" + strings.NewReplacer(".", "_").Replace(e.rel.Runtime)
		names[e.rel.ABI.SHA256] = name
		order = append(order, e.rel.ABI.SHA256)
		a := e.rel.ABI
		fmt.Fprintf(&b, "var %s = &ABI{\n\tSource: %q,\n\tSHA256: %q,\n\tRecords: map[string]*llamah.Record{\n", name, a.Source, a.SHA256)
		for _, s := range releases.Structs {
			r, ok := a.Records[s]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "\t\t%q: rec(%q, %d, %d,\n", s, r.Name, r.Size, r.Align)
			for _, f := range r.Fields {
				fmt.Fprintf(&b, "\t\t\tfld(%q, %d, llamah.%s, %q, %d, %d),\n", f.Name, f.Offset, kindNames[f.Type.Kind], f.Type.Name, f.Type.Size, f.Type.Align)
			}
			b.WriteString("\t\t),\n")
		}
		b.WriteString("\t},\n\tDefaults: map[string]map[string]string{\n")
		for _, s := range sortedKeys(a.Defaults) {
			fmt.Fprintf(&b, "\t\t%q: {", s)
			r := a.Records[s]
			for i, f := range r.Fields {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%q: %q", f.Name, a.Defaults[s][f.Name])
			}
			b.WriteString("},\n")
		}
		b.WriteString("\t},\n\tFunctions: map[string]string{\n")
		for _, f := range sortedKeys(a.Functions) {
			fmt.Fprintf(&b, "\t\t%q: %q,\n", f, a.Functions[f])
		}
		b.WriteString("\t},\n}\n\n")
	}
	b.WriteString("func init() {\n\ttable = []Release{\n")
	for _, e := range entries {
		r := e.rel
		fmt.Fprintf(&b, "\t{Runtime: %q, LlamaCpp: %q, LlamaVersion: %q, GGMLVersion: %q, GGMLTypes: %d, Lib: %q, ABI: %s,\n\t\tIntegrity: map[string]string{\n",
			r.Runtime, r.LlamaCpp, r.LlamaVersion, r.GGMLVersion, r.GGMLTypes, r.Lib, names[r.ABI.SHA256])
		for _, p := range sortedKeys(r.Integrity) {
			fmt.Fprintf(&b, "\t\t\t%q: %q,\n", p, r.Integrity[p])
		}
		b.WriteString("\t\t}},\n")
	}
	b.WriteString("}\n}\n")
	return format.Source(b.Bytes())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
